/*
 * libckpt/engine.h - the process engine's in-memory model of a tree:
 * tasks (processes) and their threads, shared by dump and restore.
 */
#ifndef CKPT_ENGINE_H
#define CKPT_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#include "ckpt/bundle.h"
#include "ckpt/error.h"
#include "util/json.h"
#include "arch/rsys.h"

#define XSTATE_MAX 16384 /* larger than any XSAVE area (AVX-512: ~2.7 KiB) */

struct thread {
	pid_t tid;		      /* in ckpt-oci's pid namespace */
	pid_t ns_tid;		      /* in the tree's innermost namespace */
	bool seized;		      /* attached by us */
	bool stopped;		      /* in its ptrace stop */
	int stop_sig;		      /* the stop signal of its group stop, or SIGTRAP */
	struct user_regs_struct regs; /* as stopped */
	uint8_t *xstate;	      /* NT_X86_XSTATE image */
	size_t xstate_len;
	uint64_t sigmask;
	siginfo_t *stolen; /* signals dequeued by a delivery stop at seize */
	int nstolen;
};

struct task {
	pid_t pid;	       /* in ckpt-oci's pid namespace */
	pid_t ns_pid;	       /* innermost namespace */
	pid_t ppid, pgid, sid; /* innermost namespace */
	char state;	       /* from /proc/PID/stat; 'Z' for zombies */
	int exit_code;	       /* zombies: the wait status */
	int procfd;	       /* O_PATH-like dirfd of /proc/PID */
	struct task *parent;
	struct task **children;
	int nchildren;
	struct thread *threads; /* threads[0] is the leader */
	int nthreads;
	struct json *doc; /* task-PID.json being built, freed once written */
	char comm[65];	  /* its "comm" (for pstree.json), "" when none */
	uint64_t sc_addr; /* a `syscall` instruction in it (rsys_find_syscall) */
};

struct ckpt_ctx {
	struct task **tasks; /* parents before children */
	int ntasks;
	struct task *root;
	bool own_pidns; /* root is pid 1 of its namespace */
	struct ckpt_bundle *bundle;
	bool defer_wait;       /* the tree is frozen: attach now, wait later */
	struct mem_incr *incr; /* --parent: pages the parent holds (mem-incr.c) */
	bool live_pages;       /* pages listed live, not copied (ckpt_dump_opts) */
	uint64_t live_npages;  /* how many */
};

/* seize.c */
int seize_tree(struct ckpt_ctx *ctx, pid_t root, ckpt_err_t *err);
/* After a thaw: wait for the stop of every thread attached while frozen. */
int seize_wait_all(struct ckpt_ctx *ctx, ckpt_err_t *err);
/* Put every seized thread back as it was and detach (rollback and --leave-running). */
void seize_release(struct ckpt_ctx *ctx);
/* SIGKILL the tree and wait until its pids can be used again. */
int seize_kill(struct ckpt_ctx *ctx, uint64_t *killed_at, ckpt_err_t *err);
void ctx_free(struct ckpt_ctx *ctx);
struct task *ctx_find(const struct ckpt_ctx *ctx, pid_t pid);

/* pstree.c */
int pstree_collect(struct ckpt_ctx *ctx, ckpt_err_t *err);
int pstree_dump(struct ckpt_ctx *ctx, ckpt_err_t *err);

/* regs-x86_64.c */
int regs_dump(struct thread *th, ckpt_err_t *err);
struct json *regs_to_json(const struct thread *th);
struct doc_at;
int regs_from_json(const struct doc_at *at, const struct json *j, struct user_regs_struct *regs,
		   uint8_t **xstate, size_t *xstate_len, ckpt_err_t *err);
int regs_restore(pid_t tid, const struct user_regs_struct *regs, const uint8_t *xstate,
		 size_t xstate_len, ckpt_err_t *err);
/* Turn "stopped inside a syscall" into registers that restart it on resume. */
void regs_fixup_restart(struct user_regs_struct *regs, pid_t tid, bool our_interrupt);

/* mem-dump.c */
int mem_dump(struct ckpt_ctx *ctx, struct task *t, ckpt_err_t *err);

/* task/task.c: every task-state room (needs rsys in t and a scratch area) */
int task_dump_state(struct ckpt_ctx *ctx, struct task *t, struct rsys *rs, uint64_t scratch,
		    ckpt_err_t *err);
int thread_dump_state(struct ckpt_ctx *ctx, struct task *t, struct thread *th, struct rsys *rs,
		      uint64_t scratch, struct json *out, ckpt_err_t *err);

/* files-dump.c */
int files_dump(struct ckpt_ctx *ctx, struct task *t, ckpt_err_t *err);

#endif
