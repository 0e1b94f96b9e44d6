/*
 * libckpt/task/task.c - the table of task-state rooms and the walkers the
 * two pipelines call: dump (dump/dump.c, through task_dump_state and
 * thread_dump_state), parse (restore/restore.c, once per task document),
 * the puppeteer's steps (restore/restore.c: rtask_state, rthread_restore,
 * rtask_last) and inspect (task_state_describe). Also the steps that are
 * not a kind of state but the frame around them: process groups, the
 * creation of threads, and the registers put back at the very end.
 */
#define LOG_PREFIX "task: "
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

/*
 * The rooms in the order they run, at dump and at restore. The order is
 * kept from the engine's first puppeteer and matters:
 *  - signal actions before timers and pending signals, so nothing queued
 *    meets a default action; pending signals before rlimits, so a low
 *    RLIMIT_SIGPENDING cannot refuse the queue; prctl (parent-death signal,
 *    subreaper, chroot) after them, while the task is still privileged;
 *  - per thread, seccomp then credentials come last: a filter is loaded
 *    while the thread still has CAP_SYS_ADMIN (ptrace's SUSPEND_SECCOMP
 *    keeps it from judging our own later calls), and the credentials drop
 *    the privileges every earlier step needs (timens' unshare among them);
 *  - restore_last (dumpable) after every thread's credentials, since
 *    setresuid() resets it; then the scratch area goes, and restore_end
 *    (a stopped task enters its group stop) runs with no remote call
 *    left; the registers come after everything (rthread_regs).
 * At dump the pending room re-queues the signals seize took before it reads
 * the queues; fdtable (refusals only) comes last.
 */
static const struct task_state_ops *const rooms[] = {
	&task_signals_ops, &task_timers_ops, &task_rseq_ops,   &task_sched_ops,	  &task_pending_ops,
	&task_rlimits_ops, &task_prctl_ops,  &task_mm_ops,     &task_mmflags_ops, &task_timens_ops,
	&task_seccomp_ops, &task_creds_ops,  &task_jobctl_ops, &task_fdtable_ops,
};

/* ---- dump ---- */

int task_dump_state(struct ckpt_ctx *ctx, struct task *t, struct rsys *rs, uint64_t scratch,
		    ckpt_err_t *err)
{
	struct proc_stat st;
	struct task_dump d = {ctx, t, rs, t->doc, &st};
	int ret;

	/* the last 256 bytes hold code (rsys_run_code), the rest is data */
	rsys_set_scratch(rs, scratch, SCRATCH_SIZE - 256);
	ret = proc_read_stat(t->procfd, &st, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++) {
		if (!rooms[i]->dump)
			continue;
		ret = rooms[i]->dump(&d, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int thread_dump_state(struct ckpt_ctx *ctx, struct task *t, struct thread *th, struct rsys *rs,
		      uint64_t scratch, struct json *out, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("task/%d", th->tid);
	cleanup_close int tfd = openat(t->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_status st = {0};
	struct task_dump d = {ctx, t, rs, out, NULL, &st};
	int ret;

	rsys_set_scratch(rs, scratch, SCRATCH_SIZE - 256);
	if (tfd < 0)
		return ckpt_error(err, errno, "open /proc/%d/%s", t->pid, path);
	ret = proc_read_status(tfd, &st, err);
	if (ret < 0)
		return ret;
	json_set(out, "tid", json_int(th->ns_tid));
	json_set(out, "regs", regs_to_json(th));
	json_set(out, "sigmask", json_hex(th->sigmask));
	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++) {
		if (!rooms[i]->dump_thread)
			continue;
		ret = rooms[i]->dump_thread(&d, th, err);
		if (ret < 0)
			break;
	}
	proc_status_free(&st);
	return ret;
}

/* ---- parse ---- */

static bool sigtrap_in(const struct siginfo_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->si[i].si_signo == SIGTRAP)
			return true;
	return false;
}

/* SIGTRAP ignored, or pending for the process or a thread. */
static bool sigtrap_held(const struct task_state *ts)
{
	for (size_t i = 0; i < ts->nacts; i++)
		if (ts->acts[i].sig == SIGTRAP && ts->acts[i].ka.handler == (uint64_t)SIG_IGN)
			return true;
	for (size_t k = 0; k < ts->nthreads; k++)
		if (sigtrap_in(&ts->threads[k].pending))
			return true;
	return sigtrap_in(&ts->shared_pending);
}

void task_state_free(struct task_state *ts)
{
	if (!ts)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->free)
			rooms[i]->free(ts);
	free(ts->threads);
	free(ts->strs);
	free(ts);
}

/* Copy s into *p (advanced past it), or count its bytes when there is no block yet. */
static void str_own(const char **s, char **p, size_t *len)
{
	size_t n;

	if (!*s)
		return;
	n = strlen(*s) + 1;
	if (*p) {
		memcpy(*p, *s, n);
		*s = *p;
		*p += n;
	}
	*len += n;
}

/* The strings parsed (pointing into the document) copied into ts->strs. */
static void strs_own(struct task_state *ts)
{
	size_t len = 0;
	char *p = NULL;

	for (int pass = 0; pass < 2; pass++) {
		str_own(&ts->comm, &p, &len);
		str_own(&ts->root, &p, &len);
		str_own(&ts->cwd, &p, &len);
		for (size_t k = 0; k < ts->nthreads; k++)
			str_own(&ts->threads[k].comm, &p, &len);
		if (!pass)
			p = ts->strs = xzalloc(len + 1);
	}
}

struct task_state *task_state_parse(const char *file, const struct json *doc, ckpt_err_t *err)
{
	struct task_state *ts = xzalloc(sizeof(*ts));
	struct doc_at top, tat;
	const struct json *threads;
	int ret;

	snprintf(ts->file, sizeof(ts->file), "%s", file);
	top = DOC_TOP(ts->file);
	tat = DOC_KEY(&top, "threads");
	ret = doc_arr(&top, doc, "threads", 100000, &threads, &ts->nthreads, err);
	if (ret == 0 && !ts->nthreads)
		ret = doc_error(err, &tat, "no threads");
	if (ret < 0)
		goto fail;
	ts->threads = xzalloc(ts->nthreads * sizeof(*ts->threads));
	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++) {
		if (!rooms[i]->parse)
			continue;
		ret = rooms[i]->parse(&top, doc, ts, err);
		if (ret < 0)
			goto fail;
	}
	for (size_t k = 0; k < ts->nthreads; k++) {
		struct doc_at at = DOC_IDX(&tat, k);
		const struct json *th;
		int64_t tid;

		ret = doc_elem_obj(&tat, threads, k, &th, err);
		if (ret == 0)
			ret = doc_int(&at, th, "tid", 1, DOC_PID_MAX, &tid, err);
		if (ret < 0)
			goto fail;
		ts->threads[k].tid = tid;
		for (size_t i = 0; i < ARRAY_SIZE(rooms); i++) {
			if (!rooms[i]->parse_thread)
				continue;
			ret = rooms[i]->parse_thread(&at, th, &ts->threads[k], err);
			if (ret < 0)
				goto fail;
		}
	}
	/* the document may go once parsed */
	strs_own(ts);
	ts->one_by_one = sigtrap_held(ts);
	return ts;
fail:
	task_state_free(ts);
	return NULL;
}

void task_state_describe(FILE *out, const struct task_state *ts)
{
	for (size_t i = 0; i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->describe)
			rooms[i]->describe(out, ts);
}

int task_hexbuf(const struct doc_at *at, const struct json *v, void *buf, size_t len, size_t unit,
		size_t *got, ckpt_err_t *err)
{
	const char *s;
	size_t n;

	if (json_type(v) != JSON_STR)
		return doc_error(err, at, "expected hex digits");
	if (doc_value_str(at, v, 2 * len, &s, err) < 0)
		return -err->code;
	n = strlen(s);
	if (n % 2 || (!unit && n / 2 != len) || (unit && (n / 2 > len || (n / 2) % unit)))
		return doc_error(err, at, "%zu hex digits do not make %s%zu bytes", n,
				 unit ? "a whole number of records up to " : "", len);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;

		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &b) != 1)
			return doc_error(err, at, "not hex digits");
		((uint8_t *)buf)[i] = b;
	}
	if (got)
		*got = n / 2;
	return 0;
}

/* The kernel keeps at most RLIMIT_SIGPENDING (and 32 realtime per signal) queued. */
#define SIGINFO_MAX 1000000

int task_siginfo_list(const struct doc_at *at, const struct json *obj, const char *key,
		      struct siginfo_list *out, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, key);
	const struct json *arr;
	size_t n;
	int ret = doc_arr(at, obj, key, SIGINFO_MAX, &arr, &n, err);

	if (ret < 0)
		return ret;
	out->si = xzalloc((n ?: 1) * sizeof(siginfo_t));
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		struct doc_at e = DOC_IDX(&k, i);

		ret = task_hexbuf(&e, json_at(arr, i), &out->si[i], sizeof(siginfo_t), 0, NULL,
				  err);
		if (ret == 0 && (out->si[i].si_signo < 1 || out->si[i].si_signo > 64))
			ret = doc_error(err, &e, "signal %d", out->si[i].si_signo);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int task_queue_signals(struct rsys *rs, pid_t pid, pid_t tid, const struct siginfo_list *l,
		       ckpt_err_t *err)
{
	for (size_t i = 0; i < l->n; i++) {
		int sig = l->si[i].si_signo;
		uint64_t at;
		int ret = rsys_queue_data(rs, &l->si[i], sizeof(siginfo_t), &at, err);

		if (ret == 0 && tid)
			ret = rsys_queue(rs, 0, 0, SYS_rt_tgsigqueueinfo,
					 (uint64_t[6]){pid, tid, sig, at}, err,
					 "queue pending signal %d: rt_tgsigqueueinfo", sig);
		else if (ret == 0)
			ret = rsys_queue(rs, 0, 0, SYS_rt_sigqueueinfo, (uint64_t[6]){pid, sig, at},
					 err, "queue pending signal %d: rt_sigqueueinfo", sig);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- the puppeteer's frame ---- */

struct thread_state *rthread_state(struct rtask *t, struct rthread *th)
{
	return &t->state->threads[th - t->threads];
}

struct rsys *rthread_rsys(struct rtask *t, struct rthread *th)
{
	return th == &t->threads[0] ? &t->rs : &th->rs;
}

/*
 * Session leaders got their group from setsid(), and a zombie leading its
 * own group made it before it died (restore-child.c). A zombie joins
 * another group through its parent: setpgid() on a child that never
 * exec'd works while it is a zombie.
 */
int rtask_pgid(struct rctx *rc, struct rtask *t, bool leaders, ckpt_err_t *err)
{
	struct rsys *rs = &t->rs;
	pid_t who = 0;
	long r;
	int ret;

	(void)rc;
	if (t->sid == t->pid || leaders != (t->pgid == t->pid))
		return 0;
	if (t->zombie) {
		if (leaders)
			return 0;
		if (!t->parent || t->parent->zombie) {
			pr_warn("task %d: a zombie whose parent is a zombie stays in its parent's "
				"process group, not %d",
				t->pid, t->pgid);
			return 0;
		}
		rs = &t->parent->rs;
		who = t->pid;
	}
	ret = RSYS(rs, &r, err, SYS_setpgid, who, t->pgid, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	if (r < 0)
		pr_warn("task %d: cannot join process group %d (%s), ignoring", t->pid, t->pgid,
			strerror(-r));
	return 0;
}

/*
 * The task's queue (arch/rsys.h): the rooms queue their calls and each
 * thread runs its own in one stop, where a remote call costs two. One
 * batch serves the whole restore, a thread at a time: moving it to
 * another thread runs what the last one queued, so the calls run in the
 * order the rooms made them. The leader's queue holds the process-wide
 * state and its own thread's, then runs when the first other thread
 * starts (the filters it syncs to every thread and the rlimits come
 * before theirs), or else with the scratch area's unmap; each other
 * thread's runs once its rooms are done.
 */
#define QUEUE_DATA (SCRATCH_SIZE - SCRATCH_DATA - RSYS_BATCH_MAX * sizeof(struct rsys_batch_ent))

static int queue_move(struct rctx *rc, struct rsys *rs, ckpt_err_t *err)
{
	struct rsys_batch *q = rc->queue;
	int ret;

	if (!q)
		q = rc->queue =
			rsys_batch_new(&rc->root->rs, rc->scratch + SCRATCH_BATCH, 0, QUEUE_DATA);
	if (rs && rs->queue == q)
		return 0;
	ret = q->rs && q->rs->queue == q ? rsys_queue_detach(q->rs, err) : 0;
	if (ret == 0 && rs)
		rsys_queue_attach(rs, q);
	return ret;
}

/* The queue on rs, or on no thread when the task's calls go one by one. */
static int rtask_queue_on(struct rctx *rc, struct rtask *t, struct rsys *rs, ckpt_err_t *err)
{
	return queue_move(rc, t->state->one_by_one ? NULL : rs, err);
}

/*
 * A step failed: if a queued call did, its error as its label names it,
 * not under the context of the step that happened to run the queue; the
 * queue goes, unrun.
 */
static int rtask_failed(struct rctx *rc, ckpt_err_t *err)
{
	const ckpt_err_t *f = rsys_batch_failure(rc->queue);

	if (f)
		*err = *f;
	if (rc->queue && rc->queue->rs && rc->queue->rs->queue == rc->queue) {
		rc->queue->n = 0;
		rc->queue->rs->queue = NULL;
	}
	return -err->code;
}

/*
 * Host ids of threads first..last-1, made with their tids as the tree
 * sees them: the same unless the tree has its own pid namespace, where
 * the task's thread list is read once and each thread's NSpid matched.
 */
static void host_tids(struct rctx *rc, struct rtask *t, int first, int last)
{
	cleanup_free pid_t *tids = NULL;
	cleanup_close int procfd = -1;
	char path[64];
	ckpt_err_t e = {0};
	int n;

	if (!rc->own_pidns) {
		for (int i = first; i < last; i++)
			t->threads[i].host_tid = t->threads[i].tid;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d", t->host_pid);
	procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0 || proc_list_threads(procfd, &tids, &n, &e) < 0) {
		ckpt_error_clear(&e);
		return;
	}
	for (int k = 0; k < n; k++) {
		pid_t ns;

		snprintf(path, sizeof(path), "task/%d", tids[k]);
		ns = proc_ns_pid(procfd, path);
		for (int i = first; i < last; i++)
			if (t->threads[i].tid == ns)
				t->threads[i].host_tid = tids[k];
	}
}

/*
 * Queue the clone3 of threads[i]: the thread as the one the program made,
 * its tid asked with set_tid. The new thread is attached (the tracer's
 * PTRACE_O_TRACECLONE) and stops before it runs an instruction, so it never
 * goes on through the queue's code that made it.
 */
static int queue_clone(struct rtask *t, int i, ckpt_err_t *err)
{
	struct ckpt_clone_args a = {
		.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			 CLONE_SYSVSEM,
		.set_tid_size = 1,
	};
	pid_t want = t->threads[i].tid;
	uint64_t at;
	int ret;

	ret = rsys_queue_data(&t->rs, &want, sizeof(want), &at, err);
	a.set_tid = at;
	if (ret == 0)
		ret = rsys_queue_data(&t->rs, &a, sizeof(a), &at, err);
	if (ret == 0)
		ret = rsys_queue(&t->rs, RSYS_BATCH_EXPECT, want, __NR_clone3,
				 (uint64_t[6]){at, sizeof(a)}, err, "thread %d: clone3 thread",
				 want);
	return ret;
}

/*
 * Every thread but the leader, made by the leader in one stop per queue
 * full (clone3 with set_tid each), then taken over one by one.
 */
int rtask_threads(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	const size_t need = sizeof(pid_t) + sizeof(struct ckpt_clone_args) + 16;
	struct rsys_batch *q;
	int made = 1, ret = queue_move(rc, &t->rs, err);

	if (ret == 0)
		ret = rsys_flush(&t->rs, err); /* the clones' results start at entry 0 */
	q = rc->queue;
	while (ret == 0 && made < t->nthreads) {
		int first = made, i;

		for (i = first; ret == 0 && i < t->nthreads && rsys_batch_room(q, need); i++)
			ret = queue_clone(t, i, err);
		if (ret == 0)
			ret = rsys_flush(&t->rs, err);
		/* those made before a failure: known, so a rollback reaps them */
		while (made < i && q->ent[made - first].ret > 0)
			made++;
		if (ret < 0 && q->failed >= 0 && q->ent[q->failed].ret == -EEXIST)
			ret = ckpt_error_msg(err, EEXIST, "thread id %d is taken",
					     t->threads[first + q->failed].tid);
	}
	host_tids(rc, t, 1, made);
	for (int i = 1; ret == 0 && i < made; i++) {
		struct rthread *th = &t->threads[i];
		int status;

		if (th->host_tid <= 0)
			return ckpt_error_msg(err, ESRCH, "thread %d vanished", th->tid);
		/* auto-attached through PTRACE_O_TRACECLONE: wait for its first stop */
		ret = rsys_wait_stop(th->host_tid, &status, err);
		if (ret == 0)
			ret = rsys_init(&th->rs, th->host_tid, rc->scratch + SCRATCH_CODE, err);
		rsys_set_scratch(&th->rs, t->rs.scratch, t->rs.scratch_len);
	}
	return ret;
}

int rtask_state(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret = rtask_queue_on(rc, t, &t->rs, err);

	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->restore)
			ret = rooms[i]->restore(rc, t, err);
	return ret < 0 ? rtask_failed(rc, err) : 0;
}

/*
 * Everything of one thread that the thread itself must do, queued under
 * its name; then what must follow its own credentials.
 */
int rthread_restore(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err)
{
	struct rsys *rs = rthread_rsys(t, th);
	int ret = rtask_queue_on(rc, t, rs, err);

	if (ret < 0)
		return rtask_failed(rc, err);
	rsys_batch_context(rc->queue, "thread %d", th->tid);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->restore_thread)
			ret = rooms[i]->restore_thread(rc, t, th, err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->restore_thread_last)
			ret = rooms[i]->restore_thread_last(rc, t, th, err);
	rsys_batch_context(rc->queue, NULL);
	if (ret < 0) {
		ckpt_error_wrap(err, "thread %d", th->tid);
		return rtask_failed(rc, err);
	}
	return 0;
}

/* After the threads' credentials; then the scratch area goes. */
int rtask_last(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret = rtask_queue_on(rc, t, &t->rs, err);

	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->restore_last)
			ret = rooms[i]->restore_last(rc, t, err);
	/* runs the queue first: the code it runs is in the scratch area */
	if (ret == 0)
		ret = RSYS_OK(&t->rs, NULL, err, SYS_munmap, rc->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_queue_detach(&t->rs, err);
	if (ret < 0)
		return rtask_failed(rc, err);
	pr_debug("task %d: %u remote calls, %u runs of code", t->pid, t->rs.calls, t->rs.runs);
	for (int i = 1; i < t->nthreads; i++)
		pr_debug("task %d: thread %d: %u remote calls, %u runs of code", t->pid,
			 t->threads[i].tid, t->threads[i].rs.calls, t->threads[i].rs.runs);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(rooms); i++)
		if (rooms[i]->restore_end)
			ret = rooms[i]->restore_end(rc, t, err);
	return ret;
}

/* Load the saved registers and mask: rsys_fini puts them in place. */
int rthread_regs(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err)
{
	struct rsys *rs = rthread_rsys(t, th);
	int ret;

	(void)rc;
	rs->saved = th->regs; /* read and checked at load */
	rs->saved_mask = rthread_state(t, th)->sigmask;
	ret = regs_restore(rs->tid, &rs->saved, th->xstate, th->xstate_len, err);
	if (ret < 0)
		return ret;
	return rsys_fini(rs, err);
}
