/*
 * inet_sockopt - inet sockets with their options and bindings: a TCP
 * listener with socket, TCP and IP options, linger, a device and a locked
 * classic BPF filter; UDP sockets over IPv4 and IPv6 with IP, IPv6 and
 * multicast options; an IPV6_V6ONLY socket sharing its port with an IPv4
 * one, an IP_FREEBIND socket bound to an address not on the host, and an
 * SO_REUSEPORT pair on one port; UDP sockets shut down for receiving, for
 * sending (a send fails with EPIPE, poll shows nothing) and both ways. After restore each option
 * reads back as set and each socket is bound where it was.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

struct opt {
	int *sk, level, opt, v;
	const char *name;
};

static int lt, u4, u6, v6, v4, fb, rp1, rp2, sr, sb, sw;

static const struct opt opts[] = {
	{&lt, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"},
	{&lt, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
	{&lt, SOL_SOCKET, SO_MARK, 42, "SO_MARK"},
	{&lt, SOL_SOCKET, SO_RCVLOWAT, 3, "SO_RCVLOWAT"},
	{&lt, SOL_SOCKET, SO_SNDBUF, 2 * 65536, "SO_SNDBUF"},
	{&lt, SOL_SOCKET, SO_LOCK_FILTER, 1, "SO_LOCK_FILTER"},
	{&lt, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"},
	{&lt, IPPROTO_TCP, TCP_CORK, 1, "TCP_CORK"},
	{&lt, IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE"},
	{&lt, IPPROTO_TCP, TCP_KEEPINTVL, 11, "TCP_KEEPINTVL"},
	{&lt, IPPROTO_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT"},
	{&lt, IPPROTO_TCP, TCP_USER_TIMEOUT, 12345, "TCP_USER_TIMEOUT"},
	{&lt, IPPROTO_TCP, TCP_MAXSEG, 1200, "TCP_MAXSEG"},
	{&lt, IPPROTO_TCP, TCP_NOTSENT_LOWAT, 9999, "TCP_NOTSENT_LOWAT"},
	{&lt, IPPROTO_IP, IP_TOS, 0x10, "IP_TOS"},
	{&lt, IPPROTO_IP, IP_TTL, 33, "IP_TTL"},
	{&lt, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, "IP_MTU_DISCOVER"},
	/* after IP_TOS, which sets it */
	{&lt, SOL_SOCKET, SO_PRIORITY, 5, "SO_PRIORITY"},
	{&u4, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"},
	{&u4, SOL_SOCKET, SO_RCVBUF, 2 * 70000, "SO_RCVBUF"},
	{&u4, IPPROTO_IP, IP_RECVERR, 1, "IP_RECVERR"},
	{&u4, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"},
	{&u4, IPPROTO_IP, IP_MULTICAST_TTL, 5, "IP_MULTICAST_TTL"},
	{&u4, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP"},
	{&u6, SOL_SOCKET, SO_BUF_LOCK, 3, "SO_BUF_LOCK"},
	{&u6, IPPROTO_IPV6, IPV6_TCLASS, 0x20, "IPV6_TCLASS"},
	{&u6, IPPROTO_IPV6, IPV6_UNICAST_HOPS, 17, "IPV6_UNICAST_HOPS"},
	{&u6, IPPROTO_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR"},
	{&u6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"},
	{&u6, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IP_PMTUDISC_DONT, "IPV6_MTU_DISCOVER"},
	{&u6, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, 3, "IPV6_MULTICAST_HOPS"},
	{&u6, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, "IPV6_MULTICAST_LOOP"},
	{&u6, IPPROTO_IPV6, IPV6_MULTICAST_IF, 1, "IPV6_MULTICAST_IF"},
	{&v6, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"},
	{&fb, IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND"},
	{&rp1, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"},
	{&rp2, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"},
	{NULL, 0, 0, 0, NULL},
};

/* accept everything: ret #0x40000 */
static struct sock_filter accept_all[] = {{0x06, 0, 0, 0x00040000}};

static int set_all(void)
{
	for (const struct opt *o = opts; o->sk; o++) {
		int v = o->v;

		if (o->level == SOL_SOCKET && o->opt == SO_LOCK_FILTER)
			continue;
		if (o->level == SOL_SOCKET && (o->opt == SO_SNDBUF || o->opt == SO_RCVBUF))
			v /= 2;
		if (setsockopt(*o->sk, o->level, o->opt, &v, sizeof(v)) < 0)
			return wl_fail("set %s: %m", o->name);
	}
	return 0;
}

static int check_all(void)
{
	struct sock_filter f[4];
	struct linger l = {0};
	socklen_t n = 4;
	char buf[32];
	socklen_t sl;

	for (const struct opt *o = opts; o->sk; o++) {
		int v = -1;

		sl = sizeof(v);
		if (getsockopt(*o->sk, o->level, o->opt, &v, &sl) < 0)
			return wl_fail("get %s: %m", o->name);
		if (v != o->v)
			return wl_fail("%s is %d, was %d", o->name, v, o->v);
	}
	sl = sizeof(l);
	if (getsockopt(lt, SOL_SOCKET, SO_LINGER, &l, &sl) < 0 || !l.l_onoff || l.l_linger != 7)
		return wl_fail("SO_LINGER is %d/%d, was 1/7", l.l_onoff, l.l_linger);
	sl = sizeof(buf);
	if (getsockopt(lt, SOL_SOCKET, SO_BINDTODEVICE, buf, &sl) < 0 || strcmp(buf, "lo"))
		return wl_fail("SO_BINDTODEVICE lost");
	sl = sizeof(buf);
	if (getsockopt(lt, IPPROTO_TCP, TCP_CONGESTION, buf, &sl) < 0 || strcmp(buf, "reno"))
		return wl_fail("TCP_CONGESTION is %s", buf);
	if (getsockopt(lt, SOL_SOCKET, SO_GET_FILTER, f, &n) < 0 || n != 1 ||
	    memcmp(f, accept_all, sizeof(accept_all)))
		return wl_fail("SO_GET_FILTER: %u instructions", n);
	return 0;
}

static int port_of(int sk, char *addr, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(sk, (struct sockaddr *)&ss, &sl) < 0)
		return -1;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, len);
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, len);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int bind4(int sk, const char *a, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};

	inet_pton(AF_INET, a, &sin.sin_addr);
	return bind(sk, (struct sockaddr *)&sin, sizeof(sin));
}

static int open_all(void)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	struct sock_fprog prog = {.len = 1, .filter = accept_all};
	char a[64];
	int one = 1;

	lt = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	u4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	v4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fb = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rp1 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	rp2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (lt < 0 || u4 < 0 || u6 < 0 || v6 < 0 || v4 < 0 || fb < 0 || rp1 < 0 || rp2 < 0)
		return wl_fail("socket: %m");
	if (set_all())
		return 1;
	if (setsockopt(lt, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2) < 0 ||
	    setsockopt(lt, SOL_SOCKET, SO_LINGER, &(struct linger){1, 7}, sizeof(struct linger)) <
		    0 ||
	    setsockopt(lt, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) < 0 ||
	    setsockopt(lt, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(lt, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
		return wl_fail("setsockopt: %m");
	if (bind4(lt, "127.0.0.1", 0) < 0 || listen(lt, 8) < 0 || bind4(u4, "127.0.0.1", 0) < 0)
		return wl_fail("bind: %m");
	if (bind(u6, (struct sockaddr *)&s6, sizeof(s6)) < 0 ||
	    bind(v6, (struct sockaddr *)&s6, sizeof(s6)) < 0 ||
	    bind4(v4, "0.0.0.0", port_of(v6, a, sizeof(a))) < 0)
		return wl_fail("bind v6only pair: %m");
	if (bind4(fb, "192.0.2.7", 0) < 0 || listen(fb, 1) < 0)
		return wl_fail("bind freebind: %m");
	if (bind4(rp1, "127.0.0.1", 0) < 0 ||
	    bind4(rp2, "127.0.0.1", port_of(rp1, a, sizeof(a))) < 0)
		return wl_fail("bind reuseport pair: %m");
	return 0;
}

/* The shutdown state as poll shows it: RDHUP for the receive side, HUP both. */
static int check_shut(int sk, short want, const char *what)
{
	struct pollfd p = {.fd = sk, .events = POLLIN | POLLRDHUP};

	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLHUP | POLLRDHUP)) != want)
		return wl_fail("%s: poll revents %#x", what, p.revents);
	return 0;
}

/* Shut down for sending only: poll shows nothing, a send fails with EPIPE. */
static int check_shut_wr(int sk)
{
	struct pollfd p = {.fd = sk, .events = POLLIN | POLLRDHUP};

	if (poll(&p, 1, 0) != 0)
		return wl_fail("SHUT_WR: poll revents %#x", p.revents);
	if (send(sk, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != -1 || errno != EPIPE)
		return wl_fail("SHUT_WR: a send went through after restore");
	return 0;
}

static int shut_both(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	sr = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sb = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sw = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sr < 0 || sb < 0 || sw < 0 || getsockname(u4, (struct sockaddr *)&ss, &sl) < 0 ||
	    connect(sr, (struct sockaddr *)&ss, sl) < 0 ||
	    connect(sb, (struct sockaddr *)&ss, sl) < 0 ||
	    connect(sw, (struct sockaddr *)&ss, sl) < 0 || shutdown(sr, SHUT_RD) < 0 ||
	    shutdown(sb, SHUT_RDWR) < 0 || shutdown(sw, SHUT_WR) < 0)
		return wl_fail("shutdown pair: %m");
	return check_shut(sr, POLLRDHUP, "SHUT_RD") ||
	       check_shut(sb, POLLHUP | POLLRDHUP, "SHUT_RDWR") || check_shut_wr(sw);
}

static int check_bound(int sk, const char *want, int port)
{
	char a[64];
	int p = port_of(sk, a, sizeof(a));

	if (p <= 0 || (port && p != port) || strcmp(a, want))
		return wl_fail("bound to %s:%d, want %s:%d", a, p, want, port);
	return 0;
}

int main(int argc, char **argv)
{
	char a[64];
	int p6, prp;

	wl_init(argc, argv);
	if (open_all() || check_all() || shut_both())
		return 1;
	p6 = port_of(v6, a, sizeof(a));
	prp = port_of(rp1, a, sizeof(a));
	wl_ready();
	wl_wait_restored();
	if (check_all() || check_bound(v6, "::", p6) || check_bound(v4, "0.0.0.0", p6) ||
	    check_bound(fb, "192.0.2.7", 0) || check_bound(rp1, "127.0.0.1", prp) ||
	    check_bound(rp2, "127.0.0.1", prp))
		return 1;
	if (check_shut(sr, POLLRDHUP, "SHUT_RD") ||
	    check_shut(sb, POLLHUP | POLLRDHUP, "SHUT_RDWR") || check_shut_wr(sw))
		return 1;
	return wl_pass();
}
