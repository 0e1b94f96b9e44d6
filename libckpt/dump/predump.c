/*
 * libckpt/dump/predump.c - `checkpoint --pre-dump`: the tree's memory
 * copied while it runs, and dirty-page tracking started (mem-track.c), so
 * that the final checkpoint (--parent) stops the tree only for the pages
 * written since.
 *
 *   lock the tree -> check the parent (--parent) -> create the bundle ->
 *   seize the tree -> per task: its uffd (made in it, or the tracker's),
 *   the pages written since the parent's arm read and armed again, new
 *   VMAs registered -> release the tree -> per task, running: copy every
 *   private page but those the parent holds and nobody wrote ->
 *   chain.json -> commit -> the uffds to a new tracker.
 *
 * The tree is stopped only while tracking starts; it never sees the uffd
 * (closed in it at once). A pre-dump bundle holds pages only
 * (pages-PID.img, pagemap-PID.json, parentmap-PID.json, chain.json) and is
 * not restorable by itself. Once arming starts, the previous arm is gone:
 * the state says no bundle matches it until this one is committed.
 */
#define LOG_PREFIX "predump: "
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "dump/dump.h"
#include "mem/mem-incr.h"
#include "util/abort.h"
#include "util/journal.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

struct predump {
	struct mem_incr incr;
	struct track_task *tasks; /* one per live task: our copy of its uffd */
	struct mem_ranges *refs;  /* per ctx task */
	size_t ntasks;
	char id[TRACK_ID_LEN + 1];
};

/* The tree stopped: tracking started or armed again in every task. */
static int predump_arm(struct ckpt_ctx *ctx, struct predump *p, bool rearm, ckpt_err_t *err)
{
	p->tasks = xzalloc((ctx->ntasks + 1) * sizeof(*p->tasks));
	p->refs = xzalloc((ctx->ntasks + 1) * sizeof(*p->refs));
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];
		struct mem_ranges tracked = {0}, written = {0}, cover = {0}, both = {0};
		uint64_t sc;
		int fd = -1, ret;

		if (t->state == 'Z')
			continue;
		sc = rsys_find_syscall(t->pid);
		if (!sc) {
			pr_info("task %d has no syscall instruction: saved whole", t->pid);
			continue;
		}
		ret = track_task_arm(&p->incr.track, t->pid, t->threads[0].tid, sc, rearm, &fd,
				     &tracked, &written, err);
		if (ret == 0 && rearm && fd >= 0)
			ret = mem_incr_coverage(&p->incr, t->ns_pid, &cover, err);
		if (ret == 0 && rearm && fd >= 0) {
			ranges_and(&tracked, &cover, &both);
			ranges_sub(&both, &written, &p->refs[i]);
		}
		ranges_free(&tracked);
		ranges_free(&written);
		ranges_free(&cover);
		ranges_free(&both);
		if (ret < 0) {
			if (fd >= 0)
				close(fd);
			return ckpt_error_wrap(err, "task %d", t->pid);
		}
		if (fd >= 0)
			p->tasks[p->ntasks++] = (struct track_task){
				.pid = t->pid, .start = journal_starttime(t->pid), .fd = fd};
	}
	return 0;
}

/* Whether t ended (a zombie, or reaped) since it was seized. */
static bool task_ended(const struct task *t)
{
	struct proc_stat st;
	ckpt_err_t e = {0};

	if (proc_read_stat(t->procfd, &st, &e) < 0)
		return true; /* its /proc directory is gone with it */
	return st.state == 'Z' || st.state == 'X';
}

/*
 * The tree running: every task's pages but the referenced ones. A task
 * that ends while it is copied (a shell's command) is left out, as one
 * gone before its turn is; its partial image went with the failed copy.
 */
static int predump_copy(struct ckpt_ctx *ctx, struct predump *p, ckpt_err_t *err)
{
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];
		int ret;

		if (t->state == 'Z')
			continue;
		/* an interrupt (util/abort.h) ends the pre-dump between tasks */
		ret = ckpt_abort_check(err);
		if (ret < 0)
			return ret;
		if (journal_starttime(t->pid) == 0) {
			pr_info("task %d exited meanwhile", t->pid);
			continue;
		}
		ret = mem_incr_copy_running(
			ctx->bundle, t->pid,
			t->parent && t->parent->state != 'Z' ? t->parent->pid : 0, t->ns_pid,
			&p->refs[i], &p->incr.ncopied, &p->incr.nref, err);
		if (ret < 0 && task_ended(t)) {
			pr_info("task %d exited during its copy (%s): left out", t->pid, err->msg);
			ckpt_error_clear(err);
			continue;
		}
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d", t->pid);
	}
	return 0;
}

static void predump_free(struct ckpt_ctx *ctx, struct predump *p)
{
	for (size_t i = 0; i < p->ntasks; i++)
		close(p->tasks[i].fd);
	for (int i = 0; p->refs && i < ctx->ntasks; i++)
		ranges_free(&p->refs[i]);
	free(p->refs);
	free(p->tasks);
	mem_incr_free(&p->incr);
}

int ckpt_predump(struct ckpt_dump_opts *o, ckpt_err_t *err)
{
	struct ckpt_ctx ctx = {0};
	struct freezer fz = {.dirfd = -1};
	struct predump p = {0};
	uint64_t t0 = now_ns(), t_frozen = 0, t_thawed = 0;
	cleanup_free char *lock_path = NULL;
	uint8_t rnd[TRACK_ID_LEN / 2];
	int ret, lock, j_tmp = -1;
	bool seized = false;

	if (geteuid() != 0)
		return ckpt_error_msg(err, EPERM, "checkpoint needs root");
	lock = tree_lock(o->pid, &lock_path, err);
	if (lock < 0)
		return lock;
	if (o->parent)
		ret = mem_incr_open(&p.incr, o->parent, o->bundle,
				    &(struct bundle_auth){.key_file = o->key_file,
							  .seal_key_file = o->encrypt_key},
				    o->pid, err);
	else
		ret = track_state_load(o->pid, &p.incr.track, err);
	if (ret == 0)
		ret = dump_open(o, &ctx, &j_tmp, err);
	if (ret < 0)
		goto out;
	randombytes_buf(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(p.id + 2 * i, 3, "%02x", rnd[i]);
	t_frozen = now_ns();
	ret = seize_frozen_or_not(&ctx, o, &fz, err);
	seized = true;
	if (ret == 0)
		ret = pstree_collect(&ctx, err);
	/* the arm about to be replaced matches no bundle once it starts */
	if (ret == 0)
		track_state_invalidate(o->pid);
	if (ret == 0)
		ret = predump_arm(&ctx, &p, o->parent && p.incr.tracked, err);
	release_tree(&ctx, &fz);
	seized = false;
	t_thawed = now_ns();
	if (ret == 0)
		ret = predump_copy(&ctx, &p, err);
	if (ret == 0)
		ret = ckpt_abort_check(err);
	if (ret == 0)
		ret = mem_incr_chain_put(ctx.bundle, o->parent ? &p.incr : NULL, true, o->pid, p.id,
					 err);
	if (ret == 0)
		ret = bundle_commit(ctx.bundle, err);
	if (ret == 0)
		ret = track_state_commit(&p.incr.track, p.tasks, p.ntasks, p.id, err);
	if (ret < 0)
		goto out;
	o->frozen_ns = t_thawed - t_frozen;
	o->pages_copied = p.incr.ncopied;
	pr_info("pre-dump done: %d tasks, %zu tracked, %llu pages copied, %llu referenced, "
		"frozen %.3f s, total %.3f s",
		ctx.ntasks, p.ntasks, (unsigned long long)p.incr.ncopied,
		(unsigned long long)p.incr.nref, (t_thawed - t_frozen) / 1e9,
		(now_ns() - t0) / 1e9);
out:
	if (seized)
		release_tree(&ctx, &fz);
	if (ret < 0)
		pr_info("pre-dump failed, tree left running: %s", err->msg);
	freezer_close(&fz);
	bundle_close(ctx.bundle);
	journal_done(j_tmp);
	predump_free(&ctx, &p);
	ctx_free(&ctx);
	log_close_file();
	lockfile_release(lock_path, lock);
	return ret;
}
