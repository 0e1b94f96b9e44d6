/*
 * libckpt/arch/regs-x86_64.c - per-thread CPU state: general registers (with
 * fs/gs base) and the whole XSAVE area, in task-PID.json as hex.
 *
 * A thread stopped inside a syscall has orig_rax = the syscall and
 * rax = -ERESTART*. The kernel applies its restart rules only when it
 * delivers a signal on the way out, which a restored (or released) thread
 * may not do, so we apply them ourselves: rip back over the `syscall`
 * instruction and rax = the syscall number again.
 */
#define LOG_PREFIX "regs: "
#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "engine.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

#define ERESTARTSYS	      512
#define ERESTARTNOINTR	      513
#define ERESTARTNOHAND	      514
#define ERESTART_RESTARTBLOCK 516

static const struct {
	const char *name;
	size_t off;
} gpr_fields[] = {
#define F(n)                                                                                       \
	{                                                                                          \
#n, offsetof(struct user_regs_struct, n)                                           \
	}
	F(r15),	   F(r14), F(r13), F(r12),     F(rbp),	   F(rbx), F(r11),	F(r10), F(r9),
	F(r8),	   F(rax), F(rcx), F(rdx),     F(rsi),	   F(rdi), F(orig_rax), F(rip), F(cs),
	F(eflags), F(rsp), F(ss),  F(fs_base), F(gs_base), F(ds),  F(es),	F(fs),	F(gs),
#undef F
};

int regs_dump(struct thread *th, ckpt_err_t *err)
{
	uint8_t buf[XSTATE_MAX];
	struct iovec iov = {buf, sizeof(buf)};

	if (ptrace(PTRACE_GETREGS, th->tid, NULL, &th->regs) < 0)
		return ckpt_error(err, errno, "thread %d: get registers", th->tid);
	if (ptrace(PTRACE_GETREGSET, th->tid, (void *)NT_X86_XSTATE, &iov) < 0)
		return ckpt_error(err, errno, "thread %d: get xstate", th->tid);
	th->xstate = xzalloc(iov.iov_len);
	memcpy(th->xstate, buf, iov.iov_len);
	th->xstate_len = iov.iov_len;
	if (ptrace(PTRACE_GETSIGMASK, th->tid, sizeof(uint64_t), &th->sigmask) < 0)
		return ckpt_error(err, errno, "thread %d: get signal mask", th->tid);
	return 0;
}

/*
 * epoll_wait() is never restarted by the kernel: stopped by our interrupt
 * it returns EINTR, which the program would see although no signal came.
 * When no signal was taken from the thread while we stopped it, the EINTR
 * is ours and the call is restarted instead (with its full timeout).
 */
static bool epoll_family(long nr)
{
	return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == 441 /* epoll_pwait2 */;
}

void regs_fixup_restart(struct user_regs_struct *regs, pid_t tid, bool our_interrupt)
{
	long ret = (long)regs->rax;

	if ((long)regs->orig_rax < 0)
		return;
	if (ret == -EINTR && our_interrupt && epoll_family(regs->orig_rax))
		ret = -ERESTARTNOHAND;
	switch (-ret) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		break;
	case ERESTART_RESTARTBLOCK:
		/*
		 * Only nanosleep-like calls end up here. When the program gave a
		 * `rem` buffer the kernel has already written the remaining time
		 * into it, so sleeping again on `rem` keeps the remaining time.
		 */
		if (regs->orig_rax == SYS_nanosleep && regs->rsi) {
			regs->rdi = regs->rsi;
		} else if (regs->orig_rax == SYS_clock_nanosleep && regs->rsi == 0 && regs->r10) {
			regs->rdx = regs->r10;
		} else {
			pr_debug("thread %d: syscall %ld interrupted, will see EINTR", tid,
				 (long)regs->orig_rax);
			regs->rax = -EINTR;
			break;
		}
		regs->rax = regs->orig_rax;
		regs->rip -= 2;
		break;
	default:
		return;
	}
	pr_debug("thread %d: syscall %ld will restart", tid, (long)regs->orig_rax);
}

struct json *regs_to_json(const struct thread *th)
{
	struct json *j = json_obj(), *gpr = json_set(j, "gpr", json_obj());
	struct user_regs_struct regs = th->regs;

	regs_fixup_restart(&regs, th->tid, th->nstolen == 0);
	regs.orig_rax = -1;
	for (size_t i = 0; i < ARRAY_SIZE(gpr_fields); i++)
		json_set(gpr, gpr_fields[i].name,
			 json_hex(*(uint64_t *)((char *)&regs + gpr_fields[i].off)));
	json_set(j, "xstate", json_hexbuf(th->xstate, th->xstate_len));
	return j;
}

int regs_from_json(const struct doc_at *at, const struct json *j, struct user_regs_struct *regs,
		   uint8_t **xstate, size_t *xstate_len, ckpt_err_t *err)
{
	struct doc_at gat = DOC_KEY(at, "gpr");
	const struct json *gpr;
	const char *hex;
	size_t len;
	int ret;

	ret = doc_obj(at, j, "gpr", &gpr, err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(gpr_fields); i++)
		ret = doc_u64(&gat, gpr, gpr_fields[i].name, UINT64_MAX,
			      (uint64_t *)((char *)regs + gpr_fields[i].off), err);
	if (ret == 0)
		ret = doc_str(at, j, "xstate", 2 * XSTATE_MAX, &hex, err);
	if (ret < 0)
		return ret;
	len = strlen(hex) / 2;
	if (len < 512 + 64) { /* the legacy area and the XSAVE header at least */
		struct doc_at x = DOC_KEY(at, "xstate");

		return doc_error(err, &x, "%zu bytes is not an XSAVE area", len);
	}
	*xstate = xzalloc(len);
	*xstate_len = len;
	return doc_hexbuf(at, j, "xstate", *xstate, len, err);
}

int regs_restore(pid_t tid, const struct user_regs_struct *regs, const uint8_t *xstate,
		 size_t xstate_len, ckpt_err_t *err)
{
	struct iovec iov = {(void *)xstate, xstate_len};

	if (xstate_len && ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov) < 0)
		return ckpt_error(err, errno, "thread %d: set xstate", tid);
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs) < 0)
		return ckpt_error(err, errno, "thread %d: set registers", tid);
	return 0;
}
