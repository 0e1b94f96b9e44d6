/*
 * namespaces/ns.c - the namespace table (ns.json lists the tree's own) and
 * the helper that runs a function inside a namespace.
 */
#define LOG_PREFIX "ns: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "namespaces/ns.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/util.h"

extern const struct ckpt_ns_ops ns_uts_ops;
extern const struct ckpt_ns_ops ns_net_ops;
extern const struct ckpt_ns_ops ns_ipc_ops;
extern const struct ckpt_ns_ops ns_time_ops;
extern const struct ckpt_ns_ops ns_cgroup_ops;
extern const struct ckpt_ns_ops ns_mnt_ops;

static const struct ckpt_ns_ops *const ns_table[] = {
	&ns_uts_ops,  &ns_net_ops,    /* before mnt; restore only needs netlink sockets and fds */
	&ns_ipc_ops,		      /* before mnt: it writes the new namespace's /proc/sys */
	&ns_time_ops, &ns_cgroup_ops, /* before mnt: it joins cgroups through the host's paths */
	&ns_mnt_ops, /* last: its restore leaves the host's paths behind (pivot_root) */
};

/* Namespaces a tree may own that no module handles yet: refused at dump. */
static const char *const ns_unhandled[] = {"user"};

/* The helper's answer is a failure ("__error", "__errno"): pass it on. */
static int ns_exec_error(struct json **out, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("namespace helper");
	const char *msg = NULL;
	int64_t code = 0;
	int ret;

	ret = doc_opt_str(&at, *out, "__error", 0, &msg, err);
	if (ret == 0 && msg)
		ret = doc_int(&at, *out, "__errno", 1, 4095, &code, err);
	if (ret == 0 && msg)
		ret = ckpt_error_msg(err, (int)code, "%s", msg);
	if (ret < 0) {
		json_free(*out);
		*out = NULL;
	}
	return ret;
}

struct ns_exec {
	int nsfd, nstype;
	struct json *(*fn)(void *arg, ckpt_err_t *err);
	void *arg;
};

/* In the child: join the namespace, run fn, its JSON (or error) to stdout. */
static int ns_exec_child(void *arg)
{
	struct ns_exec *x = arg;
	ckpt_err_t e = {0};
	struct json *j = NULL;
	char *text;
	size_t len;

	if (setns(x->nsfd, x->nstype) < 0)
		ckpt_error(&e, errno, "join namespace");
	else
		j = x->fn(x->arg, &e);
	if (!j) {
		j = json_obj();
		json_set(j, "__error", json_str(e.msg));
		json_set(j, "__errno", json_int(e.code ? e.code : EIO));
	}
	text = json_dump(j, false, &len);
	return write_all(STDOUT_FILENO, text, len) < 0;
}

int ns_exec_json(int nsfd, int nstype, struct json *(*fn)(void *arg, ckpt_err_t *err), void *arg,
		 struct json **out, ckpt_err_t *err)
{
	struct ns_exec x = {nsfd, nstype, fn, arg};
	struct spawn s = {.name = "namespace helper",
			  .child = ns_exec_child,
			  .arg = &x,
			  .in = SPAWN_INHERIT,
			  .out = SPAWN_PIPE,
			  .out_max = BUNDLE_JSON_MAX,
			  .errout = SPAWN_INHERIT};
	int ret = spawn_run(&s, err);

	if (ret < 0)
		return ret;
	if (s.out_len == 0)
		ret = ckpt_error_msg(err, EIO, "namespace helper died (status 0x%x)", s.status);
	else if (json_parse(s.out_buf, s.out_len, out, err) < 0)
		ret = -err->code;
	else
		ret = ns_exec_error(out, err);
	spawn_free(&s);
	return ret;
}

static int ns_ino(pid_t pid, const char *name, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
	if (stat(path, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* The tree's own namespaces must be shared by every task of it. */
static int ns_owned(const char *name, pid_t root, const pid_t *pids, int npids, bool *owned,
		    ckpt_err_t *err)
{
	ino_t mine, theirs, other;

	if (ns_ino(getpid(), name, &mine) < 0 || ns_ino(root, name, &theirs) < 0) {
		*owned = false; /* this kernel has no such namespace */
		return 0;
	}
	*owned = mine != theirs;
	for (int i = 0; i < npids; i++) {
		if (ns_ino(pids[i], name, &other) < 0)
			continue; /* zombies have no namespaces */
		if (other != theirs)
			return ckpt_error_msg(err, ENOTSUP,
					      "task %d is in another %s namespace than the root "
					      "(nested namespaces are not supported)",
					      pids[i], name);
	}
	return 0;
}

int ns_dump_all(struct ckpt_bundle *b, pid_t root, const pid_t *pids, int npids, bool tree_cgroup,
		ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct json *list = json_set(doc, "owned", json_arr());
	struct json *joined = json_set(doc, "joined", json_arr());
	bool owned;
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(ns_unhandled); i++) {
		ret = ns_owned(ns_unhandled[i], root, pids, npids, &owned, err);
		if (ret < 0)
			return ret;
		if (owned)
			return ckpt_error_msg(
				err, ENOTSUP,
				"the tree has its own %s namespace: not supported yet",
				ns_unhandled[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		const struct ckpt_ns_ops *ops = ns_table[i];
		char path[64];
		struct ns_dump d = {b, root, -1, pids, npids, false, tree_cgroup};

		ret = ns_owned(ops->name, root, pids, npids, &owned, err);
		if (ret < 0)
			return ret;
		if (!owned && !ops->always && !(tree_cgroup && ops->with_tree_cgroup))
			continue;
		d.owned = owned;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", root, ops->name);
		d.nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (d.nsfd < 0)
			return ckpt_error(err, errno, "open %s", path);
		ret = ops->dump(&d, err);
		close(d.nsfd);
		if (ret < 0)
			return ckpt_error_wrap(err, "%s namespace", ops->name);
		json_push(owned ? list : joined, json_str(ops->name));
		pr_info("dumped the %s namespace%s", ops->name, owned ? "" : " (the tree's part)");
	}
	return bundle_put_json(b, "ns.json", doc, err);
}

static const struct ckpt_ns_ops *ns_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++)
		if (name && !strcmp(name, ns_table[i]->name))
			return ns_table[i];
	return NULL;
}

int ns_restore_load(struct ns_restore *r, struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("ns.json");
	cleanup_json struct json *doc = NULL;
	const struct json *list;
	int ret;

	memset(r, 0, sizeof(*r));
	r->bundle = b;
	if (!bundle_has_file(b, "ns.json"))
		return 0;
	ret = bundle_get_json(b, "ns.json", &doc, err);
	if (ret < 0)
		return ret;
	for (int k = 0; k < 2; k++) {
		struct doc_at l = DOC_KEY(&at, k ? "joined" : "owned");
		size_t n;

		ret = doc_opt_arr(&at, doc, l.key, ARRAY_SIZE(ns_table), &list, &n, err);
		if (ret < 0)
			return ret;
		for (size_t i = 0; i < n; i++) {
			const struct ckpt_ns_ops *ops;
			const char *name;

			ret = doc_elem_str(&l, list, i, 16, &name, err);
			if (ret < 0)
				return ret;
			ops = ns_find(name);
			if (!ops || (k && !ops->with_tree_cgroup && !ops->always)) {
				struct doc_at e = DOC_IDX(&l, i);

				return doc_error(err, &e, "unknown namespace `%s`", name);
			}
			if (k)
				r->join_flags |= ops->clone_flag;
			else
				r->flags |= ops->clone_flag;
		}
	}
	return 0;
}

/* Run one hook of every namespace the bundle lists. */
static int ns_each(struct ns_restore *r, size_t hook, const char *what, ckpt_err_t *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		const struct ckpt_ns_ops *ops = ns_table[i];
		int (*fn)(struct ns_restore *, ckpt_err_t *);
		int ret;

		if (!((r->flags | r->join_flags) & ops->clone_flag))
			continue;
		fn = *(int (**)(struct ns_restore *, ckpt_err_t *))((const char *)ops + hook);
		if (!fn)
			continue;
		ret = fn(r, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "%s namespace %s", ops->name, what);
	}
	return 0;
}

/* Undo the prepares of the modules before index end, last first. */
static void ns_undo_before(struct ns_restore *r, size_t end)
{
	while (end-- > 0) {
		const struct ckpt_ns_ops *ops = ns_table[end];

		if (((r->flags | r->join_flags) & ops->clone_flag) && ops->undo)
			ops->undo(r);
	}
}

int ns_prepare_all(struct ns_restore *r, ckpt_err_t *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		const struct ckpt_ns_ops *ops = ns_table[i];
		int ret;

		if (!((r->flags | r->join_flags) & ops->clone_flag) || !ops->prepare)
			continue;
		ret = ops->prepare(r, err);
		if (ret < 0) {
			ns_undo_before(r, i); /* a failed prepare cleans up after itself */
			return ckpt_error_wrap(err, "%s namespace prepare", ops->name);
		}
	}
	return 0;
}

void ns_undo_all(struct ns_restore *r)
{
	ns_undo_before(r, ARRAY_SIZE(ns_table));
}

int ns_restore_all(struct ns_restore *r, ckpt_err_t *err)
{
	return ns_each(r, offsetof(struct ckpt_ns_ops, restore), "restore", err);
}

int ns_finish_all(struct ns_restore *r, ckpt_err_t *err)
{
	return ns_each(r, offsetof(struct ckpt_ns_ops, finish), "finish", err);
}

int ns_resume_all(struct ns_restore *r, ckpt_err_t *err)
{
	return ns_each(r, offsetof(struct ckpt_ns_ops, resume), "resume", err);
}

int ns_spawn_all(struct ns_restore *r, ckpt_err_t *err)
{
	return ns_each(r, offsetof(struct ckpt_ns_ops, spawn), "spawn", err);
}

int ns_spawned_all(struct ns_restore *r, ckpt_err_t *err)
{
	return ns_each(r, offsetof(struct ckpt_ns_ops, spawned), "spawned", err);
}

/*
 * The namespace behind ops when it was dumped: root's own (*owned), or
 * ckpt-oci's for a module dumped always. Open it, else -1.
 */
static int ns_own_fd(const struct ckpt_ns_ops *ops, pid_t root, bool *owned)
{
	char path[64];
	ino_t mine = 0, theirs = 0;

	if (ns_ino(getpid(), ops->name, &mine) < 0 || ns_ino(root, ops->name, &theirs) < 0)
		return -1;
	*owned = mine != theirs;
	if (!*owned && !ops->always)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", root, ops->name);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int ns_lock_all(pid_t root, ckpt_err_t *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		const struct ckpt_ns_ops *ops = ns_table[i];
		struct ns_dump d = {NULL, root, -1};
		int ret;

		if (!ops->lock || (d.nsfd = ns_own_fd(ops, root, &d.owned)) < 0)
			continue;
		ret = ops->lock(&d, err);
		close(d.nsfd);
		if (ret < 0) {
			/* the ones before are locked: take them back */
			while (i-- > 0)
				if (ns_table[i]->lock &&
				    (d.nsfd = ns_own_fd(ns_table[i], root, &d.owned)) >= 0) {
					ns_table[i]->unlock(&d);
					close(d.nsfd);
				}
			return ckpt_error_wrap(err, "%s namespace lock", ops->name);
		}
	}
	return 0;
}

void ns_unlock_all(pid_t root)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
		const struct ckpt_ns_ops *ops = ns_table[i];
		struct ns_dump d = {NULL, root, -1};

		if (!ops->lock || (d.nsfd = ns_own_fd(ops, root, &d.owned)) < 0)
			continue;
		ops->unlock(&d);
		close(d.nsfd);
	}
}
