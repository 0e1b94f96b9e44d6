/*
 * libckpt/restore/restore.c - the restore pipeline, short and linear:
 *
 *   verify the bundle (every checksum but the page images', the CPU) ->
 *   read the tree -> check every pid is free -> create the tree (clone3
 *   with set_tid; each process makes its own children, see
 *   restore-child.c) -> seize every process -> puppeteer each: memory,
 *   threads, state, credentials, registers -> wait for the page images to
 *   verify -> resume the namespaces (the network lock goes) -> detach them
 *   all together -> wait for the root (unless -d).
 *
 * Nothing is made before the documents are verified; the page images are
 * hashed by threads of the bundle meanwhile (bundle_open_restore), and the
 * tree is handed over and runs only once they verified. A failure after
 * that first check, theirs included, kills whatever was half-restored and
 * names the object that failed.
 */
#define LOG_PREFIX "restore: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "check/check.h"
#include "ckpt/ckpt.h"
#include "engine.h"
#include "mem/mem.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/abort.h"
#include "lazy/lazy-restore.h"
#include "util/confine.h"
#include "util/journal.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define RESTORE_OPTIONS                                                                            \
	(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_SUSPEND_SECCOMP | PTRACE_O_EXITKILL)
#define READY_TIMEOUT_S 30

/*
 * The bound is on progress, not on the whole tree: a thousand processes on
 * a loaded machine take longer than READY_TIMEOUT_S to create, but one
 * that makes no progress for that long is stuck.
 */
static int wait_ready(struct rctx *rc, ckpt_err_t *err)
{
	uint64_t deadline = now_ns() + READY_TIMEOUT_S * 1000000000ULL;
	int last = 0;

	for (;;) {
		int done = __atomic_load_n(&rc->shared->done, __ATOMIC_SEQ_CST);
		struct timespec ts = {0, 100 * 1000 * 1000};

		if (done > last) {
			last = done;
			deadline = now_ns() + READY_TIMEOUT_S * 1000000000ULL;
		}

		for (int i = 0; i < rc->ntasks; i++)
			if (rc->shared->slot[i].state < 0)
				return ckpt_error_msg(err, EIO, "task %d: %s", rc->tasks[i].pid,
						      rc->shared->slot[i].msg);
		if (done >= rc->ntasks)
			return 0;
		if (ckpt_abort_check(err) < 0)
			return -err->code;
		if (waitpid(rc->root->host_pid, NULL, WNOHANG) == rc->root->host_pid)
			return ckpt_error_msg(err, ECHILD, "task %d died while being created",
					      rc->root->pid);
		if (now_ns() > deadline)
			return ckpt_error_msg(err, ETIMEDOUT,
					      "tree not created: %d of %d tasks, none more in %d s",
					      done, rc->ntasks, READY_TIMEOUT_S);
		syscall(SYS_futex, &rc->shared->done, FUTEX_WAIT, done, &ts, NULL, 0);
	}
}

/* The host pid of t: the child of its (already mapped) parent whose NSpid is t's. */
static pid_t find_host_pid(const struct rtask *t, ckpt_err_t *err)
{
	cleanup_free char *ppath = xasprintf("/proc/%d", t->parent->host_pid);
	cleanup_close int pfd = open(ppath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free pid_t *kids = NULL;
	int n = 0;

	if (pfd < 0 || proc_list_children(pfd, t->parent->host_pid, &kids, &n, err) < 0)
		return ckpt_error(err, errno, "children of %d", t->parent->host_pid);
	for (int k = 0; k < n; k++) {
		char path[32];

		snprintf(path, sizeof(path), "/proc/%d", kids[k]);
		if (proc_ns_pid(AT_FDCWD, path) == t->pid)
			return kids[k];
	}
	return ckpt_error_msg(err, ESRCH, "task %d not found after creation", t->pid);
}

/* Host pids: the same, or found through NSpid under the new namespace's init. */
static int map_host_pids(struct rctx *rc, ckpt_err_t *err)
{
	for (int i = 0; i < rc->ntasks; i++) {
		struct rtask *t = &rc->tasks[i];

		if (!rc->own_pidns)
			t->host_pid = t->pid;
		else if (t != rc->root)
			t->host_pid = find_host_pid(t, err); /* parents come first */
		if (t->host_pid < 0)
			return t->host_pid;
		if (t->nthreads)
			t->threads[0].host_tid = t->host_pid;
	}
	return 0;
}

static int seize_one(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int status, ret;

	if (ptrace(PTRACE_SEIZE, t->host_pid, NULL, (void *)(long)RESTORE_OPTIONS) < 0)
		return ckpt_error(err, errno, "seize task %d", t->pid);
	if (ptrace(PTRACE_INTERRUPT, t->host_pid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "interrupt task %d", t->pid);
	do {
		ret = rsys_wait_stop(t->host_pid, &status, err);
		if (ret < 0)
			return ret;
		if (status >> 16 != PTRACE_EVENT_STOP &&
		    ptrace(PTRACE_CONT, t->host_pid, NULL, NULL) < 0)
			return ckpt_error(err, errno, "task %d: resume", t->pid);
	} while (status >> 16 != PTRACE_EVENT_STOP);
	ret = rsys_init(&t->rs, t->host_pid, rc->scratch + SCRATCH_CODE, err);
	rsys_set_scratch(&t->rs, rc->scratch + SCRATCH_DATA, SCRATCH_SIZE - SCRATCH_DATA);
	return ret;
}

/*
 * An unauthenticated bundle's task makes its memory with its own
 * filesystem credentials: a shared file mapping opens its file as the
 * task would, never as root.
 */
static int mem_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret;

	if (!rc->confine)
		return rmem_restore(rc, t, err);
	ret = creds_confine_remote(&t->rs, &t->state->threads[0].creds, err);
	if (ret == 0)
		ret = rmem_restore(rc, t, err);
	if (ret == 0)
		ret = creds_unconfine_remote(&t->rs, err);
	return ret;
}

/* Everything the puppeteer does to one task, up to but not including credentials. */
static int puppeteer_task(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int ret = mem_restore(rc, t, err);

	if (ret == 0 && t->lazy)
		ret = lazy_register(rc, t, err);
	if (ret == 0)
		ret = rmem_fill_shared(rc, t, err);
	if (ret == 0)
		ret = rtask_threads(rc, t, err);
	if (ret == 0)
		ret = rtask_state(rc, t, err);
	/* the page image, open in the task since its memory was filled */
	if (ret == 0)
		ret = rsys_queue(&t->rs, 0, 0, SYS_close, (uint64_t[6]){t->img_fd}, err, "close");
	/* the root's watch on us, which seizing it made useless (PTRACE_O_EXITKILL) */
	if (ret == 0 && t == rc->root && rc->shared->owner_fd >= 0)
		ret = rsys_queue(&t->rs, 0, 0, SYS_close, (uint64_t[6]){rc->shared->owner_fd}, err,
				 "close");
	for (int i = 0; ret == 0 && i < t->nthreads; i++)
		ret = rthread_restore(rc, t, &t->threads[i], err);
	if (ret == 0)
		ret = rtask_last(rc, t, err);
	for (int i = t->nthreads - 1; ret == 0 && i >= 0; i--)
		ret = rthread_regs(rc, t, &t->threads[i], err);
	return ret;
}

static struct rtask *task_of(struct rctx *rc, pid_t pid)
{
	for (int i = 0; i < rc->ntasks; i++)
		if (rc->tasks[i].pid == pid && !rc->tasks[i].zombie)
			return &rc->tasks[i];
	return NULL;
}

/* In a session leader: fg becomes the foreground group of its controlling terminal. */
static int tty_foreground(struct rsys *rs, pid_t fg, ckpt_err_t *err)
{
	static const char tty[] = "/dev/tty";
	long fd;
	int ret = rsys_put(rs, 0, tty, sizeof(tty), err);

	if (ret == 0)
		ret = rsys_put(rs, 64, &fg, sizeof(fg), err);
	if (ret == 0)
		ret = RSYS_OK(rs, &fd, err, SYS_openat, AT_FDCWD, rsys_at(rs, 0),
			      O_RDWR | O_NOCTTY | O_CLOEXEC, 0, 0, 0);
	if (ret < 0)
		return ret;
	ret = RSYS_OK(rs, NULL, err, SYS_ioctl, fd, TIOCSPGRP, rsys_at(rs, 64), 0, 0, 0);
	if (RSYS_OK(rs, NULL, err, SYS_close, fd, 0, 0, 0, 0, 0) < 0 && ret == 0)
		ret = -err->code;
	return ret;
}

/*
 * What a pty pair needs once every task is in its process group: its
 * session's foreground group, set by the session leader through
 * /dev/tty (only a member of the session may), and its lock, set by a
 * holder of the master (files/tty-restore.c).
 */
static int restore_ttys(struct rctx *rc, const struct pty_late *v, int n, ckpt_err_t *err)
{
	const int one = 1;

	for (int i = 0; i < n; i++) {
		struct rtask *lead = v[i].fg ? task_of(rc, v[i].sid) : NULL;
		struct rtask *holder = v[i].lock ? task_of(rc, v[i].holder) : NULL;
		int ret = 0;

		if (v[i].fg && !lead)
			pr_warn("pty %d: session leader %d is gone, foreground group %d not set",
				v[i].index, v[i].sid, v[i].fg);
		else if (v[i].fg && tty_foreground(&lead->rs, v[i].fg, err) < 0)
			return ckpt_error_wrap(err, "pty %d: foreground group %d", v[i].index,
					       v[i].fg);
		if (!holder)
			continue;
		ret = rsys_put(&holder->rs, 0, &one, sizeof(one), err);
		if (ret == 0)
			ret = RSYS_OK(&holder->rs, NULL, err, SYS_ioctl, v[i].fd, TIOCSPTLCK,
				      rsys_at(&holder->rs, 0), 0, 0, 0);
		if (ret < 0)
			return ckpt_error_wrap(err, "pty %d: lock", v[i].index);
	}
	return 0;
}

static int restore_tree(struct rctx *rc, ckpt_err_t *err)
{
	cleanup_free struct pty_late *ttys = NULL;
	int ret, nttys = 0;

	/* collapsing costs ~5 ms a MiB; a fork saves ~0.25 ms a MiB: worth it from tens of tasks */
	if (rc->ntasks >= 32)
		rc_heap_huge();
	ret = rchild_spawn(rc, rc->root, rc->own_pidns, &rc->root->host_pid, err);
	if (ret < 0)
		return ret;
	ret = wait_ready(rc, err);
	if (ret == 0)
		ret = pty_late_read(&rc->files, &ttys, &nttys, err);
	if (ret == 0 && rc->console_rx >= 0)
		rc->console_master = pty_recv_master(rc->console_rx);
	files_rctx_free(&rc->files); /* every task holds its own copies now */
	if (ret == 0)
		ret = map_host_pids(rc, err);
	rc->ns.root_host_pid = rc->root->host_pid;
	if (ret == 0)
		ret = ns_finish_all(&rc->ns, err);
	for (int i = 0; ret == 0 && i < rc->ntasks; i++)
		if (!rc->tasks[i].zombie)
			ret = seize_one(rc, &rc->tasks[i], err);
	for (int i = 0; ret == 0 && i < rc->ntasks; i++)
		if (!rc->tasks[i].zombie)
			ret = rtask_prepare(rc, &rc->tasks[i], err);
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; ret == 0 && i < rc->ntasks; i++)
			ret = rtask_pgid(rc, &rc->tasks[i], pass == 0, err);
	if (ret == 0)
		ret = restore_ttys(rc, ttys, nttys, err);
	/* before the first task's memory: a remote call may fault on a lazy page */
	if (ret == 0 && rc->lazy)
		ret = lazy_start(rc, err);
	for (int i = 0; ret == 0 && i < rc->ntasks; i++) {
		if (rc->tasks[i].zombie)
			continue;
		ret = puppeteer_task(rc, &rc->tasks[i], err);
		if (ret < 0)
			ckpt_error_wrap(err, "task %d", rc->tasks[i].pid);
	}
	return ret;
}

static void release_all(struct rctx *rc)
{
	for (int i = 0; i < rc->ntasks; i++)
		for (int j = 0; j < rc->tasks[i].nthreads; j++)
			if (rc->tasks[i].threads[j].host_tid > 0)
				(void)ptrace(PTRACE_DETACH, rc->tasks[i].threads[j].host_tid, NULL,
					     NULL);
}

/* Wait for a thread we trace (or our child) to be gone; ECHILD when it is neither. */
static void reap_tracee(pid_t tid)
{
	int status;

	for (;;) {
		pid_t r = waitpid(tid, &status, __WALL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status))
			return;
	}
}

/*
 * ckpt-oci is the subreaper of what it forks while the tree is made: a
 * process whose parent dies before reaping it (a task that failed, a
 * zombie of the bundle) or before it knew its parent was gone comes to
 * us, not to an init that may reap it late or never (its pid would stay
 * taken), and a failure reaps it before restore returns. The root of a
 * pid namespace of its own is the reaper of its namespace: it is ours.
 */
struct reaper {
	int was;       /* ckpt-oci was a subreaper before */
	pid_t *before; /* children it had then, not the tree's */
	int nbefore;
};

/* Our children now, those of every thread. */
static void own_children(pid_t **out, int *n)
{
	cleanup_close int self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free pid_t *tids = NULL;
	ckpt_err_t e = {0};
	int nt = 0;

	*out = NULL;
	*n = 0;
	if (self < 0 || proc_list_threads(self, &tids, &nt, &e) < 0) {
		ckpt_error_clear(&e);
		return;
	}
	for (int i = 0; i < nt; i++) {
		cleanup_free pid_t *kids = NULL;
		int nk = 0;

		if (proc_list_children(self, tids[i], &kids, &nk, &e) < 0) {
			ckpt_error_clear(&e);
			continue;
		}
		*out = xrealloc(*out, (*n + nk + 1) * sizeof(**out));
		if (nk) /* kids is NULL when there are none */
			memcpy(*out + *n, kids, nk * sizeof(*kids));
		*n += nk;
	}
}

static int reaper_start(struct reaper *r, ckpt_err_t *err)
{
	if (prctl(PR_GET_CHILD_SUBREAPER, &r->was) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return ckpt_error(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	own_children(&r->before, &r->nbefore);
	return 0;
}

static void reaper_stop(struct reaper *r)
{
	if (!r->was)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 0);
	free(r->before);
	r->before = NULL;
}

/*
 * Every child that is not one we had before: killed and reaped, until none
 * is left. A child reaped has given us its own children first (the kernel
 * reparents them before its parent can reap it), so each round sees them.
 */
static void reap_adopted(const struct reaper *r)
{
	for (;;) {
		cleanup_free pid_t *kids = NULL;
		int n = 0, left = 0;

		own_children(&kids, &n);
		for (int i = 0; i < n; i++) {
			bool old = false;

			for (int k = 0; k < r->nbefore && !old; k++)
				old = r->before[k] == kids[i];
			if (old)
				continue;
			kill(kids[i], SIGKILL);
			reap_tracee(kids[i]);
			left++;
		}
		if (!left)
			return;
	}
}

/*
 * A failure once the namespaces are prepared: the tree goes, then what was
 * made for it. A killed task we trace stays a zombie until we reap it, and
 * the root of a pid namespace, exiting, waits for every task of the
 * namespace to be reaped (zap_pid_ns_processes): so the tracees are reaped,
 * threads before their leader, children before the root, and only then the
 * root, else it and ckpt-oci wait for each other forever.
 */
static void kill_all(struct rctx *rc, const struct reaper *r)
{
	if (rc->root && rc->root->host_pid > 0) {
		for (int i = rc->ntasks - 1; i >= 0; i--)
			if (rc->tasks[i].host_pid > 0)
				kill(rc->tasks[i].host_pid, SIGKILL);
		kill(rc->root->host_pid, SIGKILL);
		for (int i = rc->ntasks - 1; i >= 0; i--) {
			struct rtask *t = &rc->tasks[i];

			for (int j = t->nthreads - 1; j > 0; j--)
				if (t->threads[j].host_tid > 0)
					reap_tracee(t->threads[j].host_tid);
			if (t != rc->root && t->host_pid > 0)
				reap_tracee(t->host_pid);
		}
		reap_tracee(rc->root->host_pid);
	}
	reap_adopted(r); /* those whose pid we did not know yet, or whose parent died first */
	lazy_release(rc, true);
	ns_undo_all(&rc->ns);
}

/*
 * A bundle with an orphan pty (a slave whose master was outside the tree,
 * a runtime's console): its pair is made again by the root, which passes
 * the master here for the caller (ckpt_restore_opts console_master).
 */
int console_setup(struct rctx *rc, ckpt_err_t *err)
{
	const struct json *list = rc->files.doc ? json_get(rc->files.doc, "ptys") : NULL;
	int sv[2];

	for (size_t i = 0; i < json_len(list); i++) {
		if (!json_get(json_at(list, i), "orphan"))
			continue;
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
			return ckpt_error(err, errno, "socketpair for the console");
		rc->console_rx = sv[0];
		rc->files.console_sk = sv[1];
		break;
	}
	return 0;
}

static void rc_free(struct rctx *rc)
{
	if (rc->console_rx >= 0)
		close(rc->console_rx);
	if (rc->files.console_sk >= 0)
		close(rc->files.console_sk);
	if (rc->console_master >= 0)
		close(rc->console_master);
	lazy_free(rc);
	rsys_batch_free(rc->queue);
	rc_load_free(rc);
	free(rc->shms);
	files_rctx_free(&rc->files);
	if (rc->shared)
		munmap(rc->shared, rc->shared_len);
	if (rc->cow_made)
		munmap(rc->cow_made, rc->cow_len + 1);
	if (rc->chain)
		mem_chain_close(rc->chain);
	free(rc->chain);
	rc->chain = NULL;
	bundle_close(rc->bundle);
}

static int write_pid_file(const char *path, pid_t pid, ckpt_err_t *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", pid);

	return write_file_at(AT_FDCWD, path, buf, n, 0644, err);
}

/* restore.log beside the bundle (or in the work directory); a restore goes on without it. */
static void restore_open_log(const struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	cleanup_free char *copy = xstrdup(o->bundle), *logpath = NULL;

	log_set_stderr_level(o->verbose ? LOG_INFO : LOG_WARN);
	logpath = xasprintf("%s/restore.log", o->work_dir ? o->work_dir : dirname(copy));
	if (log_open_file(logpath, err) < 0) {
		pr_warn("%s, no debug log", err->msg);
		ckpt_error_clear(err);
	}
}

/* The control block and the copy-on-write marks, shared with the new processes. */
static int map_control(struct rctx *rc, ckpt_err_t *err)
{
	rc->shared_len = sizeof(struct rshared) + rc->ntasks * sizeof(struct rslot);
	rc->shared = mmap(NULL, rc->shared_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	for (int i = 0; i < rc->ntasks; i++) {
		rc->tasks[i].cow_off = rc->cow_len;
		rc->cow_len += rc->tasks[i].mem.nvmas;
	}
	rc->cow_made = mmap(NULL, rc->cow_len + 1, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rc->shared == MAP_FAILED || rc->cow_made == MAP_FAILED) {
		if (rc->shared == MAP_FAILED)
			rc->shared = NULL;
		if (rc->cow_made == MAP_FAILED)
			rc->cow_made = NULL;
		return ckpt_error(err, errno, "map control block");
	}
	rc->shared->owner_fd = -1;
	return 0;
}

/*
 * The made tree's console master to the caller's --console-socket, then
 * the caller (a runtime) adopts the tree.
 */
static int restore_hand_over(struct rctx *rc, struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	int ret = 0;

	o->console_master = rc->console_master;
	if (o->console_master >= 0 && o->console_socket)
		ret = pty_send_console(o->console_socket, o->console_master, err);
	if (ret == 0 && o->adopt)
		ret = o->adopt(o, err);
	o->console_master = -1; /* the caller passed it on: the tree holds the slave */
	return ret;
}

/*
 * The tree made, handed over, its namespaces resumed and its pid written:
 * on a failure the caller kills it.
 */
static int restore_start(struct rctx *rc, struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	int ret = restore_tree(rc, err);

	/* the tree holds the pages now, and runs none of them before they verify */
	if (ret == 0)
		ret = bundle_verify_wait(rc->bundle, err);
	if (ret < 0)
		return ret;
	o->root_pid = rc->root->host_pid;
	ret = restore_hand_over(rc, o, err);
	/* the network lock goes last, when nothing but the detach is left */
	if (ret == 0)
		ret = ns_resume_all(&rc->ns, err);
	if (ret < 0)
		return ret;
	o->root_pid = rc->root->host_pid;
	/* a signal that came after the last step boundary still undoes it all */
	if (ckpt_abort_check(err) < 0)
		return -err->code;
	if (o->pid_file && write_pid_file(o->pid_file, o->root_pid, err) < 0)
		return -err->code;
	return 0;
}

int ckpt_restore(struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	struct rctx rc = {.detach = o->detach,
			  .sibling = o->sibling,
			  .files.ignore_changes = o->ignore_file_changes,
			  .files.tcp_close = o->tcp_close,
			  .files.console_sk = -1,
			  .console_rx = -1,
			  .console_master = -1};
	struct reaper reaper = {0};
	uint64_t t0 = now_ns();
	int ret;

	o->console_master = -1;
	if (geteuid() != 0)
		return ckpt_error_msg(err, EPERM, "restore needs root");
	if (o->sibling && !o->detach)
		return ckpt_error_msg(err, EINVAL,
				      "a root born to the caller's parent needs detach");
	restore_open_log(o, err);
	if (o->lazy)
		(void)lazy_new(&rc, o, err);
	ret = rc_prepare(&rc, o, err);
	if (ret < 0)
		goto out;
	pr_info("bundle opened and its documents verified in %.3f s", (now_ns() - t0) / 1e9);
	ret = map_control(&rc, err);
	if (ret < 0) {
		ns_undo_all(&rc.ns);
		goto out;
	}
	/*
	 * SIGINT, SIGTERM, SIGHUP (and our parent's death) until the tree is
	 * released: the rollback below, not a death that leaves it half made
	 */
	ckpt_abort_signals_on(getppid());
	(void)prctl(PR_SET_PDEATHSIG, 0); /* a restore may outlive its caller: it goes on */
	ret = reaper_start(&reaper, err);
	if (ret == 0)
		ret = restore_start(&rc, o, err);
	if (ret < 0) {
		kill_all(&rc, &reaper);
		reaper_stop(&reaper);
		ckpt_abort_signals_off();
		goto out;
	}
	/* every task stopped: none is orphaned until the tree runs, and then not to us */
	reaper_stop(&reaper);
	release_all(&rc);
	/* a signal during the detach came too late to undo anything: the tree runs */
	ckpt_abort_signals_off();
	lazy_release(&rc, false); /* the lazy-pages process goes on alone */
	journal_keep(NULL);	  /* the tree runs: its cgroups and runtime state are its own now */
	pr_info("restored %d tasks in %.3f s, peak RSS %ld KiB", rc.ntasks, (now_ns() - t0) / 1e9,
		peak_rss_kib());
	if (o->running)
		o->running(o);
	if (!o->detach) {
		log_close_file();
		while (waitpid(o->root_pid, &o->exit_status, 0) < 0 && errno == EINTR)
			;
	}
out:
	rc_free(&rc);
	log_close_file();
	return ret;
}
