/*
 * namespaces/mnt.c - mount namespace: the whole mount table of the tree
 * (mounts.json), tmpfs contents (mnt-tmpfs-ID.img, see mnt-tmpfs.c).
 *
 * Dump reads the root task's /proc/PID/mountinfo and sorts it parents
 * first. Each mount is one of:
 *   external  its filesystem is also mounted in ckpt-oci's namespace: a
 *             bind of a host path (the tree's root is usually one), made
 *             again from that path, or from NEW for `--mount-map OLD=NEW`;
 *   bind      a second view of a filesystem already in the tree (a bind
 *             made inside the container, e.g. /dev/ptmx of devpts);
 *   fresh     a filesystem of the tree's own (proc, sysfs, devpts, mqueue,
 *             cgroup, tmpfs with its content, overlay from its layers),
 *             created anew with the same source and superblock options;
 *   cgroup    the tree's own cgroup (or one below it) in a hierarchy:
 *             at restore, the restored tree's cgroup in that hierarchy.
 * Mounts are kept in the order they were made (mountinfo's order), so a
 * bind comes after its source: runc's masked paths are binds of the
 * container's own /dev/null over /proc files, made after /dev.
 * Restore runs in the root process, in the new mount namespace (a copy of
 * ckpt-oci's): host sources are opened first (open_tree clones, detached),
 * the copy is made private, the tree is built on /tmp parents first and
 * becomes the root (pivot_root); per-mount flags (read-only last) and
 * propagation are set at the end, once nothing more is mounted.
 */
#define LOG_PREFIX "mnt: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "namespaces/mnt.h"
#include "util/log.h"
#include "util/util.h"

/* Always made anew: their content belongs to the new namespaces. */
static const char *const mnt_always_fresh[] = {"proc", "sysfs", "mqueue", "cgroup", "cgroup2"};
/* Made anew when the host does not share them with the tree. */
static const char *const mnt_fresh[] = {"tmpfs",    "ramfs",   "devpts",    "overlay",
					"bpf",	    "debugfs", "tracefs",   "securityfs",
					"configfs", "pstore",  "hugetlbfs", "fusectl"};

const struct doc_field mnt_fields[] = {
	DOC_OPT_INT(struct mnt_rec, id, "id", 0, INT32_MAX),
	DOC_STR(struct mnt_rec, mountpoint, "mountpoint", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, root, "root", PATH_MAX),
	DOC_STR(struct mnt_rec, fstype, "fstype", 64),
	DOC_OPT_STR(struct mnt_rec, source, "source", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, options, "options", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, super, "super", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, propagation, "propagation", 16),
	DOC_OPT_BOOL(struct mnt_rec, dir, "dir"),
	DOC_STR(struct mnt_rec, kind, "kind", 16),
	DOC_OPT_STR(struct mnt_rec, host_path, "host_path", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, bind_of, "bind_of", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, bind_root, "bind_root", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, cgroup_root, "cgroup_root", PATH_MAX),
	DOC_OPT_STR(struct mnt_rec, content, "content", 64),
	DOC_END,
};

/* Peer group ids: written only when the mount has them (inspect tells by presence). */
const struct doc_field mnt_shared_fields[] = {
	DOC_OPT_INT(struct mnt_rec, shared, "shared", 0, INT32_MAX),
	DOC_END,
};
const struct doc_field mnt_master_fields[] = {
	DOC_OPT_INT(struct mnt_rec, master, "master", 0, INT32_MAX),
	DOC_END,
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* ROOT minus the prefix PREFIX ("" when equal), or NULL when not under it. */
static const char *path_under(const char *root, const char *prefix)
{
	size_t len = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return root + 1;
	if (strncmp(root, prefix, len) || (root[len] && root[len] != '/'))
		return NULL;
	return root[len] ? root + len + 1 : root + len;
}

static char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (*b == '/')
		b++;
	if (!*b)
		return xstrdup(a);
	return xasprintf("%s%s%s", a, la && a[la - 1] == '/' ? "" : "/", b);
}

/* Place mount i, then those listed before `seen` that waited for it. */
static void place(const struct proc_mount *m, int seen, int i, bool *placed, int *order, int *k)
{
	order[(*k)++] = i;
	placed[i] = true;
	for (int j = 0; j < seen; j++)
		if (!placed[j] && m[j].parent == m[i].id)
			place(m, seen, j, placed, order, k);
}

/*
 * Creation order: mountinfo lists a namespace's mounts in the order they
 * were made (the kernel keeps them sorted by their unique id), and a bind
 * must come after the mount it was taken from. A mount listed before its
 * parent (moved there later) comes right after the parent. Returns how
 * many are below the root.
 */
static int order_mounts(const struct proc_mount *m, int n, int root, int *order)
{
	cleanup_free bool *placed = xzalloc(n * sizeof(*placed));
	int k = 0;

	place(m, 0, root, placed, order, &k);
	for (int i = 0; i < n; i++) {
		bool parent_placed = false;

		for (int p = 0; p < n && !parent_placed && !placed[i]; p++)
			parent_placed = placed[p] && m[p].id == m[i].parent;
		if (parent_placed)
			place(m, i, i, placed, order, &k);
	}
	return k;
}

static const char *propagation(const struct proc_mount *m)
{
	bool shared = proc_mount_tag(m, "shared"), slave = proc_mount_tag(m, "master");

	if (strstr(m->optional, "unbindable"))
		return "unbindable";
	return shared && slave ? "slave+shared" : shared ? "shared" : slave ? "slave" : "private";
}

/* Find where the filesystem of tree mount m shows ROOT in the host namespace. */
static char *host_path(const struct proc_mount *m, const struct proc_mount *host, int nh)
{
	for (int i = 0; i < nh; i++) {
		const char *rest;

		if (host[i].major != m->major || host[i].minor != m->minor)
			continue;
		rest = path_under(m->root, host[i].root);
		if (rest)
			return path_join(host[i].mountpoint, rest);
	}
	return NULL;
}

/*
 * A view of the tree's own cgroup (or below it) in one hierarchy: runc
 * binds the container's cgroup directories on /sys/fs/cgroup/X, a cgroup
 * namespace shows its root. The original cgroup is gone by restore time;
 * what must be shown then is the restored tree's cgroup, whatever its name.
 */
static bool classify_cgroup(const struct ns_dump *d, const struct proc_mount *me,
			    struct mnt_rec *rec)
{
	cleanup_free char *cg = proc_cgroup_path_for_mount(d->pid, me->fstype, me->super);
	const char *rest;

	/* in the root cgroup, the tree has no cgroup of its own to show */
	if (!cg || !strcmp(cg, "/"))
		return false;
	rest = path_under(me->root, cg);
	if (!rest)
		return false;
	rec->kind = "cgroup";
	rec->cgroup_root = rest; /* points into me->root */
	return true;
}

/*
 * The kind of mount order[k] and what restore needs for it, into rec;
 * strings made here are left in *own for the caller to free.
 */
static int classify(const struct ns_dump *d, const struct proc_mount *m, int n, const int *order,
		    int k, const struct proc_mount *host, int nh, struct mnt_rec *rec, char **own,
		    ckpt_err_t *err)
{
	const struct proc_mount *me = &m[order[k]];
	char *hp;

	/* a bind of a file or directory removed since: nothing to bind again */
	if (strstr(me->root, "//deleted"))
		return ckpt_error_msg(err, ENOTSUP, "mount `%s`: its source `%s` (%s) was deleted",
				      me->mountpoint, me->root, me->fstype);
	/* before binds: a cgroup below the tree's must be made again, not found */
	if (classify_cgroup(d, me, rec))
		return 0;
	for (int p = 0; p < k; p++) {
		const struct proc_mount *o = &m[order[p]];
		const char *rest;

		if (o->major != me->major || o->minor != me->minor)
			continue;
		rest = path_under(me->root, o->root);
		if (!rest)
			continue;
		rec->kind = "bind";
		rec->bind_of = o->mountpoint;
		rec->bind_root = rest;
		return 0;
	}
	if (in_list(me->fstype, mnt_always_fresh, ARRAY_SIZE(mnt_always_fresh)) &&
	    !strcmp(me->root, "/")) {
		rec->kind = "fresh";
		return 0;
	}
	hp = host_path(me, host, nh);
	if (hp) {
		rec->kind = "external";
		rec->host_path = own[0] = hp;
		return 0;
	}
	if (!in_list(me->fstype, mnt_fresh, ARRAY_SIZE(mnt_fresh)) || strcmp(me->root, "/"))
		return ckpt_error_msg(err, ENOTSUP,
				      "mount `%s` (%s from `%s`, root `%s`): not visible from "
				      "the host and not a filesystem that can be made anew",
				      me->mountpoint, me->fstype, me->source, me->root);
	rec->kind = "fresh";
	if (!strcmp(me->fstype, "tmpfs") || !strcmp(me->fstype, "ramfs")) {
		cleanup_free char *path = xasprintf("/proc/%d/root%s", d->pid, me->mountpoint);
		cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int ret;

		if (fd < 0)
			return ckpt_error(err, errno, "open `%s`", path);
		rec->content = own[1] = xasprintf("mnt-tmpfs-%d.img", me->id);
		ret = mnt_tmpfs_dump(d->bundle, rec->content, fd, makedev(me->major, me->minor),
				     err);
		if (ret < 0)
			return ckpt_error_wrap(err, "tmpfs `%s`", me->mountpoint);
	}
	return 0;
}

/* What mountinfo and the mountpoint say of mount me; classify adds its kind. */
static void mnt_rec_fill(const struct ns_dump *d, const struct proc_mount *me, struct mnt_rec *rec)
{
	cleanup_free char *path = xasprintf("/proc/%d/root%s", d->pid, me->mountpoint);
	struct stat st;

	*rec = (struct mnt_rec){
		.id = me->id,
		.mountpoint = me->mountpoint,
		.root = me->root,
		.fstype = me->fstype,
		.source = me->source,
		.options = me->options,
		.super = me->super,
		.propagation = propagation(me),
		/* peer group ids: which mounts are peers, which follow which group */
		.shared = proc_mount_tag(me, "shared"),
		.master = proc_mount_tag(me, "master"),
		/* a bind of a file needs a file to mount on */
		.dir = stat(path, &st) < 0 || S_ISDIR(st.st_mode),
	};
}

static int mnt_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/mountinfo", d->pid);
	cleanup_json struct json *doc = json_obj();
	struct json *list = json_set(doc, "mounts", json_arr());
	struct proc_mount *m = NULL, *host = NULL;
	cleanup_free int *order = NULL;
	int n = 0, nh = 0, k = 0, root = -1, ret;

	ret = proc_read_mountinfo(AT_FDCWD, path, &m, &n, err);
	if (ret == 0)
		ret = proc_read_mountinfo(AT_FDCWD, "/proc/self/mountinfo", &host, &nh, err);
	for (int i = 0; ret == 0 && i < n && root < 0; i++) {
		bool has_parent = false;

		for (int p = 0; p < n; p++)
			has_parent |= m[p].id == m[i].parent;
		if (!has_parent)
			root = i;
	}
	if (ret == 0 && root < 0)
		ret = ckpt_error_msg(err, EPROTO, "%s: no root mount", path);
	if (ret == 0) {
		order = xzalloc(n * sizeof(*order));
		k = order_mounts(m, n, root, order);
		if (k != n)
			pr_warn("%d mounts are not below the root, ignoring", n - k);
	}
	for (int i = 0; ret == 0 && i < k; i++) {
		struct mnt_rec rec;
		char *own[2] = {NULL, NULL};

		mnt_rec_fill(d, &m[order[i]], &rec);
		ret = classify(d, m, n, order, i, host, nh, &rec, own, err);
		if (ret == 0) {
			struct json *o = json_push(list, json_obj());

			doc_write(o, mnt_fields, &rec);
			if (rec.shared)
				doc_write(o, mnt_shared_fields, &rec);
			if (rec.master)
				doc_write(o, mnt_master_fields, &rec);
			pr_debug("`%s` %s: %s", rec.mountpoint, rec.fstype, rec.kind);
		}
		free(own[0]);
		free(own[1]);
	}
	proc_mounts_free(m, n);
	proc_mounts_free(host, nh);
	if (ret < 0)
		return ret;
	return bundle_put_json(d->bundle, "mounts.json", doc, err);
}

const struct ckpt_ns_ops ns_mnt_ops = {
	.name = "mnt",
	.clone_flag = CLONE_NEWNS,
	.dump = mnt_dump,
	.prepare = mnt_prepare,
	.restore = mnt_restore,
};
