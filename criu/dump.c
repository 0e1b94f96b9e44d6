/*
 * criu/dump.c - DUMP: CRIU's dump request mapped onto ckpt_dump().
 *
 * The images directory gets the bundle (SWRK_BUNDLE), written beside
 * whatever the caller keeps there (runc's descriptors.json), and stats-dump.
 * A bundle left by an earlier dump into the same directory is replaced
 * once the new one is complete. Notify points, as CRIU sends them:
 * pre-dump before anything is touched; network-lock then post-dump with
 * every task dumped and the tree still frozen (runc marks the container
 * "checkpointed" at post-dump); network-unlock when the tree runs on
 * (leave_running) or the dump failed after the lock.
 *
 * PRE_DUMP is the same request with the engine's --pre-dump: memory only,
 * the tree running on, dirty-page tracking started (track_mem is what it
 * does anyway); only the pre-dump notify is sent. parent_img (relative to
 * the images directory, as runc's --parent-path) names the directory of
 * the parent pre-dump, whose bundle becomes --parent.
 *
 * Cgroups are the caller's: the tree's are not recorded (runc and the
 * managers above it make the container's cgroups at restore and put the
 * service into them), the freezer cgroup named is used to freeze.
 */
#define LOG_PREFIX "criu: "
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "criu/swrk.h"
#include "util/abort.h"
#include "util/fault.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"

struct dump_run {
	struct swrk *s;
	bool locked; /* network-lock was acknowledged */
	uint64_t t0, t_frozen;
};

/* Options CRIU has and the engine does not do: refused, never ignored. */
static int dump_refused(struct swrk *s, ckpt_err_t *err)
{
	const CriuOpts *o = s->opts;

	if (o->lazy_pages)
		return swrk_refuse(s, "lazy_pages", err);
	if (o->ps)
		return swrk_refuse(s, "ps (page server)", err);
	if (o->auto_dedup)
		return swrk_refuse(s, "auto_dedup", err);
	if (o->tcp_close)
		return swrk_refuse(s, "tcp_close", err);
	/*
	 * runc always asks for an empty network namespace ("runc doesn't manage
	 * network devices"): the engine keeps the one the tree had, loopback
	 * and all, which is what a runc container's holds. Others are refused.
	 */
	if (o->empty_ns & ~(uint32_t)CLONE_NEWNET)
		return swrk_refuse(s, "empty_ns other than the network namespace", err);
	if (o->n_unix_sk_ino)
		return swrk_refuse(s, "unix_sk_ino", err);
	if (o->n_skip_mnt)
		return swrk_refuse(s, "skip_mnt", err);
	if (o->n_exec_cmd)
		return swrk_refuse(s, "exec_cmd", err);
	return 0;
}

/* The engine's frozen callback: every task dumped, the tree still frozen. */
static int dump_frozen(struct ckpt_dump_opts *d, struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct dump_run *r = d->frozen_arg;
	int ret;

	r->t_frozen = now_ns();
	ret = swrk_notify(r->s, "network-lock", 0, err);
	if (ret < 0)
		return ret;
	r->locked = true;
	return swrk_notify(r->s, "post-dump", 0, err);
}

/*
 * criu.json: the root directory the tree had, which restore maps to the new
 * one; the key of the caller's network namespace, if it was one; which of
 * the root's fds 0-2 were a terminal.
 */
static char *dump_doc(const CriuOpts *o, const char *netkey)
{
	cleanup_json struct json *doc = json_obj();
	struct json *ttys = json_set(doc, "tty_fds", json_arr());

	json_set(doc, "root", json_str(o->root && *o->root ? o->root : "/"));
	json_set(doc, "pid", json_int(o->pid));
	if (netkey)
		json_set(doc, "external_net", json_str(netkey));
	/* the root's stdio that are a terminal (runc's console): restore makes a new one */
	for (int n = 0; n < 3; n++) {
		cleanup_free char *p = xasprintf("/proc/%d/fd/%d", o->pid, n);
		struct stat st;

		if (stat(p, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 136)
			json_push(ttys, json_int(n));
	}
	return json_dump(doc, true, NULL);
}

/* Swap the new bundle in, the old one (an earlier dump's) out. */
static int dump_install(const char *images, const char *tmp, ckpt_err_t *err)
{
	cleanup_close int dfd = open(images, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (dfd < 0)
		return ckpt_error(err, errno, "open %s", images);
	if (renameat2(dfd, tmp, dfd, SWRK_BUNDLE, RENAME_EXCHANGE) == 0) {
		ret = bundle_rmtree(dfd, tmp);
		if (ret < 0)
			pr_warn("remove the old bundle %s/%s: %s, ignoring", images, tmp,
				strerror(-ret));
		return 0;
	}
	if (errno != ENOENT)
		return ckpt_error(err, errno, "replace %s/%s", images, SWRK_BUNDLE);
	if (renameat(dfd, tmp, dfd, SWRK_BUNDLE) < 0)
		return ckpt_error(err, errno, "rename %s/%s", images, tmp);
	return 0;
}

/* ckpt_dump's options from CRIU's: into bundle, with criu.json (extra), run r. */
static void dump_opts(struct swrk *s, const char *bundle, struct ckpt_extra_file *extra,
		      struct dump_run *r, struct ckpt_dump_opts *d, char **parent)
{
	const CriuOpts *o = s->opts;

	if (o->parent_img && *o->parent_img) {
		*parent = o->parent_img[0] == '/'
				  ? xasprintf("%s/%s", o->parent_img, SWRK_BUNDLE)
				  : xasprintf("%s/%s/%s", s->images, o->parent_img, SWRK_BUNDLE);
		d->parent = *parent;
	}
	d->pre_dump = s->req->type == CRIU_REQ_TYPE__PRE_DUMP;

	d->pid = o->pid;
	d->bundle = bundle;
	d->work_dir = s->work;
	d->key_file = s->key;
	/* as CRIU's images: not flushed to stable storage (ckpt-oci-criu(1)) */
	d->no_sync = true;
	d->leave_running = o->leave_running || d->pre_dump;
	d->cgroup = o->freeze_cgroup && *o->freeze_cgroup ? o->freeze_cgroup : NULL;
	d->tcp_established = o->tcp_established;
	d->ext_unix_sk = o->ext_unix_sk;
	d->skip_in_flight = o->tcp_skip_in_flight;
	if (o->has_ghost_limit)
		d->ghost_limit = o->ghost_limit ? o->ghost_limit : 1;
	d->extra = extra;
	d->nextra = 1;
	d->frozen = dump_frozen;
	d->frozen_arg = r;
}

/*
 * ckpt_dump(d), the tracer never cut short: Ctrl-C on the runtime reaches
 * this service too, and the runtime may die. SIGINT, SIGTERM, SIGHUP and
 * the runtime's death roll the dump back instead (util/abort.h).
 */
static int dump_guarded(struct ckpt_dump_opts *d, ckpt_err_t *err)
{
	int ret;

	ckpt_abort_signals_on(getppid());
	ret = ckpt_fault_arm(getppid(), err);
	if (ret == 0)
		ret = ckpt_dump(d, err);
	ckpt_abort_signals_off();
	return ret;
}

/*
 * network-unlock once ckpt_dump returned ret, when the tree runs on or the
 * dump failed after the lock: failing to unlock fails a dump that worked,
 * and is logged after one that failed.
 */
static int dump_unlock(struct swrk *s, const struct dump_run *r, int ret, ckpt_err_t *err)
{
	ckpt_err_t e2 = {0};

	if ((ret < 0 && r->locked) || (ret == 0 && s->opts->leave_running)) {
		if (swrk_notify(s, "network-unlock", 0, ret < 0 ? &e2 : err) < 0 && ret == 0)
			ret = -err->code;
		else if (e2.code)
			swrk_log(s, "%s, ignoring", e2.msg);
	}
	return ret;
}

/* stats-dump of the bundle just installed (ckpt_dump returned at t_end), and the log line. */
static void dump_stats(struct swrk *s, const struct ckpt_dump_opts *d, const struct dump_run *r,
		       uint64_t t_end)
{
	struct swrk_dump_stats st = {0};
	cleanup_free char *bundle = xasprintf("%s/%s", s->images, SWRK_BUNDLE);
	ckpt_err_t e2 = {0};

	/* the engine's own frozen span; the memory figures are upper bounds */
	st.frozen_us = d->frozen_ns / 1000;
	st.memdump_us = r->t_frozen ? (r->t_frozen - r->t0) / 1000 : 0;
	st.memwrite_us = r->t_frozen ? (t_end - r->t_frozen) / 1000 : 0;
	st.pages = swrk_bundle_pages(bundle);
	if (swrk_write_dump_stats(s->work, &st, &e2) < 0)
		swrk_log(s, "%s, ignoring", e2.msg);
	swrk_log(s, "dumped pid %d into %s: %llu pages, %.3f s", s->opts->pid, bundle,
		 (unsigned long long)st.pages, st.frozen_us / 1e6);
}

int swrk_dump(struct swrk *s, CriuResp *resp, ckpt_err_t *err)
{
	static CriuDumpResp dr = CRIU_DUMP_RESP__INIT;
	const CriuOpts *o = s->opts;
	struct dump_run r = {.s = s};
	struct ckpt_dump_opts d = {0};
	struct ckpt_extra_file extra;
	cleanup_free char *bundle = NULL, *doc = NULL, *netkey = NULL, *parent = NULL;
	uint64_t t_end;
	int ret;

	ret = dump_refused(s, err);
	if (ret < 0)
		return ret;
	if (!o->has_pid || o->pid <= 0)
		return ckpt_error_msg(err, EINVAL,
				      "pid is required: ckpt-oci does not dump "
				      "its caller");
	bundle = xasprintf("%s/%s.new", s->images, SWRK_BUNDLE);
	if (bundle_rmtree(AT_FDCWD, bundle) < 0)
		return ckpt_error_msg(err, EEXIST,
				      "%s is left from a failed dump and cannot "
				      "be removed",
				      bundle);
	ret = swrk_external_net_dump(s, o->pid, &netkey, err);
	if (ret < 0)
		return ret;
	doc = dump_doc(o, netkey);
	extra = (struct ckpt_extra_file){SWRK_DOC, doc};
	dump_opts(s, bundle, &extra, &r, &d, &parent);

	ret = swrk_notify(s, "pre-dump", 0, err);
	if (ret < 0)
		return ret;
	r.t0 = now_ns();
	ret = dump_guarded(&d, err);
	t_end = now_ns();
	if (!d.pre_dump)
		ret = dump_unlock(s, &r, ret, err);
	if (ret < 0) {
		(void)bundle_rmtree(AT_FDCWD, bundle);
		return ret;
	}
	ret = dump_install(s->images, SWRK_BUNDLE ".new", err);
	if (ret == 0)
		ret = swrk_write_inventory(s->images, err);
	if (ret < 0)
		return ret;
	dump_stats(s, &d, &r, t_end);
	dr.has_restored = true;
	dr.restored = false;
	resp->dump = &dr;
	return 0;
}
