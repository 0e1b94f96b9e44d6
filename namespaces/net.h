/*
 * namespaces/net.h - the network namespace module, split by concept:
 * net.c (ops, veth peers), net-link.c (links, addresses, routes over
 * rtnetlink with libmnl), net-sys.c (nftables ruleset, sysctls),
 * net-lock.c (the network lock while the tree is stopped), net-nft.c
 * (nftables over nfnetlink, and nft run without a shell).
 */
#ifndef CKPT_NET_H
#define CKPT_NET_H

#include "namespaces/ns.h"

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

/* net-link.c: inside the tree's netns; links with their peers, addresses, routes. */
struct json *net_link_read(void *arg, ckpt_err_t *err);
/* net-link.c: inside the new netns (the root, before its children). */
int net_link_restore(const struct json *net, struct net_peer *peers, int npeers,
		     ckpt_err_t *err);
/* net-link.c: ifindex of name through a NETLINK_ROUTE socket fd, or 0. */
int net_link_index(int nlfd, const char *name);

/* net-sys.c: inside the tree's netns: ruleset and sysctls off their defaults. */
int net_sys_read(struct json *out, ckpt_err_t *err);
/* net-sys.c: from ckpt-oci, into the netns of pid. */
int net_sys_restore(const struct json *net, pid_t pid, ckpt_err_t *err);

/* net-nft.c: 1 if the caller's netns has an nftables table, 0 if none, or -errno. */
int nft_has_tables(void);
/*
 * net-nft.c: run nft (argv[0] "nft") in the caller's netns, stdin from in,
 * stdout into *out (malloc'd) if out; the wait status or a negative errno.
 */
int nft_run(char *const argv[], const char *in, char **out, bool quiet, ckpt_err_t *err);

/* net-nft.c: an nfnetlink socket of the caller's netns, or -errno. */
int nft_socket(void);
/*
 * net-nft.c: on that socket, add (or delete) the lock's table `inet table`:
 * input and output chains, priority INT_MIN, policy drop, accepting mark.
 */
int nft_lock_table(int fd, const char *table, uint32_t mark, bool add);

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
