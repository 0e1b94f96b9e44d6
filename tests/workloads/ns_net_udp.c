/*
 * ns_net_udp - UDP sockets bound and connected, in a network namespace of
 * their own (loopback brought up here), with options: after restore A
 * and B still exchange datagrams, B still only talks to A, options kept.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

static struct sockaddr_in lo(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int lo_up(void)
{
	struct ifreq r = {.ifr_name = "lo"};
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (ioctl(sk, SIOCGIFFLAGS, &r) < 0)
		return -1;
	r.ifr_flags |= IFF_UP;
	return ioctl(sk, SIOCSIFFLAGS, &r);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = lo(7100), b = lo(7101), from;
	socklen_t fl = sizeof(from);
	int sa, sb, buf = 65536, v = 0, one = 1;
	socklen_t sl = sizeof(v);
	char msg[16] = "";

	wl_init(argc, argv);
	if (lo_up() < 0)
		return wl_fail("lo up: %m");
	sa = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sb = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	setsockopt(sa, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(sa, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sa, (void *)&a, sizeof(a)) < 0 || bind(sb, (void *)&b, sizeof(b)) < 0 ||
	    connect(sb, (void *)&a, sizeof(a)) < 0)
		return wl_fail("bind/connect: %m");
	wl_ready();
	wl_wait_restored();
	if (send(sb, "ping", 4, 0) != 4 ||
	    recvfrom(sa, msg, sizeof(msg), 0, (void *)&from, &fl) != 4 || memcmp(msg, "ping", 4))
		return wl_fail("B to A: %m");
	if (ntohs(from.sin_port) != 7101)
		return wl_fail("A got it from port %d", ntohs(from.sin_port));
	if (sendto(sa, "pong", 4, 0, (void *)&from, fl) != 4 ||
	    recv(sb, msg, sizeof(msg), 0) != 4 || memcmp(msg, "pong", 4))
		return wl_fail("A to B: %m");
	if (getsockopt(sa, SOL_SOCKET, SO_RCVBUF, &v, &sl) < 0 || v != 2 * buf)
		return wl_fail("SO_RCVBUF is %d, want %d", v, 2 * buf);
	if (getsockopt(sa, SOL_SOCKET, SO_REUSEADDR, &v, &sl) < 0 || !v)
		return wl_fail("SO_REUSEADDR lost");
	return wl_pass();
}
