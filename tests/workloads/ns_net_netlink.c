/*
 * ns_net_netlink - netlink sockets in a network namespace of their own: a
 * NETLINK_ROUTE socket bound to its port id, in the link group (bind) and
 * the IPv4 address group (NETLINK_ADD_MEMBERSHIP), with NETLINK_EXT_ACK,
 * and a NETLINK_GENERIC socket with a classic BPF filter taking every
 * message, locked. After restore each keeps its port id, the route socket
 * its groups and flag, an RTM_GETLINK dump through it lists the
 * namespace's only link (lo), the generic one its filter and lock
 * (SO_GET_FILTER) and it resolves "nlctrl".
 */
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

/* wl_fail's line, and -1 for the helpers' callers. */
#define failed(...) (wl_fail(__VA_ARGS__), -1)

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

static uint32_t port_of(int sk)
{
	struct sockaddr_nl a = {0};
	socklen_t al = sizeof(a);

	getsockname(sk, (struct sockaddr *)&a, &al);
	return a.nl_pid;
}

/* An RTM_GETLINK dump: the number of links, and whether lo is one. */
static int getlink(int sk, int *nlinks, int *has_lo)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 7}};
	static char buf[32768];
	ssize_t n;

	*nlinks = *has_lo = 0;
	if (send(sk, &req, sizeof(req), 0) != sizeof(req))
		return failed("RTM_GETLINK send: %m");
	for (;;) {
		n = recv(sk, buf, sizeof(buf), 0);
		if (n <= 0)
			return failed("RTM_GETLINK recv: %m");
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			struct rtattr *a = IFLA_RTA(ifi);
			int len = IFLA_PAYLOAD(h);

			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_seq != 7)
				return failed("RTM_GETLINK: message type %d seq %u", h->nlmsg_type,
					      h->nlmsg_seq);
			(*nlinks)++;
			for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
				if (a->rta_type == IFLA_IFNAME && !strcmp(RTA_DATA(a), "lo"))
					*has_lo = 1;
		}
	}
}

/* CTRL_CMD_GETFAMILY "nlctrl": its family id, GENL_ID_CTRL. */
static int genl_nlctrl(int sk)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
		struct nlattr a;
		char name[8];
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = GENL_ID_CTRL,
		       .nlmsg_flags = NLM_F_REQUEST,
		       .nlmsg_seq = 9},
		 .g = {.cmd = CTRL_CMD_GETFAMILY, .version = 1},
		 .a = {.nla_len = NLA_HDRLEN + 7, .nla_type = CTRL_ATTR_FAMILY_NAME},
		 .name = "nlctrl"};
	static char buf[8192];
	struct nlmsghdr *h = (void *)buf;
	ssize_t n;

	if (send(sk, &req, sizeof(req), 0) != sizeof(req))
		return failed("CTRL_CMD_GETFAMILY send: %m");
	n = recv(sk, buf, sizeof(buf), 0);
	if (n <= 0 || !NLMSG_OK(h, n))
		return failed("CTRL_CMD_GETFAMILY recv: %zd: %m", n);
	if (h->nlmsg_type != GENL_ID_CTRL || h->nlmsg_seq != 9)
		return failed("CTRL_CMD_GETFAMILY: type %d seq %u", h->nlmsg_type, h->nlmsg_seq);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl a = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	int sr, sg, grp = RTNLGRP_IPV4_IFADDR, one = 1, v = 0, nlinks, has_lo;
	uint32_t words[4] = {0}, pr, pg;
	socklen_t sl = sizeof(words), fl = 2;
	struct sock_filter take_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)}, f[2];
	struct sock_fprog prog = {.len = 1, .filter = take_all};

	wl_init(argc, argv);
	sr = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	sg = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (sr < 0 || sg < 0)
		return wl_fail("socket: %m");
	if (bind(sr, (void *)&a, sizeof(a)) < 0 ||
	    setsockopt(sr, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp)) < 0 ||
	    setsockopt(sr, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0)
		return wl_fail("route bind/membership: %m");
	if (setsockopt(sg, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(sg, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)) < 0)
		return wl_fail("SO_ATTACH_FILTER: %m");
	if (genl_nlctrl(sg) < 0)
		return 1;
	pr = port_of(sr);
	pg = port_of(sg);
	wl_ready();
	wl_wait_restored();
	if (port_of(sr) != pr || port_of(sg) != pg)
		return wl_fail("port ids %u %u, were %u %u", port_of(sr), port_of(sg), pr, pg);
	if (getsockopt(sr, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &sl) < 0)
		return wl_fail("NETLINK_LIST_MEMBERSHIPS: %m");
	if (words[0] != ((1U << (RTNLGRP_LINK - 1)) | (1U << (RTNLGRP_IPV4_IFADDR - 1))))
		return wl_fail("groups %#x", words[0]);
	sl = sizeof(v);
	if (getsockopt(sr, SOL_NETLINK, NETLINK_EXT_ACK, &v, &sl) < 0 || !v)
		return wl_fail("NETLINK_EXT_ACK lost");
	if (getlink(sr, &nlinks, &has_lo) < 0)
		return 1;
	if (nlinks != 1 || !has_lo)
		return wl_fail("RTM_GETLINK: %d links, lo %s", nlinks, has_lo ? "seen" : "missing");
	if (getsockopt(sg, SOL_SOCKET, SO_GET_FILTER, f, &fl) < 0 || fl != 1 ||
	    memcmp(f, take_all, sizeof(take_all)))
		return wl_fail("generic: the filter is not back (%u instructions): %m", fl);
	sl = sizeof(v);
	v = 0;
	if (getsockopt(sg, SOL_SOCKET, SO_LOCK_FILTER, &v, &sl) < 0 || !v)
		return wl_fail("generic: SO_LOCK_FILTER lost");
	if (genl_nlctrl(sg) < 0)
		return 1;
	return wl_pass();
}
