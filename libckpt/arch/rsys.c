/*
 * libckpt/arch/rsys.c - remote syscalls in a ptrace-stopped thread.
 *
 * Save the registers, point rip at a `syscall` instruction (one in the
 * vdso at dump, the scratch page ckpt-oci maps at restore), set orig_rax
 * to -1 so an interrupted syscall of the thread is not restarted over ours,
 * run to the syscall's exit with PTRACE_SYSCALL, read rax, and finally put
 * the registers back. Every signal is blocked while we drive the thread, so
 * that a pending signal is not delivered to the program at the wrong time.
 */
#define LOG_PREFIX "rsys: "
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "engine.h"
#include "arch/rsys.h"
#include "util/abort.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/*
 * What is queued on r (rsys_queue) runs before anything else is asked of
 * it. The queue is taken off meanwhile: the flush's own puts and run go
 * straight to the thread.
 */
static int queue_run(struct rsys *r, ckpt_err_t *err)
{
	struct rsys_batch *q = r->queue;
	int ret;

	if (!q || !q->n)
		return 0;
	r->queue = NULL;
	ret = rsys_batch_flush(q, err);
	r->queue = q;
	return ret;
}

/*
 * No abort request ends this wait: a thread left at the entry of our
 * syscall would run the saved orig_rax with the saved arguments once its
 * registers are put back. The call runs to its exit (a dump's calls do not
 * block), and the next rsys_call answers the request.
 */
int rsys_wait_stop(pid_t tid, int *status, ckpt_err_t *err)
{
	pid_t w;

	do
		w = waitpid(tid, status, __WALL);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return ckpt_error(err, errno, "wait for thread %d", tid);
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		return ckpt_error_msg(err, ESRCH, "thread %d died (status 0x%x)", tid, *status);
	return 0;
}

int rsys_init(struct rsys *r, pid_t tid, uint64_t sc_addr, ckpt_err_t *err)
{
	uint64_t all = ~0ULL;

	memset(r, 0, sizeof(*r));
	r->tid = tid;
	r->sc_addr = sc_addr;
	if (ptrace(PTRACE_GETREGS, tid, NULL, &r->saved) < 0)
		return ckpt_error(err, errno, "thread %d: get registers", tid);
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(uint64_t), &r->saved_mask) < 0)
		return ckpt_error(err, errno, "thread %d: get signal mask", tid);
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(uint64_t), &all) < 0)
		return ckpt_error(err, errno, "thread %d: block signals", tid);
	r->active = true;
	return 0;
}

int rsys_fini(struct rsys *r, ckpt_err_t *err)
{
	int ret;

	if (!r->active)
		return 0;
	ret = queue_run(r, err);
	if (ret < 0)
		return ret;
	r->queue = NULL;
	r->active = false;
	/*
	 * The thread now sits at the exit of our last syscall, where the kernel
	 * applies no restart rules: apply them to its own interrupted syscall.
	 */
	if (-(long)r->saved.rax == 516 /* ERESTART_RESTARTBLOCK */ &&
	    (long)r->saved.orig_rax >= 0) {
		r->saved.rax = SYS_restart_syscall;
		r->saved.rip -= 2;
	} else {
		regs_fixup_restart(&r->saved, r->tid, !r->signal_taken);
	}
	if (ptrace(PTRACE_SETREGS, r->tid, NULL, &r->saved) < 0)
		return ckpt_error(err, errno, "thread %d: restore registers", r->tid);
	if (ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(uint64_t), &r->saved_mask) < 0)
		return ckpt_error(err, errno, "thread %d: restore signal mask", r->tid);
	return 0;
}

void rsys_drop(struct rsys *r)
{
	if (r->queue)
		r->queue->n = 0;
	r->queue = NULL;
	r->active = false;
}

/* Wait for the syscall stop after a resume; other stops are resumed again. */
static int rsys_wait_syscall(struct rsys *r, ckpt_err_t *err)
{
	int status, ret;

	for (;;) {
		ret = rsys_wait_stop(r->tid, &status, err);
		if (ret < 0)
			return ret;
		if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80))
			return 0;
		/*
		 * A group-stop or interrupt event: go on. A signal-delivery stop
		 * (only SIGKILL/SIGSTOP can get here) is suppressed.
		 */
		pr_debug("thread %d: stop 0x%x while driving a syscall, resuming", r->tid, status);
		if (ptrace(PTRACE_SYSCALL, r->tid, NULL, NULL) < 0)
			return ckpt_error(err, errno, "thread %d: resume to syscall", r->tid);
	}
}

/* Resume to the next syscall stop; other stops are not expected with all signals blocked. */
static int rsys_step(struct rsys *r, ckpt_err_t *err)
{
	if (ptrace(PTRACE_SYSCALL, r->tid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "thread %d: resume to syscall", r->tid);
	return rsys_wait_syscall(r, err);
}

int rsys_call_start(struct rsys *r, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		    uint64_t a5, uint64_t a6, ckpt_err_t *err)
{
	struct user_regs_struct regs = r->saved;
	char name[32];
	int rc;

	if (!r->active)
		return ckpt_error_msg(err, EINVAL, "thread %d: remote %s without init", r->tid,
				      rsys_name(nr, name));
	rc = queue_run(r, err);
	if (rc < 0)
		return rc;
	/* an abort is answered between calls, never inside one (see rsys_wait_stop) */
	rc = ckpt_abort_check_once(err);
	if (rc < 0)
		return rc;
	r->calls++;
	regs.rip = r->sc_addr;
	regs.rax = nr;
	regs.orig_rax = -1;
	regs.rdi = a1;
	regs.rsi = a2;
	regs.rdx = a3;
	regs.r10 = a4;
	regs.r8 = a5;
	regs.r9 = a6;
	r->nr = nr;
	r->exited = false;
	if (ptrace(PTRACE_SETREGS, r->tid, NULL, &regs) < 0)
		return ckpt_error(err, errno, "thread %d: set registers", r->tid);
	rc = rsys_step(r, err); /* syscall entry */
	if (rc == 0 && ptrace(PTRACE_SYSCALL, r->tid, NULL, NULL) < 0)
		rc = ckpt_error(err, errno, "thread %d: resume to syscall", r->tid);
	if (rc < 0)
		return ckpt_error_wrap(err, "remote %s", rsys_name(nr, name));
	return 0;
}

/*
 * A stop of a thread left running, without waiting: 1 one (*status), 0
 * none yet, < 0 the thread died or cannot be waited for.
 */
static int poll_stop(struct rsys *r, int *status, ckpt_err_t *err)
{
	pid_t w = waitpid(r->tid, status, __WALL | WNOHANG);

	if (w == 0 || (w < 0 && errno == EINTR))
		return 0;
	if (w < 0)
		return ckpt_error(err, errno, "wait for thread %d", r->tid);
	if (WIFEXITED(*status) || WIFSIGNALED(*status))
		return ckpt_error_msg(err, ESRCH, "thread %d died (status 0x%x)", r->tid, *status);
	return 1;
}

int rsys_call_done(struct rsys *r, ckpt_err_t *err)
{
	int status, ret;

	if (r->exited)
		return 1;
	ret = poll_stop(r, &status, err);
	if (ret <= 0)
		return ret;
	if (WIFSTOPPED(status) && WSTOPSIG(status) == (SIGTRAP | 0x80)) {
		r->exited = true;
		return 1;
	}
	pr_debug("thread %d: stop 0x%x while driving a syscall, resuming", r->tid, status);
	if (ptrace(PTRACE_SYSCALL, r->tid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "thread %d: resume to syscall", r->tid);
	return 0;
}

int rsys_call_finish(struct rsys *r, long *ret, ckpt_err_t *err)
{
	struct user_regs_struct regs;
	char name[32];
	int rc = r->exited ? 0 : rsys_wait_syscall(r, err); /* syscall exit */

	r->exited = false;
	if (rc < 0)
		return ckpt_error_wrap(err, "remote %s", rsys_name(r->nr, name));
	if (ptrace(PTRACE_GETREGS, r->tid, NULL, &regs) < 0)
		return ckpt_error(err, errno, "thread %d: get registers", r->tid);
	*ret = (long)regs.rax;
	pr_debug("%d: %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) = %ld", r->tid, rsys_name(r->nr, name),
		 (unsigned long)regs.rdi, (unsigned long)regs.rsi, (unsigned long)regs.rdx,
		 (unsigned long)regs.r10, (unsigned long)regs.r8, (unsigned long)regs.r9, *ret);
	return 0;
}

int rsys_call(struct rsys *r, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
	      uint64_t a4, uint64_t a5, uint64_t a6, ckpt_err_t *err)
{
	int rc = rsys_call_start(r, nr, a1, a2, a3, a4, a5, a6, err);

	return rc < 0 ? rc : rsys_call_finish(r, ret, err);
}

__asm__(".pushsection .rodata\n"
	".globl rsys_code_sigactions\n"
	"rsys_code_sigactions:\n"
	"1:	mov $13, %eax\n" /* rt_sigaction */
	"	mov %r12d, %edi\n"
	"	xor %esi, %esi\n"
	"	mov %r13, %rdx\n"
	"	mov $8, %r10d\n"
	"	syscall\n"
	"	add $32, %r13\n"
	"	inc %r12d\n"
	"	cmp $65, %r12d\n"
	"	jne 1b\n"
	"	int3\n"
	".globl rsys_code_sigactions_end\n"
	"rsys_code_sigactions_end:\n"
	".popsection\n");

/*
 * vmsplice(r12, r13 iovecs, r14 of them, 0) until every run is in the pipe
 * or a call fails: each call returns once the pipe is full, and the
 * iovecs are advanced in place past what it took. r15: the bytes moved;
 * rax: the last call's result (<= 0 when one failed). Then int3.
 */
__asm__(".pushsection .rodata\n"
	".globl rsys_code_vmsplice\n"
	"rsys_code_vmsplice:\n"
	"	xor %r15d, %r15d\n"
	"1:	mov $278, %eax\n" /* vmsplice */
	"	mov %r12d, %edi\n"
	"	mov %r13, %rsi\n"
	"	mov %r14, %rdx\n"
	"	xor %r10d, %r10d\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jle 3f\n"
	"	add %rax, %r15\n"
	"2:	mov 8(%r13), %rcx\n" /* past the runs it took whole */
	"	cmp %rcx, %rax\n"
	"	jb 4f\n"
	"	sub %rcx, %rax\n"
	"	add $16, %r13\n"
	"	dec %r14\n"
	"	jnz 2b\n"
	"	jmp 3f\n"
	"4:	add %rax, (%r13)\n" /* into the one it took part of */
	"	sub %rax, 8(%r13)\n"
	"	jmp 1b\n"
	"3:	int3\n"
	".globl rsys_code_vmsplice_end\n"
	"rsys_code_vmsplice_end:\n"
	".popsection\n");

__asm__(".pushsection .rodata\n"
	".globl rsys_code_batch\n"
	"rsys_code_batch:\n"
	"1:	test %r13, %r13\n"
	"	jz 2f\n"
	"	mov (%r12), %eax\n" /* nr: the low half, zero-extended */
	"	mov 8(%r12), %rdi\n"
	"	mov 16(%r12), %rsi\n"
	"	mov 24(%r12), %rdx\n"
	"	mov 32(%r12), %r10\n"
	"	mov 40(%r12), %r8\n"
	"	mov 48(%r12), %r9\n"
	"	syscall\n"
	"	mov %rax, 56(%r12)\n"
	"	cmp $-4095, %rax\n"
	"	jb 3f\n"
	"	testb $1, 4(%r12)\n" /* RSYS_BATCH_SOFT */
	"	jnz 3f\n"
	"	movzwl 6(%r12), %ecx\n" /* RSYS_BATCH_ALLOW: that errno goes on */
	"	add %rax, %rcx\n"
	"	jnz 2f\n"
	"3:	add $64, %r12\n"
	"	dec %r13\n"
	"	jmp 1b\n"
	"2:	int3\n"
	".globl rsys_code_batch_end\n"
	"rsys_code_batch_end:\n"
	".popsection\n");

int rsys_code_start(struct rsys *r, uint64_t rip, uint64_t r12, uint64_t r13, uint64_t r14,
		    ckpt_err_t *err)
{
	struct user_regs_struct regs = r->saved;
	uint64_t trap_open = ~(1ULL << (SIGTRAP - 1));
	int ret;

	if (!r->active)
		return ckpt_error_msg(err, EINVAL, "thread %d: remote code without init", r->tid);
	ret = queue_run(r, err);
	if (ret < 0)
		return ret;
	ret = ckpt_abort_check_once(err);
	if (ret < 0)
		return ret;
	r->runs++;
	regs.rip = rip;
	regs.orig_rax = -1;
	regs.r12 = r12;
	regs.r13 = r13;
	regs.r14 = r14;
	r->exited = false;
	if (ptrace(PTRACE_SETREGS, r->tid, NULL, &regs) < 0)
		return ckpt_error(err, errno, "thread %d: set registers", r->tid);
	/* SIGTRAP unblocked for the int3 (see rsys.h); every other signal stays blocked */
	if (ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(uint64_t), &trap_open) < 0)
		return ckpt_error(err, errno, "thread %d: signal mask", r->tid);
	if (ptrace(PTRACE_CONT, r->tid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "thread %d: run code", r->tid);
	return 0;
}

/* One stop of code running: 1 its int3 (signals blocked again), 0 another (resumed). */
static int code_stop(struct rsys *r, int status, ckpt_err_t *err)
{
	uint64_t all = ~0ULL;

	/* the int3: a SIGTRAP delivery stop, suppressed by the next resume */
	if (WSTOPSIG(status) == SIGTRAP && status >> 16 == 0) {
		if (ptrace(PTRACE_SETSIGMASK, r->tid, sizeof(uint64_t), &all) < 0)
			return ckpt_error(err, errno, "thread %d: signal mask", r->tid);
		r->exited = true;
		return 1;
	}
	if (WSTOPSIG(status) == SIGSEGV || WSTOPSIG(status) == SIGBUS || WSTOPSIG(status) == SIGILL)
		return ckpt_error_msg(err, EFAULT, "thread %d: remote code faulted (signal %d)",
				      r->tid, WSTOPSIG(status));
	pr_debug("thread %d: stop 0x%x while running code, resuming", r->tid, status);
	if (ptrace(PTRACE_CONT, r->tid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "thread %d: run code", r->tid);
	return 0;
}

int rsys_code_done(struct rsys *r, ckpt_err_t *err)
{
	int status, ret;

	if (r->exited)
		return 1;
	ret = poll_stop(r, &status, err);
	return ret <= 0 ? ret : code_stop(r, status, err);
}

int rsys_code_finish(struct rsys *r, struct user_regs_struct *regs, ckpt_err_t *err)
{
	int status, ret = 0;

	while (!r->exited && ret == 0) {
		ret = rsys_wait_stop(r->tid, &status, err);
		if (ret == 0)
			ret = code_stop(r, status, err);
		ret = ret > 0 ? 0 : ret;
	}
	r->exited = false;
	if (ret == 0 && regs && ptrace(PTRACE_GETREGS, r->tid, NULL, regs) < 0)
		ret = ckpt_error(err, errno, "thread %d: get registers", r->tid);
	return ret;
}

int rsys_run_code(struct rsys *r, uint64_t rip, uint64_t r12, uint64_t r13, uint64_t r14,
		  ckpt_err_t *err)
{
	int ret = rsys_code_start(r, rip, r12, r13, r14, err);

	return ret < 0 ? ret : rsys_code_finish(r, NULL, err);
}

int rsys_callv(struct rsys *r, long *ret, ckpt_err_t *err, long nr, const uint64_t a[6])
{
	return rsys_call(r, ret, nr, a[0], a[1], a[2], a[3], a[4], a[5], err);
}

int rsys_check(int ret, long r, ckpt_err_t *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	if (ret < 0)
		return ret;
	if (r >= 0 || r <= -4096)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return ckpt_error(err, -r, "%s", what);
}

int rsys_okv(struct rsys *r, long *ret, ckpt_err_t *err, long nr, const uint64_t a[6])
{
	char name[32];
	long v;
	int rc = rsys_call(r, &v, nr, a[0], a[1], a[2], a[3], a[4], a[5], err);

	if (rc < 0)
		return rc;
	if (ret)
		*ret = v;
	if (v < 0 && v > -4096)
		return ckpt_error(err, -v, "%s", rsys_name(nr, name));
	return 0;
}

/*
 * Names come from libseccomp's table for this host's architecture, looked
 * up once per number: a restore makes thousands of remote calls, each
 * logged.
 */
const char *rsys_name(long nr, char buf[32])
{
	static char *names[512];
	char *n;

	if (nr >= 0 && nr < (long)ARRAY_SIZE(names) && names[nr])
		return names[nr];
	n = nr >= 0 ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)nr) : NULL;
	if (!n) {
		snprintf(buf, 32, "syscall %ld", nr);
		return buf;
	}
	if (nr < (long)ARRAY_SIZE(names))
		return names[nr] = n;
	snprintf(buf, 32, "%s", n);
	free(n);
	return buf;
}

void rsys_set_scratch(struct rsys *r, uint64_t addr, size_t len)
{
	r->scratch = addr;
	r->scratch_len = len;
}

static int scratch_range(const struct rsys *r, size_t off, size_t len, ckpt_err_t *err)
{
	if (!r->scratch)
		return ckpt_error_msg(err, EINVAL, "thread %d: no scratch area", r->tid);
	if (off > r->scratch_len || len > r->scratch_len - off)
		return ckpt_error_msg(err, E2BIG, "thread %d: %zu bytes at %zu past scratch (%zu)",
				      r->tid, len, off, r->scratch_len);
	return 0;
}

int rsys_put(struct rsys *r, size_t off, const void *buf, size_t len, ckpt_err_t *err)
{
	int ret = queue_run(r, err);

	if (ret == 0)
		ret = scratch_range(r, off, len, err);
	return ret < 0 ? ret : rsys_poke(r->tid, r->scratch + off, buf, len, err);
}

int rsys_get(struct rsys *r, size_t off, void *buf, size_t len, ckpt_err_t *err)
{
	int ret = queue_run(r, err);

	if (ret == 0)
		ret = scratch_range(r, off, len, err);
	return ret < 0 ? ret : rsys_peek(r->tid, r->scratch + off, buf, len, err);
}

static int mem_fd(pid_t pid, int flags, ckpt_err_t *err)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return fd;
}

/*
 * process_vm_readv/writev first: one syscall, where /proc/PID/mem costs an
 * open, a path walk and a close (about 0.2 ms each on a loaded machine,
 * ten times per task at dump). They honour the page protections, so a
 * page we may not touch that way (read-only, PROT_NONE) goes through
 * /proc/PID/mem, which writes with FOLL_FORCE.
 */
static bool pvm_rw(pid_t pid, uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	ssize_t n = write ? process_vm_writev(pid, &local, 1, &remote, 1, 0)
			  : process_vm_readv(pid, &local, 1, &remote, 1, 0);

	return n == (ssize_t)len;
}

int rsys_poke(pid_t pid, uint64_t addr, const void *buf, size_t len, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	ssize_t n;

	if (pvm_rw(pid, addr, (void *)buf, len, true))
		return 0;
	fd = mem_fd(pid, O_WRONLY, err);
	if (fd < 0)
		return fd;
	n = pwrite(fd, buf, len, (off_t)addr);
	if (n != (ssize_t)len)
		return ckpt_error(err, n < 0 ? errno : EIO, "write %zu bytes at %#lx in %d", len,
				  (unsigned long)addr, pid);
	return 0;
}

int rsys_peek(pid_t pid, uint64_t addr, void *buf, size_t len, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	ssize_t n;

	if (pvm_rw(pid, addr, buf, len, false))
		return 0;
	fd = mem_fd(pid, O_RDONLY, err);
	if (fd < 0)
		return fd;
	n = pread(fd, buf, len, (off_t)addr);
	if (n != (ssize_t)len)
		return ckpt_error(err, n < 0 ? errno : EIO, "read %zu bytes at %#lx in %d", len,
				  (unsigned long)addr, pid);
	return 0;
}

/* The first `syscall` (0f 05) in [start, end) of the task, or 0. */
static uint64_t find_syscall_in(pid_t pid, uint64_t start, uint64_t end)
{
	const size_t chunk = 1 << 20;

	for (uint64_t at = start; at < end; at += chunk - 1) {
		size_t len = MIN(chunk, end - at);
		cleanup_free unsigned char *img = xzalloc(len);
		ckpt_err_t e = {0};

		if (rsys_peek(pid, at, img, len, &e) < 0) {
			ckpt_error_clear(&e);
			return 0;
		}
		for (size_t i = 0; i + 1 < len; i++)
			if (img[i] == 0x0f && img[i + 1] == 0x05)
				return at + i;
	}
	return 0;
}

/*
 * The vdso first: it is small and always has one. A task that unmapped it
 * still runs code with system calls somewhere: the bytes 0f 05 anywhere in
 * executable memory are a `syscall` when execution starts at them, which
 * is all a remote call does (it stops at the syscall's exit).
 */
struct find_syscall {
	pid_t pid;
	bool vdso; /* this pass looks in the vdso only, or everywhere else */
	uint64_t found;
};

static int find_syscall_vma(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct find_syscall *f = arg;

	if (!(v->prot & PROT_EXEC) || f->vdso != !strcmp(v->path, "[vdso]"))
		return 0;
	f->found = find_syscall_in(f->pid, v->start, v->end);
	return f->found != 0;
}

uint64_t rsys_find_syscall(pid_t pid)
{
	struct find_syscall f = {.pid = pid};
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	for (int pass = 0; pass < 2 && !f.found; pass++) {
		ckpt_err_t e = {0};

		f.vdso = pass == 0;
		if (proc_read_maps(AT_FDCWD, path, find_syscall_vma, &f, &e) < 0) {
			ckpt_error_clear(&e);
			return 0;
		}
	}
	return f.found;
}

_Static_assert(sizeof(struct rsys_batch_ent) == 64, "rsys_code_batch walks 64-byte entries");

struct rsys_batch *rsys_batch_new(struct rsys *rs, uint64_t code, size_t table_off, size_t data_len)
{
	struct rsys_batch *b = xzalloc(sizeof(*b) + data_len);

	b->rs = rs;
	b->code = code;
	b->table_off = table_off;
	b->data_len = data_len;
	b->failed = -1;
	return b;
}

void rsys_batch_free(struct rsys_batch *b)
{
	free(b);
}

int rsys_batch_add(struct rsys_batch *b, unsigned flags, int64_t expect, long nr,
		   const uint64_t a[6], ckpt_err_t *err, const char *fmt, ...)
{
	struct rsys_batch_ent *e;
	const char *fail;
	size_t len;
	va_list ap;

	if (b->n == RSYS_BATCH_MAX) {
		int ret = rsys_batch_flush(b, err);

		if (ret < 0)
			return ret;
	}
	e = &b->ent[b->n];
	e->nr = (uint64_t)nr | (flags & RSYS_BATCH_SOFT ? 1ULL << 32 : 0);
	if (flags & RSYS_BATCH_ALLOW)
		e->nr |= (uint64_t)(expect & 0xffff) << 48;
	memcpy(e->a, a, sizeof(e->a));
	e->ret = 0;
	b->flags[b->n] = flags;
	b->expect[b->n] = expect;
	len = b->context[0]
		      ? (size_t)snprintf(b->what[b->n], sizeof(b->what[0]), "%s: ", b->context)
		      : 0;
	va_start(ap, fmt);
	vsnprintf(b->what[b->n] + len, sizeof(b->what[0]) - len, fmt, ap);
	va_end(ap);
	/* the fault point remote-fail:LABEL: a call so labelled fails with ENOSYS */
	fail = ckpt_fault_arg("remote-fail");
	if (fail && *fail && strstr(b->what[b->n], fail))
		e->nr = (e->nr & ~0xffffffffULL) | 0xffffffffULL;
	b->n++;
	return 0;
}

int rsys_batch_data(struct rsys_batch *b, const void *buf, size_t len, uint64_t *at,
		    ckpt_err_t *err)
{
	size_t off;

	if (len > b->data_len)
		return ckpt_error_msg(err, E2BIG, "%zu bytes do not fit a remote batch", len);
	if (b->data_used + len > b->data_len) {
		int ret = rsys_batch_flush(b, err);

		if (ret < 0)
			return ret;
	}
	off = (b->data_used + 7) & ~7UL;
	if (off + len > b->data_len)
		off = b->data_used;
	memcpy(b->data + off, buf, len);
	b->data_used = off + len;
	*at = rsys_at(b->rs, b->table_off + RSYS_BATCH_MAX * sizeof(b->ent[0]) + off);
	return 0;
}

int rsys_batch_flush(struct rsys_batch *b, ckpt_err_t *err)
{
	struct user_regs_struct regs;
	size_t table = b->n * sizeof(b->ent[0]);
	int n = b->n, ret = 0;

	if (!n)
		return 0;
	b->n = 0;
	if (b->data_used)
		ret = rsys_put(b->rs, b->table_off + RSYS_BATCH_MAX * sizeof(b->ent[0]), b->data,
			       b->data_used, err);
	b->data_used = 0;
	if (ret == 0)
		ret = rsys_put(b->rs, b->table_off, b->ent, table, err);
	if (ret == 0)
		ret = rsys_code_start(b->rs, b->code, rsys_at(b->rs, b->table_off), n, 0, err);
	if (ret == 0)
		ret = rsys_code_finish(b->rs, &regs, err);
	/* a SIGTRAP the calls queued would end the run as its int3 does: not there */
	if (ret == 0 && regs.rip != b->code + (rsys_code_batch_end - rsys_code_batch))
		ret = ckpt_error_msg(err, EINTR, "thread %d: stopped by a SIGTRAP at %#llx",
				     b->rs->tid, regs.rip);
	if (ret == 0)
		ret = rsys_get(b->rs, b->table_off, b->ent, table, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "remote batch of %d calls", n);
	for (int i = 0; i < n; i++) {
		const struct rsys_batch_ent *e = &b->ent[i];
		bool error = e->ret < 0 && e->ret > -4096;
		char name[32];

		pr_debug("%d: %s(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx) = %ld (batch)", b->rs->tid,
			 rsys_name((uint32_t)e->nr, name), (unsigned long)e->a[0],
			 (unsigned long)e->a[1], (unsigned long)e->a[2], (unsigned long)e->a[3],
			 (unsigned long)e->a[4], (unsigned long)e->a[5], (long)e->ret);
		if (b->flags[i] & RSYS_BATCH_ALLOW && e->ret == -b->expect[i])
			continue;
		if (error && !(b->flags[i] & RSYS_BATCH_SOFT))
			ret = ckpt_error(err, (int)-e->ret, "%s", b->what[i]);
		else if (b->flags[i] & RSYS_BATCH_EXPECT && e->ret != b->expect[i])
			ret = ckpt_error_msg(err, error ? (int)-e->ret : EFAULT,
					     "%s: %ld where %ld was due", b->what[i], (long)e->ret,
					     (long)b->expect[i]);
		if (ret < 0) {
			b->failed = i;
			b->failure = *err;
			return ret;
		}
	}
	return 0;
}

void rsys_batch_context(struct rsys_batch *b, const char *fmt, ...)
{
	va_list ap;

	b->context[0] = '\0';
	if (!fmt)
		return;
	va_start(ap, fmt);
	vsnprintf(b->context, sizeof(b->context), fmt, ap);
	va_end(ap);
}

const ckpt_err_t *rsys_batch_failure(const struct rsys_batch *b)
{
	return b && b->failed >= 0 ? &b->failure : NULL;
}

void rsys_queue_attach(struct rsys *r, struct rsys_batch *b)
{
	b->rs = r;
	r->queue = b;
}

int rsys_queue_detach(struct rsys *r, ckpt_err_t *err)
{
	int ret = queue_run(r, err);

	r->queue = NULL;
	return ret;
}

int rsys_flush(struct rsys *r, ckpt_err_t *err)
{
	return queue_run(r, err);
}

int rsys_queue(struct rsys *r, unsigned flags, int64_t expect, long nr, const uint64_t a[6],
	       ckpt_err_t *err, const char *fmt, ...)
{
	char what[sizeof(r->queue->what[0])];
	va_list ap;
	long v;
	int ret;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->queue)
		return rsys_batch_add(r->queue, flags, expect, nr, a, err, "%s", what);
	ret = rsys_callv(r, &v, err, nr, a);
	r->data_used = 0;
	if (ret < 0 || (flags & RSYS_BATCH_ALLOW && v == -expect))
		return ret;
	if (v < 0 && v > -4096 && !(flags & RSYS_BATCH_SOFT))
		return ckpt_error(err, (int)-v, "%s", what);
	if (flags & RSYS_BATCH_EXPECT && v != expect)
		return ckpt_error_msg(err, v < 0 && v > -4096 ? (int)-v : EFAULT,
				      "%s: %ld where %ld was due", what, v, (long)expect);
	return 0;
}

int rsys_queue_data(struct rsys *r, const void *buf, size_t len, uint64_t *at, ckpt_err_t *err)
{
	size_t off = (r->data_used + 7) & ~7UL;
	int ret;

	if (r->queue)
		return rsys_batch_data(r->queue, buf, len, at, err);
	ret = rsys_put(r, off, buf, len, err);
	if (ret < 0)
		return ret;
	r->data_used = off + len;
	*at = rsys_at(r, off);
	return 0;
}

bool rsys_batch_room(const struct rsys_batch *b, size_t len)
{
	return b->n < RSYS_BATCH_MAX && ((b->data_used + 7) & ~7UL) + len <= b->data_len;
}
