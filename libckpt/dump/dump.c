/*
 * libckpt/dump/dump.c - the checkpoint pipeline, short and linear:
 *
 *   create bundle (NAME.tmp) -> seize the tree -> namespaces -> lock
 *   the network -> per task: registers, state via remote syscalls,
 *   memory, files -> pstree.json -> commit (fsync, rename) -> kill the
 *   tree (its network stays locked), or unlock and release it
 *   (--leave-running).
 *
 * Any failure before the commit releases the tree exactly as it was
 * (registers and signal masks put back, scratch memory unmapped, network
 * unlocked, ptrace detached) and removes NAME.tmp: the tree runs on, no
 * bundle is left. An abort request (util/abort.h: a signal, the death of
 * the ckpt-oci the user started) is such a failure, answered between two
 * steps; once the bundle is committed it is too late to abort.
 */
#define LOG_PREFIX "dump: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "ckpt/ckpt.h"
#include "engine.h"
#include "files/files.h"
#include "dump/dump.h"
#include "dump/freezer.h"
#include "mem/mem-incr.h"
#include "namespaces/ns.h"
#include "util/abort.h"
#include "util/journal.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/util.h"

/* Per-thread state through remote syscalls; the scratch page lives only here. */
static int task_dump_remote(struct ckpt_ctx *ctx, struct task *t, ckpt_err_t *err)
{
	struct json *threads = json_set(t->doc, "threads", json_arr());
	struct rsys rs = {0}, trs = {0};
	uint64_t sc, scratch = 0;
	long r;
	int ret;

	sc = t->sc_addr = rsys_find_syscall(t->pid);
	if (!sc)
		return ckpt_error_msg(err, ENOTSUP,
				      "task %d has no syscall instruction to run syscalls from",
				      t->pid);
	ret = rsys_init(&rs, t->threads[0].tid, sc, err);
	if (ret < 0)
		return ret;
	/* executable too: short code runs there (rsys_run_code) */
	ret = RSYS(&rs, &r, err, SYS_mmap, 0, SCRATCH_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret == 0 && r < 0 && r > -4096)
		ret = ckpt_error(err, -r, "task %d: map scratch memory", t->pid);
	if (ret < 0)
		goto out;
	scratch = r;
	ret = task_dump_state(ctx, t, &rs, scratch, err);
	for (int i = 0; ret == 0 && i < t->nthreads; i++) {
		struct thread *th = &t->threads[i];
		struct rsys *use = &rs;

		if (i > 0) {
			ret = rsys_init(&trs, th->tid, sc, err);
			if (ret < 0)
				break;
			use = &trs;
		}
		use->signal_taken = th->nstolen > 0; /* then an EINTR is the program's */
		ret = thread_dump_state(ctx, t, th, use, scratch, json_push(threads, json_obj()),
					err);
		if (i > 0 && rsys_fini(&trs, ret < 0 ? NULL : err) < 0 && ret == 0)
			ret = -err->code;
	}
out:
	if (scratch) {
		ckpt_err_t e2 = {0};
		int r2 = RSYS(&rs, &r, &e2, SYS_munmap, scratch, SCRATCH_SIZE, 0, 0, 0, 0);

		if (r2 < 0 || r < 0)
			pr_warn("task %d: unmap scratch memory failed, ignoring", t->pid);
	}
	if (rsys_fini(&rs, ret < 0 ? NULL : err) < 0 && ret == 0)
		ret = -err->code;
	return ret;
}

/*
 * task-PID.json written as soon as the task is dumped, and freed: the
 * dump holds one task's document at a time, not the tree's. What
 * pstree.json takes from it (comm) is kept.
 */
static int task_doc_put(struct ckpt_ctx *ctx, struct task *t, ckpt_err_t *err)
{
	const struct doc_at at = DOC_TOP("task");
	const char *comm = NULL;
	char name[64];
	int ret;

	/* our own document: comm is a string if it is there at all */
	if (doc_opt_str(&at, t->doc, "comm", sizeof(t->comm) - 1, &comm, NULL) == 0 && comm)
		snprintf(t->comm, sizeof(t->comm), "%s", comm);
	snprintf(name, sizeof(name), "task-%d.json", t->ns_pid);
	ret = bundle_put_json(ctx->bundle, name, t->doc, err);
	json_free(t->doc);
	t->doc = NULL;
	return ret;
}

static int task_dump(struct ckpt_ctx *ctx, struct task *t, struct files_dctx *fc, ckpt_err_t *err)
{
	int ret;

	t->doc = json_obj();
	json_set(t->doc, "pid", json_int(t->ns_pid));
	if (t->state == 'Z') {
		json_set(t->doc, "zombie", json_bool(true));
		json_set(t->doc, "exit_code", json_int(t->exit_code));
		goto write;
	}
	for (int i = 0; i < t->nthreads; i++) {
		ret = regs_dump(&t->threads[i], err);
		if (ret < 0)
			return ret;
	}
	ret = task_dump_remote(ctx, t, err);
	if (ret < 0)
		return ret;
	ret = mem_dump(ctx, t, err);
	if (ret < 0)
		return ret;
	ret = files_dump_task(t->pid, t->procfd, t->doc, fc, err);
	if (ret < 0)
		return ret;
write:
	return task_doc_put(ctx, t, err);
}

/* The namespaces the tree owns (ns.json and one file per namespace). */
static int namespaces_dump(struct ckpt_ctx *ctx, bool own_cgroup, ckpt_err_t *err)
{
	cleanup_free pid_t *pids = xzalloc(ctx->ntasks * sizeof(pid_t));

	for (int i = 0; i < ctx->ntasks; i++)
		pids[i] = ctx->tasks[i]->pid;
	return ns_dump_all(ctx->bundle, ctx->root->pid, pids, ctx->ntasks, own_cgroup, err);
}

/* path made absolute (journal entries are undone from any directory) */
static char *abs_path(const char *path)
{
	cleanup_free char *cwd = NULL;

	if (path[0] == '/')
		return xstrdup(path);
	cwd = getcwd(NULL, 0);
	return xasprintf("%s/%s", cwd ? cwd : ".", path);
}

/*
 * One checkpoint of a tree at a time, whatever names it (a container's
 * name, the --pid of its init): the lock is on the root's pid and start
 * time, under /run/ckpt-oci, removed when released.
 */
int tree_lock(pid_t root, char **path, ckpt_err_t *err)
{
	unsigned long long start = journal_starttime(root);
	int fd;

	if (!start)
		return ckpt_error_msg(err, ESRCH, "no process with pid %d", root);
	*path = xasprintf(LOCKFILE_DIR "/tree-%d-%llu.lock", root, start);
	fd = lockfile_take(*path, err);
	if (fd == -EBUSY)
		return ckpt_error_msg(err, EBUSY,
				      "the tree of %d is busy: another checkpoint "
				      "of it is running",
				      root);
	return fd;
}

/*
 * With a cgroup of its own the tree is frozen, every thread attached in one
 * pass, then thawed into its ptrace stop; otherwise threads are seized one
 * by one until no new one shows up.
 */
int seize_frozen_or_not(struct ckpt_ctx *ctx, const struct ckpt_dump_opts *o, struct freezer *fz,
			ckpt_err_t *err)
{
	int ret;

	cleanup_free char *cg = NULL;
	int j;

	ret = freezer_find(fz, o->pid, o->cgroup, err);
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret < 0)
		return ret;
	if (fz->dirfd < 0)
		return seize_tree(ctx, o->pid, err);
	cg = abs_path(fz->path);
	j = journal_add("thaw", "%s", cg);
	ret = freezer_freeze(fz, err);
	if (ret == 0) {
		ctx->defer_wait = true;
		ret = seize_tree(ctx, o->pid, err);
		ctx->defer_wait = false;
		freezer_thaw(fz); /* even a paused tree's: only thawed do tasks reach the stop */
	}
	journal_done(j);
	if (ret == 0)
		ret = seize_wait_all(ctx, err);
	if (ret == 0)
		ret = seize_tree(ctx, o->pid, err); /* nothing new expected; catches races */
	return ret;
}

/* Resume the tree; one that was frozen (paused) is frozen again first. */
void release_tree(struct ckpt_ctx *ctx, struct freezer *fz)
{
	ckpt_err_t e = {0};

	if (freezer_restore_state(fz, &e) < 0)
		pr_warn("%s: the tree was frozen before, runs now", e.msg);
	seize_release(ctx);
}

/* Documents the caller adds as they are (oci/: the container's config.json). */
static int extra_dump(struct ckpt_ctx *ctx, const struct ckpt_dump_opts *o, ckpt_err_t *err)
{
	for (int i = 0; i < o->nextra; i++) {
		const struct ckpt_extra_file *x = &o->extra[i];
		cleanup_json struct json *doc = NULL;
		int ret;

		if (!*x->name || strchr(x->name, '/'))
			return ckpt_error_msg(err, EINVAL, "bad bundle file name `%s`", x->name);
		ret = json_parse(x->json, strlen(x->json), &doc, err);
		if (ret == 0)
			ret = bundle_put_json(ctx->bundle, x->name, doc, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "%s", x->name);
	}
	return 0;
}

static void open_log(const char *work_dir, const char *bundle, const char *name, bool verbose)
{
	cleanup_free char *copy = xstrdup(bundle);
	cleanup_free char *path = NULL;
	ckpt_err_t err = {0};

	log_set_stderr_level(verbose ? LOG_INFO : LOG_WARN);
	path = xasprintf("%s/%s", work_dir ? work_dir : dirname(copy), name);
	if (log_open_file(path, &err) < 0)
		pr_warn("%s, no debug log", err.msg);
}

/*
 * The log opened, the bundle created (its temporary directory journaled,
 * so a killed checkpoint leaves nothing) and the caller's documents added.
 */
int dump_open(struct ckpt_dump_opts *o, struct ckpt_ctx *ctx, int *j_tmp, ckpt_err_t *err)
{
	cleanup_free char *tmp_path = NULL;
	int ret;

	/*
	 * Each task's memory dump takes an 8 MiB copy buffer with calloc().
	 * Once the first was freed, glibc's sliding mmap threshold serves the
	 * next ones from the heap and zeroes all 8 MiB each time: 1000 tasks
	 * spent more CPU in memset than in everything else. A fixed threshold
	 * keeps big buffers in fresh mmaps, where only the bytes used cost.
	 */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	open_log(o->work_dir, o->bundle, "dump.log", o->verbose);
	pr_info("checkpoint of %d into %s", o->pid, o->bundle);
	tmp_path = abs_path(o->bundle);
	*j_tmp = journal_add("rmtree", "%s.tmp", tmp_path);
	ret = bundle_create(o->bundle, &(struct bundle_auth){.key_file = o->key_file}, &ctx->bundle,
			    err);
	if (ret < 0)
		return ret;
	if (o->no_sync)
		bundle_set_no_sync(ctx->bundle);
	ctx->live_pages = o->live_pages && !o->compress && !o->encrypt_key;
	if (o->compress || o->encrypt_key) {
		struct bundle_seal_opts so = {.zstd = o->compress,
					      .level = o->compress_level,
					      .key_file = o->encrypt_key};

		ret = bundle_seal(ctx->bundle, &so, err);
		if (ret < 0)
			return ret;
	}
	return extra_dump(ctx, o, err);
}

/* The tree's network namespaces locked (journaled: recover takes the lock away). */
static int dump_lock_net(struct ckpt_ctx *ctx, int *j_net, bool *locked, ckpt_err_t *err)
{
	int ret;

	*j_net = journal_add("netlock", "%d %llu", ctx->root->pid,
			     journal_starttime(ctx->root->pid));
	ret = ns_lock_all(ctx->root->pid, err);
	*locked = ret == 0;
	return ret;
}

/* Every task, then what is dumped once all are: shared files, the tree. */
static int dump_tasks(struct ckpt_ctx *ctx, struct files_dctx *fc, ckpt_err_t *err)
{
	int ret = 0;

	/* the tree's tasks: whose terminal is whose (files/tty.c) */
	fc->tree_pids = xzalloc((ctx->ntasks + 1) * sizeof(*fc->tree_pids));
	for (int i = 0; i < ctx->ntasks; i++)
		fc->tree_pids[fc->ntree_pids++] = ctx->tasks[i]->pid;
	for (int i = 0; ret == 0 && i < ctx->ntasks; i++) {
		ret = ckpt_abort_check(err);
		if (ret == 0)
			ret = task_dump(ctx, ctx->tasks[i], fc, err);
		if (ret < 0)
			ckpt_error_wrap(err, "task %d", ctx->tasks[i]->pid);
	}
	if (ret == 0)
		ret = files_dump_finish(fc, err);
	if (ret == 0)
		ret = pstree_dump(ctx, err);
	return ret;
}

/*
 * Seize the tree, dump its namespaces (locked once dumped), its tasks and
 * what the caller adds while it is frozen, and commit the bundle; an
 * abort is answered between steps, until the commit.
 */
static int dump_frozen(struct ckpt_ctx *ctx, struct ckpt_dump_opts *o, struct freezer *fz,
		       struct files_dctx *fc, int *j_net, bool *locked, ckpt_err_t *err)
{
	int ret = seize_frozen_or_not(ctx, o, fz, err);

	if (ret == 0)
		ret = pstree_collect(ctx, err);
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret == 0)
		ret = namespaces_dump(ctx, o->own_cgroup, err);
	/* after the namespaces: the ruleset saved must not hold the lock */
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret == 0)
		ret = dump_lock_net(ctx, j_net, locked, err);
	if (ret == 0)
		ret = dump_tasks(ctx, fc, err);
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret == 0 && o->frozen)
		ret = o->frozen(o, ctx->bundle, err);
	if (ret == 0 && ctx->incr)
		ret = mem_incr_chain_put(ctx->bundle, ctx->incr, false, o->pid, NULL, err);
	/* the last point where an abort is answered: nothing is kept after it */
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret == 0)
		ret = bundle_commit(ctx->bundle, err);
	return ret;
}

/* live_pages: each task's memory, for the committed hook's page server. */
static struct ckpt_live_task *live_open(struct ckpt_ctx *ctx, ckpt_err_t *err)
{
	struct ckpt_live_task *live = xzalloc((ctx->ntasks + 1) * sizeof(*live));

	for (int i = 0; i < ctx->ntasks; i++) {
		live[i].ns_pid = ctx->tasks[i]->ns_pid;
		live[i].memfd = openat(ctx->tasks[i]->procfd, "mem", O_RDONLY | O_CLOEXEC);
		if (live[i].memfd < 0) {
			ckpt_error(err, errno, "open /proc/%d/mem", ctx->tasks[i]->pid);
			while (i-- > 0)
				close(live[i].memfd);
			free(live);
			return NULL;
		}
	}
	return live;
}

static void live_close(struct ckpt_dump_opts *o)
{
	for (int i = 0; i < o->nlive; i++)
		close(o->live[i].memfd);
	free((void *)o->live);
	o->live = NULL;
	o->nlive = 0;
}

/* The tree runs on as it was: sockets out of repair, network unlocked, tasks released. */
static void dump_release(struct ckpt_ctx *ctx, struct files_dctx *fc, struct freezer *fz,
			 bool locked, int j_net)
{
	inet_dump_release(fc, false);
	if (locked)
		ns_unlock_all(ctx->root->pid);
	journal_done(j_net);
	release_tree(ctx, fz);
}

int ckpt_dump(struct ckpt_dump_opts *o, ckpt_err_t *err)
{
	struct ckpt_ctx ctx = {0};
	struct files_dctx fc = {0};
	struct freezer fz = {.dirfd = -1};
	struct mem_incr incr = {0};
	uint64_t t0 = now_ns(), t_frozen = 0, t_end = 0;
	unsigned long long root_start = journal_starttime(o->pid);
	cleanup_free char *lock_path = NULL;
	int ret, lock, j_tmp = -1, j_net = -1;
	bool locked = false;

	if (o->pre_dump)
		return ckpt_predump(o, err);
	if (geteuid() != 0)
		return ckpt_error_msg(err, EPERM, "checkpoint needs root");
	lock = tree_lock(o->pid, &lock_path, err);
	if (lock < 0)
		return lock;
	/* the chain is checked before anything changes */
	if (o->parent) {
		ret = mem_incr_open(&incr, o->parent, o->bundle,
				    &(struct bundle_auth){.key_file = o->key_file,
							  .seal_key_file = o->encrypt_key},
				    o->pid, err);
		if (ret < 0)
			goto out;
		ctx.incr = &incr;
	}
	ret = dump_open(o, &ctx, &j_tmp, err);
	if (ret < 0)
		goto out;
	fc.bundle = ctx.bundle;
	fc.ghost_limit = o->ghost_limit;
	fc.tcp_established = o->tcp_established;
	fc.ext_unix_sk = o->ext_unix_sk;
	fc.skip_in_flight = o->skip_in_flight;
	o->frozen_at = t_frozen = now_ns();
	ret = dump_frozen(&ctx, o, &fz, &fc, &j_net, &locked, err);
	if (ret == 0 && ctx.live_pages) {
		o->live = live_open(&ctx, err);
		o->nlive = o->live ? ctx.ntasks : 0;
		o->pages_copied = ctx.live_npages;
		ret = o->live ? 0 : -err->code;
	}
	if (ret < 0) {
		dump_release(&ctx, &fc, &fz, locked, j_net);
		pr_info("checkpoint failed, tree left running: %s", err->msg);
		goto out;
	}
	/* the bundle is whole, the tree still stopped: the caller decides (migrate) */
	ret = o->committed ? o->committed(o, err) : 0;
	live_close(o);
	if (ret < 0) {
		dump_release(&ctx, &fc, &fz, locked, j_net);
		pr_info("tree left running: %s", err->msg);
		goto out;
	}
	if (o->leave_stopped) {
		/* migrate: neither resumed nor killed (held.c) */
		/* its network stays locked: node B may answer for its addresses now */
		held_stop(&ctx, locked);
		dump_release(&ctx, &fc, &fz, false, j_net);
		held_freeze(&ctx, &fz);
		t_end = now_ns();
	} else if (o->leave_running) {
		dump_release(&ctx, &fc, &fz, locked, j_net);
		t_end = now_ns();
	} else {
		ret = seize_kill(&ctx, &t_end, err);
		inet_dump_release(&fc, true);
		journal_done(j_net); /* the lock stays: it goes with the tree's namespace */
		track_stop(o->pid, root_start); /* nothing left to track */
	}
	if (ctx.incr)
		pr_info("%llu pages referenced in the parent `%s`", (unsigned long long)incr.nref,
			o->parent);
	/* frozen: from the first thread stopped until the tree resumed or was killed */
	o->frozen_ns = t_end - t_frozen;
	pr_info("checkpoint done: %d tasks, frozen %.3f s, total %.3f s, peak RSS %ld KiB",
		ctx.ntasks, (t_end - t_frozen) / 1e9, (now_ns() - t0) / 1e9, peak_rss_kib());
out:
	freezer_close(&fz);
	bundle_close(ctx.bundle);
	journal_done(j_tmp);
	files_dump_free(&fc);
	json_free(fc.doc);
	ctx_free(&ctx);
	mem_incr_free(&incr);
	log_close_file();
	lockfile_release(lock_path, lock);
	return ret;
}
