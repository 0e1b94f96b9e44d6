/*
 * namespaces/cgroup.c - cgroup namespace (cgroup.json): the tree's cgroup
 * in every hierarchy (v1 controllers and the v2 unified one) and the
 * limits set there; the root's view of them through its namespace.
 *
 * Dump reads /proc/ROOT/cgroup from ckpt-oci (whose cgroup namespace shows
 * whole paths) and, for each hierarchy where the tree is not in the root
 * cgroup "/", the limit files of that cgroup that exist.
 *
 * Restore: prepare (ckpt-oci) makes, in each such hierarchy, a new cgroup
 * below ckpt-oci's own one, named after the original with "-r<pid of
 * ckpt-oci>" added, and writes the limits that differ from the new
 * cgroup's. The root of the tree (created with CLONE_NEWCGROUP, still
 * ckpt-oci code) joins them before it has children, so every process of
 * the tree is born inside, then unshares its cgroup namespace again so
 * that its root is the new cgroups: /proc/self/cgroup reads as it did.
 *
 * A container's tree usually has cgroups of its own but no cgroup
 * namespace (runc's default): dumped as well when the dump is told so
 * (ns.json lists it as "joined"), and restored the same way without the
 * new namespace. Restore names the new cgroups after the container when
 * it restores one under its runtime (ns_restore.cgroup_name), beside the
 * old ones when their parent exists here (where the runtime put them).
 *
 * Nobody removes these cgroups when the tree is gone: the caller does
 * (rmdir, once the tree exited, or the runtime's delete).
 */
#define LOG_PREFIX "cgroup: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "namespaces/ns.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define CG_MAX 16

/* Limits copied, in the order they are written (cfs period before quota). */
static const char *const cg_limits[] = {
	"memory.limit_in_bytes", "memory.max", "memory.high", "pids.max", "cpu.cfs_period_us",
	"cpu.cfs_quota_us", "cpu.shares", "cpu.max", "cpu.weight", "cpuset.cpus",
	"cpuset.mems",
};

/* One hierarchy of cgroup.json: where the tree was, and its limits. */
struct cg_entry {
	const char *controllers; /* "" for the unified (v2) hierarchy */
	const char *path;	 /* absolute, from the hierarchy's root */
	size_t nlim;
	const char *lim_file[ARRAY_SIZE(cg_limits)];
	const char *lim_val[ARRAY_SIZE(cg_limits)];
};

static const struct doc_field cg_fields[] = {
	DOC_STR(struct cg_entry, controllers, "controllers", 256),
	DOC_STR(struct cg_entry, path, "path", 4096),
	DOC_END,
};

/*
 * The cgroups prepare made, for the root to join: the root is a fork of
 * ckpt-oci made after prepare, so it inherits this (file-local) list.
 */
static char *cg_made[CG_MAX];
static int cg_nmade;

/* Our own (ckpt-oci's) path in the hierarchy listed as controllers. */
static char *cg_path_of(const char *procfile, const char *controllers)
{
	cleanup_file FILE *f = fopen(procfile, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;

	while (f && getline(&line, &cap, f) > 0) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;

		if (!p)
			continue;
		*p = '\0';
		p[1 + strcspn(p + 1, "\n")] = '\0';
		if (!strcmp(c + 1, controllers))
			return xstrdup(p + 1);
	}
	return NULL;
}

static void cg_limits_read(const char *dir, struct json *lim)
{
	for (size_t i = 0; i < ARRAY_SIZE(cg_limits); i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, cg_limits[i]), *val = NULL;
		ckpt_err_t e = { 0 };
		size_t len;

		if (read_file_at(AT_FDCWD, path, 4096, &val, &len, &e) < 0)
			continue; /* not this controller */
		val[strcspn(val, "\n")] = '\0';
		json_set(lim, cg_limits[i], json_str(val));
	}
}

static int cgroup_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	cleanup_free char *procfile = xasprintf("/proc/%d/cgroup", d->pid), *line = NULL;
	cleanup_file FILE *f = fopen(procfile, "re");
	struct json *list = json_set(doc, "cgroups", json_arr());
	size_t cap = 0;

	if (!f)
		return ckpt_error(err, errno, "open %s", procfile);
	while (getline(&line, &cap, f) > 0) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		cleanup_free char *mnt = NULL, *dir = NULL;
		struct json *o;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		if (!strcmp(p, "/"))
			continue; /* the root cgroup: nothing to make */
		mnt = proc_cgroup_mount(c + 1);
		if (!mnt)
			return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted", c + 1);
		if (json_len(list) == CG_MAX)
			return ckpt_error_msg(err, E2BIG, "more than %d cgroup hierarchies", CG_MAX);
		dir = xasprintf("%s%s", mnt, p);
		o = json_push(list, json_obj());
		doc_write(o, cg_fields, &(struct cg_entry){.controllers = c + 1, .path = p});
		cg_limits_read(dir, json_set(o, "limits", json_obj()));
	}
	return bundle_put_json(d->bundle, "cgroup.json", doc, err);
}

static int cg_write(const char *dir, const char *file, const char *val, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		return ckpt_error(err, errno, "write `%s` to %s", val, path);
	return 0;
}

static bool cg_limit_known(const char *file)
{
	for (size_t k = 0; k < ARRAY_SIZE(cg_limits); k++)
		if (!strcmp(file, cg_limits[k]))
			return true;
	return false;
}

/* Entry i of "cgroups", checked whole: names that stay below a hierarchy, known limits. */
static int cg_entry_read(const struct doc_at *list, const struct json *arr, size_t i,
			 struct cg_entry *e, ckpt_err_t *err)
{
	struct doc_at at = DOC_IDX(list, i), l = DOC_KEY(&at, "limits");
	const struct json *o, *lim;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = doc_elem_obj(list, arr, i, &o, err);
	if (ret == 0)
		ret = doc_read(&at, o, cg_fields, e, err);
	if (ret == 0)
		ret = doc_opt_obj(&at, o, "limits", &lim, err);
	if (ret < 0)
		return ret;
	if (strchr(e->controllers, '/'))
		return doc_error(err, &at, "controllers `%s` hold a slash", e->controllers);
	if (e->path[0] != '/' || strstr(e->path, ".."))
		return doc_error(err, &at, "path `%s` is not absolute or leaves the hierarchy",
				 e->path);
	if (json_len(lim) > ARRAY_SIZE(cg_limits))
		return doc_error(err, &l, "%zu limits, at most %zu known", json_len(lim),
				 ARRAY_SIZE(cg_limits));
	for (size_t k = 0; k < json_len(lim); k++) {
		ret = doc_map_str(&l, lim, k, 4096, &e->lim_file[k], &e->lim_val[k], err);
		if (ret < 0)
			return ret;
		if (!cg_limit_known(e->lim_file[k]))
			return doc_error(err, &l, "unknown limit `%s`", e->lim_file[k]);
	}
	e->nlim = json_len(lim);
	return 0;
}

/* Make one cgroup below ours and copy the limits that differ. */
static int cg_make(const struct cg_entry *e, const char *name, ckpt_err_t *err)
{
	const char *ctl = e->controllers, *orig = e->path;
	cleanup_free char *mnt = NULL, *mine = NULL, *dir = NULL;
	const char *base;

	mnt = proc_cgroup_mount(ctl);
	mine = cg_path_of("/proc/self/cgroup", ctl);
	if (!mnt || !mine)
		return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted here", ctl);
	base = strrchr(orig, '/') ? strrchr(orig, '/') + 1 : orig;
	if (name) {
		/* a container's: beside where it was, as its runtime placed it, if that is here */
		cleanup_free char *parent = xasprintf("%.*s", (int)(base - orig), orig);
		cleanup_free char *pdir = xasprintf("%s%s", mnt, parent);
		struct stat st;

		if (stat(pdir, &st) < 0 || !S_ISDIR(st.st_mode))
			free(parent), parent = xasprintf("%s/", strcmp(mine, "/") ? mine : "");
		dir = xasprintf("%s%s%s", mnt, parent, name);
	} else
		dir = xasprintf("%s%s/%s-r%d", mnt, strcmp(mine, "/") ? mine : "", base,
				getpid());
	/* an empty one left by a failed restore of the same name goes first */
	if (mkdir(dir, 0755) < 0 && (errno != EEXIST || rmdir(dir) < 0 || mkdir(dir, 0755) < 0))
		return ckpt_error(err, errno == EBUSY ? EEXIST : errno, "mkdir %s", dir);
	cg_made[cg_nmade++] = xstrdup(dir);
	for (size_t i = 0; i < e->nlim; i++) {
		const char *file = e->lim_file[i], *want = e->lim_val[i];
		cleanup_free char *path = xasprintf("%s/%s", dir, file), *cur = NULL;
		ckpt_err_t ignored = {0};
		size_t len;

		if (read_file_at(AT_FDCWD, path, 4096, &cur, &len, &ignored) == 0 &&
		    !strncmp(cur, want, strlen(want)) && cur[strlen(want)] == '\n')
			continue;
		if (cg_write(dir, file, want, err) < 0)
			return -err->code;
	}
	pr_info("made %s for `%s`", dir, orig);
	return 0;
}

/*
 * Remove the cgroups made. After a failed restore the killed tree may
 * still be leaving them: a busy one is tried again for up to a second.
 */
static void cg_unmake(void)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	while (cg_nmade > 0) {
		cg_nmade--;
		for (int i = 0; i < 200 && rmdir(cg_made[cg_nmade]) < 0 && errno == EBUSY; i++)
			nanosleep(&ts, NULL);
		free(cg_made[cg_nmade]);
	}
}

static void cgroup_undo(struct ns_restore *r)
{
	cg_unmake();
}

static int cgroup_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("cgroup.json"), l = DOC_KEY(&at, "cgroups");
	cleanup_json struct json *doc = NULL;
	struct cg_entry e[CG_MAX];
	const struct json *list;
	size_t n = 0;
	int ret;

	ret = bundle_get_json(r->bundle, "cgroup.json", &doc, err);
	if (ret == 0)
		ret = doc_arr(&at, doc, "cgroups", CG_MAX, &list, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = cg_entry_read(&l, list, i, &e[i], err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		ret = cg_make(&e[i], r->cgroup_name, err);
		if (ret < 0) {
			cg_unmake(); /* nothing half made stays behind */
			return ret;
		}
	}
	return 0;
}

/*
 * In the root, before its children: join, then (when the namespace was the
 * tree's own) see the new cgroups as "/".
 */
static int cgroup_restore(struct ns_restore *r, ckpt_err_t *err)
{
	for (int i = 0; i < cg_nmade; i++)
		if (cg_write(cg_made[i], "cgroup.procs", "0", err) < 0)
			return -err->code;
	if (!(r->flags & CLONE_NEWCGROUP))
		return 0;
	if (unshare(CLONE_NEWCGROUP) < 0)
		return ckpt_error(err, errno, "unshare cgroup namespace");
	return 0;
}

const struct ckpt_ns_ops ns_cgroup_ops = {
	.name = "cgroup",
	.clone_flag = CLONE_NEWCGROUP,
	.with_tree_cgroup = true,
	.dump = cgroup_dump,
	.prepare = cgroup_prepare,
	.restore = cgroup_restore,
	.undo = cgroup_undo,
};
