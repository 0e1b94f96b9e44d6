/*
 * libckpt/task/restore-task.c - the puppeteer's state phase, after memory:
 * process groups, threads (clone3 with set_tid, from inside the task),
 * signal handlers, timers, pending signals, limits, then per thread its
 * runtime state (sigaltstack, robust list, clear_child_tid, rseq, name,
 * scheduling), seccomp filters, credentials, and finally its registers
 * and signal mask. Reads task-PID.json as written by task-dump.c.
 */
#define LOG_PREFIX "rtask: "
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define SECBIT_NO_SETUID_FIXUP (1 << 2)

/* Write buf into scratch data and run one syscall whose argument `at` points there. */
static int rbuf(struct rctx *rc, struct rsys *rs, pid_t pid, const void *buf, size_t len,
		ckpt_err_t *err)
{
	if (len > SCRATCH_SIZE - SCRATCH_DATA)
		return ckpt_error_msg(err, E2BIG, "argument of %zu bytes", len);
	return rsys_poke(pid, rc->scratch + SCRATCH_DATA, buf, len, err);
}

int rtask_prepare(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct timespec zero = {0, 0};
	uint64_t data = rc->scratch + SCRATCH_DATA, all = ~0ULL;
	long r;
	int ret;

	/* drop whatever the fork of ckpt-oci has pending (SIGCHLD of zombies...) */
	ret = rsys_poke(t->host_pid, data, &zero, sizeof(zero), err);
	if (ret == 0)
		ret = rsys_poke(t->host_pid, data + 64, &all, sizeof(all), err);
	for (int i = 0; ret == 0 && i < 128; i++) {
		ret = RSYS(&t->rs, &r, err, SYS_rt_sigtimedwait, data + 64, 0, data, 8, 0, 0);
		if (ret == 0 && r < 0)
			break;
	}
	return ret;
}

int rtask_pgid(struct rctx *rc, struct rtask *t, bool leaders, ckpt_err_t *err)
{
	long r;
	int ret;

	if (t->zombie || t->sid == t->pid)
		return 0; /* session leaders got their group from setsid() */
	if (leaders != (t->pgid == t->pid))
		return 0;
	ret = RSYS(&t->rs, &r, err, SYS_setpgid, 0, t->pgid, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	if (r < 0)
		pr_warn("task %d: cannot join process group %d (%s), ignoring", t->pid, t->pgid,
			strerror(-r));
	return 0;
}

/* Thread id in our namespace: the same unless the tree has its own pid namespace. */
static pid_t host_tid_of(struct rctx *rc, struct rtask *t, pid_t ns_tid)
{
	cleanup_free pid_t *tids = NULL;
	cleanup_close int procfd = -1;
	char path[64];
	ckpt_err_t e = {0};
	int n;

	if (!rc->own_pidns)
		return ns_tid;
	snprintf(path, sizeof(path), "/proc/%d", t->host_pid);
	procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0 || proc_list_threads(procfd, &tids, &n, &e) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "task/%d", tids[i]);
		if (proc_ns_pid(procfd, path) == ns_tid)
			return tids[i];
	}
	return -1;
}

int rtask_threads(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	uint64_t data = rc->scratch + SCRATCH_DATA;

	for (int i = 1; i < t->nthreads; i++) {
		struct rthread *th = &t->threads[i];
		pid_t want = th->tid;
		struct ckpt_clone_args a = {
			.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
				 CLONE_SYSVSEM,
			.set_tid = data + 256,
			.set_tid_size = 1,
		};
		int status, ret;
		long r;

		ret = rsys_poke(t->host_pid, data, &a, sizeof(a), err);
		if (ret == 0)
			ret = rsys_poke(t->host_pid, data + 256, &want, sizeof(want), err);
		if (ret == 0)
			ret = RSYS(&t->rs, &r, err, __NR_clone3, data, sizeof(a), 0, 0, 0, 0);
		if (ret == 0 && r == -EEXIST)
			return ckpt_error_msg(err, EEXIST, "thread id %d is taken", want);
		ret = rsys_check(ret, r, err, "clone3 thread");
		if (ret < 0)
			return ckpt_error_wrap(err, "thread %d", want);
		th->host_tid = host_tid_of(rc, t, r);
		if (th->host_tid <= 0)
			return ckpt_error_msg(err, ESRCH, "thread %d vanished", want);
		/* auto-attached through PTRACE_O_TRACECLONE: wait for its first stop */
		ret = rsys_wait_stop(th->host_tid, &status, err);
		if (ret == 0)
			ret = rsys_init(&th->rs, th->host_tid, rc->scratch + SCRATCH_CODE, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Only saved actions are set: every other one is already SIG_DFL, reset by
 * the restored process itself before it was taken over (restore-child.c).
 */
static int sigactions_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct json *acts = json_get(t->doc, "sigactions");
	uint64_t data = rc->scratch + SCRATCH_DATA;

	for (size_t i = 0; i < json_len(acts); i++) {
		struct json *a = json_at(acts, i);
		int sig = json_as_int(json_get(a, "sig"));
		struct k_sigaction ka = {
			.handler = json_as_hex(json_get(a, "handler")),
			.flags = json_as_hex(json_get(a, "flags")),
			.restorer = json_as_hex(json_get(a, "restorer")),
			.mask = json_as_hex(json_get(a, "mask")),
		};
		long r;
		int ret;

		if (sig < 1 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
			return ckpt_error_msg(err, EPROTO, "sigaction of signal %d", sig);
		ret = rbuf(rc, &t->rs, t->host_pid, &ka, sizeof(ka), err);
		if (ret == 0)
			ret = RSYS(&t->rs, &r, err, SYS_rt_sigaction, sig, data, 0, 8, 0, 0);
		ret = rsys_check(ret, r, err, "rt_sigaction");
		if (ret < 0)
			return ckpt_error_wrap(err, "signal %d", sig);
	}
	return 0;
}

/*
 * The kernel adds a tick to the value of a CPU-time itimer (VIRTUAL, PROF)
 * when it is set; measure that and take it off so the remaining time stays.
 */
static int itimer_set(struct rctx *rc, struct rtask *t, int which, int64_t v, int64_t iv,
		      ckpt_err_t *err)
{
	struct itimerval it = {{iv / 1000000, iv % 1000000}, {v / 1000000, v % 1000000}};
	uint64_t data = rc->scratch + SCRATCH_DATA;
	long r;
	int ret;

	ret = rbuf(rc, &t->rs, t->host_pid, &it, sizeof(it), err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_setitimer, which, data, data + 64, 0, 0, 0);
	ret = rsys_check(ret, r, err, "setitimer");
	if (ret < 0 || which == ITIMER_REAL)
		return ret;
	ret = RSYS(&t->rs, &r, err, SYS_getitimer, which, data + 64, 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_peek(t->host_pid, data + 64, &it, sizeof(it), err);
	if (ret < 0)
		return ret;
	int64_t extra = it.it_value.tv_sec * 1000000LL + it.it_value.tv_usec - v;

	if (extra <= 0)
		return 0;
	v = v > extra ? v - extra : 1;
	it = (struct itimerval){{iv / 1000000, iv % 1000000}, {v / 1000000, v % 1000000}};
	ret = rbuf(rc, &t->rs, t->host_pid, &it, sizeof(it), err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_setitimer, which, data, 0, 0, 0, 0);
	return rsys_check(ret, r, err, "setitimer");
}

static int itimers_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct json *its = json_get(t->doc, "itimers");

	for (size_t which = 0; which < json_len(its) && which < 3; which++) {
		struct json *o = json_at(its, which);
		int64_t v = json_as_int(json_get(o, "value_us"));
		int64_t iv = json_as_int(json_get(o, "interval_us"));
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
		ret = itimer_set(rc, t, which, v, iv, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int posix_timer_restore(struct rctx *rc, struct rtask *t, const struct json *tm,
			       ckpt_err_t *err)
{
	uint64_t data = rc->scratch + SCRATCH_DATA;
	const char *notify = json_as_str(json_get(tm, "notify")) ?: "signal";
	int id = json_as_int(json_get(tm, "id")), got = id;
	int64_t v = json_as_int(json_get(tm, "value_ns"));
	int64_t iv = json_as_int(json_get(tm, "interval_ns"));
	struct itimerspec its = {{iv / 1000000000, iv % 1000000000},
				 {v / 1000000000, v % 1000000000}};
	struct sigevent sev;
	long r;
	int ret;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_signo = json_as_int(json_get(tm, "signo"));
	sev.sigev_value.sival_ptr = (void *)(uintptr_t)json_as_hex(json_get(tm, "sigval"));
	if (!strcmp(notify, "none"))
		sev.sigev_notify = SIGEV_NONE;
	else
		sev.sigev_notify = SIGEV_SIGNAL;
	if (json_as_bool(json_get(tm, "notify_thread"))) {
		sev.sigev_notify |= SIGEV_THREAD_ID;
		sev._sigev_un._tid = json_as_int(json_get(tm, "notify_tid"));
	}
	ret = rbuf(rc, &t->rs, t->host_pid, &sev, sizeof(sev), err);
	if (ret == 0)
		ret = rsys_poke(t->host_pid, data + 128, &got, sizeof(got), err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_timer_create, json_as_int(json_get(tm, "clock")),
			   data, data + 128, 0, 0, 0);
	/* a notify thread the tree's namespace lacks is EINVAL: name it */
	if (sev.sigev_notify & SIGEV_THREAD_ID)
		ret = rsys_check(ret, r, err, "timer_create (notify thread %d)",
				 sev._sigev_un._tid);
	else
		ret = rsys_check(ret, r, err, "timer_create");
	if (ret == 0)
		ret = rsys_peek(t->host_pid, data + 128, &got, sizeof(got), err);
	if (ret < 0)
		return ret;
	if (got != id)
		pr_warn("task %d: POSIX timer %d restored as %d", t->pid, id, got);
	if (!v)
		return 0;
	ret = rsys_poke(t->host_pid, data + 256, &its, sizeof(its), err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_timer_settime, got, 0, data + 256, 0, 0, 0);
	return rsys_check(ret, r, err, "timer_settime");
}

static int posix_timers_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct json *tms = json_get(t->doc, "posix_timers");
	long r;
	int ret;

	if (!json_len(tms))
		return 0;
	/* 6.17+: timer_create takes the id to use from *timerid */
	ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
		   PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	if (r < 0)
		pr_warn("task %d: kernel cannot restore POSIX timer ids", t->pid);
	for (size_t i = 0; i < json_len(tms); i++) {
		ret = posix_timer_restore(rc, t, json_at(tms, i), err);
		if (ret < 0)
			return ckpt_error_wrap(
				err, "POSIX timer %lld",
				(long long)json_as_int(json_get(json_at(tms, i), "id")));
	}
	return RSYS(&t->rs, &r, err, SYS_prctl, PR_TIMER_CREATE_RESTORE_IDS,
		    PR_TIMER_CREATE_RESTORE_IDS_OFF, 0, 0, 0, 0);
}

/* Queue saved siginfos: to the thread itself (tid > 0) or to the process. */
static int pending_restore(struct rctx *rc, struct rtask *t, struct rsys *rs, pid_t tid,
			   const struct json *list, ckpt_err_t *err)
{
	for (size_t i = 0; i < json_len(list); i++) {
		siginfo_t si;
		struct json *wrap = json_obj();
		long r;
		int ret;

		json_set(wrap, "si", json_str(json_as_str(json_at(list, i))));
		ret = json_get_hexbuf(wrap, "si", &si, sizeof(si), err);
		json_free(wrap);
		if (ret == 0)
			ret = rbuf(rc, rs, t->host_pid, &si, sizeof(si), err);
		if (ret == 0 && tid)
			ret = RSYS(rs, &r, err, SYS_rt_tgsigqueueinfo, t->pid, tid, si.si_signo,
				   rc->scratch + SCRATCH_DATA, 0, 0);
		else if (ret == 0)
			ret = RSYS(rs, &r, err, SYS_rt_sigqueueinfo, t->pid, si.si_signo,
				   rc->scratch + SCRATCH_DATA, 0, 0, 0);
		ret = rsys_check(ret, r, err, "queue pending signal");
		if (ret < 0)
			return ret;
	}
	return 0;
}

int rtask_pending_thread(struct rctx *rc, struct rtask *t, struct rsys *rs, pid_t tid,
			 const struct json *list, ckpt_err_t *err)
{
	return pending_restore(rc, t, rs, tid, list, err);
}

static int rlimits_restore(struct rtask *t, ckpt_err_t *err)
{
	struct json *rl = json_get(t->doc, "rlimits");

	for (size_t res = 0; res < json_len(rl); res++) {
		struct json *o = json_at(rl, res);
		const char *cur = json_as_str(json_at(o, 0)), *max = json_as_str(json_at(o, 1));
		struct rlimit want, now;

		want.rlim_cur = cur ? strtoull(cur, NULL, 16) : 0;
		want.rlim_max = max ? strtoull(max, NULL, 16) : 0;
		if (prlimit(t->host_pid, res, NULL, &now) < 0)
			return ckpt_error(err, errno, "get rlimit %zu", res);
		if (want.rlim_max > now.rlim_max) {
			/* raising a hard limit needs CAP_SYS_RESOURCE */
			pr_warn("task %d: rlimit %zu hard %llu above ours, kept at %llu", t->pid,
				res, (unsigned long long)want.rlim_max,
				(unsigned long long)now.rlim_max);
			want.rlim_max = now.rlim_max;
			want.rlim_cur = MIN(want.rlim_cur, want.rlim_max);
		}
		if (prlimit(t->host_pid, res, &want, NULL) < 0)
			return ckpt_error(err, errno, "set rlimit %zu", res);
	}
	return 0;
}

int rtask_state(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret = sigactions_restore(rc, t, err);

	if (ret == 0)
		ret = itimers_restore(rc, t, err);
	if (ret == 0)
		ret = posix_timers_restore(rc, t, err);
	if (ret == 0)
		ret = pending_restore(rc, t, &t->rs, 0, json_get(t->doc, "shared_pending"), err);
	if (ret == 0)
		ret = rlimits_restore(t, err);
	return ret;
}

/* Process-wide settings that need privileges: before the threads drop theirs. */
int rtask_finish(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	const char *root = json_as_str(json_get(t->doc, "root"));
	long pdeath = json_as_int(json_get(t->doc, "pdeathsig")), r;
	int ret;

	if (t == rc->root && rc->detach && pdeath) {
		/* its parent is ckpt-oci, which is about to exit */
		pr_warn("task %d: parent-death signal %ld not restored with -d", t->pid, pdeath);
		pdeath = 0;
	}
	ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_SET_PDEATHSIG, pdeath, 0, 0, 0, 0);
	ret = rsys_check(ret, r, err, "parent-death signal");
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_SET_CHILD_SUBREAPER,
			   json_as_bool(json_get(t->doc, "child_subreaper")), 0, 0, 0, 0);
	ret = rsys_check(ret, r, err, "child subreaper");
	if (ret == 0 && root && strcmp(root, "/")) {
		ret = rbuf(rc, &t->rs, t->host_pid, root, strlen(root) + 1, err);
		if (ret == 0)
			ret = RSYS(&t->rs, &r, err, SYS_chroot, rc->scratch + SCRATCH_DATA, 0, 0, 0,
				   0, 0);
		ret = rsys_check(ret, r, err, "chroot");
	}
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_close, t->img_fd, 0, 0, 0, 0, 0);
	return ret;
}

/* After the threads' credentials: dumpable, then the scratch area goes. */
int rtask_last(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	long r;
	int ret;

	ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_SET_DUMPABLE,
		   json_as_int(json_get(t->doc, "dumpable")), 0, 0, 0, 0);
	ret = rsys_check(ret, r, err, "dumpable");
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_munmap, rc->scratch, SCRATCH_SIZE, 0, 0, 0, 0);
	return rsys_check(ret, r, err, "unmap scratch");
}
