/*
 * libckpt/task/sched.c - how each thread is scheduled: policy and priority
 * (threads[i].sched_policy, sched_priority), nice value ("nice") and timer
 * slack ("timer_slack_ns"). Policy and nice are set from outside, by tid;
 * the timer slack only by the thread itself.
 */
#define LOG_PREFIX "sched: "
#include <errno.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/util.h"

static int sched_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	struct sched_param sp;
	int policy;
	long r;
	int ret;

	errno = 0;
	r = getpriority(PRIO_PROCESS, th->tid);
	if (errno)
		return ckpt_error(err, errno, "thread %d: getpriority", th->tid);
	json_set(d->out, "nice", json_int(r));
	ret = RSYS(d->rs, &r, err, SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	json_set(d->out, "timer_slack_ns", json_int(r));
	policy = sched_getscheduler(th->tid);
	if (policy < 0 || sched_getparam(th->tid, &sp) < 0)
		return ckpt_error(err, errno, "thread %d: scheduling policy", th->tid);
	json_set(d->out, "sched_policy", json_int(policy));
	json_set(d->out, "sched_priority", json_int(sp.sched_priority));
	return 0;
}

static const struct doc_field sched_fields[] = {
	DOC_INT(struct thread_state, nice, "nice", -20, 19),
	DOC_INT(struct thread_state, sched_policy, "sched_policy", 0, SCHED_RESET_ON_FORK | 7),
	DOC_INT(struct thread_state, sched_priority, "sched_priority", 0, 99),
	DOC_END,
};

static int sched_parse_thread(const struct doc_at *at, const struct json *th,
			      struct thread_state *ts, ckpt_err_t *err)
{
	int ret = doc_read(at, th, sched_fields, ts, err);

	ts->has_timer_slack = json_get(th, "timer_slack_ns") != NULL;
	if (ret == 0)
		ret = doc_opt_u64(at, th, "timer_slack_ns", UINT64_MAX, 0, &ts->timer_slack_ns,
				  err);
	return ret;
}

static int sched_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct sched_param sp = {.sched_priority = ts->sched_priority};
	int ret;

	(void)rc;
	if (ts->has_timer_slack) {
		ret = rsys_queue(rthread_rsys(t, th), 0, 0, SYS_prctl,
				 (uint64_t[6]){PR_SET_TIMERSLACK, ts->timer_slack_ns}, err,
				 "timer slack: prctl");
		if (ret < 0)
			return ret;
	}
	if (sched_setscheduler(th->host_tid, ts->sched_policy, &sp) < 0)
		return ckpt_error(err, errno, "scheduling policy %d", ts->sched_policy);
	if (setpriority(PRIO_PROCESS, th->host_tid, ts->nice) < 0)
		return ckpt_error(err, errno, "nice value");
	return 0;
}

const struct task_state_ops task_sched_ops = {
	.name = "sched",
	.dump_thread = sched_dump_thread,
	.parse_thread = sched_parse_thread,
	.restore_thread = sched_restore_thread,
};
