/*
 * libckpt/task/rseq.c - per-thread memory the kernel writes into on the
 * thread's behalf: the rseq area (threads[i].rseq: addr, len, sig, flags),
 * the robust futex list ("robust_list", "robust_list_len") and the
 * clear_child_tid address ("clear_child_tid"). Registered again at restore
 * by the thread itself; glibc's rseq of the fork of ckpt-oci is dropped
 * with the old memory (mem/mem-restore.c).
 */
#define LOG_PREFIX "rseq: "
#include <errno.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

static int rseq_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	struct ckpt_rseq_config rseq = {0};
	uint64_t tidaddr = 0, head = 0;
	size_t hlen = 0;
	long r;
	int ret;

	ret = RSYS(d->rs, &r, err, SYS_prctl, PR_GET_TID_ADDRESS, rsys_at(d->rs, 0), 0, 0, 0, 0);
	if (ret == 0 && r == 0)
		ret = rsys_get(d->rs, 0, &tidaddr, sizeof(tidaddr), err);
	if (ret < 0)
		return ret;
	json_set(d->out, "clear_child_tid", json_hex(tidaddr));
	if (syscall(SYS_get_robust_list, th->tid, &head, &hlen) < 0)
		return ckpt_error(err, errno, "thread %d: get robust list", th->tid);
	json_set(d->out, "robust_list", json_hex(head));
	json_set(d->out, "robust_list_len", json_int(hlen));
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, th->tid, sizeof(rseq), &rseq) < 0)
		return ckpt_error(err, errno, "thread %d: get rseq", th->tid);
	if (rseq.rseq_abi_pointer) {
		struct json *j = json_set(d->out, "rseq", json_obj());

		json_set(j, "addr", json_hex(rseq.rseq_abi_pointer));
		json_set(j, "len", json_int(rseq.rseq_abi_size));
		json_set(j, "sig", json_hex(rseq.signature));
		json_set(j, "flags", json_int(rseq.flags));
	}
	return 0;
}

static const struct doc_field rseq_fields[] = {
	DOC_HEX(struct thread_state, rseq_addr, "addr", UINT64_MAX),
	DOC_INT(struct thread_state, rseq_len, "len", 0, 1 << 20),
	DOC_HEX(struct thread_state, rseq_sig, "sig", UINT32_MAX),
	DOC_OPT_INT(struct thread_state, rseq_flags, "flags", 0, UINT32_MAX),
	DOC_END,
};

static const struct doc_field thread_fields[] = {
	DOC_HEX(struct thread_state, robust_list, "robust_list", UINT64_MAX),
	DOC_OPT_INT(struct thread_state, robust_list_len, "robust_list_len", 0, 1 << 20),
	DOC_HEX(struct thread_state, clear_child_tid, "clear_child_tid", UINT64_MAX),
	DOC_END,
};

static int rseq_parse_thread(const struct doc_at *at, const struct json *th,
			     struct thread_state *ts, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "rseq");
	const struct json *rseq;
	int ret = doc_read(at, th, thread_fields, ts, err);

	if (ret == 0 && !ts->robust_list_len)
		ts->robust_list_len = 24; /* sizeof(struct robust_list_head) */
	if (ret == 0)
		ret = doc_opt_obj(at, th, "rseq", &rseq, err);
	if (ret < 0 || !rseq)
		return ret;
	ts->has_rseq = true;
	return doc_read(&k, rseq, rseq_fields, ts, err);
}

static int rseq_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
			       ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct rsys *rs = rthread_rsys(t, th);
	int ret;

	(void)rc;
	ret = rsys_queue(rs, 0, 0, SYS_set_robust_list,
			 (uint64_t[6]){ts->robust_list, ts->robust_list_len}, err,
			 "set_robust_list");
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_set_tid_address, (uint64_t[6]){ts->clear_child_tid},
				 err, "set_tid_address");
	if (ret == 0 && ts->has_rseq)
		ret = rsys_queue(rs, 0, 0, __NR_rseq,
				 (uint64_t[6]){ts->rseq_addr, ts->rseq_len, 0, ts->rseq_sig}, err,
				 "rseq");
	return ret;
}

const struct task_state_ops task_rseq_ops = {
	.name = "rseq",
	.dump_thread = rseq_dump_thread,
	.parse_thread = rseq_parse_thread,
	.restore_thread = rseq_restore_thread,
};
