/*
 * namespaces/cgroup.c - cgroups and the cgroup namespace (cgroup.json, see
 * cgroup.h): the cgroup of every task and thread of the tree in every
 * hierarchy (v1 controllers and the v2 unified one), the limits set there,
 * and the root of the tree's own cgroup namespace when it has one.
 *
 * Dumped for every tree: a tree in ckpt-oci's cgroup namespace comes back
 * in its own cgroups all the same, made again if they are gone.
 *
 * Dump reads /proc/PID/task/TID/cgroup from ckpt-oci (whose cgroup
 * namespace shows whole paths) for each thread, and for each cgroup seen
 * the limit files that exist and, in v2, its type (threaded or not). A
 * tree with a cgroup namespace of its own is asked, from inside it, how it
 * sees its root's cgroups: the difference is where that namespace's root
 * lies ("ns_roots").
 *
 * Restore (cgroup-restore.c) maps each saved cgroup to one here: the same
 * path for a tree in ckpt-oci's cgroup namespace; below a new cgroup for a
 * tree with a namespace of its own (named after the old one, "-r<pid of
 * ckpt-oci>" added, below ckpt-oci's own cgroup) or for a container's
 * cgroups (named after the container, beside the old ones when their
 * parent exists here). The root of the tree joins its cgroups before it
 * has children, so they are born inside; the rest move at resume.
 *
 * Nobody removes the cgroups made when the tree is gone: the caller does
 * (rmdir, once the tree exited, or the runtime's delete).
 */
#define LOG_PREFIX "cgroup: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/cgroup.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

const char *const cg_limits[] = {
	"memory.limit_in_bytes", "memory.max", "memory.high", "pids.max",   "cpu.cfs_period_us",
	"cpu.cfs_quota_us",	 "cpu.shares", "cpu.max",     "cpu.weight", "cpuset.cpus",
	"cpuset.mems",
};
const size_t cg_nlimits = ARRAY_SIZE(cg_limits);

const struct doc_field cg_fields[] = {
	DOC_STR(struct cg_entry, controllers, "controllers", 256),
	DOC_STR(struct cg_entry, path, "path", 4096),
	DOC_OPT_STR(struct cg_entry, type, "type", 32),
	DOC_END,
};

const struct doc_field cg_thread_fields[] = {
	DOC_INT(struct cg_thread, pid, "pid", 1, DOC_PID_MAX),
	DOC_INT(struct cg_thread, tid, "tid", 1, DOC_PID_MAX),
	DOC_END,
};

bool cg_limit_known(const char *file)
{
	for (size_t k = 0; k < cg_nlimits; k++)
		if (!strcmp(file, cg_limits[k]))
			return true;
	return false;
}

/* The cgroups seen so far: "controllers:path" keys, their index in "cgroups". */
struct cg_seen {
	char **key;
	size_t n;
	struct json *list;
	char **unplaced; /* roots of hierarchies nobody mounts, met already */
	size_t nunplaced;
};

static void cg_limits_read(const char *dir, struct json *lim)
{
	for (size_t i = 0; i < cg_nlimits; i++) {
		cleanup_free char *path = xasprintf("%s/%s", dir, cg_limits[i]), *val = NULL;
		ckpt_err_t e = {0};
		size_t len;

		if (read_file_at(AT_FDCWD, path, 4096, &val, &len, &e) < 0) {
			ckpt_error_clear(&e);
			continue; /* not this controller */
		}
		val[strcspn(val, "\n")] = '\0';
		json_set(lim, cg_limits[i], json_str(val));
	}
}

/*
 * Index of cgroup ctl:path in s->list, added with its limits when new; or
 * CG_UNPLACED for the root of a v1 hierarchy mounted nowhere (one a program
 * mounted for a while and took away again): no limits, no sub-cgroup, so the
 * restored task is where it would be anyway.
 */
#define CG_UNPLACED INT_MAX
static int cg_index(struct cg_seen *s, const char *ctl, const char *path, ckpt_err_t *err)
{
	cleanup_free char *key = xasprintf("%s:%s", ctl, path), *mnt = NULL, *dir = NULL;
	struct cg_entry e = {.controllers = ctl, .path = path};
	cleanup_free char *type = NULL;
	struct json *o;

	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->key[i], key))
			return (int)i;
	for (size_t i = 0; i < s->nunplaced; i++)
		if (!strcmp(s->unplaced[i], key))
			return CG_UNPLACED;
	if (s->n == CG_MAX)
		return ckpt_error_msg(err, E2BIG, "more than %d cgroups", CG_MAX);
	mnt = proc_cgroup_mount(ctl);
	if (!mnt && !strcmp(path, "/")) {
		/* the root of a hierarchy nobody mounts: nothing to keep */
		s->unplaced = xrealloc(s->unplaced, (s->nunplaced + 1) * sizeof(*s->unplaced));
		s->unplaced[s->nunplaced++] = steal_pointer(&key);
		return CG_UNPLACED;
	}
	if (!mnt)
		return ckpt_error_msg(err, ENOENT, "hierarchy `%s` is not mounted", ctl);
	dir = xasprintf("%s%s", mnt, path);
	if (!*ctl && strcmp(path, "/")) {
		cleanup_free char *tf = xasprintf("%s/cgroup.type", dir);
		ckpt_err_t ign = {0};
		size_t len;

		if (read_file_at(AT_FDCWD, tf, 64, &type, &len, &ign) == 0) {
			type[strcspn(type, "\n")] = '\0';
			if (strcmp(type, "domain"))
				e.type = type;
		}
		ckpt_error_clear(&ign);
	}
	o = json_push(s->list, json_obj());
	doc_write(o, cg_fields, &e);
	if (strcmp(path, "/"))
		cg_limits_read(dir, json_set(o, "limits", json_obj()));
	s->key = xrealloc(s->key, (s->n + 1) * sizeof(*s->key));
	s->key[s->n] = steal_pointer(&key);
	return (int)s->n++;
}

/*
 * One thread: its cgroup in every hierarchy, as indexes into "cgroups".
 * own_ns: the task is in ckpt-oci's pid namespace, where tid is its id.
 */
static int cg_thread_dump(struct cg_seen *s, int procfd, pid_t nspid, pid_t tid, bool own_ns,
			  struct json *threads, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("task/%d/cgroup", tid), *text = NULL;
	cleanup_free char *task = xasprintf("task/%d", tid);
	struct cg_thread t = {.pid = nspid, .tid = own_ns ? tid : proc_ns_pid(procfd, task)};
	struct proc_cgroup *v = NULL;
	struct json *o, *list;
	ckpt_err_t e = {0};
	size_t len;
	int n = 0, ret;

	if (t.tid < 0 || read_file_at(procfd, path, 1 << 16, &text, &len, &e) < 0) {
		ckpt_error_clear(&e);
		return 0; /* gone or a zombie: nothing to place */
	}
	ret = proc_parse_cgroup(text, &v, &n, err);
	if (ret < 0)
		return ret;
	o = json_push(threads, json_obj());
	doc_write(o, cg_thread_fields, &t);
	list = json_set(o, "cgroups", json_arr());
	for (int i = 0; ret == 0 && i < MIN(n, CG_HIER_MAX); i++) {
		int idx = cg_index(s, v[i].controllers, v[i].path, err);

		if (idx < 0)
			ret = idx;
		else if (idx != CG_UNPLACED)
			json_push(list, json_int(idx));
	}
	proc_cgroups_free(v, n);
	return ret;
}

static int cg_task_dump(struct cg_seen *s, pid_t pid, struct json *threads, ckpt_err_t *err)
{
	cleanup_free char *dir = xasprintf("/proc/%d", pid);
	cleanup_close int procfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free pid_t *tids = NULL;
	pid_t nspid = proc_ns_pid(AT_FDCWD, dir);
	struct stat its, ours;
	int n = 0, ret;
	bool own_ns;

	if (procfd < 0)
		return ckpt_error(err, errno, "open %s", dir);
	if (nspid < 0)
		return 0; /* a zombie */
	own_ns = fstatat(procfd, "ns/pid", &its, 0) == 0 && stat("/proc/self/ns/pid", &ours) == 0 &&
		 its.st_ino == ours.st_ino && its.st_dev == ours.st_dev;
	ret = proc_list_threads(procfd, &tids, &n, err);
	/* the leader first: restore moves a process, then its threads */
	for (int i = 0; ret == 0 && i < n; i++)
		if (tids[i] == pid)
			ret = cg_thread_dump(s, procfd, nspid, tids[i], own_ns, threads, err);
	for (int i = 0; ret == 0 && i < n; i++)
		if (tids[i] != pid)
			ret = cg_thread_dump(s, procfd, nspid, tids[i], own_ns, threads, err);
	return ret < 0 ? ckpt_error_wrap(err, "task %d", pid) : 0;
}

/* In a helper inside the tree's cgroup namespace: how it sees root's cgroups. */
static struct json *cg_view(void *arg, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/cgroup", *(pid_t *)arg), *text = NULL;
	struct json *j;
	size_t len;

	if (read_file_at(AT_FDCWD, path, 1 << 16, &text, &len, err) < 0)
		return NULL;
	j = json_obj();
	json_set(j, "cgroup", json_str(text));
	return j;
}

/*
 * The root of the tree's cgroup namespace in each hierarchy: the root's
 * path here with the path it sees inside taken off its end.
 */
static int cg_ns_roots(const struct ns_dump *d, struct json *out, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("cgroup namespace helper");
	cleanup_free char *path = xasprintf("/proc/%d/cgroup", d->pid), *here = NULL;
	cleanup_json struct json *view = NULL;
	struct proc_cgroup *h = NULL, *in = NULL;
	const char *text;
	int nh = 0, ni = 0, ret;
	pid_t pid = d->pid;
	size_t len;

	ret = ns_exec_json(d->nsfd, CLONE_NEWCGROUP, cg_view, &pid, &view, err);
	if (ret == 0)
		ret = doc_str(&at, view, "cgroup", 1 << 16, &text, err);
	if (ret == 0)
		ret = read_file_at(AT_FDCWD, path, 1 << 16, &here, &len, err);
	if (ret == 0)
		ret = proc_parse_cgroup(here, &h, &nh, err);
	if (ret == 0)
		ret = proc_parse_cgroup(text, &in, &ni, err);
	for (int i = 0; ret == 0 && i < MIN(nh, CG_HIER_MAX); i++) {
		char *hp = h[i].path;
		size_t plen = strlen(hp), vlen;
		const char *root = NULL;

		for (int k = 0; k < MIN(ni, CG_HIER_MAX) && !root; k++) {
			const char *ip = in[k].path;

			if (strcmp(h[i].controllers, in[k].controllers))
				continue;
			vlen = strlen(ip);
			if (!strcmp(ip, "/"))
				root = hp;
			else if (vlen < plen && !strcmp(hp + plen - vlen, ip))
				hp[plen - vlen] = '\0', root = hp[0] ? hp : "/";
		}
		if (root)
			doc_write(
				json_push(out, json_obj()), cg_fields,
				&(struct cg_entry){.controllers = h[i].controllers, .path = root});
	}
	proc_cgroups_free(h, nh);
	proc_cgroups_free(in, ni);
	return ret;
}

static int cgroup_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct json *threads;
	struct cg_seen s = {0};
	int ret;

	json_set(doc, "tree_cgroup", json_bool(d->tree_cgroup));
	s.list = json_set(doc, "cgroups", json_arr());
	threads = json_set(doc, "threads", json_arr());
	/* the root first: its cgroups are the tree's base */
	ret = cg_task_dump(&s, d->pid, threads, err);
	for (int i = 0; ret == 0 && i < d->npids; i++)
		if (d->pids[i] != d->pid)
			ret = cg_task_dump(&s, d->pids[i], threads, err);
	if (ret == 0 && d->owned)
		ret = cg_ns_roots(d, json_set(doc, "ns_roots", json_arr()), err);
	for (size_t i = 0; i < s.n; i++)
		free(s.key[i]);
	free(s.key);
	for (size_t i = 0; i < s.nunplaced; i++)
		free(s.unplaced[i]);
	free(s.unplaced);
	if (ret < 0)
		return ret;
	pr_info("%zu threads in %zu cgroups", json_len(threads), json_len(s.list));
	return bundle_put_json(d->bundle, "cgroup.json", doc, err);
}

const struct ckpt_ns_ops ns_cgroup_ops = {
	.name = "cgroup",
	.clone_flag = CLONE_NEWCGROUP,
	.with_tree_cgroup = true,
	.always = true,
	.dump = cgroup_dump,
	.prepare = cgroup_prepare,
	.restore = cgroup_restore,
	.resume = cgroup_resume,
	.spawn = cgroup_spawn,
	.spawned = cgroup_spawned,
	.undo = cgroup_undo,
};
