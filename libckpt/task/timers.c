/*
 * libckpt/task/timers.c - the process's interval timers (task-PID.json
 * "itimers": REAL, VIRTUAL, PROF) and POSIX timers ("posix_timers": id,
 * clock, notification, value, interval), read through getitimer and
 * timer_gettime in the task and made again with setitimer and
 * timer_create (ids kept with PR_TIMER_CREATE_RESTORE_IDS).
 */
#define LOG_PREFIX "timers: "
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define POSIX_TIMERS_MAX 1000000

static int itimers_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct json *arr = json_set(d->out, "itimers", json_arr());

	for (int which = 0; which < 3; which++) {
		struct itimerval it;
		struct json *o;
		int ret;

		ret = RSYS_OK(d->rs, NULL, err, SYS_getitimer, which, rsys_at(d->rs, 0), 0, 0, 0,
			      0);
		if (ret == 0)
			ret = rsys_get(d->rs, 0, &it, sizeof(it), err);
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d: itimer %d", d->t->pid, which);
		o = json_push(arr, json_obj());
		json_set(o, "value_us",
			 json_int(it.it_value.tv_sec * 1000000LL + it.it_value.tv_usec));
		json_set(o, "interval_us",
			 json_int(it.it_interval.tv_sec * 1000000LL + it.it_interval.tv_usec));
	}
	return 0;
}

/*
 * A timer's notify target as the tree sees it: /proc/PID/timers shows it
 * in the pid namespace of ckpt-oci's /proc, and timer_create() at restore
 * takes it in the tree's (SIGEV_THREAD_ID). It is the task or one of its
 * threads; in a tree without its own pid namespace both are the same.
 */
static int timer_target_ns(const struct task *t, int id, pid_t host, pid_t *ns, ckpt_err_t *err)
{
	if (host == t->pid) {
		*ns = t->ns_pid;
		return 0;
	}
	for (int i = 0; i < t->nthreads; i++) {
		if (t->threads[i].tid == host) {
			*ns = t->threads[i].ns_tid;
			return 0;
		}
	}
	return ckpt_error_msg(err, ENOTSUP,
			      "task %d: POSIX timer %d notifies %d, not one of its threads", t->pid,
			      id, host);
}

static int posix_timer_times(struct task_dump *d, struct json *tm, int id, ckpt_err_t *err)
{
	struct itimerspec its;
	long r;
	int ret;

	ret = RSYS_OK(d->rs, NULL, err, SYS_timer_gettime, id, rsys_at(d->rs, 0), 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_get(d->rs, 0, &its, sizeof(its), err);
	if (ret == 0)
		ret = RSYS(d->rs, &r, err, SYS_timer_getoverrun, id, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d: POSIX timer %d", d->t->pid, id);
	json_set(tm, "value_ns",
		 json_int((int64_t)its.it_value.tv_sec * 1000000000LL + its.it_value.tv_nsec));
	json_set(
		tm, "interval_ns",
		json_int((int64_t)its.it_interval.tv_sec * 1000000000LL + its.it_interval.tv_nsec));
	json_set(tm, "overrun", json_int(r < 0 ? 0 : r));
	return 0;
}

/* Each POSIX timer of /proc/PID/timers (util/proc-task.c), with its times. */
static int posix_timers_dump(struct task_dump *d, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	cleanup_free struct proc_timer *tm = NULL;
	struct json *arr = json_set(d->out, "posix_timers", json_arr());
	int ret, n;

	ret = read_file_at(d->t->procfd, "timers", 1 << 20, &text, NULL, err);
	if (ret == 0)
		ret = proc_parse_timers(text, &tm, &n, err);
	for (int i = 0; ret == 0 && i < n; i++) {
		struct json *o = json_push(arr, json_obj());
		pid_t target = 0;

		json_set(o, "id", json_int(tm[i].id));
		if (tm[i].has_signal) {
			json_set(o, "signo", json_int(tm[i].signo));
			json_set(o, "sigval", json_hex(tm[i].sigval));
		}
		if (tm[i].has_notify) {
			json_set(o, "notify", json_str(tm[i].notify));
			json_set(o, "notify_thread", json_bool(tm[i].notify_thread));
			ret = timer_target_ns(d->t, tm[i].id, tm[i].notify_pid, &target, err);
			if (ret < 0)
				return ret;
			json_set(o, "notify_tid", json_int(target));
		}
		if (tm[i].has_clock)
			json_set(o, "clock", json_int(tm[i].clock));
		ret = posix_timer_times(d, o, tm[i].id, err);
	}
	return ret;
}

static int timers_dump(struct task_dump *d, ckpt_err_t *err)
{
	int ret = itimers_dump(d, err);

	return ret < 0 ? ret : posix_timers_dump(d, err);
}

static const struct doc_field itimer_fields[] = {
	DOC_INT(struct itimer_state, value_us, "value_us", 0, INT64_MAX),
	DOC_INT(struct itimer_state, interval_us, "interval_us", 0, INT64_MAX),
	DOC_END,
};

static const struct doc_field posix_timer_fields[] = {
	DOC_INT(struct posix_timer_state, id, "id", 0, INT32_MAX),
	DOC_INT(struct posix_timer_state, signo, "signo", 0, 64),
	DOC_HEX(struct posix_timer_state, sigval, "sigval", UINT64_MAX),
	DOC_INT(struct posix_timer_state, clock, "clock", INT32_MIN, INT32_MAX),
	DOC_OPT_BOOL(struct posix_timer_state, notify_thread, "notify_thread"),
	DOC_OPT_INT(struct posix_timer_state, notify_tid, "notify_tid", 0, DOC_PID_MAX),
	DOC_INT(struct posix_timer_state, value_ns, "value_ns", 0, INT64_MAX),
	DOC_INT(struct posix_timer_state, interval_ns, "interval_ns", 0, INT64_MAX),
	DOC_END,
};

static int timers_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			ckpt_err_t *err)
{
	struct doc_at ki = DOC_KEY(at, "itimers"), kp = DOC_KEY(at, "posix_timers");
	const struct json *arr, *o;
	int ret = doc_arr(at, doc, "itimers", 3, &arr, &ts->nitimers, err);

	for (size_t i = 0; ret == 0 && i < ts->nitimers; i++) {
		struct doc_at e = DOC_IDX(&ki, i);

		ret = doc_elem_obj(&ki, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, itimer_fields, &ts->itimers[i], err);
	}
	if (ret == 0)
		ret = doc_arr(at, doc, "posix_timers", POSIX_TIMERS_MAX, &arr, &ts->ntimers, err);
	if (ret < 0)
		return ret;
	ts->timers = xzalloc((ts->ntimers ?: 1) * sizeof(*ts->timers));
	for (size_t i = 0; i < ts->ntimers; i++) {
		struct posix_timer_state *tm = &ts->timers[i];
		struct doc_at e = DOC_IDX(&kp, i);
		const char *notify = NULL;

		ret = doc_elem_obj(&kp, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, posix_timer_fields, tm, err);
		if (ret == 0)
			ret = doc_opt_str(&e, o, "notify", 16, &notify, err);
		if (ret < 0)
			return ret;
		tm->notify_none = notify && !strcmp(notify, "none");
		if (tm->notify_thread && !tm->notify_tid) {
			struct doc_at n = DOC_KEY(&e, "notify_tid");

			return doc_error(err, &n, "missing for a thread notification");
		}
	}
	return 0;
}

/*
 * The kernel adds a tick to the value of a CPU-time itimer (VIRTUAL, PROF)
 * when it is set; measure that and take it off so the remaining time stays.
 */
static int itimer_set(struct rsys *rs, int which, int64_t v, int64_t iv, ckpt_err_t *err)
{
	struct itimerval it = {{iv / 1000000, iv % 1000000}, {v / 1000000, v % 1000000}};
	int64_t extra;
	uint64_t at;
	int ret;

	/* a real-time one gains nothing: queued */
	if (which == ITIMER_REAL) {
		ret = rsys_queue_data(rs, &it, sizeof(it), &at, err);
		return ret < 0 ? ret
			       : rsys_queue(rs, 0, 0, SYS_setitimer, (uint64_t[6]){which, at}, err,
					    "itimer %d: setitimer", which);
	}
	ret = rsys_put(rs, 0, &it, sizeof(it), err);
	if (ret == 0)
		ret = RSYS_OK(rs, NULL, err, SYS_setitimer, which, rsys_at(rs, 0), rsys_at(rs, 64),
			      0, 0, 0);
	if (ret < 0 || which == ITIMER_REAL)
		return ret;
	ret = RSYS_OK(rs, NULL, err, SYS_getitimer, which, rsys_at(rs, 64), 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_get(rs, 64, &it, sizeof(it), err);
	if (ret < 0)
		return ret;
	extra = it.it_value.tv_sec * 1000000LL + it.it_value.tv_usec - v;
	if (extra <= 0)
		return 0;
	v = v > extra ? v - extra : 1;
	it = (struct itimerval){{iv / 1000000, iv % 1000000}, {v / 1000000, v % 1000000}};
	ret = rsys_put(rs, 0, &it, sizeof(it), err);
	if (ret == 0)
		ret = RSYS_OK(rs, NULL, err, SYS_setitimer, which, rsys_at(rs, 0), 0, 0, 0, 0);
	return ret;
}

static int itimers_restore(struct rtask *t, ckpt_err_t *err)
{
	for (size_t which = 0; which < t->state->nitimers; which++) {
		int64_t v = t->state->itimers[which].value_us;
		int64_t iv = t->state->itimers[which].interval_us;
		int ret;

		/*
		 * value 0 with an interval: the timer fired and its SIGALRM is still
		 * queued (it comes back with the pending signals); the kernel would
		 * re-arm it one interval after that signal is taken. setitimer()
		 * with value 0 disarms and forgets the interval, so arm it one
		 * interval from now, which is where the re-arm would have put it.
		 */
		if (!v && !iv)
			continue;
		if (!v)
			v = iv;
		ret = itimer_set(&t->rs, which, v, iv, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "itimer %zu", which);
	}
	return 0;
}

static int posix_timer_restore(struct rtask *t, const struct posix_timer_state *tm, ckpt_err_t *err)
{
	struct rsys *rs = &t->rs;
	int64_t v = tm->value_ns, iv = tm->interval_ns;
	struct itimerspec its = {{iv / 1000000000, iv % 1000000000},
				 {v / 1000000000, v % 1000000000}};
	struct sigevent sev;
	int got = tm->id;
	long r;
	int ret;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_signo = tm->signo;
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)tm->sigval;
	sev.sigev_notify = tm->notify_none ? SIGEV_NONE : SIGEV_SIGNAL;
	if (tm->notify_thread) {
		sev.sigev_notify |= SIGEV_THREAD_ID;
		sev._sigev_un._tid = tm->notify_tid;
	}
	ret = rsys_put(rs, 0, &sev, sizeof(sev), err);
	if (ret == 0)
		ret = rsys_put(rs, 128, &got, sizeof(got), err);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_timer_create, tm->clock, rsys_at(rs, 0),
			   rsys_at(rs, 128), 0, 0, 0);
	/* a notify thread the tree's namespace lacks is EINVAL: name it */
	if (sev.sigev_notify & SIGEV_THREAD_ID)
		ret = rsys_check(ret, r, err, "timer_create (notify thread %d)",
				 sev._sigev_un._tid);
	else
		ret = rsys_check(ret, r, err, "timer_create");
	if (ret == 0)
		ret = rsys_get(rs, 128, &got, sizeof(got), err);
	if (ret < 0)
		return ret;
	if (got != tm->id)
		pr_warn("task %d: POSIX timer %d restored as %d", t->pid, tm->id, got);
	if (!v)
		return 0;
	ret = rsys_put(rs, 256, &its, sizeof(its), err);
	return ret < 0 ? ret
		       : RSYS_OK(rs, NULL, err, SYS_timer_settime, got, 0, rsys_at(rs, 256), 0, 0,
				 0);
}

static int posix_timers_restore(struct rtask *t, ckpt_err_t *err)
{
	long r;
	int ret;

	if (!t->state->ntimers)
		return 0;
	/* 6.17+: timer_create takes the id to use from *timerid */
	ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
		   PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	if (r < 0)
		pr_warn("task %d: kernel cannot restore POSIX timer ids", t->pid);
	for (size_t i = 0; i < t->state->ntimers; i++) {
		ret = posix_timer_restore(t, &t->state->timers[i], err);
		if (ret < 0)
			return ckpt_error_wrap(err, "POSIX timer %d", t->state->timers[i].id);
	}
	return RSYS(&t->rs, &r, err, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
		    PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0);
}

static int timers_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret = itimers_restore(t, err);

	(void)rc;
	return ret < 0 ? ret : posix_timers_restore(t, err);
}

static void timers_free(struct task_state *ts)
{
	free(ts->timers);
}

const struct task_state_ops task_timers_ops = {
	.name = "timers",
	.dump = timers_dump,
	.parse = timers_parse,
	.restore = timers_restore,
	.free = timers_free,
};
