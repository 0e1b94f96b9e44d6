/*
 * libckpt/task/mmflags.c - settings of a process's address space that it
 * opted into: transparent huge pages disabled (task-PID.json
 * "thp_disable", PR_GET_THP_DISABLE as it answers: bit 0 disabled, bit 1
 * except where advised) and its membarrier registrations
 * ("membarrier_registrations", the MEMBARRIER_CMD_REGISTER_* bits that
 * MEMBARRIER_CMD_GET_REGISTRATIONS gives). The restored process is a fork
 * of ckpt-oci, which has neither: each is issued again from inside it.
 */
#define LOG_PREFIX "mmflags: "
#include <errno.h>
#include <inttypes.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/util.h"

#define MEMBARRIER_GET_REGISTRATIONS (1 << 9) /* 6.3+ */
#define THP_DISABLE_EXCEPT_ADVISED   (1 << 1) /* PR_SET_THP_DISABLE flag, 6.18+ */

/* Every registration command, in the order they are issued again. */
static const int membarrier_registers[] = {
	MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE,
	MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ,
};

static int mmflags_dump(struct task_dump *d, ckpt_err_t *err)
{
	long r;
	int ret;

	ret = RSYS_OK(d->rs, &r, err, SYS_prctl, PR_GET_THP_DISABLE, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d", d->t->pid);
	json_set(d->out, "thp_disable", json_int(r));
	ret = RSYS(d->rs, &r, err, SYS_membarrier, MEMBARRIER_GET_REGISTRATIONS, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	if (r < 0) /* a kernel that cannot say: none is assumed */
		pr_warn("task %d: membarrier registrations unknown (%s), not saved", d->t->pid,
			strerror(-r));
	else
		json_set(d->out, "membarrier_registrations", json_int(r));
	return 0;
}

static int mmflags_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			 ckpt_err_t *err)
{
	int64_t v;
	int ret = doc_opt_int(at, doc, "thp_disable", 0, 3, 0, &v, err);

	ts->thp_disable = v;
	if (ret == 0)
		ret = doc_opt_int(at, doc, "membarrier_registrations", 0, 0x1ff, 0, &v, err);
	ts->membarrier = v;
	return ret;
}

static int mmflags_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct rsys *rs = &t->rs;
	int ret;

	(void)rc;
	if (t->state->thp_disable & 1) {
		uint64_t flags = t->state->thp_disable & 2 ? THP_DISABLE_EXCEPT_ADVISED : 0;

		ret = RSYS_OK(rs, NULL, err, SYS_prctl, PR_SET_THP_DISABLE, 1, flags, 0, 0, 0);
		if (ret < 0)
			return ckpt_error_wrap(err, "disable transparent huge pages");
	}
	for (size_t i = 0; i < ARRAY_SIZE(membarrier_registers); i++) {
		int cmd = membarrier_registers[i];

		if (!(t->state->membarrier & cmd))
			continue;
		ret = RSYS_OK(rs, NULL, err, SYS_membarrier, cmd, 0, 0, 0, 0, 0);
		if (ret < 0)
			return ckpt_error_wrap(err, "membarrier registration %#x", cmd);
	}
	return 0;
}

static void mmflags_describe(FILE *out, const struct task_state *ts)
{
	if (ts->thp_disable || ts->membarrier)
		fprintf(out, "  mm:      THP %s, membarrier registrations %#x\n",
			ts->thp_disable & 1 ? "disabled" : "as the system says", ts->membarrier);
}

const struct task_state_ops task_mmflags_ops = {
	.name = "mmflags",
	.dump = mmflags_dump,
	.parse = mmflags_parse,
	.restore = mmflags_restore,
	.describe = mmflags_describe,
};
