/*
 * libckpt/arch/rsys.h - remote syscalls: run one syscall inside a ptrace-stopped
 * thread. The one place that knows the x86-64 syscall ABI.
 *
 * Folder libckpt/arch/: what is specific to the CPU and its ABI. rsys.c
 * drives a stopped thread through one syscall or a short piece of code
 * (every remote call of dump and restore goes through RSYS_OK and the
 * scratch area helpers here); regs-x86_64.c reads and writes the general
 * registers and the XSAVE area, and knows how an interrupted syscall
 * restarts. A port to another architecture starts by adding its twin of
 * these two files.
 */
#ifndef CKPT_RSYS_H
#define CKPT_RSYS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "ckpt/error.h"

/* Scratch memory mapped into a task for the buffers of remote syscalls. */
#define SCRATCH_SIZE (64 * 1024UL)

struct rsys {
	pid_t tid;	  /* thread that executes the calls */
	uint64_t sc_addr; /* address of a `syscall` instruction in it */
	uint64_t scratch; /* data area for arguments (rsys_set_scratch), or 0 */
	size_t scratch_len;
	struct user_regs_struct saved; /* registers put back by rsys_fini */
	uint64_t saved_mask;	       /* blocked signals put back by rsys_fini */
	bool active;
	bool signal_taken;	  /* a signal was dequeued while we stopped it */
	long nr;		  /* the call under way (rsys_call_start) */
	bool exited;		  /* it has reached its exit (rsys_call_done) */
	struct rsys_batch *queue; /* calls queued on it (rsys_queue), or NULL */
	size_t data_used;	  /* without one: rsys_queue_data's bytes for the next call */
	unsigned calls, runs;	  /* remote calls and runs of code so far, for the log */
};

/*
 * Take over a stopped thread: save its registers and signal mask, block
 * every signal so nothing is delivered while it runs our syscalls.
 */
int rsys_init(struct rsys *r, pid_t tid, uint64_t sc_addr, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Put the saved registers and mask back. Accepts an inactive rsys. */
int rsys_fini(struct rsys *r, ckpt_err_t *err);
/* Forget the saved state without touching the thread (it is being rewritten). */
void rsys_drop(struct rsys *r);

/*
 * Run syscall nr with up to six arguments; *ret gets the raw return value
 * (a negative errno is a result, not a failure of rsys). Fails only when
 * the thread could not be driven.
 */
int rsys_call(struct rsys *r, long *ret, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
	      uint64_t a4, uint64_t a5, uint64_t a6, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * rsys_call in two halves, for a call that blocks until we act (a
 * vmsplice into a pipe we drain): start runs the thread into the syscall
 * and lets it go on; finish waits for its exit and reads the result. In
 * between, only the thread's own syscall runs; nothing else may drive it.
 */
int rsys_call_start(struct rsys *r, long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		    uint64_t a5, uint64_t a6, ckpt_err_t *err) __attribute__((warn_unused_result));
int rsys_call_finish(struct rsys *r, long *ret, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Without waiting: 1 when the call started has reached its exit, 0 while it runs. */
int rsys_call_done(struct rsys *r, ckpt_err_t *err) __attribute__((warn_unused_result));

#define RSYS(r, ret, err, nr, ...) rsys_callv(r, ret, err, nr, (uint64_t[6]){__VA_ARGS__})
int rsys_callv(struct rsys *r, long *ret, ckpt_err_t *err, long nr, const uint64_t a[6]);

/*
 * The usual check after a remote call: a failure to drive the thread (ret),
 * or the syscall's own error (r in -4095..-1), as "<what>: strerror".
 */
__attribute__((format(printf, 4, 5))) int rsys_check(int ret, long r, ckpt_err_t *err,
						     const char *fmt, ...);

/*
 * A call whose own error is a failure too: RSYS then rsys_check, the error
 * naming the syscall ("setresuid: Operation not permitted"). ret may be
 * NULL when only success matters.
 */
#define RSYS_OK(r, ret, err, nr, ...) rsys_okv(r, ret, err, nr, (uint64_t[6]){__VA_ARGS__})
int rsys_okv(struct rsys *r, long *ret, ckpt_err_t *err, long nr, const uint64_t a[6])
	__attribute__((warn_unused_result));

/* The name of syscall nr on this host (libseccomp), "syscall NR" if it has none. */
const char *rsys_name(long nr, char buf[32]);

/*
 * The scratch area: memory in the task (mapped by the pipeline that drives
 * it) holding the buffers of remote calls. rsys_at gives the task's address
 * of offset off in it, rsys_put and rsys_get copy into and out of it;
 * a range past its end is E2BIG.
 */
void rsys_set_scratch(struct rsys *r, uint64_t addr, size_t len);
static inline uint64_t rsys_at(const struct rsys *r, size_t off)
{
	return r->scratch + off;
}
int rsys_put(struct rsys *r, size_t off, const void *buf, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int rsys_get(struct rsys *r, size_t off, void *buf, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * Run a short piece of machine code inside the thread, from rip with
 * r12, r13 and r14 set, until it traps (int3). SIGTRAP is unblocked
 * meanwhile: a trap raised while it is blocked resets the program's
 * SIGTRAP action to the default (force_sig), which would outlive
 * --leave-running; one ignored (SIG_IGN) is reset all the same, and the
 * caller puts it back. (A SIGSTOP to itself cannot replace the int3: the
 * init of a pid namespace does not get it.) The code must live in
 * executable scratch memory; registers are put back by rsys_fini.
 */
int rsys_run_code(struct rsys *r, uint64_t rip, uint64_t r12, uint64_t r13, uint64_t r14,
		  ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * rt_sigaction(sig, NULL, r13 + 32 * (sig - 1), 8) for sig = r12 .. 64,
 * then int3: every signal action in one stop instead of 64 round trips.
 */
extern const unsigned char rsys_code_sigactions[], rsys_code_sigactions_end[];
/* vmsplice every run of an iovec array into a pipe (see rsys.c), r15 the bytes. */
extern const unsigned char rsys_code_vmsplice[], rsys_code_vmsplice_end[];

/*
 * rsys_run_code in halves, for code that blocks until we act (the
 * vmsplice loop, on a pipe we drain): start lets it run; done says,
 * without waiting, whether it reached its int3 (1) or not (0); finish
 * waits for it and reads the registers it left (regs may be NULL).
 */
int rsys_code_start(struct rsys *r, uint64_t rip, uint64_t r12, uint64_t r13, uint64_t r14,
		    ckpt_err_t *err) __attribute__((warn_unused_result));
int rsys_code_done(struct rsys *r, ckpt_err_t *err) __attribute__((warn_unused_result));
int rsys_code_finish(struct rsys *r, struct user_regs_struct *regs, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * A batch of remote calls run by the thread itself in one stop: a table of
 * entries in its scratch area, each {nr, six arguments, return value}, run
 * in order by rsys_code_batch (r12: the table, r13: the count) until the
 * end or the first call that fails (returns -4095..-1) without
 * RSYS_BATCH_SOFT, then int3. One ptrace stop pair for the whole table
 * where RSYS costs one per call. Buffers the calls point to (paths,
 * iovecs) go with the table (rsys_batch_data). A batch is flushed when
 * full and by rsys_batch_flush, which reports the first failure as RSYS_OK
 * and rsys_check would, with the label given to rsys_batch_add.
 */
#define RSYS_BATCH_MAX	  256
#define RSYS_BATCH_SOFT	  1u /* its error is a result: the batch goes on, no failure */
#define RSYS_BATCH_EXPECT 2u /* anything but `expect` is a failure (EFAULT) */
#define RSYS_BATCH_ALLOW  4u /* error `expect` (EINVAL, ...) is a result: the batch goes on */

struct rsys_batch_ent {
	uint64_t nr; /* bit 32: RSYS_BATCH_SOFT; bits 48-63: the errno RSYS_BATCH_ALLOW lets pass */
	uint64_t a[6];
	int64_t ret;
};

struct rsys_batch {
	struct rsys *rs;
	uint64_t code;	  /* rsys_code_batch in the task */
	size_t table_off; /* scratch offset of the table, then of the data */
	size_t data_len;  /* room for data after the table */
	size_t data_used;
	int n;
	struct rsys_batch_ent ent[RSYS_BATCH_MAX];
	int64_t expect[RSYS_BATCH_MAX];
	unsigned flags[RSYS_BATCH_MAX];
	char what[RSYS_BATCH_MAX][80];
	char context[40];   /* put before each label queued (rsys_batch_context) */
	int failed;	    /* the entry of the last flush that failed, or -1 */
	ckpt_err_t failure; /* its error, as its label gives it (rsys_batch_failure) */
	unsigned char data[];
};

/* A batch on rs: the table at scratch offset table_off, data_len bytes of data after it. */
struct rsys_batch *rsys_batch_new(struct rsys *rs, uint64_t code, size_t table_off,
				  size_t data_len);
void rsys_batch_free(struct rsys_batch *b);
/* Queue a call (flushing first when the table is full). */
__attribute__((format(printf, 7, 8), warn_unused_result)) int
rsys_batch_add(struct rsys_batch *b, unsigned flags, int64_t expect, long nr, const uint64_t a[6],
	       ckpt_err_t *err, const char *fmt, ...);
/* Copy len bytes into the batch's data: *at gets their address in the task (may flush). */
int rsys_batch_data(struct rsys_batch *b, const void *buf, size_t len, uint64_t *at,
		    ckpt_err_t *err) __attribute__((warn_unused_result));
/* Run what is queued; the first failure as an error. */
int rsys_batch_flush(struct rsys_batch *b, ckpt_err_t *err) __attribute__((warn_unused_result));
extern const unsigned char rsys_code_batch[], rsys_code_batch_end[];

/*
 * The context labels get from now on ("thread 12"), put before each as
 * "thread 12: <label>"; none after rsys_batch_context(b, NULL).
 */
__attribute__((format(printf, 2, 3))) void rsys_batch_context(struct rsys_batch *b, const char *fmt,
							      ...);
/*
 * The error of a call that failed in a flush, as its label names it
 * ("thread 12: credentials: setresuid: Operation not permitted"): the
 * queue may have run long after the call was queued, under another
 * step's context, which the caller's wraps would add. NULL if none failed.
 */
const ckpt_err_t *rsys_batch_failure(const struct rsys_batch *b);

/*
 * A queue on a thread: a batch attached to r. Calls queued with rsys_queue
 * run, in order and in one stop, before anything else is asked of r (a
 * remote call, code, rsys_put or rsys_get, rsys_fini) or at rsys_flush, so
 * whatever comes after a queued call sees it done: only what the caller
 * does to the task without r (a /proc write, a ptrace request) must flush
 * first. A queued call's buffers come from rsys_queue_data, never from
 * rsys_put (its offsets may lie under the table). Without a queue,
 * rsys_queue runs the call at once, as RSYS_OK would, the label naming it,
 * and rsys_queue_data puts the data for it at the start of the scratch
 * area.
 */
void rsys_queue_attach(struct rsys *r, struct rsys_batch *b);
/* Run what is queued, then take the queue off r. */
int rsys_queue_detach(struct rsys *r, ckpt_err_t *err);
__attribute__((format(printf, 7, 8), warn_unused_result)) int
rsys_queue(struct rsys *r, unsigned flags, int64_t expect, long nr, const uint64_t a[6],
	   ckpt_err_t *err, const char *fmt, ...);
int rsys_queue_data(struct rsys *r, const void *buf, size_t len, uint64_t *at, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Whether one more call with len bytes of data fits b without a flush. */
bool rsys_batch_room(const struct rsys_batch *b, size_t len);
int rsys_flush(struct rsys *r, ckpt_err_t *err) __attribute__((warn_unused_result));

/* Memory of the traced task through /proc/PID/mem (works on read-only pages). */
int rsys_poke(pid_t pid, uint64_t addr, const void *buf, size_t len, ckpt_err_t *err);
int rsys_peek(pid_t pid, uint64_t addr, void *buf, size_t len, ckpt_err_t *err);

/* Find a `syscall` instruction in the task: its [vdso], else any executable memory; 0 if none. */
uint64_t rsys_find_syscall(pid_t pid);

/* Wait for a traced thread to stop; *status as waitpid gives it. */
int rsys_wait_stop(pid_t tid, int *status, ckpt_err_t *err);

#endif
