/*
 * ns_net_dgram_kinds - the datagram inet sockets that are not UDP, in a
 * network namespace of their own (loopback up, ping allowed to group 0
 * here): an ICMP echo socket bound to its identifier and connected to
 * 127.0.0.1, and two UDP-Lite sockets with a checksum coverage, one
 * connected to the other. After restore a ping gets its reply with the
 * same identifier, the UDP-Lite pair still talks, coverage kept.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

/* wl_fail's line, and -1 for the helpers' callers. */
#define failed(...) (wl_fail(__VA_ARGS__), -1)

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11
#endif

#define IDENT 4242

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int lo_up(void)
{
	struct ifreq r = {.ifr_name = "lo"};
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (ioctl(sk, SIOCGIFFLAGS, &r) < 0)
		return -1;
	r.ifr_flags |= IFF_UP;
	ret = ioctl(sk, SIOCSIFFLAGS, &r);
	close(sk);
	return ret;
}

static int allow_ping(void)
{
	int fd = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, "0 0", 3) == 3 ? 0 : -1;
	close(fd);
	return ret;
}

static int ping(int sk)
{
	struct icmphdr h = {.type = ICMP_ECHO, .un.echo.sequence = htons(7)};
	char buf[64];
	struct icmphdr *r = (struct icmphdr *)buf;

	if (send(sk, &h, sizeof(h), 0) != sizeof(h))
		return failed("ping send: %m");
	if (recv(sk, buf, sizeof(buf), 0) < (ssize_t)sizeof(*r))
		return failed("ping recv: %m");
	if (r->type != ICMP_ECHOREPLY || ntohs(r->un.echo.sequence) != 7)
		return failed("ping: type %d sequence %d", r->type, ntohs(r->un.echo.sequence));
	if (ntohs(r->un.echo.id) != IDENT)
		return failed("ping: identifier %d, want %d", ntohs(r->un.echo.id), IDENT);
	return 0;
}

static int cscov(int sk, int opt)
{
	int v = -1;
	socklen_t sl = sizeof(v);

	getsockopt(sk, IPPROTO_UDPLITE, opt, &v, &sl);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in p = lo(IDENT), a = lo(7200), b = lo(7201), from;
	socklen_t fl = sizeof(from);
	int sp, sa, sb, cov = 20;
	char msg[16] = "";

	wl_init(argc, argv);
	if (lo_up() < 0 || allow_ping() < 0)
		return wl_fail("lo up / ping_group_range: %m");
	sp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	sa = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	sb = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDPLITE);
	if (sp < 0 || sa < 0 || sb < 0)
		return wl_fail("socket: %m");
	if (bind(sp, (void *)&p, sizeof(p)) < 0 || connect(sp, (void *)&p, sizeof(p)) < 0)
		return wl_fail("ping bind/connect: %m");
	if (setsockopt(sa, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, &cov, sizeof(cov)) < 0 ||
	    setsockopt(sb, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &cov, sizeof(cov)) < 0)
		return wl_fail("UDPLITE_*_CSCOV: %m");
	if (bind(sa, (void *)&a, sizeof(a)) < 0 || bind(sb, (void *)&b, sizeof(b)) < 0 ||
	    connect(sb, (void *)&a, sizeof(a)) < 0)
		return wl_fail("udplite bind/connect: %m");
	if (ping(sp) < 0)
		return 1;
	wl_ready();
	wl_wait_restored();
	if (ping(sp) < 0)
		return 1;
	if (send(sb, "ping", 4, 0) != 4 ||
	    recvfrom(sa, msg, sizeof(msg), 0, (void *)&from, &fl) != 4 || memcmp(msg, "ping", 4))
		return wl_fail("udplite B to A: %m");
	if (ntohs(from.sin_port) != 7201)
		return wl_fail("A got it from port %d", ntohs(from.sin_port));
	if (sendto(sa, "pong", 4, 0, (void *)&from, fl) != 4 ||
	    recv(sb, msg, sizeof(msg), 0) != 4 || memcmp(msg, "pong", 4))
		return wl_fail("udplite A to B: %m");
	if (cscov(sa, UDPLITE_RECV_CSCOV) != cov || cscov(sb, UDPLITE_SEND_CSCOV) != cov)
		return wl_fail("checksum coverage %d/%d, want %d", cscov(sa, UDPLITE_RECV_CSCOV),
			       cscov(sb, UDPLITE_SEND_CSCOV), cov);
	return wl_pass();
}
