/*
 * libckpt/task/restore-thread.c - the last steps of each thread, run by the
 * thread itself through remote syscalls: sigaltstack, robust list,
 * clear_child_tid, rseq, name, per-thread pending signals; then seccomp
 * filters (installed while the thread still has CAP_SYS_ADMIN; ptrace's
 * SUSPEND_SECCOMP keeps them from judging our own later syscalls), then
 * credentials (securebits, groups, ids, capability sets), and at last its
 * saved registers, XSAVE state and signal mask.
 */
#define LOG_PREFIX "rthread: "
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define SECBIT_NO_SETUID_FIXUP (1 << 2)

struct rcall {
	struct rctx *rc;
	struct rtask *t;
	struct rsys *rs;
	ckpt_err_t *err;
};

/* One syscall; buf (if any) is copied to scratch data and passed as argument `bufarg`. */
static int rc_do(struct rcall *c, const char *what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
		 uint64_t a4, long *out)
{
	long r;
	int ret = rsys_call(c->rs, &r, nr, a1, a2, a3, a4, 0, 0, c->err);

	if (ret < 0)
		return ret;
	if (out)
		*out = r;
	if (r < 0 && r > -4096)
		return ckpt_error(c->err, -r, "%s", what);
	return 0;
}

static int rc_poke(struct rcall *c, uint64_t off, const void *buf, size_t len)
{
	return rsys_poke(c->t->host_pid, c->rc->scratch + SCRATCH_DATA + off, buf, len, c->err);
}

#define DATA(c, off) ((c)->rc->scratch + SCRATCH_DATA + (off))

static int thread_runtime(struct rcall *c, const struct json *th)
{
	struct json *ss = json_get(th, "sigaltstack"), *rseq = json_get(th, "rseq");
	const char *comm = json_as_str(json_get(th, "comm"));
	stack_t st = {0};
	int ret;

	if (ss && !(json_as_int(json_get(ss, "flags")) & SS_DISABLE)) {
		st.ss_sp = (void *)(uintptr_t)json_as_hex(json_get(ss, "sp"));
		st.ss_size = json_as_int(json_get(ss, "size"));
		st.ss_flags = json_as_int(json_get(ss, "flags")) & ~SS_ONSTACK;
		ret = rc_poke(c, 0, &st, sizeof(st));
		if (ret == 0)
			ret = rc_do(c, "sigaltstack", SYS_sigaltstack, DATA(c, 0), 0, 0, 0, NULL);
		if (ret < 0)
			return ret;
	}
	ret = rc_do(c, "set_robust_list", SYS_set_robust_list,
		    json_as_hex(json_get(th, "robust_list")),
		    json_as_int(json_get(th, "robust_list_len")) ?: 24, 0, 0, NULL);
	if (ret == 0)
		ret = rc_do(c, "set_tid_address", SYS_set_tid_address,
			    json_as_hex(json_get(th, "clear_child_tid")), 0, 0, 0, NULL);
	if (ret == 0 && rseq)
		ret = rc_do(c, "rseq", __NR_rseq, json_as_hex(json_get(rseq, "addr")),
			    json_as_int(json_get(rseq, "len")), 0,
			    json_as_hex(json_get(rseq, "sig")), NULL);
	if (ret == 0 && json_get(th, "timer_slack_ns"))
		ret = rc_do(c, "timer slack", SYS_prctl, PR_SET_TIMERSLACK,
			    json_as_int(json_get(th, "timer_slack_ns")), 0, 0, NULL);
	if (ret == 0 && comm) {
		ret = rc_poke(c, 0, comm, strlen(comm) + 1);
		if (ret == 0)
			ret = rc_do(c, "set name", SYS_prctl, PR_SET_NAME, DATA(c, 0), 0, 0, NULL);
	}
	return ret;
}

static int thread_sched(pid_t tid, const struct json *th, ckpt_err_t *err)
{
	struct sched_param sp = {.sched_priority = json_as_int(json_get(th, "sched_priority"))};
	int policy = json_as_int(json_get(th, "sched_policy"));

	if (sched_setscheduler(tid, policy, &sp) < 0)
		return ckpt_error(err, errno, "scheduling policy %d", policy);
	if (setpriority(PRIO_PROCESS, tid, json_as_int(json_get(th, "nice"))) < 0)
		return ckpt_error(err, errno, "nice value");
	return 0;
}

static int thread_seccomp(struct rcall *c, const struct json *th)
{
	struct json *filters = json_get(th, "seccomp_filters");
	int mode = json_as_int(json_get(th, "seccomp_mode"));
	uint8_t prog[BPF_MAXINSNS * sizeof(struct sock_filter)];
	int ret;

	if (mode == SECCOMP_MODE_STRICT)
		return rc_do(c, "seccomp strict", SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, 0,
			     NULL);
	for (size_t i = 0; i < json_len(filters); i++) {
		const char *hex = json_as_str(json_at(filters, i));
		size_t len = hex ? strlen(hex) / 2 : 0;
		struct json *wrap = json_obj();
		struct sock_fprog fp;

		if (!len || len > sizeof(prog) || len % sizeof(struct sock_filter)) {
			json_free(wrap);
			return ckpt_error_msg(c->err, EPROTO, "seccomp filter %zu is malformed", i);
		}
		json_set(wrap, "p", json_str(hex));
		ret = json_get_hexbuf(wrap, "p", prog, len, c->err);
		json_free(wrap);
		fp.len = len / sizeof(struct sock_filter);
		fp.filter = (struct sock_filter *)(uintptr_t)DATA(c, 64);
		if (ret == 0)
			ret = rc_poke(c, 0, &fp, sizeof(fp));
		if (ret == 0)
			ret = rc_poke(c, 64, prog, len);
		if (ret == 0)
			ret = rc_do(c, "seccomp filter", SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
				    DATA(c, 0), 0, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int capset_remote(struct rcall *c, uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	int ret = rc_poke(c, 0, &hdr, sizeof(hdr));

	if (ret == 0)
		ret = rc_poke(c, 64, d, sizeof(d));
	if (ret == 0)
		ret = rc_do(c, "capset", SYS_capset, DATA(c, 0), DATA(c, 64), 0, 0, NULL);
	return ret;
}

/* The bounding set the thread has now; all of them if /proc cannot say. */
static uint64_t current_bnd(struct rcall *c)
{
	cleanup_free char *path = xasprintf("/proc/%d/task/%d", c->t->host_pid, c->rs->tid);
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_status st = { 0 };
	ckpt_err_t e = { 0 };
	uint64_t bnd = ~0ULL;

	if (fd >= 0 && proc_read_status(fd, &st, &e) == 0)
		bnd = st.cap_bnd;
	proc_status_free(&st);
	return bnd;
}

/* The permitted set the thread has now (what ckpt-oci had). */
static int capget_remote(struct rcall *c, uint64_t *prm)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	int ret = rc_poke(c, 0, &hdr, sizeof(hdr));

	if (ret == 0)
		ret = rc_do(c, "capget", SYS_capget, DATA(c, 0), DATA(c, 64), 0, 0, NULL);
	if (ret == 0)
		ret = rsys_peek(c->t->host_pid, DATA(c, 64), d, sizeof(d), c->err);
	if (ret == 0)
		*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return ret;
}

static int thread_creds(struct rcall *c, const struct json *cr)
{
	struct json *uids = json_get(cr, "uids"), *gids = json_get(cr, "gids");
	struct json *groups = json_get(cr, "groups");
	uint64_t bnd = json_as_hex(json_get(cr, "cap_bnd")),
		 amb = json_as_hex(json_get(cr, "cap_amb"));
	uint64_t inh = json_as_hex(json_get(cr, "cap_inh")), full = ~0ULL;
	gid_t gl[NGROUPS_MAX > 1024 ? 1024 : NGROUPS_MAX];
	size_t ng = MIN(json_len(groups), ARRAY_SIZE(gl));
	int ret;

	if (json_len(uids) != 4 || json_len(gids) != 4)
		return ckpt_error_msg(c->err, EPROTO, "creds: uids and gids need 4 entries");
	for (size_t i = 0; i < ng; i++)
		gl[i] = json_as_int(json_at(groups, i));
	/* keep every capability across the uid change; the saved bits come later */
	ret = rc_do(c, "securebits", SYS_prctl, PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0,
		    NULL);
	if (ret == 0)
		ret = rc_poke(c, 0, gl, ng * sizeof(gid_t));
	if (ret == 0)
		ret = rc_do(c, "setgroups", SYS_setgroups, ng, DATA(c, 0), 0, 0, NULL);
#define ID(a, i) ((uint64_t)json_as_int(json_at(a, i)))
	if (ret == 0)
		ret = rc_do(c, "setresgid", SYS_setresgid, ID(gids, 0), ID(gids, 1), ID(gids, 2), 0,
			    NULL);
	if (ret == 0)
		ret = rsys_call(c->rs, &(long){0}, SYS_setfsgid, ID(gids, 3), 0, 0, 0, 0, 0,
				c->err);
	if (ret == 0)
		ret = rc_do(c, "setresuid", SYS_setresuid, ID(uids, 0), ID(uids, 1), ID(uids, 2), 0,
			    NULL);
	if (ret == 0)
		ret = rsys_call(c->rs, &(long){0}, SYS_setfsuid, ID(uids, 3), 0, 0, 0, 0, 0,
				c->err);
#undef ID
	/* only what the thread has now and the saved set lacks: a call each */
	bnd = ~bnd & current_bnd(c);
	for (int cap = 0; ret == 0 && cap < 64; cap++) {
		long r;

		if (!(bnd & (1ULL << cap)))
			continue;
		ret = rsys_call(c->rs, &r, SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0, 0, c->err);
		/* EINVAL: a capability this kernel does not have */
		if (ret == 0 && r < 0 && r != -EINVAL)
			ret = ckpt_error(c->err, -r, "drop bounding capability %d", cap);
	}
	if (ret == 0)
		ret = capget_remote(c, &full);
	if (ret == 0)
		ret = capset_remote(c, full, full, inh);
	for (int cap = 0; ret == 0 && cap < 64; cap++)
		if (amb & (1ULL << cap))
			ret = rc_do(c, "raise ambient capability", SYS_prctl, PR_CAP_AMBIENT,
				    PR_CAP_AMBIENT_RAISE, cap, 0, NULL);
	if (ret == 0)
		ret = rc_do(c, "securebits", SYS_prctl, PR_SET_SECUREBITS,
			    json_as_int(json_get(cr, "securebits")), 0, 0, NULL);
	if (ret == 0)
		ret = capset_remote(c, json_as_hex(json_get(cr, "cap_eff")),
				    json_as_hex(json_get(cr, "cap_prm")), inh);
	if (ret == 0 && json_as_bool(json_get(cr, "no_new_privs")))
		ret = rc_do(c, "no_new_privs", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, NULL);
	return ret;
}

/* Everything of one thread that the thread itself must do. */
int rthread_restore(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err)
{
	struct rcall c = {rc, t, th == &t->threads[0] ? &t->rs : &th->rs, err};
	int ret;

	ret = thread_runtime(&c, th->doc);
	if (ret == 0)
		ret = thread_sched(th->host_tid, th->doc, err);
	if (ret == 0)
		ret = rtask_pending_thread(rc, t, c.rs, th->tid, json_get(th->doc, "pending"), err);
	if (ret == 0)
		ret = thread_seccomp(&c, th->doc);
	if (ret == 0)
		ret = thread_creds(&c, json_get(th->doc, "creds"));
	if (ret < 0)
		return ckpt_error_wrap(err, "thread %d", th->tid);
	return 0;
}

/* Load the saved registers and mask: rsys_fini puts them in place. */
int rthread_regs(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err)
{
	struct rsys *rs = th == &t->threads[0] ? &t->rs : &th->rs;
	int ret;

	rs->saved = th->regs; /* read and checked at load */
	rs->saved_mask = json_as_hex(json_get(th->doc, "sigmask"));
	ret = regs_restore(rs->tid, &rs->saved, th->xstate, th->xstate_len, err);
	if (ret < 0)
		return ret;
	return rsys_fini(rs, err);
}
