/*
 * libckpt/restore/restore-prepare.c - restore up to the tree's creation:
 * the bundle opened and checked against this host (rc_load reads every
 * document; then the kernel features it needs, every pid free, a scratch
 * hole in every layout, the credential rule of an unauthenticated
 * bundle), and only then, once the caller said the bundle is verified,
 * the shared files, the console and the namespaces made.
 */
#define LOG_PREFIX "restore: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

#include "check/check.h"
#include "ckpt/ckpt.h"
#include "restore/restore.h"
#include "task/task.h"
#include "lazy/lazy-restore.h"
#include "util/confine.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/* Shared open files (pipes) are made here, parked above every fd of the tree. */
static int files_setup(struct rctx *rc, ckpt_err_t *err)
{
	int ret;

	rc->files.bundle = rc->bundle;
	rc->files.min_fd = 3;
	for (int i = 0; i < rc->ntasks; i++)
		if (!rc->tasks[i].zombie)
			rc->files.min_fd = MAX(rc->files.min_fd, rc->tasks[i].img_fd + 1);
	ret = rconfine_enter(rc, rc->root, err);
	if (ret == 0)
		ret = files_prepare(&rc->files, err);
	confine_leave();
	return ret;
}

/* Somewhere in j, an object with this key. */
static bool json_has_key(const struct json *j, const char *key)
{
	enum json_type t = json_type(j);

	if (t == JSON_OBJ && json_get(j, key))
		return true;
	if (t != JSON_OBJ && t != JSON_ARR)
		return false;
	for (size_t i = 0; i < json_len(j); i++)
		if (json_has_key(json_at(j, i), key))
			return true;
	return false;
}

/*
 * Kernel features this bundle needs beyond what every restore needs (those
 * are `ckpt-oci check`'s required ones): probed before anything is made,
 * so a host without one refuses the bundle in one line.
 */
static int check_features(struct rctx *rc, ckpt_err_t *err)
{
	const char *need[4];
	bool timers = false, guards = false;
	int n = 0, ret;

	if (bundle_has_file(rc->bundle, "files.json")) {
		ret = bundle_get_json(rc->bundle, "files.json", &rc->files.doc, err);
		if (ret < 0)
			return ret;
	}
	for (int i = 0; i < rc->ntasks; i++) {
		timers |= rc->tasks[i].state && rc->tasks[i].state->ntimers > 0;
		guards |= rc->tasks[i].mem.nguards > 0;
	}
	if (timers)
		need[n++] = "timer-restore-ids";
	if (guards)
		need[n++] = "madv-guard";
	if (rc->ns.flags & CLONE_NEWTIME)
		need[n++] = "time-namespace";
	if (rc->files.doc && json_has_key(rc->files.doc, "snd_seq"))
		need[n++] = "tcp-repair";
	return n ? check_needed(need, n, err) : 0;
}

static int check_pids_free(struct rctx *rc, ckpt_err_t *err)
{
	if (rc->own_pidns)
		return 0; /* a fresh namespace: every pid is free */
	for (int i = 0; i < rc->ntasks; i++) {
		struct rtask *t = &rc->tasks[i];

		for (int j = -1; j < t->nthreads; j++) {
			pid_t p = j < 0 ? t->pid : t->threads[j].tid;

			if (kill(p, 0) == 0 || errno != ESRCH)
				return ckpt_error_msg(err, EEXIST, "pid %d is taken", p);
		}
	}
	return 0;
}

struct ranges {
	uint64_t *v;
	size_t n;
};

static int add_range(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct ranges *r = arg;

	r->v = xrealloc(r->v, (r->n + 2) * sizeof(*r->v));
	r->v[r->n++] = v->start;
	r->v[r->n++] = v->end;
	return 0;
}

/* A scratch address free in ckpt-oci's layout and in every saved one. */
static int choose_scratch(struct rctx *rc, ckpt_err_t *err)
{
	struct ranges own = {0};
	ckpt_err_t e = {0};
	uint64_t cand = 0x10000000;
	uint64_t *ranges;
	size_t nr;

	/* unreadable: the saved layouts alone decide, as before */
	(void)proc_read_maps(AT_FDCWD, "/proc/self/maps", add_range, &own, &e);
	ranges = own.v;
	nr = own.n;
	for (int i = 0; i < rc->ntasks; i++) {
		const struct mem_task *m = &rc->tasks[i].mem;

		for (size_t k = 0; k < m->nvmas; k++) {
			ranges = xrealloc(ranges, (nr + 2) * sizeof(*ranges));
			ranges[nr++] = m->vmas[k].start;
			ranges[nr++] = m->vmas[k].end;
		}
	}
	for (; cand < 0x7f0000000000ULL; cand += 1 << 20) {
		bool clash = false;

		for (size_t k = 0; k < nr && !clash; k += 2)
			clash = cand < ranges[k + 1] && cand + SCRATCH_SIZE > ranges[k];
		if (!clash) {
			rc->scratch = cand;
			free(ranges);
			return 0;
		}
	}
	free(ranges);
	return ckpt_error_msg(err, ENOMEM, "no room for the scratch area");
}

/*
 * The trust model's credential rule, before anything is made: outside a
 * container (no mount namespace of its own, so the host's root is the
 * tree's), an unauthenticated bundle's tasks may not claim root. With one,
 * every mount source of an unauthenticated bundle comes from --mount-map
 * (mnt_prepare): the tree's root is a directory the command line chose.
 */
static int check_confine(struct rctx *rc, ckpt_err_t *err)
{
	rc->confine = bundle_mac_status(rc->bundle) != BUNDLE_MAC_VERIFIED;
	if (!rc->confine || rc->ns.flags & CLONE_NEWNS)
		return 0;
	for (int i = 0; i < rc->ntasks; i++) {
		int ret;

		if (!rc->tasks[i].state)
			continue;
		ret = creds_check_unprivileged(rc->tasks[i].state, rc->tasks[i].pid, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * A console whose master was outside the tree (terminal: true) is made
 * again only for a caller that takes its master: refused before anything
 * is made, rather than closed once the tree runs.
 */
static int check_console(const struct rctx *rc, const struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	const struct json *list = rc->files.doc ? json_get(rc->files.doc, "ptys") : NULL;

	if (o->console_socket || o->console_to_adopt)
		return 0;
	for (size_t i = 0; i < json_len(list); i++)
		if (json_get(json_at(list, i), "orphan"))
			return ckpt_error_msg(
				err, EINVAL,
				"the tree has a console (terminal: true) whose master "
				"was outside it: restore needs --console-socket to "
				"hand the new one to");
	return 0;
}

/*
 * The bundle opened and every document read and checked against this
 * host; then (the caller told it was verified) the shared files, the
 * console and the namespaces prepared: from there on things are made.
 */
int rc_prepare(struct rctx *rc, struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	struct bundle_auth auth = {.key_file = o->key_file,
				   .insecure = o->insecure_unauthenticated,
				   .seal_key_file = o->decrypt_key};
	/*
	 * lazy: the page images are checked chunk by chunk as they are read;
	 * else hashed while the tree is made, before it runs (restore_start)
	 */
	int ret = o->lazy ? bundle_open_lazy(o->bundle, &auth, o->page_server, &rc->bundle, err)
			  : bundle_open_restore(o->bundle, &auth, &rc->bundle, err);

	if (ret == 0)
		ret = bundle_check_host(rc->bundle, err);
	if (ret == 0) {
		rc->chain = xzalloc(sizeof(*rc->chain));
		ret = mem_chain_open(rc->bundle, &auth, o->lazy, rc->chain, err);
	}
	if (ret == 0)
		ret = rc_load(rc, err);
	if (ret == 0 && rc->lazy)
		ret = lazy_prepare(rc, err);
	if (ret == 0)
		ret = check_pids_free(rc, err);
	if (ret == 0)
		ret = choose_scratch(rc, err);
	if (ret == 0)
		ret = ns_restore_load(&rc->ns, rc->bundle, err);
	rc->ns.mount_map = o->mount_map;
	rc->ns.nmount_map = o->nmount_map;
	rc->ns.veth_map = o->veth_map;
	rc->ns.nveth_map = o->nveth_map;
	rc->ns.cgroup_name = o->cgroup_name;
	if (ret == 0)
		ret = check_features(rc, err);
	if (ret == 0)
		ret = check_confine(rc, err);
	if (ret == 0)
		ret = check_console(rc, o, err);
	/* all checked: from here on things are made */
	if (ret == 0 && o->verified)
		ret = o->verified(o, rc->bundle, err);
	if (ret == 0)
		ret = files_setup(rc, err);
	if (ret == 0)
		ret = console_setup(rc, err);
	if (ret == 0)
		ret = ns_prepare_all(&rc->ns, err);
	return ret;
}
