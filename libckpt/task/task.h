/*
 * libckpt/task/task.h - task state: one room per kind (creds, signals,
 * pending signals, timers, seccomp, rlimits, rseq, scheduling, prctl and
 * /proc settings, mm fields, mm options, job control stops, children's time
 * namespace), each with its dump, parse, restore and describe side by side
 * behind struct task_state_ops; task.c lists them in the order they run
 * (the order matters, see there).
 *
 * Dump writes the members of task-PID.json (process-wide) and of its
 * threads[i] objects; parse reads them back into the typed structs below,
 * refusing a missing, mistyped or out-of-range member in one line before
 * restore makes anything; restore applies them through remote syscalls
 * (arch/rsys.h) in the puppeteer phase; describe prints them for inspect.
 */
#ifndef CKPT_TASK_H
#define CKPT_TASK_H

#include <linux/filter.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"

struct ckpt_ctx;
struct task;
struct thread;
struct rsys;
struct rctx;
struct rtask;
struct rthread;
struct proc_stat;
struct proc_status;

/* Kernel's struct sigaction for rt_sigaction(2) on x86-64. */
struct k_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

/* ---- typed task-PID.json, as parse leaves it ---- */

struct sigaction_state {
	int sig;
	struct k_sigaction ka;
};

struct siginfo_list {
	siginfo_t *si;
	size_t n;
};

struct itimer_state {
	int64_t value_us, interval_us;
};

struct posix_timer_state {
	int id, signo, clock;
	uint64_t sigval;
	bool notify_none;   /* SIGEV_NONE; else SIGEV_SIGNAL */
	bool notify_thread; /* SIGEV_THREAD_ID to notify_tid */
	pid_t notify_tid;
	int64_t value_ns, interval_ns;
};

struct seccomp_filter_state {
	struct sock_filter *prog;
	size_t len; /* instructions */
};

struct creds_state {
	int64_t uids[4], gids[4]; /* real, effective, saved, fs */
	uint32_t *groups;
	size_t ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool no_new_privs;
	int securebits;
};

struct thread_state {
	pid_t tid;
	/* signals */
	uint64_t sigmask; /* put back with the registers */
	bool has_altstack;
	uint64_t ss_sp, ss_size;
	int ss_flags;
	/* pending */
	struct siginfo_list pending;
	/* rseq */
	uint64_t robust_list, robust_list_len, clear_child_tid;
	bool has_rseq;
	uint64_t rseq_addr, rseq_len, rseq_sig, rseq_flags;
	/* sched */
	int sched_policy, sched_priority, nice;
	bool has_timer_slack;
	uint64_t timer_slack_ns;
	/* prctl */
	const char *comm;	     /* NULL: keep */
	int64_t loginuid, sessionid; /* -1: not saved */
	int pdeathsig;		     /* -1: not saved */
	/* timens */
	bool has_timens_children;
	int64_t timens_children[4]; /* monotonic s, ns, boottime s, ns */
	/* seccomp */
	int seccomp_mode;
	struct seccomp_filter_state *filters; /* oldest first */
	size_t nfilters;
	/* creds */
	struct creds_state creds;
};

struct task_state {
	char file[40]; /* "task-PID.json", for messages */
	/* signals */
	struct sigaction_state *acts;
	size_t nacts;
	/* pending */
	struct siginfo_list shared_pending;
	/* timers */
	struct itimer_state itimers[3];
	size_t nitimers;
	struct posix_timer_state *timers;
	size_t ntimers;
	/* rlimits */
	struct rlimit rlimits[RLIM_NLIMITS];
	size_t nrlimits;
	/* prctl */
	const char *comm, *root, *cwd;
	int pdeathsig, dumpable, umask, oom_score_adj, exit_signal;
	bool child_subreaper;
	uint64_t personality;
	/* jobctl */
	int stop_signal; /* stopped by it (group stop), or 0 */
	/* mmflags */
	int thp_disable;  /* as PR_GET_THP_DISABLE answers */
	int membarrier;	  /* MEMBARRIER_CMD_REGISTER_* bits */
	int mlock_future; /* MCL_FUTURE [| MCL_ONFAULT], or 0 */
	/* per thread, as threads[] of the document */
	struct thread_state *threads;
	size_t nthreads;
	/* every string above (comm, root, cwd, threads' comm), copied out of the document */
	char *strs;
	/*
	 * SIGTRAP ignored or pending: no remote code may run once the state
	 * is set, its int3 would reset the action or take the signal; the
	 * calls go one by one (task.c).
	 */
	bool one_by_one;
};

/* ---- one room ---- */

/* What a dump step works with: the task, and the thread running the calls. */
struct task_dump {
	struct ckpt_ctx *ctx;
	struct task *t;
	struct rsys *rs;		  /* its scratch area holds the buffers */
	struct json *out;		  /* task-PID.json, or the thread's object */
	const struct proc_stat *stat;	  /* /proc/PID/stat, read once per task */
	const struct proc_status *status; /* the thread's /proc status (dump_thread) */
};

struct task_state_ops {
	const char *name;
	/* Process-wide members, asked through the leader; and per thread. */
	int (*dump)(struct task_dump *d, ckpt_err_t *err);
	int (*dump_thread)(struct task_dump *d, struct thread *th, ckpt_err_t *err);
	/* The document (and each threads[i]) into the typed state. */
	int (*parse)(const struct doc_at *at, const struct json *doc, struct task_state *ts,
		     ckpt_err_t *err);
	int (*parse_thread)(const struct doc_at *at, const struct json *th, struct thread_state *ts,
			    ckpt_err_t *err);
	/*
	 * Restore in the puppeteer phase: restore after memory and threads,
	 * restore_thread for each thread after every room's restore,
	 * restore_last once every thread has its credentials, restore_end
	 * (below) last. Their remote calls go through the task's queue
	 * (rsys_queue on the rsys they are given; task.c says when it runs):
	 * a call whose result the room needs is a plain RSYS, which runs
	 * what is queued first; whatever the room does to the task without
	 * a remote call (a /proc write) after a queued call needs
	 * rsys_flush before it. A queued call's label names the state the
	 * way the room's own context would ("signal 10: rt_sigaction"),
	 * thread calls without the thread (the queue adds it).
	 */
	int (*restore)(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
	int (*restore_thread)(struct rctx *rc, struct rtask *t, struct rthread *th,
			      ckpt_err_t *err);
	/* Per thread, after its own credentials (a change of its euid resets what it sets). */
	int (*restore_thread_last)(struct rctx *rc, struct rtask *t, struct rthread *th,
				   ckpt_err_t *err);
	int (*restore_last)(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
	/*
	 * After the scratch area is gone, before the registers: no remote
	 * call is possible any more, and no thread may return to user code.
	 */
	int (*restore_end)(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
	/* A line or two for `ckpt-oci inspect`. */
	void (*describe)(FILE *out, const struct task_state *ts);
	/* Free what parse allocated. */
	void (*free)(struct task_state *ts);
};

extern const struct task_state_ops task_signals_ops, task_timers_ops, task_rseq_ops, task_sched_ops,
	task_pending_ops, task_rlimits_ops, task_prctl_ops, task_mm_ops, task_seccomp_ops,
	task_creds_ops, task_jobctl_ops, task_mmflags_ops, task_timens_ops, task_fdtable_ops;

/* ---- task.c: the table and its walkers ---- */

/* Parse task-PID.json (doc, named file) of a live task: NULL and an error if it is bad. */
struct task_state *task_state_parse(const char *file, const struct json *doc, ckpt_err_t *err);
void task_state_free(struct task_state *ts);
/* Every room's description of a parsed task, for inspect. */
void task_state_describe(FILE *out, const struct task_state *ts);

/* The typed state of a thread of t being restored. */
struct thread_state *rthread_state(struct rtask *t, struct rthread *th);
/* The thread's remote-call handle (threads[0] drives with the task's). */
struct rsys *rthread_rsys(struct rtask *t, struct rthread *th);

/* ---- helpers the rooms share ---- */

/* A hex string (json_hexbuf) at at into buf: exactly len bytes, or any multiple of unit up to len.
 */
int task_hexbuf(const struct doc_at *at, const struct json *v, void *buf, size_t len, size_t unit,
		size_t *got, ckpt_err_t *err) __attribute__((warn_unused_result));
/* An array of hex-encoded siginfos. */
int task_siginfo_list(const struct doc_at *at, const struct json *obj, const char *key,
		      struct siginfo_list *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Queue siginfos through rs: to thread tid (> 0) or to the process pid. */
int task_queue_signals(struct rsys *rs, pid_t pid, pid_t tid, const struct siginfo_list *l,
		       ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * creds.c: the credential rule of an unauthenticated bundle. A thread's
 * filesystem credentials (util/confine.h) out of a task's saved ones; a
 * task claiming root refused outside a container; the task itself put
 * under its own credentials while its memory is made, and back.
 */
struct confine_creds;
void creds_confine_of(const struct creds_state *c, struct confine_creds *out);
int creds_check_unprivileged(const struct task_state *ts, pid_t pid, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int creds_confine_remote(struct rsys *rs, const struct creds_state *c, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int creds_unconfine_remote(struct rsys *rs, ckpt_err_t *err) __attribute__((warn_unused_result));

/* seccomp.c: the syscalls a filter tests, by name, for inspect and errors. */
void seccomp_describe_filter(FILE *out, const struct sock_filter *prog, size_t len);

#endif
