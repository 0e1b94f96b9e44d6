/*
 * libckpt/task/fdtable.c - fd tables, which the restore cannot share other
 * than as usual: every process gets a table of its own, every thread its
 * process's. A process sharing its table with another (clone CLONE_FILES
 * without CLONE_THREAD), or a thread with a table of its own (a thread
 * that called unshare(CLONE_FILES), or clone CLONE_THREAD without
 * CLONE_FILES), would come back with the sharing changed: dump compares
 * the tables with kcmp(KCMP_FILES) and refuses such a task in one line.
 * Nothing of this goes in task-PID.json.
 */
#define LOG_PREFIX "fdtable: "
#include <errno.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "task/task.h"
#include "util/util.h"

/* 0: the same fd table; else different (or unknown: a task gone). */
static long same_files(pid_t a, pid_t b)
{
	return syscall(SYS_kcmp, a, b, KCMP_FILES, 0, 0);
}

static int fdtable_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct ckpt_ctx *ctx = d->ctx;
	struct task *t = d->t;

	for (int i = 1; i < t->nthreads; i++)
		if (same_files(t->pid, t->threads[i].tid) > 0)
			return ckpt_error_msg(err, ENOTSUP,
					      "thread %d has an fd table of its own (unshare or "
					      "clone without CLONE_FILES): not supported",
					      t->threads[i].tid);
	for (int i = 0; i < ctx->ntasks && ctx->tasks[i] != t; i++) {
		const struct task *o = ctx->tasks[i];

		if (o->state != 'Z' && same_files(o->pid, t->pid) == 0)
			return ckpt_error_msg(err, ENOTSUP,
					      "its fd table is task %d's (clone CLONE_FILES "
					      "without CLONE_THREAD): not supported",
					      o->pid);
	}
	return 0;
}

const struct task_state_ops task_fdtable_ops = {
	.name = "fdtable",
	.dump = fdtable_dump,
};
