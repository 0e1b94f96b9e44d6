/*
 * namespaces/net-doc.c - net.json as typed structs (net.h): the field
 * tables the dump writes with (net-link.c), and the one parse at restore
 * that checks the whole document before anything is made: names that fit
 * an interface, addresses that parse, prefix lengths and ifindexes in
 * range, sysctl names that stay below /proc/sys/net.
 *
 *	{ "links": [ { "index", "name", "kind", "up", "mtu", "mac", "link",
 *		       "link_nsid", "peer": { "netns", "name", "up", "mtu",
 *		       "mac", "addrs": [...] } } ],
 *	  "addrs": [ { "index", "family", "prefixlen", "addr" } ],
 *	  "routes": [ { "family", "dst_len", "scope", "protocol", "dst", "gw",
 *			"index", "priority" } ],
 *	  "sysctl": { "ipv4/ip_forward": "1" }, "nft": "table inet ..." }
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "namespaces/net.h"
#include "util/util.h"

#define NET_LINKS_MAX  256
#define NET_ADDRS_MAX  4096
#define NET_ROUTES_MAX 65536
#define NET_SYSCTL_MAX 65536
#define NET_NFT_MAX    (16 << 20)
#define NET_MAC_MAX    32 /* bytes (MAX_ADDR_LEN) */

const struct doc_field net_link_fields[] = {
	DOC_INT(struct net_link, index, "index", 1, INT32_MAX),
	DOC_STR(struct net_link, name, "name", IFNAMSIZ - 1),
	DOC_STR(struct net_link, kind, "kind", 32),
	DOC_BOOL(struct net_link, up, "up"),
	DOC_OPT_INT(struct net_link, mtu, "mtu", 0, 65536 * 4),
	DOC_OPT_STR(struct net_link, mac, "mac", 2 * NET_MAC_MAX),
	DOC_OPT_INT(struct net_link, link, "link", 0, INT32_MAX),
	DOC_OPT_INT(struct net_link, link_nsid, "link_nsid", -1, INT32_MAX),
	DOC_END,
};

/* The host end of a veth: what restore sets on it (its netns and addrs aside). */
const struct doc_field net_peer_fields[] = {
	DOC_OPT_STR(struct net_link, name, "name", IFNAMSIZ - 1),
	DOC_OPT_BOOL(struct net_link, up, "up"),
	DOC_OPT_INT(struct net_link, mtu, "mtu", 0, 65536 * 4),
	DOC_OPT_STR(struct net_link, mac, "mac", 2 * NET_MAC_MAX),
	DOC_END,
};

const struct doc_field net_addr_fields[] = {
	DOC_INT(struct net_addr, index, "index", 1, INT32_MAX),
	DOC_INT(struct net_addr, family, "family", AF_INET, AF_INET6),
	DOC_INT(struct net_addr, prefixlen, "prefixlen", 0, 128),
	DOC_STR(struct net_addr, addr, "addr", INET6_ADDRSTRLEN),
	DOC_END,
};

const struct doc_field net_route_fields[] = {
	DOC_INT(struct net_route, family, "family", AF_INET, AF_INET6),
	DOC_INT(struct net_route, dst_len, "dst_len", 0, 128),
	DOC_INT(struct net_route, scope, "scope", 0, 255),
	DOC_INT(struct net_route, protocol, "protocol", 0, 255),
	DOC_OPT_STR(struct net_route, dst, "dst", INET6_ADDRSTRLEN),
	DOC_OPT_STR(struct net_route, gw, "gw", INET6_ADDRSTRLEN),
	DOC_OPT_INT(struct net_route, index, "index", 0, INT32_MAX),
	DOC_OPT_INT(struct net_route, priority, "priority", -1, UINT32_MAX),
	DOC_END,
};

/* An address of family fam with at most len prefix bits, or NULL (absent). */
static int ip_check(const struct doc_at *at, int fam, const char *ip, int len, ckpt_err_t *err)
{
	unsigned char buf[16];

	if (fam != AF_INET && fam != AF_INET6)
		return doc_error(err, at, "family %d is neither AF_INET nor AF_INET6", fam);
	if (len > (fam == AF_INET ? 32 : 128))
		return doc_error(err, at, "prefix length %d too long for the family", len);
	if (ip && inet_pton(fam, ip, buf) != 1)
		return doc_error(err, at, "`%s` is not an address of family %d", ip, fam);
	return 0;
}

static int mac_check(const struct doc_at *at, const char *mac, ckpt_err_t *err)
{
	if (mac && (strlen(mac) % 2 || strspn(mac, "0123456789abcdefABCDEF") != strlen(mac)))
		return doc_error(err, at, "mac `%s` is not hex digits", mac);
	return 0;
}

static int name_check(const struct doc_at *at, const char *name, ckpt_err_t *err)
{
	if (name && (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")))
		return doc_error(err, at, "`%s` is not an interface name", name);
	return 0;
}

static int addrs_read(const struct doc_at *at, const struct json *o, struct net_addr **out,
		      size_t *n, ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "addrs");
	const struct json *arr, *a;
	int ret = doc_opt_arr(at, o, "addrs", NET_ADDRS_MAX, &arr, n, err);

	*out = *n ? xzalloc(*n * sizeof(**out)) : NULL;
	for (size_t i = 0; ret == 0 && i < *n; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct net_addr *x = &(*out)[i];

		ret = doc_elem_obj(&l, arr, i, &a, err);
		if (ret == 0)
			ret = doc_read(&e, a, net_addr_fields, x, err);
		if (ret == 0)
			ret = ip_check(&e, x->family, x->addr, x->prefixlen, err);
	}
	return ret;
}

/* The host end of veth link l ("peer"), if recorded. */
static int peer_read(const struct doc_at *at, const struct json *o, struct net_link *l,
		     ckpt_err_t *err)
{
	struct doc_at p = DOC_KEY(at, "peer");
	const struct json *po;
	int ret = doc_opt_obj(at, o, "peer", &po, err);

	if (ret < 0 || !po)
		return ret;
	l->peer = xzalloc(sizeof(*l->peer));
	*l->peer = (struct net_link){.link_nsid = -1};
	ret = doc_read(&p, po, net_peer_fields, l->peer, err);
	if (ret == 0)
		ret = doc_opt_str(&p, po, "netns", NAME_MAX, &l->peer->netns, err);
	if (ret == 0)
		ret = name_check(&p, l->peer->name, err);
	if (ret == 0 && l->peer->netns &&
	    (!l->peer->netns[0] || strchr(l->peer->netns, '/') || l->peer->netns[0] == '.'))
		ret = doc_error(err, &p, "netns `%s` is not a name in /run/netns", l->peer->netns);
	if (ret == 0)
		ret = mac_check(&p, l->peer->mac, err);
	if (ret == 0)
		ret = addrs_read(&p, po, &l->peer->addrs, &l->peer->naddrs, err);
	return ret;
}

static int links_read(const struct doc_at *at, const struct json *net, struct net_doc *d,
		      ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "links");
	const struct json *arr, *o;
	int ret = doc_opt_arr(at, net, "links", NET_LINKS_MAX, &arr, &d->nlinks, err);

	d->links = d->nlinks ? xzalloc(d->nlinks * sizeof(*d->links)) : NULL;
	for (size_t i = 0; ret == 0 && i < d->nlinks; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct net_link *x = &d->links[i];

		*x = (struct net_link){.link_nsid = -1};
		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, net_link_fields, x, err);
		if (ret == 0 && strcmp(x->kind, "loopback") && strcmp(x->kind, "veth"))
			ret = doc_error(err, &e, "kind `%s` is not loopback or veth", x->kind);
		if (ret == 0)
			ret = name_check(&e, x->name, err);
		if (ret == 0)
			ret = mac_check(&e, x->mac, err);
		if (ret == 0)
			ret = peer_read(&e, o, x, err);
	}
	return ret;
}

static int routes_read(const struct doc_at *at, const struct json *net, struct net_doc *d,
		       ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "routes");
	const struct json *arr, *o;
	int ret = doc_opt_arr(at, net, "routes", NET_ROUTES_MAX, &arr, &d->nroutes, err);

	d->routes = d->nroutes ? xzalloc(d->nroutes * sizeof(*d->routes)) : NULL;
	for (size_t i = 0; ret == 0 && i < d->nroutes; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct net_route *x = &d->routes[i];

		*x = (struct net_route){.priority = -1};
		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, net_route_fields, x, err);
		if (ret == 0)
			ret = ip_check(&e, x->family, x->dst, x->dst_len, err);
		if (ret == 0 && x->gw)
			ret = ip_check(&e, x->family, x->gw, 0, err);
	}
	return ret;
}

/* "sysctl": names below /proc/sys/net, never leaving it. */
static int net_sysctls_read(const struct doc_at *at, const struct json *net, struct net_doc *d,
			    ckpt_err_t *err)
{
	struct doc_at s = DOC_KEY(at, "sysctl");
	const struct json *sc;
	int ret = doc_opt_obj(at, net, "sysctl", &sc, err);

	if (ret < 0 || !sc)
		return ret;
	if (json_len(sc) > NET_SYSCTL_MAX)
		return doc_error(err, &s, "%zu sysctls, at most %d", json_len(sc), NET_SYSCTL_MAX);
	d->sys_key = xzalloc((json_len(sc) + 1) * sizeof(*d->sys_key));
	d->sys_val = xzalloc((json_len(sc) + 1) * sizeof(*d->sys_val));
	for (size_t i = 0; i < json_len(sc); i++) {
		const char *k;

		ret = doc_map_str(&s, sc, i, 4096, &k, &d->sys_val[i], err);
		if (ret < 0)
			return ret;
		if (!k[0] || k[0] == '/' || strlen(k) >= PATH_MAX || !strcmp(k, "..") ||
		    !strncmp(k, "../", 3) || strstr(k, "/../") ||
		    (strlen(k) >= 3 && !strcmp(k + strlen(k) - 3, "/..")))
			return doc_error(err, &s, "`%s` is not a sysctl below net", k);
		d->sys_key[i] = k;
		d->nsys++;
	}
	return 0;
}

int net_doc_read(const struct json *net, struct net_doc *d, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("net.json");
	int ret;

	memset(d, 0, sizeof(*d));
	ret = links_read(&at, net, d, err);
	if (ret == 0)
		ret = addrs_read(&at, net, &d->addrs, &d->naddrs, err);
	if (ret == 0)
		ret = routes_read(&at, net, d, err);
	if (ret == 0)
		ret = net_sysctls_read(&at, net, d, err);
	if (ret == 0)
		ret = doc_opt_str(&at, net, "nft", NET_NFT_MAX, &d->nft, err);
	if (ret < 0)
		net_doc_free(d);
	return ret;
}

void net_doc_free(struct net_doc *d)
{
	for (size_t i = 0; d->links && i < d->nlinks; i++) {
		if (d->links[i].peer)
			free(d->links[i].peer->addrs);
		free(d->links[i].peer);
	}
	free(d->links);
	free(d->addrs);
	free(d->routes);
	free(d->sys_key);
	free(d->sys_val);
	memset(d, 0, sizeof(*d));
}
