/*
 * threads64 - 64 threads, each with its own signal mask (6 signals, bit i
 * of the thread index: all 64 masks differ), its own MXCSR rounding mode,
 * and its own values in rbx, r12-r15 and ymm8-ymm15, held in the registers
 * across a FUTEX_WAIT in inline asm. After restore each thread checks its
 * registers, its mask and that gettid() did not change.
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

#define NTHREADS 64

struct th {
	uint8_t vin[8 * 32];  /* 0: ymm8..ymm15 before */
	uint8_t vout[8 * 32]; /* 256: ... and after the wait */
	uint64_t gin[5];      /* 512: rbx, r12..r15 */
	uint64_t gout[5];     /* 552 */
	uint32_t mxin, mxout; /* 592, 596 */
	volatile int *go;     /* 600 */
	volatile int *parked; /* 608 */
	pid_t tid;
	const char *err;
	int idx;
};
_Static_assert(offsetof(struct th, gin) == 512 && offsetof(struct th, mxin) == 592 &&
		       offsetof(struct th, go) == 600 && offsetof(struct th, parked) == 608,
	       "asm offsets");

static const int sigs[6] = {SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGWINCH};
static volatile int go, parked;
static struct th ths[NTHREADS];

/* Load, count ourselves parked, FUTEX_WAIT until go != 0, store. */
static void hold_registers(struct th *t)
{
	asm volatile("ldmxcsr 592(%[t])\n\t"
		     "vmovdqu 0(%[t]), %%ymm8\n\t"
		     "vmovdqu 32(%[t]), %%ymm9\n\t"
		     "vmovdqu 64(%[t]), %%ymm10\n\t"
		     "vmovdqu 96(%[t]), %%ymm11\n\t"
		     "vmovdqu 128(%[t]), %%ymm12\n\t"
		     "vmovdqu 160(%[t]), %%ymm13\n\t"
		     "vmovdqu 192(%[t]), %%ymm14\n\t"
		     "vmovdqu 224(%[t]), %%ymm15\n\t"
		     "mov 512(%[t]), %%rbx\n\t"
		     "mov 520(%[t]), %%r12\n\t"
		     "mov 528(%[t]), %%r13\n\t"
		     "mov 536(%[t]), %%r14\n\t"
		     "mov 544(%[t]), %%r15\n\t"
		     "mov 608(%[t]), %%rax\n\t"
		     "lock incl (%%rax)\n\t"
		     "1: mov $202, %%eax\n\t" /* SYS_futex */
		     "mov 600(%[t]), %%rdi\n\t"
		     "xor %%esi, %%esi\n\t"   /* FUTEX_WAIT */
		     "xor %%edx, %%edx\n\t"   /* while *go == 0 */
		     "xor %%r10d, %%r10d\n\t" /* no timeout */
		     "syscall\n\t"
		     "mov 600(%[t]), %%rdi\n\t"
		     "cmpl $0, (%%rdi)\n\t"
		     "je 1b\n\t"
		     "stmxcsr 596(%[t])\n\t"
		     "vmovdqu %%ymm8, 256(%[t])\n\t"
		     "vmovdqu %%ymm9, 288(%[t])\n\t"
		     "vmovdqu %%ymm10, 320(%[t])\n\t"
		     "vmovdqu %%ymm11, 352(%[t])\n\t"
		     "vmovdqu %%ymm12, 384(%[t])\n\t"
		     "vmovdqu %%ymm13, 416(%[t])\n\t"
		     "vmovdqu %%ymm14, 448(%[t])\n\t"
		     "vmovdqu %%ymm15, 480(%[t])\n\t"
		     "mov %%rbx, 552(%[t])\n\t"
		     "mov %%r12, 560(%[t])\n\t"
		     "mov %%r13, 568(%[t])\n\t"
		     "mov %%r14, 576(%[t])\n\t"
		     "mov %%r15, 584(%[t])\n\t"
		     "vzeroupper\n\t"
		     "ldmxcsr 592(%[t])\n\t"
		     :
		     : [t] "r"(t)
		     : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "rbx", "r12", "r13", "r14",
		       "r15", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
		       "memory", "cc");
}

static void *thread_fn(void *arg)
{
	struct th *t = arg;
	sigset_t set, cur;

	sigemptyset(&set);
	for (int b = 0; b < 6; b++)
		if (t->idx & (1 << b))
			sigaddset(&set, sigs[b]);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	t->tid = gettid();
	hold_registers(t);
	/* back to the default rounding mode before any C floating point */
	asm volatile("ldmxcsr %0" : : "m"((uint32_t){0x1f80}));
	if (gettid() != t->tid)
		t->err = "gettid changed";
	else if (memcmp(t->vin, t->vout, sizeof(t->vin)))
		t->err = "ymm8-15 values lost";
	else if (memcmp(t->gin, t->gout, sizeof(t->gin)))
		t->err = "rbx/r12-r15 values lost";
	else if (t->mxout != t->mxin)
		t->err = "MXCSR lost";
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (int s = 1; s < 65 && !t->err; s++)
		if (sigismember(&cur, s) != sigismember(&set, s))
			t->err = "signal mask differs";
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t pt[NTHREADS];

	wl_init(argc, argv);
	if (!__builtin_cpu_supports("avx"))
		return wl_fail("this workload needs AVX (ymm registers)");
	for (int i = 0; i < NTHREADS; i++) {
		struct th *t = &ths[i];

		t->idx = i;
		for (size_t k = 0; k < sizeof(t->vin) / 8; k++)
			((uint64_t *)t->vin)[k] = wl_pattern(1000 + i, k);
		for (int k = 0; k < 5; k++)
			t->gin[k] = wl_pattern(2000 + i, k);
		/* rounding control (bits 13-14) and flush-to-zero (bit 15) */
		t->mxin = 0x1f80 | (i & 3) << 13 | ((i >> 2) & 1) << 15;
		t->go = &go;
		t->parked = &parked;
		if (pthread_create(&pt[i], NULL, thread_fn, t))
			return wl_fail("pthread_create %d", i);
	}
	if (wl_wait_atleast(&parked, NTHREADS, WL_TIMEOUT_SEC))
		return wl_fail("only %d threads parked", parked);
	for (int i = 0; i < NTHREADS; i++)
		if (wl_wait_in_syscall(ths[i].tid, SYS_futex))
			return wl_fail("thread %d not in futex wait", i);

	wl_ready();
	wl_wait_restored();

	go = 1;
	wl_futex_wake(&go);
	for (int i = 0; i < NTHREADS; i++) {
		if (wl_join(pt[i], NULL))
			return wl_fail("thread %d stuck after restore", i);
		if (ths[i].err)
			return wl_fail("thread %d (tid %d): %s", i, ths[i].tid, ths[i].err);
	}
	return wl_pass();
}
