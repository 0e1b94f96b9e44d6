/*
 * libckpt/task/task-dump.c - the state of a task that is not memory or files,
 * into task-PID.json: identity (creds, caps, securebits, seccomp), signals
 * (handlers, masks, pending with siginfo, sigaltstack), timers (itimers,
 * POSIX timers), limits, mm fields, and per-thread runtime state (rseq,
 * robust list, clear_child_tid, names, scheduling).
 *
 * What only the task itself can say is asked with remote syscalls whose
 * buffers live in the scratch area mapped into it for the dump.
 */
#define LOG_PREFIX "task: "
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "engine.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

static int rcall(struct rsys *rs, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		 uint64_t a4, ckpt_err_t *err)
{
	return rsys_call(rs, ret, nr, a1, a2, a3, a4, 0, 0, err);
}

static struct json *creds_to_json(const struct proc_status *s)
{
	struct json *c = json_obj(), *a;

	a = json_set(c, "uids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(s->uid[i]));
	a = json_set(c, "gids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(s->gid[i]));
	a = json_set(c, "groups", json_arr());
	for (int i = 0; i < s->ngroups; i++)
		json_push(a, json_int(s->groups[i]));
	json_set(c, "cap_inh", json_hex(s->cap_inh));
	json_set(c, "cap_prm", json_hex(s->cap_prm));
	json_set(c, "cap_eff", json_hex(s->cap_eff));
	json_set(c, "cap_bnd", json_hex(s->cap_bnd));
	json_set(c, "cap_amb", json_hex(s->cap_amb));
	json_set(c, "no_new_privs", json_bool(s->nonewprivs));
	return c;
}

static struct json *siginfo_list(pid_t tid, bool shared, const siginfo_t *extra, int nextra,
				 ckpt_err_t *err)
{
	struct json *list = json_arr();
	siginfo_t si[32];

	for (int i = 0; i < nextra; i++)
		json_push(list, json_hexbuf(&extra[i], sizeof(siginfo_t)));
	for (uint64_t off = 0;; off += ARRAY_SIZE(si)) {
		struct __ptrace_peeksiginfo_args a = {
			.off = off, .flags = shared ? PTRACE_PEEKSIGINFO_SHARED : 0,
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

static int seccomp_dump(struct thread *th, const struct proc_status *st, struct json *out,
			ckpt_err_t *err)
{
	struct json *hex[64], *filters;
	long count = 0;
	int ret = 0;

	json_set(out, "seccomp_mode", json_int(st->seccomp));
	if (st->seccomp != 2)
		return 0;
	/* index 0 is the newest filter; the bundle lists them oldest first */
	for (;; count++) {
		struct sock_filter prog[BPF_MAXINSNS];
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, th->tid, count, prog);

		if (n < 0 && errno == ENOENT)
			break;
		if (n < 0 || count == ARRAY_SIZE(hex)) {
			ret = ckpt_error(err, n < 0 ? errno : E2BIG,
					 "thread %d: read seccomp filter %ld", th->tid, count);
			break;
		}
		hex[count] = json_hexbuf(prog, n * sizeof(prog[0]));
	}
	filters = json_set(out, "seccomp_filters", json_arr());
	while (count > 0)
		json_push(filters, hex[--count]);
	return ret;
}

int thread_dump_state(struct ckpt_ctx *ctx, struct task *t, struct thread *th,
		      struct rsys *rs, uint64_t scratch, struct json *out, ckpt_err_t *err)
{
	struct ckpt_rseq_config rseq = { 0 };
	struct proc_status st = { 0 };
	cleanup_free char *path = xasprintf("task/%d", th->tid);
	cleanup_close int tfd = openat(t->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *comm = NULL;
	struct json *j;
	stack_t ss;
	uint64_t tidaddr = 0, head = 0;
	size_t hlen = 0;
	long r;
	int ret;

	if (tfd < 0)
		return ckpt_error(err, errno, "open /proc/%d/%s", t->pid, path);
	json_set(out, "tid", json_int(th->ns_tid));
	json_set(out, "regs", regs_to_json(th));
	json_set(out, "sigmask", json_hex(th->sigmask));
	/* signals stolen while seizing go back to the queue first */
	for (int i = 0; i < th->nstolen; i++) {
		ret = rsys_poke(t->pid, scratch, &th->stolen[i], sizeof(siginfo_t), err);
		if (ret < 0)
			return ret;
		ret = rcall(rs, &r, SYS_rt_tgsigqueueinfo, t->pid, th->tid,
			    th->stolen[i].si_signo, scratch, err);
		if (ret < 0)
			return ret;
	}
	j = siginfo_list(th->tid, false, NULL, 0, err);
	if (!j)
		return -err->code;
	json_set(out, "pending", j);
	ret = rcall(rs, &r, SYS_sigaltstack, 0, scratch, 0, 0, err);
	if (ret < 0)
		return ret;
	if (r < 0)
		return ckpt_error(err, -r, "thread %d: sigaltstack", th->tid);
	ret = rsys_peek(t->pid, scratch, &ss, sizeof(ss), err);
	if (ret < 0)
		return ret;
	j = json_set(out, "sigaltstack", json_obj());
	json_set(j, "sp", json_hex((uintptr_t)ss.ss_sp));
	json_set(j, "flags", json_int(ss.ss_flags));
	json_set(j, "size", json_int(ss.ss_size));
	ret = rcall(rs, &r, SYS_prctl, PR_GET_TID_ADDRESS, scratch, 0, 0, err);
	if (ret == 0 && r == 0)
		ret = rsys_peek(t->pid, scratch, &tidaddr, sizeof(tidaddr), err);
	if (ret < 0)
		return ret;
	json_set(out, "clear_child_tid", json_hex(tidaddr));
	if (syscall(SYS_get_robust_list, th->tid, &head, &hlen) < 0)
		return ckpt_error(err, errno, "thread %d: get robust list", th->tid);
	json_set(out, "robust_list", json_hex(head));
	json_set(out, "robust_list_len", json_int(hlen));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, th->tid, sizeof(rseq), &rseq) < 0)
		return ckpt_error(err, errno, "thread %d: get rseq", th->tid);
	if (rseq.rseq_abi_pointer) {
		j = json_set(out, "rseq", json_obj());
		json_set(j, "addr", json_hex(rseq.rseq_abi_pointer));
		json_set(j, "len", json_int(rseq.rseq_abi_size));
		json_set(j, "sig", json_hex(rseq.signature));
		json_set(j, "flags", json_int(rseq.flags));
	}
	ret = read_file_at(tfd, "comm", 64, &comm, NULL, err);
	if (ret < 0)
		return ret;
	comm[strcspn(comm, "\n")] = '\0';
	json_set(out, "comm", json_str(comm));
	errno = 0;
	r = getpriority(PRIO_PROCESS, th->tid);
	if (errno)
		return ckpt_error(err, errno, "thread %d: getpriority", th->tid);
	json_set(out, "nice", json_int(r));
	ret = rcall(rs, &r, SYS_prctl, PR_GET_TIMERSLACK, 0, 0, 0, err);
	if (ret < 0)
		return ret;
	json_set(out, "timer_slack_ns", json_int(r));
	ret = sched_dump(th->tid, out, err);
	if (ret < 0)
		return ret;
	ret = proc_read_status(tfd, &st, err);
	if (ret < 0)
		return ret;
	json_set(out, "creds", creds_to_json(&st));
	ret = rcall(rs, &r, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, err);
	if (ret < 0)
		goto out;
	json_set(json_get(out, "creds"), "securebits", json_int(r));
	ret = seccomp_dump(th, &st, out, err);
out:
	proc_status_free(&st);
	return ret;
}

/*
 * rt_sigaction for every signal but SIGKILL and SIGSTOP: even a default
 * action keeps the flags and mask it was given, and sigaction() shows them.
 * Only actions that differ from the pristine default are saved.
 */
static int sigactions_dump(struct task *t, struct rsys *rs, uint64_t scratch, struct json *out,
			   ckpt_err_t *err)
{
	size_t len = rsys_code_sigactions_end - rsys_code_sigactions;
	uint64_t code = scratch + SCRATCH_SIZE - 256;
	struct json *acts = json_set(out, "sigactions", json_arr());
	struct k_sigaction ka[64];
	int ret;

	/* one stop for all 64: the code loops over rt_sigaction in the task */
	ret = rsys_poke(t->pid, code, rsys_code_sigactions, len, err);
	if (ret == 0)
		ret = rsys_run_code(rs, code, 1, scratch, 0, err);
	if (ret == 0)
		ret = rsys_peek(t->pid, scratch, ka, sizeof(ka), err);
	/* the code's int3 reset an ignored SIGTRAP to the default: put it back */
	if (ret == 0 && ka[SIGTRAP - 1].handler == (uint64_t)SIG_IGN) {
		long r;

		ret = RSYS(rs, &r, err, SYS_rt_sigaction, SIGTRAP,
			   scratch + (SIGTRAP - 1) * sizeof(ka[0]), 0, 8, 0, 0);
		ret = rsys_check(ret, r, err, "put back the ignored SIGTRAP");
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d: signal actions", t->pid);
	for (int sig = 1; sig <= 64; sig++) {
		const struct k_sigaction *k = &ka[sig - 1];
		struct json *a;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (k->handler == (uint64_t)SIG_DFL && !k->flags && !k->mask)
			continue;
		a = json_push(acts, json_obj());
		json_set(a, "sig", json_int(sig));
		json_set(a, "handler", json_hex(k->handler));
		json_set(a, "flags", json_hex(k->flags));
		json_set(a, "restorer", json_hex(k->restorer));
		json_set(a, "mask", json_hex(k->mask));
	}
	return 0;
}

static struct json *timespec_json(const struct timespec *ts)
{
	return json_int((int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec);
}

static int itimers_dump(struct task *t, struct rsys *rs, uint64_t scratch, struct json *out,
			ckpt_err_t *err)
{
	struct json *arr = json_set(out, "itimers", json_arr());

	for (int which = 0; which < 3; which++) {
		struct itimerval it;
		struct json *o;
		long r;
		int ret;

		ret = rcall(rs, &r, SYS_getitimer, which, scratch, 0, 0, err);
		if (ret == 0 && r < 0)
			ret = ckpt_error(err, -r, "task %d: getitimer %d", t->pid, which);
		if (ret == 0)
			ret = rsys_peek(t->pid, scratch, &it, sizeof(it), err);
		if (ret < 0)
			return ret;
		o = json_push(arr, json_obj());
		json_set(o, "value_us", json_int(it.it_value.tv_sec * 1000000LL +
						 it.it_value.tv_usec));
		json_set(o, "interval_us", json_int(it.it_interval.tv_sec * 1000000LL +
						    it.it_interval.tv_usec));
	}
	return 0;
}

/*
 * A timer's notify target as the tree sees it: /proc/PID/timers shows it
 * in the pid namespace of ckpt-oci's /proc, and timer_create() at restore
 * takes it in the tree's (SIGEV_THREAD_ID). It is the task or one of its
 * threads; in a tree without its own pid namespace both are the same.
 */
static int timer_target_ns(const struct task *t, int id, pid_t host, pid_t *ns,
			   ckpt_err_t *err)
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

/*
 * /proc/PID/timers: "ID: n", "signal: SIG/SIGVAL", "notify: signal/pid.N"
 * (or thread/tid.N, none), "ClockID: n" per timer.
 */
static int posix_timers_dump(struct task *t, struct rsys *rs, uint64_t scratch,
			     struct json *out, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct json *arr = json_set(out, "posix_timers", json_arr()), *o = NULL;
	char *save = NULL;
	int ret;

	ret = read_file_at(t->procfd, "timers", 1 << 20, &text, NULL, err);
	if (ret < 0)
		return ret;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long sigval;
		char how[16], who[8];
		int id, sig, target, clock;

		if (sscanf(l, "ID: %d", &id) == 1) {
			o = json_push(arr, json_obj());
			json_set(o, "id", json_int(id));
		} else if (o && sscanf(l, "signal: %d/%llx", &sig, &sigval) == 2) {
			json_set(o, "signo", json_int(sig));
			json_set(o, "sigval", json_hex(sigval));
		} else if (o && sscanf(l, "notify: %15[a-z]/%7[a-z].%d", how, who, &target) == 3) {
			json_set(o, "notify", json_str(how));
			json_set(o, "notify_thread", json_bool(!strcmp(who, "tid")));
			ret = timer_target_ns(t, json_as_int(json_get(o, "id")), target, &target,
					      err);
			if (ret < 0)
				return ret;
			json_set(o, "notify_tid", json_int(target));
		} else if (o && sscanf(l, "ClockID: %d", &clock) == 1) {
			json_set(o, "clock", json_int(clock));
		}
	}
	for (size_t i = 0; i < json_len(arr); i++) {
		struct json *tm = json_at(arr, i);
		struct itimerspec its;
		long r;

		ret = rcall(rs, &r, SYS_timer_gettime, json_as_int(json_get(tm, "id")), scratch, 0,
			    0, err);
		if (ret == 0 && r < 0)
			ret = ckpt_error(err, -r, "task %d: timer_gettime", t->pid);
		if (ret == 0)
			ret = rsys_peek(t->pid, scratch, &its, sizeof(its), err);
		if (ret < 0)
			return ret;
		json_set(tm, "value_ns", timespec_json(&its.it_value));
		json_set(tm, "interval_ns", timespec_json(&its.it_interval));
		ret = rcall(rs, &r, SYS_timer_getoverrun, json_as_int(json_get(tm, "id")), 0, 0, 0,
			    err);
		if (ret < 0)
			return ret;
		json_set(tm, "overrun", json_int(r < 0 ? 0 : r));
	}
	return 0;
}

/*
 * /proc/PID/limits, not prlimit(): prlimit on a task with other uids needs
 * CAP_SYS_RESOURCE. Lines are in RLIMIT_* order: a 26-column name, then
 * soft and hard limits ("unlimited" or a number).
 */
static int rlimits_dump(struct task *t, struct json *out, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct json *arr = json_set(out, "rlimits", json_arr());
	char *save = NULL, *l;
	int ret, res = 0;

	ret = read_file_at(t->procfd, "limits", 1 << 16, &text, NULL, err);
	if (ret < 0)
		return ret;
	l = strtok_r(text, "\n", &save); /* header */
	while ((l = strtok_r(NULL, "\n", &save)) && res < RLIM_NLIMITS) {
		char soft[32], hard[32];
		struct json *o;

		if (strlen(l) < 26 || sscanf(l + 26, "%31s %31s", soft, hard) != 2)
			return ckpt_error_msg(err, EPROTO, "/proc/%d/limits: bad line", t->pid);
		o = json_push(arr, json_arr());
		json_push(o, json_hex(strcmp(soft, "unlimited") ? strtoull(soft, NULL, 10)
							      : RLIM_INFINITY));
		json_push(o, json_hex(strcmp(hard, "unlimited") ? strtoull(hard, NULL, 10)
							      : RLIM_INFINITY));
		res++;
	}
	return 0;
}

/* mm fields for PR_SET_MM_MAP, auxv, exe, and brk (only brk(0) tells it). */
static int mm_dump(struct task *t, struct rsys *rs, const struct proc_stat *st, struct json *out,
		   ckpt_err_t *err)
{
	cleanup_free char *auxv = NULL;
	struct json *mm = json_set(out, "mm", json_obj());
	char exe[4096];
	size_t len;
	ssize_t n;
	long brk;
	int ret;

	ret = rcall(rs, &brk, SYS_brk, 0, 0, 0, 0, err);
	if (ret < 0)
		return ret;
	json_set(mm, "start_code", json_hex(st->start_code));
	json_set(mm, "end_code", json_hex(st->end_code));
	json_set(mm, "start_data", json_hex(st->start_data));
	json_set(mm, "end_data", json_hex(st->end_data));
	json_set(mm, "start_brk", json_hex(st->start_brk));
	json_set(mm, "brk", json_hex(brk));
	json_set(mm, "start_stack", json_hex(st->start_stack));
	json_set(mm, "arg_start", json_hex(st->arg_start));
	json_set(mm, "arg_end", json_hex(st->arg_end));
	json_set(mm, "env_start", json_hex(st->env_start));
	json_set(mm, "env_end", json_hex(st->env_end));
	ret = read_file_at(t->procfd, "auxv", 8192, &auxv, &len, err);
	if (ret < 0)
		return ret;
	json_set(mm, "auxv", json_hexbuf(auxv, len));
	n = readlinkat(t->procfd, "exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return ckpt_error(err, errno, "readlink /proc/%d/exe", t->pid);
	exe[n] = '\0';
	json_set(out, "exe", json_str(exe));
	return 0;
}

static int read_int_file(int procfd, const char *name, int base, long *v, ckpt_err_t *err)
{
	cleanup_free char *s = NULL;
	int ret = read_file_at(procfd, name, 64, &s, NULL, err);

	if (ret < 0)
		return ret;
	*v = strtol(s, NULL, base);
	return 0;
}

static int misc_dump(struct task *t, struct rsys *rs, uint64_t scratch, struct json *out,
		     ckpt_err_t *err)
{
	char link[4096];
	ssize_t n;
	long v, r;
	int ret, iv;

	ret = read_int_file(t->procfd, "personality", 16, &v, err);
	if (ret < 0)
		return ret;
	json_set(out, "personality", json_hex(v));
	ret = read_int_file(t->procfd, "oom_score_adj", 10, &v, err);
	if (ret < 0)
		return ret;
	json_set(out, "oom_score_adj", json_int(v));
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "root" : "cwd";

		n = readlinkat(t->procfd, name, link, sizeof(link) - 1);
		if (n < 0)
			return ckpt_error(err, errno, "readlink /proc/%d/%s", t->pid, name);
		link[n] = '\0';
		json_set(out, name, json_str(link));
	}
	ret = rcall(rs, &r, SYS_prctl, PR_GET_PDEATHSIG, scratch, 0, 0, err);
	if (ret == 0)
		ret = rsys_peek(t->pid, scratch, &iv, sizeof(iv), err);
	if (ret < 0)
		return ret;
	json_set(out, "pdeathsig", json_int(iv));
	ret = rcall(rs, &r, SYS_prctl, PR_GET_CHILD_SUBREAPER, scratch, 0, 0, err);
	if (ret == 0)
		ret = rsys_peek(t->pid, scratch, &iv, sizeof(iv), err);
	if (ret < 0)
		return ret;
	json_set(out, "child_subreaper", json_bool(iv));
	ret = rcall(rs, &r, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, err);
	if (ret < 0)
		return ret;
	json_set(out, "dumpable", json_int(r));
	ret = rcall(rs, &r, SYS_umask, 0, 0, 0, 0, err); /* umask() only reads by writing */
	if (ret == 0)
		ret = rcall(rs, &v, SYS_umask, r, 0, 0, 0, err);
	if (ret < 0)
		return ret;
	json_set(out, "umask", json_int(r));
	return 0;
}

int task_dump_state(struct ckpt_ctx *ctx, struct task *t, struct rsys *rs, uint64_t scratch,
		    ckpt_err_t *err)
{
	struct proc_stat st;
	struct json *j;
	int ret;

	ret = proc_read_stat(t->procfd, &st, err);
	if (ret < 0)
		return ret;
	json_set(t->doc, "comm", json_str(st.comm));
	json_set(t->doc, "exit_signal", json_int(st.exit_signal));
	ret = sigactions_dump(t, rs, scratch, t->doc, err);
	if (ret == 0)
		ret = itimers_dump(t, rs, scratch, t->doc, err);
	if (ret == 0)
		ret = posix_timers_dump(t, rs, scratch, t->doc, err);
	if (ret == 0)
		ret = rlimits_dump(t, t->doc, err);
	if (ret == 0)
		ret = mm_dump(t, rs, &st, t->doc, err);
	if (ret == 0)
		ret = misc_dump(t, rs, scratch, t->doc, err);
	if (ret < 0)
		return ret;
	j = siginfo_list(t->pid, true, NULL, 0, err);
	if (!j)
		return -err->code;
	json_set(t->doc, "shared_pending", j);
	return 0;
}

int sched_dump(pid_t tid, struct json *out, ckpt_err_t *err)
{
	struct sched_param sp;
	int policy = sched_getscheduler(tid);

	if (policy < 0 || sched_getparam(tid, &sp) < 0)
		return ckpt_error(err, errno, "thread %d: scheduling policy", tid);
	json_set(out, "sched_policy", json_int(policy));
	json_set(out, "sched_priority", json_int(sp.sched_priority));
	return 0;
}
