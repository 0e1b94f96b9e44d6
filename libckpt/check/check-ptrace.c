/*
 * libckpt/check/check-ptrace.c - probes for what dump reads from a stopped task:
 * ptrace requests and regsets, pidfd_getfd, kcmp, process_vm_readv.
 * Each one works on a helper process started with check_spawn().
 */
#define LOG_PREFIX "check: "
#include <elf.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "check/check.h"
#include "util/uapi.h"
#include "util/util.h"

/* The xstate header's software-reserved bytes hold xcr0 (fxsave layout). */
#define XSTATE_XCR0_OFFSET 464
/* Fixed fd number the pidfd_getfd helper parks its file at. */
#define GETFD_TARGET 100
#define VM_READ_SIZE (64UL << 20)

/*
 * Run body on a helper made by setup(arg), seized (with options) and in its
 * ptrace stop; body says in o what it found. The helper goes afterwards.
 */
static void with_stopped(int (*setup)(void *arg, uint64_t *val), void *arg, unsigned long options,
			 bool (*body)(pid_t pid, struct probe_out *o), struct probe_out *o)
{
	pid_t pid = check_spawn(setup, arg, NULL, o);

	if (pid < 0)
		return;
	if (check_seize_stop(pid, options, o))
		body(pid, o);
	check_kill(pid);
}

static bool seize_body(pid_t pid, struct probe_out *o)
{
	probe_detail(o, "PTRACE_EVENT_STOP seen after PTRACE_INTERRUPT");
	return true;
}

void probe_ptrace_seize(struct probe_out *o)
{
	with_stopped(NULL, NULL, 0, seize_body, o);
}

static bool xstate_body(pid_t pid, struct probe_out *o)
{
	static uint8_t buf[64 << 10];
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	uint64_t xcr0;

	if (ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) < 0)
		return probe_errno(o, "PTRACE_GETREGSET NT_X86_XSTATE");
	if (iov.iov_len < XSTATE_XCR0_OFFSET + sizeof(xcr0))
		return probe_fail(o, "xstate only %zu bytes", iov.iov_len);
	memcpy(&xcr0, buf + XSTATE_XCR0_OFFSET, sizeof(xcr0));
	probe_detail(o, "%zu bytes, xcr0 0x%llx", iov.iov_len, (unsigned long long)xcr0);
	return true;
}

void probe_ptrace_xstate(struct probe_out *o)
{
	with_stopped(NULL, NULL, 0, xstate_body, o);
}

static int block_usr1(void *arg, uint64_t *val)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	/*
	 * Blocked, pending signals for PEEKSIGINFO to find: one in the
	 * thread's private queue, one in the process-wide shared queue.
	 */
	if (arg && (pthread_sigqueue(pthread_self(), SIGUSR1, (union sigval){.sival_int = 1}) ||
		    sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 2}) < 0))
		return -1;
	return 0;
}

static bool sigmask_body(pid_t pid, struct probe_out *o)
{
	uint64_t mask = 0, want = 1ULL << (SIGUSR1 - 1), more = 1ULL << (SIGUSR2 - 1);

	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask) < 0)
		return probe_errno(o, "PTRACE_GETSIGMASK");
	if (!(mask & want))
		return probe_fail(o, "mask 0x%llx lacks the blocked SIGUSR1",
				  (unsigned long long)mask);
	mask |= more;
	if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(mask), &mask) < 0)
		return probe_errno(o, "PTRACE_SETSIGMASK");
	mask = 0;
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(mask), &mask) < 0 || !(mask & more))
		return probe_fail(o, "PTRACE_SETSIGMASK did not stick");
	probe_detail(o, "read and written back");
	return true;
}

void probe_ptrace_sigmask(struct probe_out *o)
{
	with_stopped(block_usr1, NULL, 0, sigmask_body, o);
}

/* The one queued SIGUSR1 of the private or shared queue, its value checked. */
static bool peek_one(pid_t pid, uint32_t flags, int value, struct probe_out *o)
{
	struct __ptrace_peeksiginfo_args a = {.off = 0, .flags = flags, .nr = 4};
	siginfo_t si[4];
	long n;

	n = ptrace(PTRACE_PEEKSIGINFO, pid, &a, si);
	if (n < 0)
		return probe_errno(o, "PTRACE_PEEKSIGINFO");
	if (n != 1 || si[0].si_signo != SIGUSR1 || si[0].si_value.sival_int != value)
		return probe_fail(o, "%s queue: expected the one queued SIGUSR1, got %ld entries",
				  flags ? "shared" : "private", n);
	return true;
}

static bool peeksiginfo_body(pid_t pid, struct probe_out *o)
{
	if (!peek_one(pid, 0, 1, o) || !peek_one(pid, PTRACE_PEEKSIGINFO_SHARED, 2, o))
		return false;
	probe_detail(o, "queued SIGUSR1 read back from the private and shared queues");
	return true;
}

void probe_ptrace_peeksiginfo(struct probe_out *o)
{
	with_stopped(block_usr1, "queue", 0, peeksiginfo_body, o);
}

static bool rseq_body(pid_t pid, struct probe_out *o)
{
	struct __ptrace_rseq_configuration conf = {0};

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, sizeof(conf), &conf) < 0)
		return probe_errno(o, "PTRACE_GET_RSEQ_CONFIGURATION");
	if (!conf.rseq_abi_pointer)
		return probe_fail(o, "no rseq registered by glibc (glibc.pthread.rseq=0?)");
	probe_detail(o, "rseq size %u, sig 0x%x", conf.rseq_abi_size, conf.signature);
	return true;
}

/* the helper is a fork of ckpt-oci, so it has glibc's rseq registration */
void probe_ptrace_rseq(struct probe_out *o)
{
	with_stopped(NULL, NULL, 0, rseq_body, o);
}

/* A filter that allows everything: enough to read it back. */
static int install_filter(void *arg, uint64_t *val)
{
	struct sock_filter insn[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = ARRAY_SIZE(insn), .filter = insn};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -1 : 0;
}

static bool seccomp_body(pid_t pid, struct probe_out *o)
{
	struct sock_filter insn[8];
	long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, NULL);

	if (n < 0)
		return probe_errno(o, "PTRACE_SECCOMP_GET_FILTER");
	if (n != 2 || ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, insn) != 2 ||
	    insn[1].code != (BPF_RET | BPF_K) || insn[1].k != SECCOMP_RET_ALLOW)
		return probe_fail(o, "filter read back does not match (%ld instructions)", n);
	probe_detail(o, "2-instruction filter read back, PTRACE_O_SUSPEND_SECCOMP accepted");
	return true;
}

/* restore seizes with SUSPEND_SECCOMP so filters do not block its syscalls */
void probe_ptrace_seccomp(struct probe_out *o)
{
	with_stopped(install_filter, NULL, PTRACE_O_SUSPEND_SECCOMP, seccomp_body, o);
}

static int park_fd(void *arg, uint64_t *val)
{
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || dup3(fd, GETFD_TARGET, O_CLOEXEC) < 0)
		return -1;
	return 0;
}

void probe_pidfd_getfd(struct probe_out *o)
{
	cleanup_close int pidfd = -1, fd = -1;
	struct stat a, b;
	char path[64];
	pid_t pid;

	pid = check_spawn(park_fd, NULL, NULL, o);
	if (pid < 0)
		return;
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0) {
		probe_errno(o, "pidfd_open");
		goto out;
	}
	fd = syscall(__NR_pidfd_getfd, pidfd, GETFD_TARGET, 0);
	if (fd < 0) {
		probe_errno(o, "pidfd_getfd");
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, GETFD_TARGET);
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_ino != b.st_ino ||
	    a.st_dev != b.st_dev) {
		probe_fail(o, "the fd received is not the helper's file");
		goto out;
	}
	probe_detail(o, "helper's fd %d received", GETFD_TARGET);
out:
	check_kill(pid);
}

void probe_kcmp(struct probe_out *o)
{
	cleanup_close int a = -1, b = -1, c = -1;
	pid_t self = getpid();
	long same, other;

	a = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	c = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	b = a < 0 ? -1 : fcntl(a, F_DUPFD_CLOEXEC, 0);
	if (a < 0 || b < 0 || c < 0) {
		probe_errno(o, "open");
		return;
	}
	same = syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);
	other = syscall(SYS_kcmp, self, self, KCMP_FILE, a, c);
	if (same < 0 || other < 0) {
		probe_errno(o, "kcmp(KCMP_FILE)");
		return;
	}
	if (same != 0 || other == 0) {
		probe_fail(o, "wrong answers: dup %ld, separate open %ld", same, other);
		return;
	}
	probe_detail(o, "dup'ed fds compare equal, separate opens do not");
}

static int fill_buffer(void *arg, uint64_t *val)
{
	char *p = mmap(NULL, VM_READ_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	if (p == MAP_FAILED)
		return -1;
	for (size_t i = 0; i < VM_READ_SIZE; i += PAGE_SIZE)
		memset(p + i, (int)(i / PAGE_SIZE) & 0xff, PAGE_SIZE);
	*val = (uintptr_t)p;
	return 0;
}

/* One 64 MiB process_vm_readv; returns GiB/s, or -1 with o set. */
static double vm_read_once(pid_t pid, char *buf, uint64_t addr, struct probe_out *o)
{
	struct iovec local = {.iov_base = buf, .iov_len = VM_READ_SIZE};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = VM_READ_SIZE};
	uint64_t t = now_ns();
	ssize_t n;

	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	t = now_ns() - t;
	if (n < 0)
		return probe_errno(o, "process_vm_readv"), -1;
	if ((size_t)n != VM_READ_SIZE || buf[5 * PAGE_SIZE] != 5 || buf[VM_READ_SIZE - 1] != -1)
		return probe_fail(o, "short or wrong read: %zd bytes", n), -1;
	return (double)VM_READ_SIZE / (1 << 30) / ((double)(t ? t : 1) / 1e9);
}

void probe_process_vm_readv(struct probe_out *o)
{
	cleanup_free char *buf = NULL;
	double first, warm = 0;
	uint64_t addr;
	pid_t pid;

	pid = check_spawn(fill_buffer, NULL, &addr, o);
	if (pid < 0)
		return;
	buf = xzalloc(VM_READ_SIZE);
	/* touch the destination first: fresh memory is slow to fault in here */
	memset(buf, 1, VM_READ_SIZE);
	/* the first pass is markedly slower than later ones here: show both */
	first = vm_read_once(pid, buf, addr, o);
	for (int i = 0; i < 3 && first > 0; i++) {
		double r = vm_read_once(pid, buf, addr, o);

		if (r < 0) {
			warm = -1;
			break;
		}
		warm = MAX(warm, r);
	}
	if (first > 0 && warm > 0)
		probe_detail(o, "%.1f GiB/s on 64 MiB (first pass %.1f GiB/s)", warm, first);
	check_kill(pid);
}
