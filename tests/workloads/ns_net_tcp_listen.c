/*
 * ns_net_tcp_listen - a TCP listener (with SO_REUSEADDR, SO_KEEPALIVE,
 * TCP_NODELAY, SO_LINGER) in a network namespace of its own: after
 * restore it still listens on the same port, a new connection is
 * accepted, data flows, and the options are as they were.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

static int opt(int sk, int level, int name)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	getsockopt(sk, level, name, &v, &sl);
	return v;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7200)};
	struct ifreq r = {.ifr_name = "lo"};
	struct linger l = {1, 7}, lg = {0};
	socklen_t sl = sizeof(lg);
	int ls, c, s, one = 1;
	char buf[8];

	wl_init(argc, argv);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ioctl(ls, SIOCGIFFLAGS, &r) < 0 ||
	    (r.ifr_flags |= IFF_UP, ioctl(ls, SIOCSIFFLAGS, &r)) < 0)
		return wl_fail("lo up: %m");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(ls, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(ls, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	if (bind(ls, (void *)&a, sizeof(a)) < 0 || listen(ls, 8) < 0)
		return wl_fail("listen: %m");
	wl_ready();
	wl_wait_restored();
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c, (void *)&a, sizeof(a)) < 0)
		return wl_fail("connect after restore: %m");
	s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || write(c, "hello", 5) != 5 || read(s, buf, sizeof(buf)) != 5 ||
	    memcmp(buf, "hello", 5))
		return wl_fail("accept/exchange: %m");
	if (!opt(ls, SOL_SOCKET, SO_REUSEADDR) || !opt(ls, SOL_SOCKET, SO_KEEPALIVE) ||
	    !opt(ls, IPPROTO_TCP, TCP_NODELAY))
		return wl_fail("an option was lost");
	if (getsockopt(ls, SOL_SOCKET, SO_LINGER, &lg, &sl) < 0 || !lg.l_onoff || lg.l_linger != 7)
		return wl_fail("SO_LINGER lost");
	return wl_pass();
}
