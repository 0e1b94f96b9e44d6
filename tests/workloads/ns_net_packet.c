/*
 * ns_net_packet - packet sockets in a network namespace of their own
 * (loopback brought up here): a SOCK_RAW one for every protocol and a
 * SOCK_DGRAM one for IPv4 with PACKET_AUXDATA, both bound to lo. After
 * restore both keep protocol, interface and option, and both see the
 * frame of a UDP datagram sent on lo.
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

#define MARK "ckpt-frame-7300"

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

static int packet(int type, int proto, int ifindex)
{
	struct sockaddr_ll a = {
		.sll_family = AF_PACKET, .sll_protocol = htons(proto), .sll_ifindex = ifindex};
	int sk = socket(AF_PACKET, type | SOCK_CLOEXEC, htons(proto));

	if (sk < 0 || bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return sk;
}

/* Frames on sk until one holds MARK (10 s at most). */
static int see_mark(int sk, const char *what)
{
	static char buf[65536];
	struct pollfd p = {.fd = sk, .events = POLLIN};

	for (;;) {
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			return wl_fail("%s: no frame with the datagram", what);
		n = recv(sk, buf, sizeof(buf), 0);
		if (n < 0)
			return wl_fail("%s: recv: %m", what);
		if (memmem(buf, n, MARK, strlen(MARK)))
			return 0;
	}
}

static int check_bound(int sk, int proto, int ifindex, const char *what)
{
	struct sockaddr_ll a = {0};
	socklen_t al = sizeof(a);

	if (getsockname(sk, (struct sockaddr *)&a, &al) < 0)
		return wl_fail("%s: getsockname: %m", what);
	if (a.sll_ifindex != ifindex || a.sll_protocol != htons(proto))
		return wl_fail("%s: interface %d protocol %#x, want %d %#x", what, a.sll_ifindex,
			       ntohs(a.sll_protocol), ifindex, proto);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons(7300)};
	int lo, sr, sd, su, ss, one = 1, v = 0;
	socklen_t sl = sizeof(v);

	wl_init(argc, argv);
	d.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lo_up() < 0)
		return wl_fail("lo up: %m");
	lo = if_nametoindex("lo");
	sr = packet(SOCK_RAW, ETH_P_ALL, lo);
	sd = packet(SOCK_DGRAM, ETH_P_IP, lo);
	if (sr < 0 || sd < 0)
		return wl_fail("packet sockets: %m");
	if (setsockopt(sd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0)
		return wl_fail("PACKET_AUXDATA: %m");
	su = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ss = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bind(su, (void *)&d, sizeof(d)) < 0)
		return wl_fail("bind: %m");
	wl_ready();
	wl_wait_restored();
	if (check_bound(sr, ETH_P_ALL, lo, "raw") < 0 || check_bound(sd, ETH_P_IP, lo, "dgram") < 0)
		return 1;
	if (getsockopt(sd, SOL_PACKET, PACKET_AUXDATA, &v, &sl) < 0 || !v)
		return wl_fail("PACKET_AUXDATA lost");
	if (sendto(ss, MARK, strlen(MARK), 0, (void *)&d, sizeof(d)) < 0)
		return wl_fail("sendto: %m");
	if (see_mark(sr, "raw") < 0 || see_mark(sd, "dgram") < 0)
		return 1;
	return wl_pass();
}
