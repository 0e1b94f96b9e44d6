/*
 * libckpt/restore/restore.h - what the restore pipeline's parts share: the tree as
 * read from the bundle, the control block shared with the new processes,
 * and the puppeteer steps.
 *
 * Folder libckpt/restore/: the restore pipeline. restore-load.c reads every
 * document once into typed structs and refuses a bad one before anything
 * is made; restore-prepare.c checks the bundle against this host and
 * makes what the tree inherits (shared files, namespaces); restore.c
 * (short and linear) forks the tree with clone3 set_tid (restore-child.c:
 * each process makes its own children) and drives each new task through
 * the rooms of mem/, task/ and files/ until it is the saved one, then
 * releases them all together.
 */
#ifndef CKPT_RESTORE_H
#define CKPT_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "ckpt/error.h"
#include "util/json.h"
#include "files/files.h"
#include "namespaces/ns.h"
#include "arch/rsys.h"
#include "dump/pstree.h"
#include "mem/mem.h"
#include "mem/mem-incr.h"

#define RSLOT_MSG 512

/* One per task, in memory shared by ckpt-oci and every restored process. */
struct rslot {
	int state;	     /* 0 creating, 1 ready, -1 failed */
	char msg[RSLOT_MSG]; /* why it failed */
};

struct rshared {
	int done;     /* futex: tasks that are ready or failed */
	int born;     /* futex: the root's clone is over (ckpt-oci left its cgroups) */
	int owner_fd; /* in a root born to our parent: its pidfd of us, -1 none */
	struct rslot slot[];
};

struct rthread {
	pid_t tid;		      /* as in the bundle (the tree's namespace) */
	pid_t host_tid;		      /* in ckpt-oci's namespace, once it exists */
	struct rsys rs;		      /* threads[0] uses its task's rs */
	struct user_regs_struct regs; /* "regs", read at load */
	uint8_t *xstate;
	size_t xstate_len;
};

struct rtask {
	int idx; /* slot index */
	pid_t pid, ppid, pgid, sid;
	pid_t host_pid;
	bool zombie;
	int exit_code;
	/*
	 * task-PID.json and pagemap-PID.json, only while they are read: what
	 * the task is made from is read out of them into the structs below,
	 * and the restorer that forks the tree does not hold the documents
	 */
	struct json *doc;
	struct json *pagemap;
	struct task_state *state; /* its task state, parsed (task/task.h) */
	struct rtask *parent;
	struct rtask **children;
	int nchildren;
	struct rthread *threads;
	int nthreads;
	int img_fd; /* page image fd number inside the task */
	/* img_fd + 1: a deleted root apart from the cwd, until prctl's chroot */
	int *fds;	    /* the fd numbers of task-PID.json "fds" */
	uint64_t *fd_memfd; /* per fds[i]: the memfd (inode) it holds, 0 none */
	int nfds;
	struct mem_task mem;	/* vmas, pages, mm, vdso: read and checked at load */
	size_t cow_off;		/* its VMAs' bytes in rctx.cow_made */
	struct rsys rs;		/* the leader, driven by the puppeteer */
	struct lazy_task *lazy; /* lazy restore: its lazy runs (lazy/lazy.c) */
};

/* A shared memory object (shared anonymous, memfd, deleted file): the first mapping made. */
struct rshm {
	uint64_t id; /* inode number at dump */
	pid_t host_pid;
	uint64_t start, end;
	bool filled;
	bool ghost; /* a deleted file: id is its inode number */
};

struct rctx {
	struct ckpt_bundle *bundle;
	struct rtask *tasks; /* parents before children */
	int ntasks;
	struct rtask *root;
	bool own_pidns;
	bool detach;
	bool sibling;	  /* the root is a child of ckpt-oci's parent */
	uint64_t scratch; /* scratch area address, a hole in every layout */
	struct rshared *shared;
	size_t shared_len;
	/*
	 * One byte per saved VMA of every task, shared with the new processes:
	 * 1 when the task made the VMA before forking its children (mem-cow.c).
	 */
	uint8_t *cow_made;
	size_t cow_len;
	struct json *pstree;
	struct pstree tree; /* pstree.json, checked */
	struct rshm *shms;
	int nshms;
	struct files_rctx files;   /* shared open files, made before the fork */
	bool confine;		   /* unauthenticated: the credential rule (rconfine_enter) */
	int console_rx;		   /* the root passes an orphan pty's master here */
	int console_master;	   /* and this is it, once received; else -1 */
	struct ns_restore ns;	   /* the tree's own namespaces */
	struct mem_chain *chain;   /* an incremental bundle's parents (mem-chain.c) */
	struct lazy_restore *lazy; /* restore --lazy, else NULL (lazy/lazy.c) */
	struct rsys_batch *queue;  /* the task being made queues its calls here (task/task.c) */
};

/* restore-load.c: read and check every document the tree is made from */
int rc_load(struct rctx *rc, ckpt_err_t *err);
void rc_load_free(struct rctx *rc);
/*
 * restore-prepare.c: the bundle opened, read (rc_load) and checked against
 * this host, then (once o->verified agrees) shared files and namespaces made
 */
int rc_prepare(struct rctx *rc, struct ckpt_restore_opts *o, ckpt_err_t *err);
/* restore.c: the orphan pty's master comes back through a socket (rc->console_rx) */
int console_setup(struct rctx *rc, ckpt_err_t *err);

/* restore-child.c: runs inside the new processes */
int rchild_spawn(struct rctx *rc, struct rtask *t, bool new_pidns, pid_t *host_pid,
		 ckpt_err_t *err);

/*
 * restore-child.c: an unauthenticated bundle's task t makes what it owns
 * with its own filesystem credentials (util/confine.h): taken on by the
 * calling thread until confine_leave(); nothing when the bundle verified.
 */
int rconfine_enter(const struct rctx *rc, const struct rtask *t, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/* restore-load.c: the restorer's heap in huge pages before the tree is forked */
void rc_heap_huge(void);
/* mem-restore.c: the address space, rewritten through remote syscalls */
int rmem_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
/* Pages of shared objects (shared anonymous, memfd), written from outside. */
int rmem_fill_shared(struct rctx *rc, struct rtask *t, ckpt_err_t *err);

/*
 * task/: everything else, then the registers. The rooms of task state run
 * in the order of task/task.c's table: rtask_state (process-wide),
 * rthread_restore (each thread), rtask_last (after every thread's
 * credentials; unmaps the scratch area), rthread_regs (at the very end).
 */
int rtask_prepare(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
int rtask_pgid(struct rctx *rc, struct rtask *t, bool leaders, ckpt_err_t *err);
int rtask_threads(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
int rtask_state(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
int rthread_restore(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err);
int rtask_last(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
int rthread_regs(struct rctx *rc, struct rtask *t, struct rthread *th, ckpt_err_t *err);

#define SCRATCH_CODE  0	   /* syscall; int3 */
#define SCRATCH_BATCH 64   /* rsys_code_batch */
#define SCRATCH_DATA  4096 /* buffers for remote calls */

#endif
