/*
 * namespaces/net-link.c - interfaces, addresses and routes of a network
 * namespace over rtnetlink (libmnl): "links", "addrs" and "routes" of
 * net.json. Loopback and veth links are handled; any other kind fails
 * the checkpoint. The host end of a veth is found among the candidate
 * namespaces (RTM_GETNSID on each must give the link's IFLA_LINK_NETNSID)
 * and recorded with its name, MAC, MTU, state and addresses.
 *
 * Left out on purpose: IPv6 link-local addresses (made again from the
 * MAC) and routes the kernel makes itself (proto kernel, local table).
 */
#define LOG_PREFIX "net: "
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

struct nl_walk {
	struct json *list;
	int want; /* ifindex filter (0: all) */
	ckpt_err_t *err;
	int ret;
};

/* Send nlh, run cb on every answer until the dump ends or the ack comes. */
static int nl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
		   ckpt_err_t *err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int seq = nlh->nlmsg_seq = time(NULL) + rand();
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return ckpt_error(err, errno, "rtnetlink send");
	do {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return ckpt_error(err, errno, "rtnetlink receive");
		ret = mnl_cb_run(buf, n, seq, portid, cb, data);
	} while (ret > 0);
	if (ret < 0)
		return ckpt_error(err, errno, "rtnetlink");
	return 0;
}

static void put_ip(struct json *o, const char *key, int fam, const void *p)
{
	char buf[INET6_ADDRSTRLEN];

	if (inet_ntop(fam, p, buf, sizeof(buf)))
		json_set(o, key, json_str(buf));
}

/* ---- dump ------------------------------------------------------------------ */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a, *tb[IFLA_MAX + 1] = {0};
	const char *kind = ifi->ifi_type == ARPHRD_LOOPBACK ? "loopback" : NULL;
	struct json *o;

	if (w->want && ifi->ifi_index != w->want)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifi)) if (mnl_attr_get_type(a) <= IFLA_MAX)
		tb[mnl_attr_get_type(a)] = a;
	if (tb[IFLA_LINKINFO]) {
		struct nlattr *i;

		mnl_attr_for_each_nested(i, tb[IFLA_LINKINFO]) if (mnl_attr_get_type(i) ==
								   IFLA_INFO_KIND) kind =
			mnl_attr_get_str(i);
	}
	o = json_push(w->list, json_obj());
	json_set(o, "index", json_int(ifi->ifi_index));
	json_set(o, "name", json_str(tb[IFLA_IFNAME] ? mnl_attr_get_str(tb[IFLA_IFNAME]) : ""));
	json_set(o, "kind", json_str(kind ?: "?"));
	json_set(o, "up", json_bool(ifi->ifi_flags & IFF_UP));
	if (tb[IFLA_MTU])
		json_set(o, "mtu", json_int(mnl_attr_get_u32(tb[IFLA_MTU])));
	if (tb[IFLA_ADDRESS])
		json_set(o, "mac", json_hexbuf(mnl_attr_get_payload(tb[IFLA_ADDRESS]),
					       mnl_attr_get_payload_len(tb[IFLA_ADDRESS])));
	if (tb[IFLA_LINK])
		json_set(o, "link", json_int(mnl_attr_get_u32(tb[IFLA_LINK])));
	if (tb[IFLA_LINK_NETNSID])
		json_set(o, "link_nsid", json_int((int32_t)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID])));
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const void *ip = NULL;
	struct nlattr *a;
	struct json *o;

	if (w->want && (int)ifa->ifa_index != w->want)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(a) == IFA_LOCAL ||
		    (mnl_attr_get_type(a) == IFA_ADDRESS && !ip))
			ip = mnl_attr_get_payload(a);
	}
	if (!ip || (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK))
		return MNL_CB_OK;
	o = json_push(w->list, json_obj());
	json_set(o, "index", json_int(ifa->ifa_index));
	json_set(o, "family", json_int(ifa->ifa_family));
	json_set(o, "prefixlen", json_int(ifa->ifa_prefixlen));
	put_ip(o, "addr", ifa->ifa_family, ip);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a;
	struct json *o;

	if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_protocol == RTPROT_KERNEL ||
	    rt->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	o = json_push(w->list, json_obj());
	json_set(o, "family", json_int(rt->rtm_family));
	json_set(o, "dst_len", json_int(rt->rtm_dst_len));
	json_set(o, "scope", json_int(rt->rtm_scope));
	json_set(o, "protocol", json_int(rt->rtm_protocol));
	mnl_attr_for_each(a, nlh, sizeof(*rt))
	{
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			put_ip(o, "dst", rt->rtm_family, mnl_attr_get_payload(a));
			break;
		case RTA_GATEWAY:
			put_ip(o, "gw", rt->rtm_family, mnl_attr_get_payload(a));
			break;
		case RTA_OIF:
			json_set(o, "index", json_int(mnl_attr_get_u32(a)));
			break;
		case RTA_PRIORITY:
			json_set(o, "priority", json_int(mnl_attr_get_u32(a)));
			break;
		}
	}
	return MNL_CB_OK;
}

static int nl_dump(struct mnl_socket *nl, int type, int family, mnl_cb_t cb, struct nl_walk *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	g = mnl_nlmsg_put_extra_header(nlh, type == RTM_GETLINK ? sizeof(struct ifinfomsg)
					       : type == RTM_GETADDR ? sizeof(struct ifaddrmsg)
								     : sizeof(struct rtmsg));
	g->rtgen_family = family;
	return nl_talk(nl, nlh, cb, w, w->err);
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct rtgenmsg)) if (mnl_attr_get_type(a) ==
								NETNSA_NSID) *(int *)data =
		(int32_t)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* The id this namespace gives the namespace behind fd, or -1. */
static int nsid_of(struct mnl_socket *nl, int fd, ckpt_err_t *err)
{
	char buf[256];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;
	int id = -1;

	nlh->nlmsg_type = RTM_GETNSID;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, fd);
	if (nl_talk(nl, nlh, nsid_cb, &id, err) < 0)
		return -1;
	return id;
}

/* The host end of veth o: in which candidate, with what state. */
static int read_peer(struct mnl_socket *nl, struct json *o, const struct net_cands *c,
		     ckpt_err_t *err)
{
	int nsid = json_as_int(json_get(o, "link_nsid")), k;
	struct mnl_socket *pnl = NULL;
	struct nl_walk w = {json_arr(), json_as_int(json_get(o, "link")), err, 0};
	struct nl_walk wa = {json_arr(), w.want, err, 0};
	struct json *peer;
	int ret;

	for (k = 0; k < c->n; k++)
		if (nsid_of(nl, c->fds[k], err) == nsid)
			break;
	ckpt_error_clear(err);
	if (!json_get(o, "link_nsid") || k == c->n) {
		pr_warn("veth `%s`: its peer's namespace is not known; the host end will be "
			"made in ckpt-oci's namespace",
			json_as_str(json_get(o, "name")));
		json_free(w.list);
		json_free(wa.list);
		return 0;
	}
	peer = json_set(o, "peer", json_obj());
	json_set(peer, "netns", json_str(c->names[k]));
	ret = setns(c->fds[k], CLONE_NEWNET) < 0 ? ckpt_error(err, errno, "join peer netns") : 0;
	if (ret == 0 && !(pnl = mnl_socket_open(NETLINK_ROUTE)))
		ret = ckpt_error(err, errno, "rtnetlink socket");
	if (ret == 0 && mnl_socket_bind(pnl, 0, MNL_SOCKET_AUTOPID) < 0)
		ret = ckpt_error(err, errno, "rtnetlink bind");
	if (ret == 0)
		ret = nl_dump(pnl, RTM_GETLINK, AF_UNSPEC, link_cb, &w);
	if (ret == 0)
		ret = nl_dump(pnl, RTM_GETADDR, AF_UNSPEC, addr_cb, &wa);
	if (pnl)
		mnl_socket_close(pnl);
	if (ret == 0 && json_len(w.list) == 1) {
		struct json *l = json_at(w.list, 0);

		json_set(peer, "name", json_str(json_as_str(json_get(l, "name"))));
		json_set(peer, "up", json_bool(json_as_bool(json_get(l, "up"))));
		json_set(peer, "mtu", json_int(json_as_int(json_get(l, "mtu"))));
		json_set(peer, "mac", json_str(json_as_str(json_get(l, "mac"))));
		json_set(peer, "addrs", steal_pointer(&wa.list));
	}
	json_free(w.list);
	json_free(wa.list);
	return ret;
}

/* The peers come last: reading them joins other namespaces. */
static int read_peers(struct mnl_socket *nl, struct json *links, const struct net_cands *c,
		      ckpt_err_t *err)
{
	for (size_t i = 0; i < json_len(links); i++) {
		struct json *o = json_at(links, i);
		const char *kind = json_as_str(json_get(o, "kind"));

		if (!strcmp(kind, "loopback"))
			continue;
		if (strcmp(kind, "veth"))
			return ckpt_error_msg(err, ENOTSUP, "interface `%s` of kind %s: not supported",
					      json_as_str(json_get(o, "name")), kind);
		if (read_peer(nl, o, c, err) < 0)
			return ckpt_error_wrap(err, "veth `%s`", json_as_str(json_get(o, "name")));
	}
	return 0;
}

struct json *net_link_read(void *arg, ckpt_err_t *err)
{
	cleanup_json struct json *net = json_obj();
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nl_walk wl = {json_set(net, "links", json_arr()), 0, err, 0};
	struct nl_walk wa = {json_set(net, "addrs", json_arr()), 0, err, 0};
	struct nl_walk wr = {json_set(net, "routes", json_arr()), 0, err, 0};
	int ret;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ckpt_error(err, errno, "rtnetlink socket");
		return NULL;
	}
	ret = nl_dump(nl, RTM_GETLINK, AF_UNSPEC, link_cb, &wl);
	if (ret == 0)
		ret = nl_dump(nl, RTM_GETADDR, AF_UNSPEC, addr_cb, &wa);
	if (ret == 0)
		ret = nl_dump(nl, RTM_GETROUTE, AF_INET, route_cb, &wr);
	if (ret == 0)
		ret = nl_dump(nl, RTM_GETROUTE, AF_INET6, route_cb, &wr);
	if (ret == 0)
		ret = net_sys_read(net, err);
	if (ret == 0)
		ret = read_peers(nl, wl.list, arg, err);
	mnl_socket_close(nl);
	return ret < 0 ? NULL : steal_pointer(&net);
}

/* ---- restore ---------------------------------------------------------------- */

static int index_cb(const struct nlmsghdr *nlh, void *data)
{
	*(int *)data = ((struct ifinfomsg *)mnl_nlmsg_get_payload(nlh))->ifi_index;
	return MNL_CB_OK;
}

static int link_index(struct mnl_socket *nl, const char *name)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	ckpt_err_t e = {0};
	int index = 0;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (nl_talk(nl, nlh, index_cb, &index, &e) < 0)
		return 0;
	return index;
}

int net_link_index(int nlfd, const char *name)
{
	struct mnl_socket *nl = mnl_socket_fdopen(nlfd);
	int index;

	if (!nl)
		return 0;
	index = link_index(nl, name);
	free(nl); /* the struct only: the fd stays open */
	return index;
}

static void put_mac(struct nlmsghdr *nlh, const char *hex)
{
	unsigned char mac[32];
	size_t n = hex ? strlen(hex) / 2 : 0;

	if (!n || n > sizeof(mac))
		return;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &mac[i]);
	mnl_attr_put(nlh, IFLA_ADDRESS, n, mac);
}

/* MTU, MAC (not on loopback), master, and up/down of an existing link. */
static int link_set(struct mnl_socket *nl, int index, const struct json *o, int master,
		    ckpt_err_t *err)
{
	char buf[1024];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = index;
	ifi->ifi_change = IFF_UP;
	ifi->ifi_flags = json_as_bool(json_get(o, "up")) ? IFF_UP : 0;
	if (json_as_int(json_get(o, "mtu")))
		mnl_attr_put_u32(nlh, IFLA_MTU, json_as_int(json_get(o, "mtu")));
	if (strcmp(json_as_str(json_get(o, "kind")) ?: "", "loopback"))
		put_mac(nlh, json_as_str(json_get(o, "mac")));
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "set link `%s`", json_as_str(json_get(o, "name")));
	return 0;
}

/* A new veth pair: o's end here, the host end in the peer's namespace. */
static int veth_create(struct mnl_socket *nl, const struct json *o, const struct net_peer *p,
		       ckpt_err_t *err)
{
	char buf[2048];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	const struct json *peer = json_get(o, "peer");
	struct nlattr *info, *data, *pn;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, json_as_str(json_get(o, "name")));
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pn = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, p->name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, p->nsfd);
	if (peer && json_as_int(json_get(peer, "mtu")))
		mnl_attr_put_u32(nlh, IFLA_MTU, json_as_int(json_get(peer, "mtu")));
	if (peer && !p->master)
		put_mac(nlh, json_as_str(json_get(peer, "mac")));
	mnl_attr_nest_end(nlh, pn);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "create veth `%s` with host end `%s`",
				       json_as_str(json_get(o, "name")), p->name);
	return 0;
}

static int put_ip_attr(struct nlmsghdr *nlh, int type, int fam, const char *s)
{
	unsigned char a[16];

	if (!s || inet_pton(fam, s, a) != 1)
		return -1;
	mnl_attr_put(nlh, type, fam == AF_INET ? 4 : 16, a);
	return 0;
}

static int addr_add(struct mnl_socket *nl, int index, const struct json *a, ckpt_err_t *err)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	int fam = json_as_int(json_get(a, "family"));
	const char *ip = json_as_str(json_get(a, "addr"));

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = fam;
	ifa->ifa_prefixlen = json_as_int(json_get(a, "prefixlen"));
	ifa->ifa_index = index;
	/* no duplicate address detection: a tentative address cannot be bound */
	ifa->ifa_flags = fam == AF_INET6 ? IFA_F_NODAD : 0;
	if (put_ip_attr(nlh, IFA_LOCAL, fam, ip) < 0 || put_ip_attr(nlh, IFA_ADDRESS, fam, ip) < 0)
		return ckpt_error_msg(err, EPROTO, "bad address `%s`", ip ?: "");
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "add address %s/%d", ip,
				       (int)json_as_int(json_get(a, "prefixlen")));
	return 0;
}

static int route_add(struct mnl_socket *nl, const struct json *r, int oif, ckpt_err_t *err)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	int fam = json_as_int(json_get(r, "family"));
	struct rtmsg *rt;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = fam;
	rt->rtm_dst_len = json_as_int(json_get(r, "dst_len"));
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = json_as_int(json_get(r, "protocol"));
	rt->rtm_scope = json_as_int(json_get(r, "scope"));
	rt->rtm_type = RTN_UNICAST;
	if (json_get(r, "dst"))
		put_ip_attr(nlh, RTA_DST, fam, json_as_str(json_get(r, "dst")));
	if (json_get(r, "gw"))
		put_ip_attr(nlh, RTA_GATEWAY, fam, json_as_str(json_get(r, "gw")));
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, oif);
	if (json_get(r, "priority"))
		mnl_attr_put_u32(nlh, RTA_PRIORITY, json_as_int(json_get(r, "priority")));
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "add route to %s/%d",
				       json_as_str(json_get(r, "dst")) ?: "default",
				       (int)json_as_int(json_get(r, "dst_len")));
	return 0;
}

/* The saved link whose old index was index. */
static const struct json *link_by_index(const struct json *links, int index)
{
	for (size_t i = 0; i < json_len(links); i++)
		if (json_as_int(json_get(json_at(links, i), "index")) == index)
			return json_at(links, i);
	return NULL;
}

/* Addresses of the saved links, each on the link's new index. */
static int addrs_add(struct mnl_socket *nl, const struct json *addrs, int want_old, int index,
		     ckpt_err_t *err)
{
	for (size_t i = 0; i < json_len(addrs); i++) {
		const struct json *a = json_at(addrs, i);

		if (want_old && json_as_int(json_get(a, "index")) != want_old)
			continue;
		if (addr_add(nl, index, a, err) < 0)
			return -err->code;
	}
	return 0;
}

/* The host end: its addresses, state and bridge, through a socket in its netns. */
static int peer_setup(const struct json *o, const struct net_peer *p, ckpt_err_t *err)
{
	const struct json *peer = json_get(o, "peer");
	struct mnl_socket *pnl = mnl_socket_fdopen(p->nlfd);
	struct json *state = json_obj();
	int index, ret = 0;

	if (!pnl)
		return ckpt_error(err, errno, "rtnetlink socket of the peer");
	index = link_index(pnl, p->name);
	if (!index)
		ret = ckpt_error_msg(err, ENODEV, "host end `%s` not found", p->name);
	json_set(state, "name", json_str(p->name));
	json_set(state, "kind", json_str("veth"));
	json_set(state, "up", json_bool(!peer || p->master || json_as_bool(json_get(peer, "up"))));
	if (ret == 0 && peer && !p->master)
		ret = addrs_add(pnl, json_get(peer, "addrs"), 0, index, err);
	if (ret == 0)
		ret = link_set(pnl, index, state, p->master, err);
	json_free(state);
	free(pnl);
	return ret;
}

int net_link_restore(const struct json *net, struct net_peer *peers, int npeers,
		     ckpt_err_t *err)
{
	const struct json *links = json_get(net, "links"), *routes = json_get(net, "routes");
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int ret = 0, np = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return ckpt_error(err, errno, "rtnetlink socket");
	for (size_t i = 0; ret == 0 && i < json_len(links); i++) {
		const struct json *o = json_at(links, i);
		const char *name = json_as_str(json_get(o, "name"));
		int index;

		if (!strcmp(json_as_str(json_get(o, "kind")) ?: "", "veth")) {
			if (np >= npeers)
				return ckpt_error_msg(err, EPROTO, "no host end for `%s`", name);
			ret = veth_create(nl, o, &peers[np++], err);
		}
		index = ret == 0 ? link_index(nl, name) : 0;
		if (ret == 0 && !index)
			ret = ckpt_error_msg(err, ENODEV, "link `%s` missing after creation", name);
		if (ret == 0)
			ret = addrs_add(nl, json_get(net, "addrs"), json_as_int(json_get(o, "index")),
					index, err);
		if (ret == 0)
			ret = link_set(nl, index, o, 0, err);
	}
	for (size_t i = 0; ret == 0 && i < json_len(routes); i++) {
		const struct json *r = json_at(routes, i);
		const struct json *l = link_by_index(links, json_as_int(json_get(r, "index")));

		ret = route_add(nl, r, l ? link_index(nl, json_as_str(json_get(l, "name"))) : 0,
				err);
	}
	for (int i = 0; ret == 0 && i < np; i++)
		for (size_t k = 0; k < json_len(links); k++)
			if (!strcmp(json_as_str(json_get(json_at(links, k), "name")) ?: "",
				    peers[i].ctname) &&
			    (ret = peer_setup(json_at(links, k), &peers[i], err)) < 0)
				break;
	mnl_socket_close(nl);
	return ret;
}
