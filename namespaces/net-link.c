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
#include "util/doc.h"
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

/* ---- dump ------------------------------------------------------------------ */

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nlattr *a, *tb[IFLA_MAX + 1] = {0};
	const char *kind = ifi->ifi_type == ARPHRD_LOOPBACK ? "loopback" : NULL;
	char mac[2 * 32 + 1] = "";
	struct net_link l;

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
	l = (struct net_link){
		.index = ifi->ifi_index,
		.name = tb[IFLA_IFNAME] ? mnl_attr_get_str(tb[IFLA_IFNAME]) : "",
		.kind = kind ?: "?",
		.up = ifi->ifi_flags & IFF_UP,
		.mtu = tb[IFLA_MTU] ? mnl_attr_get_u32(tb[IFLA_MTU]) : 0,
		.link = tb[IFLA_LINK] ? (int32_t)mnl_attr_get_u32(tb[IFLA_LINK]) : 0,
		.link_nsid = tb[IFLA_LINK_NETNSID]
				     ? (int32_t)mnl_attr_get_u32(tb[IFLA_LINK_NETNSID])
				     : -1,
	};
	if (tb[IFLA_ADDRESS]) {
		const unsigned char *b = mnl_attr_get_payload(tb[IFLA_ADDRESS]);
		size_t n = MIN(mnl_attr_get_payload_len(tb[IFLA_ADDRESS]), (sizeof(mac) - 1) / 2);

		for (size_t i = 0; i < n; i++)
			snprintf(mac + 2 * i, 3, "%02x", b[i]);
		l.mac = mac;
	}
	doc_write(json_push(w->list, json_obj()), net_link_fields, &l);
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	char buf[INET6_ADDRSTRLEN];
	const void *ip = NULL;
	struct net_addr a;
	struct nlattr *at;

	if (w->want && (int)ifa->ifa_index != w->want)
		return MNL_CB_OK;
	mnl_attr_for_each(at, nlh, sizeof(*ifa))
	{
		if (mnl_attr_get_type(at) == IFA_LOCAL ||
		    (mnl_attr_get_type(at) == IFA_ADDRESS && !ip))
			ip = mnl_attr_get_payload(at);
	}
	if (!ip || (ifa->ifa_family == AF_INET6 && ifa->ifa_scope == RT_SCOPE_LINK))
		return MNL_CB_OK;
	if (!inet_ntop(ifa->ifa_family, ip, buf, sizeof(buf)))
		return MNL_CB_OK;
	a = (struct net_addr){ifa->ifa_index, ifa->ifa_family, ifa->ifa_prefixlen, buf};
	doc_write(json_push(w->list, json_obj()), net_addr_fields, &a);
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_walk *w = data;
	struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	char dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN];
	struct net_route r;
	struct nlattr *a;

	if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_protocol == RTPROT_KERNEL ||
	    rt->rtm_type != RTN_UNICAST)
		return MNL_CB_OK;
	r = (struct net_route){.family = rt->rtm_family,
			       .dst_len = rt->rtm_dst_len,
			       .scope = rt->rtm_scope,
			       .protocol = rt->rtm_protocol,
			       .priority = -1};
	mnl_attr_for_each(a, nlh, sizeof(*rt))
	{
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			r.dst = inet_ntop(rt->rtm_family, mnl_attr_get_payload(a), dst,
					  sizeof(dst));
			break;
		case RTA_GATEWAY:
			r.gw = inet_ntop(rt->rtm_family, mnl_attr_get_payload(a), gw, sizeof(gw));
			break;
		case RTA_OIF:
			r.index = mnl_attr_get_u32(a);
			break;
		case RTA_PRIORITY:
			r.priority = mnl_attr_get_u32(a);
			break;
		}
	}
	doc_write(json_push(w->list, json_obj()), net_route_fields, &r);
	return MNL_CB_OK;
}

static int nl_dump(struct mnl_socket *nl, int type, int family, mnl_cb_t cb, struct nl_walk *w)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	g = mnl_nlmsg_put_extra_header(nlh, type == RTM_GETLINK	  ? sizeof(struct ifinfomsg)
					    : type == RTM_GETADDR ? sizeof(struct ifaddrmsg)
								  : sizeof(struct rtmsg));
	g->rtgen_family = family;
	return nl_talk(nl, nlh, cb, w, w->err);
}

static int nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh,
			  sizeof(struct rtgenmsg)) if (mnl_attr_get_type(a) == NETNSA_NSID) *
		(int *)data = (int32_t)mnl_attr_get_u32(a);
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

/* Link i of list (as link_cb wrote it), read back through the same table. */
static int link_at(const struct json *list, size_t i, struct net_link *l, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("net.json"), k = DOC_KEY(&at, "links");
	const struct json *o;
	int ret;

	*l = (struct net_link){.link_nsid = -1};
	ret = doc_elem_obj(&k, list, i, &o, err);
	if (ret == 0) {
		struct doc_at e = DOC_IDX(&k, i);

		ret = doc_read(&e, o, net_link_fields, l, err);
	}
	return ret;
}

/* The host end of veth l (o in the document): in which candidate, with what state. */
static int read_peer(struct mnl_socket *nl, const struct net_link *l, struct json *o,
		     const struct net_cands *c, ckpt_err_t *err)
{
	struct nl_walk w = {json_arr(), l->link, err, 0};
	struct nl_walk wa = {json_arr(), w.want, err, 0};
	struct mnl_socket *pnl = NULL;
	struct json *peer;
	int ret, k = c->n;

	for (k = 0; l->link_nsid >= 0 && k < c->n; k++)
		if (nsid_of(nl, c->fds[k], err) == l->link_nsid)
			break;
	ckpt_error_clear(err);
	if (l->link_nsid < 0 || k == c->n) {
		pr_warn("veth `%s`: its peer's namespace is not known; the host end will be "
			"made in ckpt-oci's namespace",
			l->name);
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
		struct net_link pl;

		ret = link_at(w.list, 0, &pl, err);
		if (ret == 0) {
			doc_write(peer, net_peer_fields, &pl);
			json_set(peer, "addrs", steal_pointer(&wa.list));
		}
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
		struct net_link l;
		int ret = link_at(links, i, &l, err);

		if (ret < 0)
			return ret;
		if (!strcmp(l.kind, "loopback"))
			continue;
		if (strcmp(l.kind, "veth"))
			return ckpt_error_msg(err, ENOTSUP,
					      "interface `%s` of kind %s: not supported", l.name,
					      l.kind);
		if (read_peer(nl, &l, json_at(links, i), c, err) < 0)
			return ckpt_error_wrap(err, "veth `%s`", l.name);
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
static int link_set(struct mnl_socket *nl, int index, const struct net_link *o, int master,
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
	ifi->ifi_flags = o->up ? IFF_UP : 0;
	if (o->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, o->mtu);
	if (strcmp(o->kind ?: "", "loopback"))
		put_mac(nlh, o->mac);
	if (master)
		mnl_attr_put_u32(nlh, IFLA_MASTER, master);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "set link `%s`", o->name);
	return 0;
}

/* A new veth pair: o's end here, the host end in the peer's namespace. */
static int veth_create(struct mnl_socket *nl, const struct net_link *o, const struct net_peer *p,
		       ckpt_err_t *err)
{
	char buf[2048];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	const struct net_link *peer = o->peer;
	struct nlattr *info, *data, *pn;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, o->name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	pn = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, p->name);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, p->nsfd);
	if (peer && peer->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, peer->mtu);
	if (peer && !p->master)
		put_mac(nlh, peer->mac);
	mnl_attr_nest_end(nlh, pn);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "create veth `%s` with host end `%s`", o->name,
				       p->name);
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

static int addr_add(struct mnl_socket *nl, int index, const struct net_addr *a, ckpt_err_t *err)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->prefixlen;
	ifa->ifa_index = index;
	/* no duplicate address detection: a tentative address cannot be bound */
	ifa->ifa_flags = a->family == AF_INET6 ? IFA_F_NODAD : 0;
	if (put_ip_attr(nlh, IFA_LOCAL, a->family, a->addr) < 0 ||
	    put_ip_attr(nlh, IFA_ADDRESS, a->family, a->addr) < 0)
		return ckpt_error_msg(err, EPROTO, "bad address `%s`", a->addr);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "add address %s/%d", a->addr, a->prefixlen);
	return 0;
}

static int route_add(struct mnl_socket *nl, const struct net_route *r, int oif, ckpt_err_t *err)
{
	char buf[512];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = r->family;
	rt->rtm_dst_len = r->dst_len;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = r->protocol;
	rt->rtm_scope = r->scope;
	rt->rtm_type = RTN_UNICAST;
	if (r->dst)
		put_ip_attr(nlh, RTA_DST, r->family, r->dst);
	if (r->gw)
		put_ip_attr(nlh, RTA_GATEWAY, r->family, r->gw);
	if (oif)
		mnl_attr_put_u32(nlh, RTA_OIF, oif);
	if (r->priority >= 0)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->priority);
	if (nl_talk(nl, nlh, NULL, NULL, err) < 0)
		return ckpt_error_wrap(err, "add route to %s/%d", r->dst ?: "default", r->dst_len);
	return 0;
}

/* The saved link whose old index was index. */
static const struct net_link *link_by_index(const struct net_doc *net, int index)
{
	for (size_t i = 0; i < net->nlinks; i++)
		if (net->links[i].index == index)
			return &net->links[i];
	return NULL;
}

/* Addresses of the saved links, each on the link's new index. */
static int addrs_add(struct mnl_socket *nl, const struct net_addr *addrs, size_t n, int want_old,
		     int index, ckpt_err_t *err)
{
	for (size_t i = 0; i < n; i++) {
		if (want_old && addrs[i].index != want_old)
			continue;
		if (addr_add(nl, index, &addrs[i], err) < 0)
			return -err->code;
	}
	return 0;
}

/* The host end: its addresses, state and bridge, through a socket in its netns. */
static int peer_setup(const struct net_link *o, const struct net_peer *p, ckpt_err_t *err)
{
	const struct net_link *peer = o->peer;
	struct mnl_socket *pnl = mnl_socket_fdopen(p->nlfd);
	struct net_link state = {
		.name = p->name, .kind = "veth", .up = !peer || p->master || peer->up};
	int index, ret = 0;

	if (!pnl)
		return ckpt_error(err, errno, "rtnetlink socket of the peer");
	index = link_index(pnl, p->name);
	if (!index)
		ret = ckpt_error_msg(err, ENODEV, "host end `%s` not found", p->name);
	if (ret == 0 && peer && !p->master)
		ret = addrs_add(pnl, peer->addrs, peer->naddrs, 0, index, err);
	if (ret == 0)
		ret = link_set(pnl, index, &state, p->master, err);
	free(pnl);
	return ret;
}

int net_link_restore(const struct net_doc *net, struct net_peer *peers, int npeers, ckpt_err_t *err)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int ret = 0, np = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return ckpt_error(err, errno, "rtnetlink socket");
	for (size_t i = 0; ret == 0 && i < net->nlinks; i++) {
		const struct net_link *o = &net->links[i];
		int index;

		if (!strcmp(o->kind, "veth")) {
			if (np >= npeers) {
				mnl_socket_close(nl);
				return ckpt_error_msg(err, EPROTO, "no host end for `%s`", o->name);
			}
			ret = veth_create(nl, o, &peers[np++], err);
		}
		index = ret == 0 ? link_index(nl, o->name) : 0;
		if (ret == 0 && !index)
			ret = ckpt_error_msg(err, ENODEV, "link `%s` missing after creation",
					     o->name);
		if (ret == 0)
			ret = addrs_add(nl, net->addrs, net->naddrs, o->index, index, err);
		if (ret == 0)
			ret = link_set(nl, index, o, 0, err);
	}
	for (size_t i = 0; ret == 0 && i < net->nroutes; i++) {
		const struct net_route *r = &net->routes[i];
		const struct net_link *l = r->index ? link_by_index(net, r->index) : NULL;

		ret = route_add(nl, r, l ? link_index(nl, l->name) : 0, err);
	}
	for (int i = 0; ret == 0 && i < np; i++)
		for (size_t k = 0; k < net->nlinks; k++)
			if (!strcmp(net->links[k].name, peers[i].ctname) &&
			    (ret = peer_setup(&net->links[k], &peers[i], err)) < 0)
				break;
	mnl_socket_close(nl);
	return ret;
}
