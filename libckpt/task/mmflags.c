/*
 * libckpt/task/mmflags.c - settings of a process's address space that it
 * opted into: transparent huge pages disabled (task-PID.json
 * "thp_disable", PR_GET_THP_DISABLE as it answers: bit 0 disabled, bit 1
 * except where advised) and its membarrier registrations
 * ("membarrier_registrations", the MEMBARRIER_CMD_REGISTER_* bits that
 * MEMBARRIER_CMD_GET_REGISTRATIONS gives), and mlockall(MCL_FUTURE): new
 * mappings come locked ("mlock_future", MCL_FUTURE with MCL_ONFAULT when
 * they are locked on fault). The kernel has no call that tells the last:
 * one page is mapped in the task and its VmFlags read ("lo", "lf"). The
 * restored process is a fork of ckpt-oci, which has none of these: each is
 * issued again from inside it, the mlockall once its memory is made.
 */
#define LOG_PREFIX "mmflags: "
#include <errno.h>
#include <inttypes.h>
#include <linux/membarrier.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
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

struct probe {
	uint64_t addr;
	int flags; /* MCL_FUTURE, MCL_ONFAULT as the probe page's VmFlags say */
};

static bool has_flag(const char *vmflags, const char *f)
{
	for (const char *p = vmflags; (p = strstr(p, f)); p += 2)
		if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0'))
			return true;
	return false;
}

static int probe_vma(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct probe *pr = arg;

	(void)err;
	if (pr->addr < v->start || pr->addr >= v->end)
		return 0; /* merged with a neighbour of the same flags, it is in there */
	if (has_flag(v->vmflags, "lo"))
		pr->flags = MCL_FUTURE | (has_flag(v->vmflags, "lf") ? MCL_ONFAULT : 0);
	return 1;
}

/* VmLck of the task's mm, in kB; -1 when it cannot be read. */
static long vm_locked(int procfd)
{
	cleanup_free char *buf = NULL;
	ckpt_err_t e = {0};
	const char *p;

	if (read_file_at(procfd, "status", 1 << 16, &buf, NULL, &e) < 0 ||
	    !(p = strstr(buf, "\nVmLck:")))
		return -1;
	return strtol(p + 7, NULL, 10);
}

/*
 * MCL_FUTURE (and MCL_ONFAULT): does a new page in the task come locked?
 * A page mapped under it counts in VmLck at once: when VmLck did not
 * grow, smaps (a walk of every page table entry: 45 ms of a frozen 1 GiB
 * task) is not read.
 */
static int mlock_future_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct probe pr = {0};
	long addr, locked = vm_locked(d->t->procfd);
	int ret;

	ret = RSYS(d->rs, &addr, err, SYS_mmap, 0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	if (ret < 0)
		return ret;
	if (addr == -EAGAIN) /* only a locked mapping is over RLIMIT_MEMLOCK */
		pr.flags = MCL_FUTURE;
	else if (addr < 0 && addr > -4096)
		return ckpt_error(err, -addr, "task %d: map a page to see mlockall flags",
				  d->t->pid);
	else {
		pr.addr = addr;
		ret = locked >= 0 && vm_locked(d->t->procfd) == locked
			      ? 0
			      : proc_read_maps(d->t->procfd, "smaps", probe_vma, &pr, err);
		if (ret >= 0)
			ret = RSYS_OK(d->rs, NULL, err, SYS_munmap, addr, 4096, 0, 0, 0, 0);
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d: mlockall flags", d->t->pid);
	}
	if (pr.flags)
		json_set(d->out, "mlock_future", json_int(pr.flags));
	return 0;
}

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
	return mlock_future_dump(d, err);
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
	if (ret == 0)
		ret = doc_opt_int(at, doc, "mlock_future", 0, MCL_FUTURE | MCL_ONFAULT, 0, &v, err);
	ts->mlock_future = v;
	if (ret == 0 && v && v != MCL_FUTURE && v != (MCL_FUTURE | MCL_ONFAULT))
		ret = ckpt_error_msg(err, EINVAL,
				     "%s: mlock_future: %" PRId64 " is not 0, %d or %d", ts->file,
				     v, MCL_FUTURE, MCL_FUTURE | MCL_ONFAULT);
	return ret;
}

static int mmflags_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct rsys *rs = &t->rs;
	int ret;

	(void)rc;
	if (t->state->thp_disable & 1) {
		uint64_t flags = t->state->thp_disable & 2 ? THP_DISABLE_EXCEPT_ADVISED : 0;

		ret = rsys_queue(rs, 0, 0, SYS_prctl, (uint64_t[6]){PR_SET_THP_DISABLE, 1, flags},
				 err, "disable transparent huge pages: prctl");
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < ARRAY_SIZE(membarrier_registers); i++) {
		int cmd = membarrier_registers[i];

		if (!(t->state->membarrier & cmd))
			continue;
		ret = rsys_queue(rs, 0, 0, SYS_membarrier, (uint64_t[6]){cmd}, err,
				 "membarrier registration %#x: membarrier", cmd);
		if (ret < 0)
			return ret;
	}
	/* after the memory: only what the task maps from now on comes locked */
	if (t->state->mlock_future) {
		ret = rsys_queue(rs, 0, 0, SYS_mlockall, (uint64_t[6]){t->state->mlock_future}, err,
				 "mlockall %#x: mlockall", t->state->mlock_future);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void mmflags_describe(FILE *out, const struct task_state *ts)
{
	if (ts->thp_disable || ts->membarrier)
		fprintf(out, "  mm:      THP %s, membarrier registrations %#x\n",
			ts->thp_disable & 1 ? "disabled" : "as the system says", ts->membarrier);
	if (ts->mlock_future)
		fprintf(out, "  mm:      new mappings locked (mlockall MCL_FUTURE%s)\n",
			ts->mlock_future & MCL_ONFAULT ? " | MCL_ONFAULT" : "");
}

const struct task_state_ops task_mmflags_ops = {
	.name = "mmflags",
	.dump = mmflags_dump,
	.parse = mmflags_parse,
	.restore = mmflags_restore,
	.describe = mmflags_describe,
};
