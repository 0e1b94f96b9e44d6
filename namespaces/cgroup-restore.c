/*
 * namespaces/cgroup-restore.c - put every task and thread of the restored
 * tree back in its cgroups (cgroup.json, see cgroup.h and cgroup.c; read by
 * cgroup-doc.c).
 *
 * prepare (ckpt-oci, before the tree exists) reads cgroup.json whole and
 * maps each saved cgroup to a directory here: in ckpt-oci's cgroup
 * namespace, the same path; for a tree with a namespace of its own or a
 * container's cgroups, the part at and below the tree's base (the
 * namespace's root, or the root task's cgroup) goes below a new cgroup.
 * What is missing is made, parents first; each cgroup made gets its saved
 * limits and, in v2, its type (threaded); nothing is written to a cgroup
 * that was already there.
 *
 * spawn and spawned (ckpt-oci, around the root's clone): the root is born
 * where it starts, ckpt-oci being there for the clone only; no one sees it
 * anywhere else.
 *
 * restore (the root, before its children) joins the root's cgroups, so
 * its children are born there; with a namespace of its own it first joins
 * the new base, unshares its cgroup namespace there (its root reads "/"
 * as before), then moves on to its own cgroup if that lies below.
 *
 * resume (ckpt-oci, every task and thread made, nothing running yet) finds
 * each task and thread by the ids the tree's pid namespace gives it and
 * moves those not yet where they were: a process through cgroup.procs, then a thread
 * on its own (v1 "tasks", v2 "cgroup.threads" in a threaded subtree).
 */
#define LOG_PREFIX "cgroup: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "namespaces/cgroup.h"
#include "util/journal.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/* One saved cgroup mapped here. */
struct cg_place {
	char *rel; /* path in its hierarchy here */
	char *dir; /* mount + rel */
	bool v1;
	bool absent; /* a v1 hierarchy mounted nowhere here, the tree at its root */
};

/*
 * What prepare made, for restore (the root is a fork of ckpt-oci made
 * after prepare: it inherits this) and resume.
 */
static struct {
	struct json *json;
	struct cg_doc doc;
	struct cg_place *place; /* one per doc.cgroups */
	char **base_dir;	/* per hierarchy with a new base: its path there */
	char **base_abs;	/* and its directory (the root cannot find mounts) */
	const char **base_ctl;
	size_t nbase;
	char **made;
	size_t nmade;
} cg_rs;

/* ---- prepare: map and make ------------------------------------------------ */

/* Our own (ckpt-oci's) path in the hierarchy listed as controllers. */
static char *cg_path_of(const char *controllers)
{
	struct proc_cgroup *v = NULL;
	const struct proc_cgroup *x;
	ckpt_err_t e = {0};
	char *path = NULL;
	int n = 0;

	if (proc_read_cgroup(AT_FDCWD, "/proc/self/cgroup", &v, &n, &e) < 0)
		ckpt_error_clear(&e);
	x = proc_cgroup_named(v, n, controllers);
	if (x)
		path = xstrdup(x->path);
	proc_cgroups_free(v, n);
	return path;
}

static int cg_write(const char *dir, const char *file, const char *val, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		return ckpt_error(err, errno, "write `%s` to %s", val, path);
	return 0;
}

static void cg_made_add(const char *dir)
{
	cg_rs.made = xrealloc(cg_rs.made, (cg_rs.nmade + 1) * sizeof(*cg_rs.made));
	cg_rs.made[cg_rs.nmade++] = xstrdup(dir);
	(void)journal_add("cgroup", "%s", dir); /* a killed restore's are removed later */
}

/* A v1 cpuset made empty takes no task: it starts with its parent's cpus and mems. */
static void cg_cpuset_inherit(const char *dir)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_free char *pp = xasprintf("%s/../%s", dir, files[i]), *val = NULL;
		ckpt_err_t e = {0};
		size_t len;

		if (read_file_at(AT_FDCWD, pp, 4096, &val, &len, &e) == 0 && val[0] != '\n')
			(void)cg_write(dir, files[i], val, &e);
		ckpt_error_clear(&e);
	}
}

/* mkdir -p of mnt+rel; what was made is remembered; *made: the last component was. */
static int cg_mkdirs(const char *mnt, const char *rel, bool cpuset, bool *made, ckpt_err_t *err)
{
	cleanup_free char *dir = xasprintf("%s%s", mnt, rel);
	size_t off = strlen(mnt) + 1;

	*made = false;
	for (char *c = dir + off;; *c++ = '/') {
		c = strchr(c, '/');
		if (c)
			*c = '\0';
		*made = mkdir(dir, 0755) == 0;
		if (!*made && errno != EEXIST)
			return ckpt_error(err, errno, "mkdir %s", dir);
		if (*made) {
			cg_made_add(dir);
			if (cpuset)
				cg_cpuset_inherit(dir);
		}
		if (!c)
			return 0;
	}
}

/* The limits and type of e on its new directory, those that differ. */
static int cg_set_limits(const struct cg_entry *e, const char *dir, ckpt_err_t *err)
{
	if (e->type && !strcmp(e->type, "threaded") &&
	    cg_write(dir, "cgroup.type", "threaded", err))
		return -err->code;
	for (size_t i = 0; i < e->nlim; i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, e->lim_file[i]), *cur = NULL;
		const char *want = e->lim_val[i];
		ckpt_err_t ignored = {0};
		size_t len;

		if (read_file_at(AT_FDCWD, path, 4096, &cur, &len, &ignored) == 0 &&
		    !strncmp(cur, want, strlen(want)) && cur[strlen(want)] == '\n')
			continue;
		ckpt_error_clear(&ignored);
		if (cg_write(dir, e->lim_file[i], want, err) < 0)
			return -err->code;
	}
	return 0;
}

/*
 * The new base for the tree's base old (its namespace's root, or a
 * container's cgroup) in hierarchy ctl: a container's beside the old one
 * when that parent is here, else below ckpt-oci's own cgroup.
 */
static int cg_make_base(const char *ctl, const char *mnt, const char *old, const char *name,
			char **out, ckpt_err_t *err)
{
	cleanup_free char *mine = cg_path_of(ctl), *dir = NULL;
	const char *leaf = strrchr(old, '/') ? strrchr(old, '/') + 1 : old;

	if (!mine)
		return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted here", ctl);
	if (name) {
		cleanup_free char *parent = xasprintf("%.*s", (int)(leaf - old), old);
		cleanup_free char *pdir = xasprintf("%s%s", mnt, parent);
		struct stat st;

		if (stat(pdir, &st) < 0 || !S_ISDIR(st.st_mode))
			free(parent), parent = xasprintf("%s/", strcmp(mine, "/") ? mine : "");
		dir = xasprintf("%s%s", parent, name);
	} else {
		dir = xasprintf("%s/%s-r%d", strcmp(mine, "/") ? mine : "", leaf, getpid());
	}
	*out = xasprintf("%s%s", mnt, dir);
	/* an empty one left by a failed restore of the same name goes first */
	if (mkdir(*out, 0755) < 0 && (errno != EEXIST || rmdir(*out) < 0 || mkdir(*out, 0755) < 0))
		return ckpt_error(err, errno == EBUSY ? EEXIST : errno, "mkdir %s", *out);
	cg_made_add(*out);
	if (strstr(ctl, "cpuset"))
		cg_cpuset_inherit(*out);
	free(*out);
	*out = steal_pointer(&dir); /* relative to the mount */
	return 0;
}

/* The tree's base in hierarchy ctl: the namespace's root, or the root's own cgroup. */
static const char *cg_old_base(const struct ns_restore *r, const char *ctl)
{
	const struct cg_doc *d = &cg_rs.doc;
	bool own_ns = r->flags & CLONE_NEWCGROUP;

	/* a bundle without threads (older) always made new cgroups */
	if (!own_ns && !d->tree_cgroup && d->nthreads)
		return NULL;
	for (size_t i = 0; own_ns && i < d->nns_roots; i++)
		if (!strcmp(d->ns_roots[i].controllers, ctl))
			return d->ns_roots[i].path;
	if (!d->nthreads) {
		for (size_t i = 0; i < d->ncgroups; i++)
			if (!strcmp(d->cgroups[i].controllers, ctl))
				return d->cgroups[i].path;
		return NULL;
	}
	for (size_t k = 0; k < d->threads[0].n; k++) {
		const struct cg_entry *e = &d->cgroups[d->threads[0].cg[k]];

		if (!strcmp(e->controllers, ctl))
			return e->path;
	}
	return NULL;
}

/* rel below base (or equal): the rest after it ("" when equal), else NULL. */
static const char *cg_below(const char *rel, const char *base)
{
	size_t len = strlen(base);

	if (!strcmp(base, "/"))
		return rel;
	if (strncmp(rel, base, len) || (rel[len] && rel[len] != '/'))
		return NULL;
	return rel + len;
}

static int cg_depth(const char *p)
{
	int n = 0;

	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int cg_place_one(struct ns_restore *r, size_t i, ckpt_err_t *err)
{
	const struct cg_entry *e = &cg_rs.doc.cgroups[i];
	struct cg_place *pl = &cg_rs.place[i];
	cleanup_free char *mnt = proc_cgroup_mount(e->controllers);
	const char *old = cg_old_base(r, e->controllers), *rest = NULL;
	char **base = NULL;
	bool made = false;
	int ret;

	pl->v1 = e->controllers[0] != '\0';
	if (!mnt && pl->v1 && !strcmp(e->path, "/") && !e->nlim) {
		/*
		 * The tree sat at the root of a v1 hierarchy mounted for a while
		 * when it was saved (crun mounts hugetlb so) and gone now: every
		 * task is at the root of a hierarchy that is not there.
		 */
		pr_info("hierarchy `%s` is mounted nowhere here and the tree was at its root: "
			"nothing to place",
			e->controllers);
		pl->absent = true;
		return 0;
	}
	if (!mnt)
		return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted here",
				      e->controllers);
	if (old && strcmp(old, "/"))
		rest = cg_below(e->path, old);
	if (rest) {
		for (size_t k = 0; k < cg_rs.nbase && !base; k++)
			if (!strcmp(cg_rs.base_ctl[k], e->controllers))
				base = &cg_rs.base_dir[k];
		if (!base) {
			cg_rs.base_ctl[cg_rs.nbase] = e->controllers;
			base = &cg_rs.base_dir[cg_rs.nbase++];
			ret = cg_make_base(e->controllers, mnt, old, r->cgroup_name, base, err);
			if (ret < 0)
				return ret;
			cg_rs.base_abs[cg_rs.nbase - 1] = xasprintf("%s%s", mnt, *base);
			made = !*rest;
		}
		pl->rel = xasprintf("%s%s", *base, rest);
	} else {
		pl->rel = xstrdup(e->path);
	}
	pl->dir = xasprintf("%s%s", mnt, strcmp(pl->rel, "/") ? pl->rel : "");
	if (rest && !*rest) {
		made = true; /* the new base itself */
	} else if (strcmp(pl->rel, "/")) {
		ret = cg_mkdirs(mnt, pl->rel, strstr(e->controllers, "cpuset"), &made, err);
		if (ret < 0)
			return ret;
	}
	if (made) {
		ret = cg_set_limits(e, pl->dir, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "cgroup %s", pl->dir);
		pr_info("made %s for `%s`", pl->dir, e->path);
	}
	return 0;
}

/* Undo: remove what prepare made, children first (a killed tree may still be leaving). */
static void cg_unmake(void)
{
	struct timespec ts = {0, 5 * 1000 * 1000};

	while (cg_rs.nmade > 0) {
		char *d = cg_rs.made[--cg_rs.nmade];

		for (int i = 0; i < 200 && rmdir(d) < 0 && errno == EBUSY; i++)
			nanosleep(&ts, NULL);
		journal_done_match("cgroup", d);
		free(d);
	}
}

static void cg_rs_free(void)
{
	for (size_t i = 0; cg_rs.place && i < cg_rs.doc.ncgroups; i++) {
		free(cg_rs.place[i].rel);
		free(cg_rs.place[i].dir);
	}
	for (size_t i = 0; i < cg_rs.nbase; i++) {
		free(cg_rs.base_dir[i]);
		free(cg_rs.base_abs[i]);
	}
	free(cg_rs.base_abs);
	for (size_t i = 0; i < cg_rs.nmade; i++)
		free(cg_rs.made[i]);
	free(cg_rs.made);
	free(cg_rs.place);
	free(cg_rs.base_dir);
	free(cg_rs.base_ctl);
	cg_doc_free(&cg_rs.doc);
	json_free(cg_rs.json);
	memset(&cg_rs, 0, sizeof(cg_rs));
}

void cgroup_undo(struct ns_restore *r)
{
	cg_unmake();
	cg_rs_free();
}

int cgroup_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	size_t n;
	size_t *order;
	int ret;

	ret = bundle_get_json(r->bundle, "cgroup.json", &cg_rs.json, err);
	if (ret == 0)
		ret = cg_doc_read(cg_rs.json, &cg_rs.doc, err);
	if (ret < 0) {
		cg_rs_free();
		return ret;
	}
	n = cg_rs.doc.ncgroups;
	cg_rs.place = xzalloc((n + 1) * sizeof(*cg_rs.place));
	cg_rs.base_dir = xzalloc((n + 1) * sizeof(*cg_rs.base_dir));
	cg_rs.base_ctl = xzalloc((n + 1) * sizeof(*cg_rs.base_ctl));
	cg_rs.base_abs = xzalloc((n + 1) * sizeof(*cg_rs.base_abs));
	/* parents first: limits such as cpuset.cpus must fit the parent's */
	order = xzalloc((n + 1) * sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && cg_depth(cg_rs.doc.cgroups[order[k]].path) <
						    cg_depth(cg_rs.doc.cgroups[order[k - 1]].path);
		     k--) {
			size_t t = order[k];

			order[k] = order[k - 1];
			order[k - 1] = t;
		}
	for (size_t i = 0; ret == 0 && i < n; i++)
		ret = cg_place_one(r, order[i], err);
	free(order);
	if (ret < 0)
		cgroup_undo(r); /* nothing half made stays behind */
	return ret;
}

/* ---- restore and resume: join, move --------------------------------------- */

/*
 * Move task id (0: the caller) into place pl unless now (its cgroups now,
 * n lines; NULL: unknown) says it is there: file is cgroup.procs, tasks or
 * cgroup.threads.
 */
static int cg_join(const struct cg_place *pl, const struct proc_cgroup *now, int n, const char *ctl,
		   const char *file, pid_t id, ckpt_err_t *err)
{
	const struct proc_cgroup *x = now ? proc_cgroup_named(now, n, ctl) : NULL;
	char val[16];

	if (x && !strcmp(x->path, pl->rel))
		return 0;
	snprintf(val, sizeof(val), "%d", id);
	return cg_write(pl->dir, file, val, err) < 0 ? -err->code : 0;
}

/*
 * Where the root starts in the hierarchy of saved cgroup i: with a
 * namespace of its own, the namespace's root (the new base, or the
 * hierarchy's own), else its own cgroup.
 */
static const char *cg_birth_dir(const struct ns_restore *r, size_t i)
{
	if (r->flags & CLONE_NEWCGROUP)
		for (size_t b = 0; b < cg_rs.nbase; b++)
			if (!strcmp(cg_rs.base_ctl[b], cg_rs.doc.cgroups[i].controllers))
				return cg_rs.base_abs[b];
	return cg_rs.place[i].dir;
}

/* ckpt-oci's own cgroups, left while the root is cloned, then taken back. */
static struct {
	char **dir;
	size_t n;
} cg_home;

/*
 * The root is born where it starts: ckpt-oci enters those cgroups for its
 * clone, so no one (a runtime, a test, the pids controller counting) ever
 * sees the root in ckpt-oci's cgroups. The root forks nothing before
 * ckpt-oci has left (cgroup_spawned): a pids.max counts the tree only.
 */
int cgroup_spawn(struct ns_restore *r, ckpt_err_t *err)
{
	const struct cg_doc *d = &cg_rs.doc;
	size_t nroot = d->nthreads ? d->threads[0].n : d->ncgroups;

	cg_home.dir = xzalloc((nroot + 1) * sizeof(*cg_home.dir));
	for (size_t k = 0; k < nroot; k++) {
		size_t i = d->nthreads ? d->threads[0].cg[k] : k;
		const char *ctl = d->cgroups[i].controllers;
		cleanup_free char *mnt = NULL, *mine = NULL;

		if (cg_rs.place[i].absent)
			continue;
		mnt = proc_cgroup_mount(ctl);
		mine = cg_path_of(ctl);
		if (!mnt || !mine)
			return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted here",
					      ctl);
		cg_home.dir[cg_home.n++] = xasprintf("%s%s", mnt, strcmp(mine, "/") ? mine : "");
		if (cg_write(cg_birth_dir(r, i), "cgroup.procs", "0", err) < 0)
			return -err->code;
	}
	return 0;
}

/* Back to ckpt-oci's own cgroups, every one even when one fails. */
int cgroup_spawned(struct ns_restore *r, ckpt_err_t *err)
{
	int ret = 0;

	for (size_t k = 0; k < cg_home.n; k++) {
		ckpt_err_t e = {0};

		if (cg_write(cg_home.dir[k], "cgroup.procs", "0", &e) < 0 && ret == 0) {
			*err = e;
			ret = -e.code;
		}
		free(cg_home.dir[k]);
	}
	free(cg_home.dir);
	memset(&cg_home, 0, sizeof(cg_home));
	return ret;
}

int cgroup_restore(struct ns_restore *r, ckpt_err_t *err)
{
	const struct cg_doc *d = &cg_rs.doc;
	size_t nroot = d->nthreads ? d->threads[0].n : d->ncgroups;
	struct proc_cgroup *now = NULL;
	int nnow = 0, ret = 0;

	if (r->flags & CLONE_NEWCGROUP) {
		/*
		 * the namespace's root first (born there: this only makes sure);
		 * unshare makes it "/"
		 */
		for (size_t k = 0; k < nroot; k++) {
			size_t i = d->nthreads ? d->threads[0].cg[k] : k;

			if (!cg_rs.place[i].absent &&
			    cg_write(cg_birth_dir(r, i), "cgroup.procs", "0", err) < 0)
				return -err->code;
		}
		if (unshare(CLONE_NEWCGROUP) < 0)
			return ckpt_error(err, errno, "unshare cgroup namespace");
	}
	/* inside a namespace of its own its paths read differently: always write */
	if (!(r->flags & CLONE_NEWCGROUP))
		ret = proc_read_cgroup(AT_FDCWD, "/proc/self/cgroup", &now, &nnow, err);
	for (size_t k = 0; ret == 0 && k < nroot; k++) {
		size_t i = d->nthreads ? d->threads[0].cg[k] : k;

		if (!cg_rs.place[i].absent)
			ret = cg_join(&cg_rs.place[i], now, nnow, d->cgroups[i].controllers,
				      "cgroup.procs", 0, err);
	}
	proc_cgroups_free(now, nnow);
	return ret;
}

/* A restored thread: the ids the tree's pid namespace gives it, and its id here. */
struct cg_host {
	pid_t pid, tid, host_pid, host_tid;
};

/* Every thread of the tree below root_host_pid, by walking children. */
static int cg_walk(pid_t root, struct cg_host **out, size_t *n, ckpt_err_t *err)
{
	pid_t *queue = xzalloc(sizeof(*queue));
	size_t nq = 1, cap = 0;
	int ret = 0;

	queue[0] = root;
	*out = NULL;
	*n = 0;
	for (size_t q = 0; ret == 0 && q < nq; q++) {
		cleanup_free char *dir = xasprintf("/proc/%d", queue[q]);
		cleanup_close int procfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cleanup_free pid_t *tids = NULL;
		pid_t nspid = proc_ns_pid(AT_FDCWD, dir);
		int nt = 0;

		if (procfd < 0 || nspid < 0 || proc_list_threads(procfd, &tids, &nt, err) < 0) {
			ckpt_error_clear(err);
			continue; /* a zombie */
		}
		for (int i = 0; i < nt; i++) {
			cleanup_free char *task = xasprintf("task/%d", tids[i]);
			cleanup_free pid_t *kids = NULL;
			int nk = 0;

			if (*n == cap) {
				cap = cap ? 2 * cap : 64;
				*out = xrealloc(*out, cap * sizeof(**out));
			}
			(*out)[(*n)++] = (struct cg_host){nspid, proc_ns_pid(procfd, task),
							  queue[q], tids[i]};
			if (proc_list_children(procfd, tids[i], &kids, &nk, err) < 0) {
				ckpt_error_clear(err);
				continue;
			}
			queue = xrealloc(queue, (nq + nk) * sizeof(*queue));
			if (nk) /* kids is NULL when there are none */
				memcpy(queue + nq, kids, nk * sizeof(*kids));
			nq += nk;
		}
	}
	free(queue);
	return ret;
}

static const struct cg_host *cg_find(const struct cg_host *h, size_t n, const struct cg_thread *t)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].pid == t->pid && h[i].tid == t->tid)
			return &h[i];
	return NULL;
}

/* Processes first (cgroup.procs moves all their threads), then threads on their own. */
static int cg_move(const struct cg_host *h, size_t nh, bool leaders, ckpt_err_t *err)
{
	const struct cg_doc *d = &cg_rs.doc;

	for (size_t i = 0; i < d->nthreads; i++) {
		const struct cg_thread *t = &d->threads[i];
		const struct cg_host *x;
		cleanup_free char *file = NULL;
		struct proc_cgroup *now = NULL;
		int nnow = 0, ret = 0;

		if ((t->pid == t->tid) != leaders)
			continue;
		x = cg_find(h, nh, t);
		if (!x) {
			pr_warn("thread %d of %d not found in the restored tree, left where it is",
				t->tid, t->pid);
			continue;
		}
		file = xasprintf("/proc/%d/task/%d/cgroup", x->host_pid, x->host_tid);
		if (proc_read_cgroup(AT_FDCWD, file, &now, &nnow, err) < 0) {
			ckpt_error_clear(err); /* a zombie by now: nothing to move */
			continue;
		}
		for (size_t k = 0; ret == 0 && k < t->n; k++) {
			const struct cg_place *pl = &cg_rs.place[t->cg[k]];
			const char *what = leaders  ? "cgroup.procs"
					   : pl->v1 ? "tasks"
						    : "cgroup.threads";

			if (pl->absent)
				continue;
			ret = cg_join(pl, now, nnow, d->cgroups[t->cg[k]].controllers, what,
				      leaders ? x->host_pid : x->host_tid, err);
			if (ret == -ESRCH) {
				ckpt_error_clear(err); /* a zombie by now */
				ret = 0;
			}
		}
		proc_cgroups_free(now, nnow);
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d thread %d", t->pid, t->tid);
	}
	return 0;
}

int cgroup_resume(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_free struct cg_host *h = NULL;
	size_t nh = 0;
	int ret = 0;

	/* the root placed itself and its children were born there: one thread is done */
	if (cg_rs.doc.nthreads > 1)
		ret = cg_walk(r->root_host_pid, &h, &nh, err);
	if (ret == 0 && nh)
		ret = cg_move(h, nh, true, err);
	if (ret == 0 && nh)
		ret = cg_move(h, nh, false, err);
	return ret;
}
