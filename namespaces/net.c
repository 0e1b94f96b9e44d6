/*
 * namespaces/net.c - network namespace (net.json): links, addresses,
 * routes (net-link.c), nftables ruleset and sysctls (net-sys.c).
 *
 * Dump reads everything inside the tree's namespace (from a thread). The
 * host end of a veth lives outside the container: it is recorded with the
 * name of its namespace (ckpt-oci's own, or /run/netns/NAME).
 *
 * Restore: prepare (ckpt-oci) decides where each host end goes and opens
 * that namespace plus an rtnetlink socket inside it; the fds reach the
 * root through the fork. restore (the root, inside the new namespace)
 * makes the links, each veth pair with its host end already in place, the
 * addresses and routes, before any socket of the tree is made. finish
 * (ckpt-oci) sets sysctls and loads the ruleset.
 *
 * The network lock (net-lock.c) covers the namespace while the tree is
 * stopped: set at dump before any socket is read, and at restore right
 * after the links, before any socket; resume (ckpt-oci) takes it away.
 *
 * --veth-map CTNAME=HOSTNAME puts the host end of CTNAME in ckpt-oci's
 * namespace: attached to HOSTNAME if that is a bridge there, else named
 * HOSTNAME. Without a map the host end goes back to the recorded
 * namespace under the recorded name.
 */
#define LOG_PREFIX "net: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

#define NET_PEERS_MAX 16

/*
 * What prepare made for restore and finish: prepare runs in ckpt-oci, the
 * root is a fork of it, so plain process memory carries it across.
 */
static struct {
	struct json *net;
	struct net_doc doc; /* net, checked; its strings point into net */
	struct net_peer peers[NET_PEERS_MAX];
	int npeers;
} net_rs;

static void cands_free(struct net_cands *c)
{
	for (int i = 0; i < c->n; i++) {
		close(c->fds[i]);
		free(c->names[i]);
	}
	c->n = 0;
}

static void cands_open(struct net_cands *c)
{
	DIR *d = opendir("/run/netns");
	struct dirent *de;

	c->n = 0;
	c->fds[0] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (c->fds[0] >= 0)
		c->names[c->n++] = NULL;
	while (d && (de = readdir(d)) && c->n < (int)ARRAY_SIZE(c->fds)) {
		char path[300];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/run/netns/%s", de->d_name);
		c->fds[c->n] = open(path, O_RDONLY | O_CLOEXEC);
		if (c->fds[c->n] >= 0)
			c->names[c->n++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
}

struct link_job {
	int nsfd;
	struct net_cands *cands;
	struct json *net;
	ckpt_err_t *err;
};

/*
 * Reads inside the tree's namespace from a thread of ckpt-oci's: setns of
 * a network namespace is per thread, so only this thread moves (it ends
 * with the read, wherever read_peer left it), and no helper process is
 * forked while the tree is frozen.
 */
static void *link_thread(void *arg)
{
	struct link_job *j = arg;

	if (setns(j->nsfd, CLONE_NEWNET) < 0)
		ckpt_error(j->err, errno, "join the tree's network namespace");
	else
		j->net = net_link_read(j->cands, j->err);
	return NULL;
}

static int net_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *net = NULL;
	struct net_cands c;
	struct link_job j = {d->nsfd, &c, NULL, err};
	pthread_t t;
	int ret;

	if (!d->owned) /* the host's namespace: only the tree's connections */
		return net_host_dump(d->bundle, d->pid, d->pids, d->npids, err);

	cands_open(&c);
	ret = pthread_create(&t, NULL, link_thread, &j);
	if (ret == 0)
		pthread_join(t, NULL);
	cands_free(&c);
	if (ret)
		return ckpt_error(err, ret, "thread to read the network namespace");
	net = j.net;
	if (!net)
		return -err->code;
	return bundle_put_json(d->bundle, "net.json", net, err);
}

/* An rtnetlink socket made inside the namespace behind nsfd, bound. */
static int nl_socket_in(int nsfd, ckpt_err_t *err)
{
	cleanup_close int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct mnl_socket *nl;
	int fd;

	if (own < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "join the host end's namespace");
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (setns(own, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "back to ckpt-oci's namespace");
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return ckpt_error(err, errno, "rtnetlink socket");
	fd = fcntl(mnl_socket_get_fd(nl), F_DUPFD_CLOEXEC, 0);
	mnl_socket_close(nl);
	return fd < 0 ? ckpt_error(err, errno, "dup") : fd;
}

/* HOSTNAME of --veth-map CTNAME=HOSTNAME, or NULL. */
static const char *veth_map_find(const struct ns_restore *r, const char *ct)
{
	size_t l = strlen(ct);

	for (int i = 0; i < r->nveth_map; i++)
		if (!strncmp(r->veth_map[i], ct, l) && r->veth_map[i][l] == '=')
			return r->veth_map[i] + l + 1;
	return NULL;
}

static int peer_prepare(struct ns_restore *r, const struct net_link *o, struct net_peer *p,
			ckpt_err_t *err)
{
	const char *ct = o->name, *map = veth_map_find(r, ct);
	const char *ns = map || !o->peer ? NULL : o->peer->netns;
	const char *name = o->peer ? o->peer->name : NULL;
	char path[300];

	p->ctname = ct;
	snprintf(path, sizeof(path), ns ? "/run/netns/%s" : "/proc/self/ns/net", ns);
	p->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->nsfd < 0)
		return ckpt_error(err, errno, "veth `%s`: the host end's namespace %s", ct, path);
	if (map) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", map);
		if (access(path, F_OK) == 0) {
			p->master = -1; /* resolved below, in that namespace */
		} else {
			name = map;
		}
	}
	snprintf(p->name, sizeof(p->name), "%s", name ?: ct);
	if (!name)
		snprintf(p->name, sizeof(p->name), "h-%.13s", ct);
	p->nlfd = nl_socket_in(p->nsfd, err);
	if (p->nlfd < 0)
		return p->nlfd;
	if (p->master < 0 && !(p->master = net_link_index(p->nlfd, map)))
		return ckpt_error_msg(err, ENODEV, "bridge `%s` not found", map);
	pr_info("veth `%s`: host end `%s` in %s%s", ct, p->name, ns ?: "ckpt-oci's namespace",
		p->master ? " (on a bridge)" : "");
	return 0;
}

static int net_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	int ret;

	if (!(r->flags & CLONE_NEWNET))
		return net_host_prepare(r->bundle, err);

	ret = bundle_get_json(r->bundle, "net.json", &net_rs.net, err);
	if (ret == 0)
		ret = net_doc_read(net_rs.net, &net_rs.doc, err);
	if (ret < 0) {
		json_free(net_rs.net);
		net_rs.net = NULL;
		return ret;
	}
	for (size_t i = 0; i < net_rs.doc.nlinks; i++) {
		const struct net_link *o = &net_rs.doc.links[i];
		struct net_peer *p = &net_rs.peers[net_rs.npeers];

		if (strcmp(o->kind, "veth"))
			continue;
		if (net_rs.npeers == NET_PEERS_MAX)
			return ckpt_error_msg(err, ENOTSUP, "more than %d veth links",
					      NET_PEERS_MAX);
		*p = (struct net_peer){.nsfd = -1, .nlfd = -1};
		net_rs.npeers++;
		ret = peer_prepare(r, o, p, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int net_restore(struct ns_restore *r, ckpt_err_t *err)
{
	int ret;

	if (!(r->flags & CLONE_NEWNET))
		return 0;

	if (!net_rs.net)
		return ckpt_error_msg(err, EPROTO, "net.json was not prepared");
	ret = net_link_restore(&net_rs.doc, net_rs.peers, net_rs.npeers, err);
	if (ret == 0)
		net_sys_early(&net_rs.doc);
	if (ret == 0)
		ret = net_lock_here(err);
	return ret;
}

static int net_finish(struct ns_restore *r, ckpt_err_t *err)
{
	int ret;

	if (!(r->flags & CLONE_NEWNET))
		return 0;
	ret = net_sys_restore(&net_rs.doc, r->root_host_pid, err);

	for (int i = 0; i < net_rs.npeers; i++) {
		close(net_rs.peers[i].nsfd);
		close(net_rs.peers[i].nlfd);
	}
	net_rs.npeers = 0;
	net_doc_free(&net_rs.doc);
	json_free(net_rs.net);
	net_rs.net = NULL;
	return ret;
}

static int net_resume(struct ns_restore *r, ckpt_err_t *err)
{
	if (!(r->flags & CLONE_NEWNET)) {
		net_host_unlock(0);
		return 0;
	}
	return net_unlock_pid(r->root_host_pid, err);
}

/* A failed restore: the host's connections are not held for it any more. */
static void net_undo(struct ns_restore *r)
{
	if (!(r->flags & CLONE_NEWNET))
		net_host_unlock(0);
}

static int net_lock(const struct ns_dump *d, ckpt_err_t *err)
{
	if (!d->owned)
		return net_host_lock(err);
	return net_lock_ns(d->nsfd, err);
}

static void net_unlock(const struct ns_dump *d)
{
	ckpt_err_t e = {0};

	if (!d->owned) {
		net_host_unlock(d->pid);
		return;
	}
	if (net_unlock_ns(d->nsfd, &e) < 0)
		pr_warn("%s: the tree's network stays locked", e.msg);
}

const struct ckpt_ns_ops ns_net_ops = {
	.name = "net",
	.clone_flag = CLONE_NEWNET,
	.always = true, /* the host's namespace: the tree's connections are locked */
	.dump = net_dump,
	.prepare = net_prepare,
	.restore = net_restore,
	.finish = net_finish,
	.resume = net_resume,
	.undo = net_undo,
	.lock = net_lock,
	.unlock = net_unlock,
};
