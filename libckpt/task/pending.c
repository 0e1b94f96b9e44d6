/*
 * libckpt/task/pending.c - queued signals with their siginfo: the
 * process's queue (task-PID.json "shared_pending") and each thread's
 * ("pending"), read with PTRACE_PEEKSIGINFO and queued again at restore
 * with rt_sigqueueinfo / rt_tgsigqueueinfo from inside the task. Signals
 * that seize dequeued (a delivery stop) go back to the queue first.
 */
#define LOG_PREFIX "pending: "
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <time.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

static struct json *siginfo_list(pid_t tid, bool shared, ckpt_err_t *err)
{
	struct json *list = json_arr();
	siginfo_t si[32];

	for (uint64_t off = 0;; off += ARRAY_SIZE(si)) {
		struct __ptrace_peeksiginfo_args a = {
			.off = off,
			.flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
			.nr = ARRAY_SIZE(si),
		};
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);

		if (n < 0) {
			json_free(list);
			ckpt_error(err, errno, "thread %d: peek pending signals", tid);
			return NULL;
		}
		for (long i = 0; i < n; i++)
			json_push(list, json_hexbuf(&si[i], sizeof(si[i])));
		if (n < (long)ARRAY_SIZE(si))
			return list;
	}
}

static int pending_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct json *j = siginfo_list(d->t->pid, true, err);

	if (!j)
		return -err->code;
	json_set(d->out, "shared_pending", j);
	return 0;
}

static int pending_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	struct json *j;

	/* signals stolen while seizing go back to the queue first */
	for (int i = 0; i < th->nstolen; i++) {
		long r;
		int ret = rsys_put(d->rs, 0, &th->stolen[i], sizeof(siginfo_t), err);

		if (ret == 0)
			ret = RSYS(d->rs, &r, err, SYS_rt_tgsigqueueinfo, d->t->pid, th->tid,
				   th->stolen[i].si_signo, rsys_at(d->rs, 0), 0, 0);
		if (ret < 0)
			return ret;
	}
	j = siginfo_list(th->tid, false, err);
	if (!j)
		return -err->code;
	json_set(d->out, "pending", j);
	return 0;
}

static int pending_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			 ckpt_err_t *err)
{
	return task_siginfo_list(at, doc, "shared_pending", &ts->shared_pending, err);
}

static int pending_parse_thread(const struct doc_at *at, const struct json *th,
				struct thread_state *ts, ckpt_err_t *err)
{
	return task_siginfo_list(at, th, "pending", &ts->pending, err);
}

/* Drop whatever the fork of ckpt-oci has pending (SIGCHLD of zombies...). */
int rtask_prepare(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct timespec zero = {0, 0};
	struct rsys *rs = &t->rs;
	uint64_t all = ~0ULL;
	long r;
	int ret;

	(void)rc;
	ret = rsys_put(rs, 0, &zero, sizeof(zero), err);
	if (ret == 0)
		ret = rsys_put(rs, 64, &all, sizeof(all), err);
	for (int i = 0; ret == 0 && i < 128; i++) {
		ret = RSYS(rs, &r, err, SYS_rt_sigtimedwait, rsys_at(rs, 64), 0, rsys_at(rs, 0), 8,
			   0, 0);
		if (ret == 0 && r < 0)
			break;
	}
	return ret;
}

static int pending_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	(void)rc;
	return task_queue_signals(&t->rs, t->pid, 0, &t->state->shared_pending, err);
}

static int pending_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				  ckpt_err_t *err)
{
	(void)rc;
	return task_queue_signals(rthread_rsys(t, th), t->pid, th->tid,
				  &rthread_state(t, th)->pending, err);
}

static void pending_free(struct task_state *ts)
{
	free(ts->shared_pending.si);
	for (size_t i = 0; i < ts->nthreads; i++)
		free(ts->threads[i].pending.si);
}

const struct task_state_ops task_pending_ops = {
	.name = "pending",
	.dump = pending_dump,
	.dump_thread = pending_dump_thread,
	.parse = pending_parse,
	.parse_thread = pending_parse_thread,
	.restore = pending_restore,
	.restore_thread = pending_restore_thread,
	.free = pending_free,
};
