/*
 * namespaces/net-host.c - the network lock of a tree that shares
 * ckpt-oci's network namespace (net-lock.json): the namespace cannot be
 * locked whole without cutting the host off, so exactly the tree's TCP
 * connections are, by their 4-tuples, both ways, and the SYNs that come
 * for its listeners. While the lock holds, a peer's segment is dropped
 * before the stack sees it: no reset for a socket in repair mode, half
 * dumped, gone with the killed tree or not made yet; the peer retransmits
 * and the connection goes on once the lock is gone.
 *
 * Dump: the tree's sockets are found by inode (/proc/PID/fd of each task)
 * in /proc/ROOT/net/tcp and tcp6; the list goes into net-lock.json with
 * the lock's table name (`inet ckpt_oci_lock_ROOTPID`). The lock is set
 * where the namespace lock would be (after the namespaces are dumped,
 * before any socket is read) and taken away when the tree runs on
 * (--leave-running, or a failed checkpoint). A killed tree's connections
 * stay locked: the restore takes the lock over.
 *
 * Restore: prepare sets the same table again (replacing one left by the
 * checkpoint on this host), before any socket of the tree is made; resume
 * takes it away right before the tree runs, undo after a failure.
 */
#define LOG_PREFIX "net: "
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define NET_TUPLES_MAX 65536

/* One row of net-lock.json: addresses as text. */
struct tuple_rec {
	int32_t family;
	const char *local, *peer; /* peer NULL: a listener */
	int32_t lport, pport;
};

static const struct doc_field tuple_fields[] = {
	DOC_INT(struct tuple_rec, family, "family", AF_INET, AF_INET6),
	DOC_STR(struct tuple_rec, local, "local", INET6_ADDRSTRLEN),
	DOC_INT(struct tuple_rec, lport, "lport", 1, 65535),
	DOC_OPT_STR(struct tuple_rec, peer, "peer", INET6_ADDRSTRLEN),
	DOC_OPT_INT(struct tuple_rec, pport, "pport", 0, 65535), /* 0: a listener */
	DOC_END,
};

/* What the dump found, for its lock and unlock (same process), or prepare read. */
static struct {
	char table[64];
	struct net_tuple *t;
	size_t n;
	bool locked;
} host;

/* Socket inodes of every fd of pids, sorted. */
static int tree_sockets(const pid_t *pids, int npids, unsigned long **out, size_t *n)
{
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	for (int i = 0; i < npids; i++) {
		char dir[64];
		cleanup_dir DIR *d = NULL;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "/proc/%d/fd", pids[i]);
		d = opendir(dir);
		while (d && (de = readdir(d))) {
			char link[64];
			unsigned long long ino;
			ssize_t len;

			if (de->d_name[0] == '.')
				continue;
			len = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = '\0';
			if (!proc_parse_fd_link(link, "socket", &ino))
				continue;
			if (*n == cap)
				*out = xrealloc(*out, (cap = cap * 2 + 64) * sizeof(**out));
			(*out)[(*n)++] = ino;
		}
	}
	return 0;
}

static bool has_inode(const unsigned long *v, size_t n, unsigned long ino)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == ino)
			return true;
	return false;
}

/* An IPv4-mapped IPv6 address travels as IPv4: match it so. */
static void unmap(struct net_tuple *t)
{
	static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (t->family != AF_INET6 || memcmp(t->local, pre, 12))
		return;
	if (t->pport && memcmp(t->peer, pre, 12))
		return;
	t->family = AF_INET;
	memmove(t->local, t->local + 12, 4);
	memset(t->local + 4, 0, 12);
	memmove(t->peer, t->peer + 12, 4);
	memset(t->peer + 4, 0, 12);
}

/* What a walk of /proc/ROOT/net/tcp or tcp6 keeps: the tree's sockets (by inode). */
struct scan_arg {
	int family;
	const unsigned long *ino;
	size_t nino;
};

static int scan_one(const struct proc_tcp_sock *s, void *arg, ckpt_err_t *err)
{
	const struct scan_arg *a = arg;
	struct net_tuple t = {.family = a->family};

	if (!s->inode || !has_inode(a->ino, a->nino, s->inode))
		return 0;
	/* 7 CLOSE: nothing to lock; 10 LISTEN: its port */
	if (s->state == 7)
		return 0;
	memcpy(t.local, s->local, 16);
	memcpy(t.peer, s->peer, 16);
	t.lport = s->lport;
	t.pport = s->state == 10 ? 0 : s->pport;
	if (!t.lport || (s->state != 10 && !t.pport))
		return 0;
	unmap(&t);
	if (host.n == NET_TUPLES_MAX)
		return ckpt_error_msg(err, E2BIG, "more than %d TCP sockets", NET_TUPLES_MAX);
	host.t = xrealloc(host.t, (host.n + 1) * sizeof(*host.t));
	host.t[host.n++] = t;
	return 0;
}

/* The tree's sockets among /proc/ROOT/net/FILE (util/proc-host.c). */
static int scan(pid_t root, const char *file, int family, const unsigned long *ino, size_t nino,
		ckpt_err_t *err)
{
	struct scan_arg a = {family, ino, nino};

	return proc_read_tcp(root, file, family, scan_one, &a, err);
}

static void put_tuples(struct json *list)
{
	for (size_t i = 0; i < host.n; i++) {
		const struct net_tuple *t = &host.t[i];
		char l[INET6_ADDRSTRLEN], p[INET6_ADDRSTRLEN];
		struct tuple_rec r = {t->family, inet_ntop(t->family, t->local, l, sizeof(l)),
				      t->pport ? inet_ntop(t->family, t->peer, p, sizeof(p)) : NULL,
				      t->lport, t->pport};

		doc_write(json_push(list, json_obj()), tuple_fields, &r);
	}
}

int net_host_dump(struct ckpt_bundle *b, pid_t root, const pid_t *pids, int npids, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	cleanup_free unsigned long *ino = NULL;
	size_t nino = 0;
	int ret;

	free(host.t);
	memset(&host, 0, sizeof(host));
	snprintf(host.table, sizeof(host.table), NET_LOCK_NAME "_%d", root);
	tree_sockets(pids, npids, &ino, &nino);
	ret = nino ? scan(root, "tcp", AF_INET, ino, nino, err) : 0;
	if (ret == 0 && nino)
		ret = scan(root, "tcp6", AF_INET6, ino, nino, err);
	if (ret < 0)
		return ret;
	json_set(doc, "table", json_str(host.table));
	put_tuples(json_set(doc, "tuples", json_arr()));
	pr_info("%zu TCP sockets of the tree in the host's namespace", host.n);
	return bundle_put_json(b, "net-lock.json", doc, err);
}

/* The lock's table in ckpt-oci's own namespace: added, or deleted. */
static int host_lock_set(bool add, ckpt_err_t *err)
{
	int fd, ret;

	if (!host.n || add == host.locked)
		return 0; /* nothing of the tree's to lock */
	fd = nft_socket();
	if (fd < 0)
		return ckpt_error(err, -fd, "nfnetlink socket to lock the tree's connections");
	/* a table left by the checkpoint on this host is replaced whole */
	if (add)
		(void)nft_lock_tuples(fd, host.table, NULL, 0, false);
	ret = nft_lock_tuples(fd, host.table, host.t, host.n, add);
	close(fd);
	if (ret < 0 && !(ret == -ENOENT && !add))
		return ckpt_error(err, -ret, "%s the tree's %zu connections (table inet %s)",
				  add ? "lock" : "unlock", host.n, host.table);
	host.locked = add;
	pr_info("%zu connections of the tree %s", host.n, add ? "locked" : "unlocked");
	return 0;
}

int net_host_lock(ckpt_err_t *err)
{
	return host_lock_set(true, err);
}

void net_host_unlock(pid_t root)
{
	ckpt_err_t e = {0};

	/*
	 * Another ckpt-oci than the one that locked (recover, after a killed
	 * checkpoint): the table is known by the root's pid, its rules go with it.
	 */
	if (root > 0 && !host.table[0]) {
		int fd = nft_socket();

		snprintf(host.table, sizeof(host.table), NET_LOCK_NAME "_%d", root);
		if (fd >= 0 && nft_lock_tuples(fd, host.table, NULL, 0, false) == 0)
			pr_info("connections of the tree unlocked (table inet %s)", host.table);
		if (fd >= 0)
			close(fd);
		memset(&host, 0, sizeof(host));
		return;
	}

	if (host_lock_set(false, &e) < 0) {
		pr_warn("%s: the tree's connections stay locked (nft delete table inet %s)", e.msg,
			host.table);
		ckpt_error_clear(&e);
	}
	free(host.t);
	memset(&host, 0, sizeof(host));
}

/* net-lock.json, checked whole: the table's name and every tuple. */
static int host_read(struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("net-lock.json"), l = DOC_KEY(&at, "tuples");
	cleanup_json struct json *doc = NULL;
	const struct json *arr, *o;
	const char *table;
	size_t n;
	int ret;

	ret = bundle_get_json(b, "net-lock.json", &doc, err);
	if (ret == 0)
		ret = doc_str(&at, doc, "table", 32, &table, err);
	if (ret == 0)
		ret = doc_arr(&at, doc, "tuples", NET_TUPLES_MAX, &arr, &n, err);
	if (ret < 0)
		return ret;
	if (strncmp(table, NET_LOCK_NAME "_", strlen(NET_LOCK_NAME) + 1) ||
	    strspn(table + strlen(NET_LOCK_NAME) + 1, "0123456789") !=
		    strlen(table + strlen(NET_LOCK_NAME) + 1)) {
		struct doc_at t = DOC_KEY(&at, "table");

		return doc_error(err, &t, "`%s` is not a lock table's name", table);
	}
	snprintf(host.table, sizeof(host.table), "%s", table);
	host.t = n ? xzalloc(n * sizeof(*host.t)) : NULL;
	for (size_t i = 0; i < n; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct tuple_rec r = {0};
		struct net_tuple *t = &host.t[i];

		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, tuple_fields, &r, err);
		if (ret < 0)
			return ret;
		t->family = r.family;
		t->lport = r.lport;
		t->pport = r.peer ? r.pport : 0;
		if (inet_pton(r.family, r.local, t->local) != 1 ||
		    (r.peer && inet_pton(r.family, r.peer, t->peer) != 1) || (r.peer && !r.pport))
			return doc_error(err, &e, "not a TCP endpoint pair of family %d", r.family);
		host.n++;
	}
	return 0;
}

int net_host_prepare(struct ckpt_bundle *b, ckpt_err_t *err)
{
	int ret;

	free(host.t);
	memset(&host, 0, sizeof(host));
	if (!bundle_has_file(b, "net-lock.json"))
		return 0;
	ret = host_read(b, err);
	if (ret == 0)
		ret = host_lock_set(true, err);
	if (ret < 0) {
		/* nothing held for a restore that will not come: the checkpoint's table goes */
		int fd = host.table[0] ? nft_socket() : -1;

		if (fd >= 0) {
			(void)nft_lock_tuples(fd, host.table, NULL, 0, false);
			close(fd);
		}
		free(host.t);
		memset(&host, 0, sizeof(host));
	}
	return ret;
}
