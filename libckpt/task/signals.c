/*
 * libckpt/task/signals.c - signal dispositions: the process's actions
 * (task-PID.json "sigactions": sig, handler, flags, restorer, mask) and
 * each thread's alternate stack ("sigaltstack") and blocked mask
 * ("sigmask", put back with the registers by rthread_regs). Queued
 * signals are pending.c's.
 */
#define LOG_PREFIX "signals: "
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/util.h"

/*
 * rt_sigaction for every signal but SIGKILL and SIGSTOP: even a default
 * action keeps the flags and mask it was given, and sigaction() shows them.
 * Only actions that differ from the pristine default are saved.
 */
static int signals_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct rsys *rs = d->rs;
	size_t len = rsys_code_sigactions_end - rsys_code_sigactions;
	uint64_t code = rs->scratch + rs->scratch_len; /* the code area after the data */
	struct json *acts = json_set(d->out, "sigactions", json_arr());
	struct k_sigaction ka[64];
	int ret;

	/* one stop for all 64: the code loops over rt_sigaction in the task */
	ret = rsys_poke(d->t->pid, code, rsys_code_sigactions, len, err);
	if (ret == 0)
		ret = rsys_run_code(rs, code, 1, rsys_at(rs, 0), 0, err);
	if (ret == 0)
		ret = rsys_get(rs, 0, ka, sizeof(ka), err);
	/* the code's int3 reset an ignored SIGTRAP to the default: put it back */
	if (ret == 0 && ka[SIGTRAP - 1].handler == (uint64_t)SIG_IGN)
		ret = RSYS_OK(rs, NULL, err, SYS_rt_sigaction, SIGTRAP,
			      rsys_at(rs, (SIGTRAP - 1) * sizeof(ka[0])), 0, 8, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d: signal actions", d->t->pid);
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

static int signals_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	struct json *j;
	stack_t ss;
	int ret;

	ret = RSYS_OK(d->rs, NULL, err, SYS_sigaltstack, 0, rsys_at(d->rs, 0), 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_get(d->rs, 0, &ss, sizeof(ss), err);
	if (ret < 0)
		return ckpt_error_wrap(err, "thread %d", th->tid);
	j = json_set(d->out, "sigaltstack", json_obj());
	json_set(j, "sp", json_hex((uintptr_t)ss.ss_sp));
	json_set(j, "flags", json_int(ss.ss_flags));
	json_set(j, "size", json_int(ss.ss_size));
	return 0;
}

static const struct doc_field sigaction_fields[] = {
	DOC_INT(struct sigaction_state, sig, "sig", 1, 64),
	DOC_HEX(struct sigaction_state, ka.handler, "handler", UINT64_MAX),
	DOC_HEX(struct sigaction_state, ka.flags, "flags", UINT64_MAX),
	DOC_HEX(struct sigaction_state, ka.restorer, "restorer", UINT64_MAX),
	DOC_HEX(struct sigaction_state, ka.mask, "mask", UINT64_MAX),
	DOC_END,
};

static int signals_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			 ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "sigactions");
	const struct json *acts;
	int ret = doc_arr(at, doc, "sigactions", 64, &acts, &ts->nacts, err);

	if (ret < 0)
		return ret;
	ts->acts = xzalloc((ts->nacts ?: 1) * sizeof(*ts->acts));
	for (size_t i = 0; i < ts->nacts; i++) {
		struct doc_at e = DOC_IDX(&k, i);
		const struct json *a;

		ret = doc_elem_obj(&k, acts, i, &a, err);
		if (ret == 0)
			ret = doc_read(&e, a, sigaction_fields, &ts->acts[i], err);
		if (ret < 0)
			return ret;
		if (ts->acts[i].sig == SIGKILL || ts->acts[i].sig == SIGSTOP)
			return doc_error(err, &e, "no action can be set for signal %d",
					 ts->acts[i].sig);
	}
	return 0;
}

static int signals_parse_thread(const struct doc_at *at, const struct json *th,
				struct thread_state *ts, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "sigaltstack");
	const struct json *ss;
	int64_t flags = 0;
	int ret = doc_u64(at, th, "sigmask", UINT64_MAX, &ts->sigmask, err);

	if (ret == 0)
		ret = doc_opt_obj(at, th, "sigaltstack", &ss, err);
	if (ret < 0 || !ss)
		return ret;
	ret = doc_int(&k, ss, "flags", 0, INT32_MAX, &flags, err);
	if (ret == 0)
		ret = doc_u64(&k, ss, "sp", UINT64_MAX, &ts->ss_sp, err);
	if (ret == 0)
		ret = doc_u64(&k, ss, "size", UINT64_MAX, &ts->ss_size, err);
	ts->ss_flags = flags;
	ts->has_altstack = !(flags & SS_DISABLE);
	return ret;
}

/*
 * Only saved actions are set: every other one is already SIG_DFL, reset by
 * the restored process itself before it was taken over (restore-child.c).
 */
static int signals_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct rsys *rs = &t->rs;

	(void)rc;
	for (size_t i = 0; i < t->state->nacts; i++) {
		const struct sigaction_state *a = &t->state->acts[i];
		uint64_t at;
		int ret = rsys_queue_data(rs, &a->ka, sizeof(a->ka), &at, err);

		if (ret == 0)
			ret = rsys_queue(rs, 0, 0, SYS_rt_sigaction,
					 (uint64_t[6]){a->sig, at, 0, 8}, err,
					 "signal %d: rt_sigaction", a->sig);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int signals_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				  ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct rsys *rs = rthread_rsys(t, th);
	stack_t st = {0};
	uint64_t at;
	int ret;

	(void)rc;
	if (!ts->has_altstack)
		return 0;
	st.ss_sp = (void *)(uintptr_t)ts->ss_sp;
	st.ss_size = ts->ss_size;
	st.ss_flags = ts->ss_flags & ~SS_ONSTACK;
	ret = rsys_queue_data(rs, &st, sizeof(st), &at, err);
	return ret < 0 ? ret
		       : rsys_queue(rs, 0, 0, SYS_sigaltstack, (uint64_t[6]){at}, err,
				    "sigaltstack");
}

/* Handlers (signal number and handler address), process-wide pending signals. */
static void signals_describe(FILE *out, const struct task_state *ts)
{
	fprintf(out, "  signals: %zu handlers", ts->nacts);
	for (size_t i = 0; i < ts->nacts; i++)
		fprintf(out, "%s%d@0x%" PRIx64, i ? ", " : " (", ts->acts[i].sig,
			ts->acts[i].ka.handler);
	fprintf(out, "%s; %zu pending for the process\n", ts->nacts ? ")" : "",
		ts->shared_pending.n);
}

static void signals_free(struct task_state *ts)
{
	free(ts->acts);
}

const struct task_state_ops task_signals_ops = {
	.name = "signals",
	.dump = signals_dump,
	.dump_thread = signals_dump_thread,
	.parse = signals_parse,
	.parse_thread = signals_parse_thread,
	.restore = signals_restore,
	.restore_thread = signals_restore_thread,
	.describe = signals_describe,
	.free = signals_free,
};
