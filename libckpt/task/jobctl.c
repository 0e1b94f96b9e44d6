/*
 * libckpt/task/jobctl.c - job control: a process stopped by a stop signal
 * (task-PID.json "stop_signal": SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU; a
 * group stop still in progress counts as stopped) comes back stopped by
 * the same signal, and goes on at SIGCONT.
 *
 * Seize reports a group-stopped thread's stop with its stop signal. At
 * restore the stop is entered while we still trace the task, before its
 * registers are set: a SIGSTOP to the leader, turned into the saved stop
 * signal at its delivery stop, with every other signal blocked so none of
 * its pending ones (a handled SIGTERM) is taken first; then each thread
 * joins the group stop. Detached, the task stays stopped without running
 * a single instruction. Its parent is told of the stop again (SIGCHLD,
 * waitpid WUNTRACED): whether it had already waited for it is not
 * something the kernel shows.
 */
#define LOG_PREFIX "jobctl: "
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/util.h"

static bool stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static int jobctl_dump(struct task_dump *d, ckpt_err_t *err)
{
	int sig = 0;

	for (int i = 0; i < d->t->nthreads && !sig; i++)
		if (stop_signal(d->t->threads[i].stop_sig))
			sig = d->t->threads[i].stop_sig;
	if (!sig && d->t->state == 'T')
		sig = SIGSTOP; /* stopped, by a signal seize did not see */
	json_set(d->out, "stop_signal", json_int(sig));
	return 0;
}

static int jobctl_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "stop_signal");
	int64_t sig;
	int ret = doc_opt_int(at, doc, "stop_signal", 0, 64, 0, &sig, err);

	if (ret == 0 && sig && !stop_signal(sig))
		return doc_error(err, &k, "signal %lld does not stop a task", (long long)sig);
	ts->stop_signal = sig;
	return ret;
}

/*
 * A stop signal other than SIGSTOP is discarded in an orphaned process
 * group: one where no member has a parent in another group of its
 * session. The parent of the tree's root is ckpt-oci.
 */
static bool pgrp_orphaned(const struct rctx *rc, const struct rtask *t)
{
	for (int i = 0; i < rc->ntasks; i++) {
		const struct rtask *m = &rc->tasks[i];
		pid_t ppgid = m->parent ? m->parent->pgid : getpgrp();
		pid_t psid = m->parent ? m->parent->sid : getsid(0);

		if (m->pgid == t->pgid && ppgid != t->pgid && psid == m->sid)
			return false;
	}
	return true;
}

/* Run tid until its next stop; *status as waitpid gives it. */
static int cont_wait(pid_t tid, int sig, int *status, ckpt_err_t *err)
{
	if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)sig) < 0)
		return ckpt_error(err, errno, "thread %d: resume", tid);
	return rsys_wait_stop(tid, status, err);
}

static int jobctl_restore_end(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int sig = t->state->stop_signal, status, ret;
	pid_t leader = t->rs.tid;
	uint64_t mask;

	if (!sig)
		return 0;
	if (sig != SIGSTOP && pgrp_orphaned(rc, t)) {
		pr_warn("task %d: stopped by signal %d, comes back stopped by SIGSTOP: its process "
			"group is orphaned here",
			t->pid, sig);
		sig = SIGSTOP;
	}
	mask = ~(1ULL << (sig - 1));
	if (ptrace(PTRACE_SETSIGMASK, leader, sizeof(mask), &mask) < 0)
		return ckpt_error(err, errno, "thread %d: signal mask", leader);
	if (syscall(SYS_tgkill, t->host_pid, leader, SIGSTOP) < 0)
		return ckpt_error(err, errno, "task %d: SIGSTOP", t->pid);
	ret = cont_wait(leader, 0, &status, err);
	/* the SIGSTOP's delivery stop: deliver the saved stop signal instead */
	if (ret == 0 && status >> 16 == 0 && WSTOPSIG(status) == SIGSTOP)
		ret = cont_wait(leader, sig, &status, err);
	if (ret == 0 && status >> 16 != PTRACE_EVENT_STOP)
		ret = ckpt_error_msg(err, EIO, "thread %d: stop 0x%x, not a group stop", leader,
				     status);
	/* every other thread joins the group stop as it resumes */
	for (int i = 1; ret == 0 && i < t->nthreads; i++) {
		pid_t tid = t->threads[i].host_tid;

		ret = cont_wait(tid, 0, &status, err);
		if (ret == 0 && status >> 16 != PTRACE_EVENT_STOP)
			ret = ckpt_error_msg(err, EIO, "thread %d: stop 0x%x, not a group stop",
					     tid, status);
	}
	return ret < 0 ? ckpt_error_wrap(err, "stop by signal %d", sig) : 0;
}

static void jobctl_describe(FILE *out, const struct task_state *ts)
{
	if (ts->stop_signal)
		fprintf(out, "  stopped: by SIG%s\n", sigabbrev_np(ts->stop_signal));
}

const struct task_state_ops task_jobctl_ops = {
	.name = "jobctl",
	.dump = jobctl_dump,
	.parse = jobctl_parse,
	.restore_end = jobctl_restore_end,
	.describe = jobctl_describe,
};
