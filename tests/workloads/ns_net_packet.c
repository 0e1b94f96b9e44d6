/*
 * ns_net_packet - packet sockets in a network namespace of their own
 * (loopback brought up here): a SOCK_RAW one for every protocol and a
 * SOCK_DGRAM one for IPv4 with PACKET_AUXDATA, both bound to lo. After
 * restore both keep protocol, interface and option, and both see the
 * frame of a UDP datagram sent on lo. The raw one holds memberships on lo
 * (promiscuous twice: lo's promiscuity counter is 1 until both are
 * dropped; a multicast address once: lo's list shows it until it is
 * dropped, /proc/net/dev_mcast); the dgram one has a classic
 * BPF filter taking every frame, locked (SO_GET_FILTER reads it back).
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <errno.h>
#include <linux/filter.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

/* wl_fail's line, and -1 for the helpers' callers. */
#define failed(...) (wl_fail(__VA_ARGS__), -1)

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
			return failed("%s: no frame with the datagram", what);
		n = recv(sk, buf, sizeof(buf), 0);
		if (n < 0)
			return failed("%s: recv: %m", what);
		if (memmem(buf, n, MARK, strlen(MARK)))
			return 0;
	}
}

static const unsigned char MCAST[6] = {0x01, 0x00, 0x5e, 0x7f, 0x73, 0x01};

static int member(int sk, int op, int ifindex, int type, const unsigned char *addr)
{
	struct packet_mreq r = {.mr_ifindex = ifindex, .mr_type = type};

	if (addr) {
		r.mr_alen = 6;
		memcpy(r.mr_address, addr, 6);
	}
	return setsockopt(sk, SOL_PACKET, op, &r, sizeof(r));
}

/* Is MCAST in lo's multicast list (/proc/net/dev_mcast of this netns)? */
static int lo_has_mcast(void)
{
	char line[256], want[16];
	FILE *f = fopen("/proc/net/dev_mcast", "r");
	int found = 0;

	if (!f)
		return -1;
	for (int i = 0; i < 6; i++)
		sprintf(want + 2 * i, "%02x", MCAST[i]);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " lo ") && strstr(line, want))
			found = 1;
	fclose(f);
	return found;
}

/* lo's promiscuity counter (IFLA_PROMISCUITY), -1 when it cannot be read. */
static int lo_promiscuity(int lo)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST},
		 .i = {.ifi_family = AF_UNSPEC, .ifi_index = lo}};
	static char buf[16384];
	struct nlmsghdr *h = (void *)buf;
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret = -1;
	ssize_t n;

	if (sk < 0 || send(sk, &req, sizeof(req), 0) != sizeof(req))
		goto out;
	n = recv(sk, buf, sizeof(buf), 0);
	if (n <= 0 || !NLMSG_OK(h, (size_t)n) || h->nlmsg_type != RTM_NEWLINK)
		goto out;
	n = IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(NLMSG_DATA(h)); RTA_OK(a, n); a = RTA_NEXT(a, n))
		if (a->rta_type == IFLA_PROMISCUITY)
			ret = *(unsigned int *)RTA_DATA(a);
out:
	if (sk >= 0)
		close(sk);
	return ret;
}

/*
 * Each membership is there as often as it was added: promiscuous twice, so
 * lo stays promiscuous after one drop and not after the second; the
 * multicast address leaves lo's list with its one drop.
 */
static int check_members(int sk, int lo)
{
	if (lo_has_mcast() != 1)
		return failed("lo's multicast list lacks the address");
	if (lo_promiscuity(lo) != 1)
		return failed("lo's promiscuity is %d, not 1", lo_promiscuity(lo));
	if (member(sk, PACKET_DROP_MEMBERSHIP, lo, PACKET_MR_PROMISC, NULL) < 0 ||
	    lo_promiscuity(lo) != 1)
		return failed("one promiscuous membership of 2 dropped: promiscuity %d: %m",
			      lo_promiscuity(lo));
	if (member(sk, PACKET_DROP_MEMBERSHIP, lo, PACKET_MR_PROMISC, NULL) < 0 ||
	    lo_promiscuity(lo) != 0)
		return failed("both promiscuous memberships dropped: promiscuity %d: %m",
			      lo_promiscuity(lo));
	if (member(sk, PACKET_DROP_MEMBERSHIP, lo, PACKET_MR_MULTICAST, MCAST) < 0)
		return failed("multicast membership lost: %m");
	if (lo_has_mcast() != 0)
		return failed("the address stays in lo's list after the drop");
	return 0;
}

static struct sock_filter take_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)};

static int check_filter(int sk)
{
	struct sock_filter f[4];
	socklen_t n = 4;
	int v = 0;
	socklen_t sl = sizeof(v);

	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, f, &n) < 0 || n != 1 ||
	    memcmp(f, take_all, sizeof(take_all)))
		return failed("dgram: the filter is not back (%u instructions): %m", n);
	if (getsockopt(sk, SOL_SOCKET, SO_LOCK_FILTER, &v, &sl) < 0 || !v)
		return failed("dgram: SO_LOCK_FILTER lost");
	return 0;
}

static int check_bound(int sk, int proto, int ifindex, const char *what)
{
	struct sockaddr_ll a = {0};
	socklen_t al = sizeof(a);

	if (getsockname(sk, (struct sockaddr *)&a, &al) < 0)
		return failed("%s: getsockname: %m", what);
	if (a.sll_ifindex != ifindex || a.sll_protocol != htons(proto))
		return failed("%s: interface %d protocol %#x, want %d %#x", what, a.sll_ifindex,
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
	if (member(sr, PACKET_ADD_MEMBERSHIP, lo, PACKET_MR_PROMISC, NULL) < 0 ||
	    member(sr, PACKET_ADD_MEMBERSHIP, lo, PACKET_MR_PROMISC, NULL) < 0 ||
	    member(sr, PACKET_ADD_MEMBERSHIP, lo, PACKET_MR_MULTICAST, MCAST) < 0)
		return wl_fail("PACKET_ADD_MEMBERSHIP: %m");
	if (lo_has_mcast() != 1 || lo_promiscuity(lo) != 1)
		return wl_fail("before the checkpoint: lo's multicast list lacks the address, "
			       "or its promiscuity is %d, not 1",
			       lo_promiscuity(lo));
	if (setsockopt(sd, SOL_SOCKET, SO_ATTACH_FILTER,
		       &(struct sock_fprog){.len = 1, .filter = take_all},
		       sizeof(struct sock_fprog)) < 0 ||
	    setsockopt(sd, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
		return wl_fail("SO_ATTACH_FILTER: %m");
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
	if (check_filter(sd) < 0 || check_members(sr, lo) < 0)
		return 1;
	if (sendto(ss, MARK, strlen(MARK), 0, (void *)&d, sizeof(d)) < 0)
		return wl_fail("sendto: %m");
	if (see_mark(sr, "raw") < 0 || see_mark(sd, "dgram") < 0)
		return 1;
	return wl_pass();
}
