/*
 * ns_net_raw - raw inet sockets in a network namespace of their own
 * (loopback brought up here): a raw ICMP socket bound and connected to
 * 127.0.0.1 with an ICMP_FILTER letting only echo replies through, and a
 * raw UDP socket with IP_HDRINCL. The ICMP one has a classic BPF filter
 * too (taking every packet), the UDP one SO_LOCK_FILTER without any
 * filter. After restore an echo request sent on the connected socket (no
 * address given) gets its reply, the request itself filtered out, and
 * the options, the filter and the lock are as they were.
 */
#include <arpa/inet.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

/* wl_fail's line, and -1 for the helpers' callers. */
#define failed(...) (wl_fail(__VA_ARGS__), -1)

#define IDENT 0x5151

/* linux/icmp.h's, which cannot be included with net/if.h */
#define ICMP_FILTER 1
struct icmp_filter {
	uint32_t data;
};

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

static uint16_t csum(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *w++;
	if (len)
		sum += *(const uint8_t *)w;
	sum = (sum >> 16) + (sum & 0xffff);
	sum += sum >> 16;
	return (uint16_t)~sum;
}

static int echo(int sk, int seq)
{
	struct icmphdr h = {.type = ICMP_ECHO};
	char buf[128];
	struct iphdr *ip = (struct iphdr *)buf;
	struct icmphdr *r;
	ssize_t n;

	h.un.echo.id = htons(IDENT);
	h.un.echo.sequence = htons(seq);
	h.checksum = csum(&h, sizeof(h));
	if (send(sk, &h, sizeof(h), 0) != sizeof(h))
		return failed("raw send: %m");
	n = recv(sk, buf, sizeof(buf), 0);
	if (n < (ssize_t)sizeof(*ip) || n < ip->ihl * 4 + (ssize_t)sizeof(*r))
		return failed("raw recv: %zd bytes: %m", n);
	r = (struct icmphdr *)(buf + ip->ihl * 4);
	if (r->type != ICMP_ECHOREPLY)
		return failed("raw: ICMP type %d came through the filter", r->type);
	if (ntohs(r->un.echo.id) != IDENT || ntohs(r->un.echo.sequence) != seq)
		return failed("raw: reply id %#x seq %d", ntohs(r->un.echo.id),
			      ntohs(r->un.echo.sequence));
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct icmp_filter filt = {.data = ~(1U << ICMP_ECHOREPLY)}, got = {0};
	struct sock_filter take_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)}, f[2];
	struct sock_fprog prog = {.len = 1, .filter = take_all};
	socklen_t sl = sizeof(got), fl = 2;
	int sr, su, one = 1, v = 0;

	wl_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lo_up() < 0)
		return wl_fail("lo up: %m");
	sr = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
	su = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (sr < 0 || su < 0)
		return wl_fail("socket: %m");
	if (setsockopt(sr, SOL_RAW, ICMP_FILTER, &filt, sizeof(filt)) < 0 ||
	    setsockopt(su, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0)
		return wl_fail("ICMP_FILTER / IP_HDRINCL: %m");
	if (setsockopt(sr, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(su, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
		return wl_fail("SO_ATTACH_FILTER / SO_LOCK_FILTER: %m");
	if (bind(sr, (void *)&a, sizeof(a)) < 0 || connect(sr, (void *)&a, sizeof(a)) < 0)
		return wl_fail("bind/connect: %m");
	if (echo(sr, 1) < 0)
		return 1;
	wl_ready();
	wl_wait_restored();
	if (echo(sr, 2) < 0)
		return 1;
	if (getsockopt(sr, SOL_RAW, ICMP_FILTER, &got, &sl) < 0 || got.data != filt.data)
		return wl_fail("ICMP_FILTER is %#x, want %#x", got.data, filt.data);
	sl = sizeof(v);
	if (getsockopt(su, IPPROTO_IP, IP_HDRINCL, &v, &sl) < 0 || !v)
		return wl_fail("IP_HDRINCL lost");
	sl = sizeof(v);
	if (getsockopt(su, SOL_SOCKET, SO_PROTOCOL, &v, &sl) < 0 || v != IPPROTO_UDP)
		return wl_fail("raw socket protocol %d, want %d", v, IPPROTO_UDP);
	if (getsockopt(sr, SOL_SOCKET, SO_GET_FILTER, f, &fl) < 0 || fl != 1 ||
	    memcmp(f, take_all, sizeof(take_all)))
		return wl_fail("ICMP: the filter is not back (%u instructions): %m", fl);
	fl = 0;
	sl = sizeof(v);
	v = 0;
	if (getsockopt(su, SOL_SOCKET, SO_LOCK_FILTER, &v, &sl) < 0 || !v ||
	    getsockopt(su, SOL_SOCKET, SO_GET_FILTER, NULL, &fl) < 0 || fl)
		return wl_fail("UDP: the lock without a filter is lost (lock %d, %u instructions)",
			       v, fl);
	return wl_pass();
}
