/*
 * namespaces/net.h - the network namespace module, split by concept:
 * net.c (ops, veth peers), net-link.c (links, addresses, routes over
 * rtnetlink with libmnl), net-sys.c (nftables ruleset, sysctls),
 * net-lock.c (the network lock while the tree is stopped), net-nft.c
 * (nftables over nfnetlink, and nft run without a shell).
 */
#ifndef CKPT_NET_H
#define CKPT_NET_H

#include <stdint.h>

#include "namespaces/ns.h"
#include "util/doc.h"

/* Where the host end of a veth goes at restore (net.c prepare). */
struct net_peer {
	const char *ctname; /* the container end */
	int nsfd;	    /* its netns, opened in ckpt-oci */
	int nlfd;	    /* a NETLINK_ROUTE socket made inside that netns */
	char name[16];	    /* host end's name */
	int master;	    /* bridge ifindex in that netns, or 0 */
};

/* Candidate namespaces for a veth's peer: ckpt-oci's own and /run/netns/NAME. */
struct net_cands {
	int n;
	int fds[64];
	char *names[64]; /* NULL for ckpt-oci's own */
};

/*
 * net.json as typed structs (net-doc.c holds the tables the dump writes
 * with and the one parse at restore). Strings point into the document.
 */
struct net_addr {
	int32_t index;	   /* the link's ifindex at dump */
	int32_t family;	   /* AF_INET or AF_INET6 */
	int32_t prefixlen; /* up to 32 or 128 */
	const char *addr;  /* as inet_ntop writes it */
};

struct net_route {
	int32_t family, dst_len, scope, protocol;
	const char *dst, *gw; /* NULL: default route, no gateway */
	int32_t index;	      /* output link's ifindex at dump, 0: none */
	int64_t priority;     /* metric, -1: none given */
};

struct net_link {
	int32_t index;
	const char *name, *kind; /* kind: loopback or veth */
	bool up;
	uint32_t mtu;	   /* 0: left as the kernel makes it */
	const char *mac;   /* hex digits, NULL: none */
	int32_t link;	   /* veth: the peer's ifindex in its namespace */
	int32_t link_nsid; /* veth: that namespace's id here, -1: none */
	/* a veth's host end ("peer"): a struct net_link of its own */
	struct net_link *peer;
	const char *netns; /* the host end's /run/netns name; NULL: ckpt-oci's */
	struct net_addr *addrs;
	size_t naddrs;
};

struct net_doc {
	struct net_link *links;
	struct net_addr *addrs;
	struct net_route *routes;
	size_t nlinks, naddrs, nroutes;
	const char **sys_key, **sys_val; /* "sysctl": relative to /proc/sys/net */
	size_t nsys;
	const char *nft; /* the ruleset, or NULL */
};

extern const struct doc_field net_link_fields[];
extern const struct doc_field net_peer_fields[];
extern const struct doc_field net_addr_fields[];
extern const struct doc_field net_route_fields[];

/* net-doc.c: the whole of net.json, checked; strings point into net. */
int net_doc_read(const struct json *net, struct net_doc *out, ckpt_err_t *err);
void net_doc_free(struct net_doc *d);

/* net-link.c: inside the tree's netns; links with their peers, addresses, routes. */
struct json *net_link_read(void *arg, ckpt_err_t *err);
/* net-link.c: inside the new netns (the root, before its children). */
int net_link_restore(const struct net_doc *net, struct net_peer *peers, int npeers,
		     ckpt_err_t *err);
/* net-link.c: ifindex of name through a NETLINK_ROUTE socket fd, or 0. */
int net_link_index(int nlfd, const char *name);

/* net-sys.c: inside the tree's netns: ruleset and sysctls off their defaults. */
int net_sys_read(struct json *out, ckpt_err_t *err);
/* net-sys.c: the sysctls needed before sockets are made, in this namespace. */
void net_sys_early(const struct net_doc *net);
/* net-sys.c: from ckpt-oci, into the netns of pid. */
int net_sys_restore(const struct net_doc *net, pid_t pid, ckpt_err_t *err);

/* net-nft.c: 1 if the caller's netns has an nftables table, 0 if none, or -errno. */
int nft_has_tables(void);
/*
 * net-nft.c: an nft command (a ruleset to apply, "list ruleset") run by
 * libnftables in the caller's netns; its output into *out (malloc'd) if out.
 */
int nft_cmd(const char *cmd, char **out, ckpt_err_t *err) __attribute__((warn_unused_result));

/* net-nft.c: an nfnetlink socket of the caller's netns, or -errno. */
int nft_socket(void);
/*
 * net-nft.c: on that socket, add (or delete) the lock's table `inet table`:
 * input and output chains, priority INT_MIN, policy drop, accepting mark.
 */
int nft_lock_table(int fd, const char *table, uint32_t mark, bool add);

/*
 * A TCP socket of a tree in ckpt-oci's network namespace, as the host lock
 * matches it: addresses in network order (IPv4 in the first 4 bytes, an
 * IPv4-mapped IPv6 socket as IPv4), ports in host order; pport 0: a
 * listener on local:lport (any address when local is all zero).
 */
struct net_tuple {
	int32_t family; /* AF_INET or AF_INET6 */
	uint8_t local[16], peer[16];
	uint16_t lport, pport;
};

/*
 * net-nft.c: on that socket, add (or delete) a table of drop rules for
 * exactly these connections, both ways, and SYNs to these listeners:
 * input and output chains at priority INT_MIN, policy accept.
 */
int nft_lock_tuples(int fd, const char *table, const struct net_tuple *t, size_t n, bool add);

/*
 * net-host.c: a tree in ckpt-oci's network namespace: its TCP connections
 * and listeners into net-lock.json (dump), locked and unlocked by their
 * 4-tuples; restore's prepare locks them again from the bundle.
 */
int net_host_dump(struct ckpt_bundle *b, pid_t root, const pid_t *pids, int npids, ckpt_err_t *err);
int net_host_lock(ckpt_err_t *err);
/* root: the tree's root at dump, to find the table when this run did not lock (0: none). */
void net_host_unlock(pid_t root);
int net_host_prepare(struct ckpt_bundle *b, ckpt_err_t *err);

/* net-lock.c: the lock's table (`inet ckpt_oci_lock`). */
#define NET_LOCK_NAME "ckpt_oci_lock"
/* net-lock.c: lock the caller's own network namespace (the root at restore). */
int net_lock_here(ckpt_err_t *err);
/* net-lock.c: from ckpt-oci, lock or unlock the namespace behind nsfd. */
int net_lock_ns(int nsfd, ckpt_err_t *err);
int net_unlock_ns(int nsfd, ckpt_err_t *err);
/* net-lock.c: from ckpt-oci, unlock the network namespace of pid. */
int net_unlock_pid(pid_t pid, ckpt_err_t *err);

#endif
