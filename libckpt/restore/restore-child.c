/*
 * libckpt/restore/restore-child.c - the first life of a restored process.
 *
 * Each process of the tree starts as a fork of ckpt-oci made with clone3()
 * and set_tid, so it has its old pid. Still running ckpt-oci code, it:
 * (the root) fills its new namespaces and makes the shared descriptions,
 * FIFOs and unix sockets whose paths and names live there, becomes a
 * session leader if it was one, creates its own children (so parents are
 * right), lets its zombie children die, maps the scratch area (a `syscall`
 * instruction and buffers for the puppeteer), opens its page image at a
 * fixed fd number, puts every saved fd at its number, closes the rest,
 * sets cwd, umask, personality and oom_score_adj; then reports ready in
 * the shared control block and waits in futex() for ckpt-oci to seize it.
 */
#define LOG_PREFIX "child: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "files/files.h"
#include "mem/mem-cow.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/confine.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

static void slot_done(struct rctx *rc, struct rtask *t, int state)
{
	rc->shared->slot[t->idx].state = state;
	__atomic_add_fetch(&rc->shared->done, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &rc->shared->done, FUTEX_WAKE, 1, NULL, NULL, 0);
}

__attribute__((noreturn, format(printf, 3, 4))) static void
child_fail(struct rctx *rc, struct rtask *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rc->shared->slot[t->idx].msg, RSLOT_MSG, fmt, ap);
	va_end(ap);
	slot_done(rc, t, -1);
	_exit(127);
}

/* This process's parent, as a pidfd (-1: none known), until its files are made. */
static int child_parent_fd = -1;

/*
 * A parent-death signal set after the parent died never comes: a process
 * whose parent was killed (a failed restore) between its fork and its
 * prctl would live on, a child of init. The pidfd is the parent's, made
 * before the fork, readable once the parent has exited (a pidfd, not
 * getppid(): the root of a new pid namespace sees 0 for any parent).
 */
static void child_die_with_parent(void)
{
	struct pollfd p = {child_parent_fd, POLLIN, 0};

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* until the puppeteer sets the real one */
	if (child_parent_fd >= 0 && poll(&p, 1, 0) != 0)
		_exit(127); /* gone (or unknowable): whoever reaps us cleans up */
}

/*
 * A root born to ckpt-oci's parent (CLONE_PARENT) has a parent-death
 * signal for that parent, not for ckpt-oci: killed before it seized the
 * tree, ckpt-oci would leave the root waiting for it for ever, and the
 * root's children with it. Such a root holds a pidfd of ckpt-oci (made
 * before the clone, so a death before the child runs is seen too) until
 * the puppeteer closes it, and waits in poll() on it, not in futex().
 */
static int child_owner_fd = -1;

__attribute__((noreturn)) static void child_wait_seized(void)
{
	struct pollfd p = {child_owner_fd, POLLIN, 0};
	static int never;

	for (;;) {
		if (child_owner_fd < 0)
			syscall(SYS_futex, &never, FUTEX_WAIT, 0, NULL, NULL, 0);
		else if (poll(&p, 1, -1) != 0 && (p.revents || errno != EINTR))
			_exit(127); /* ckpt-oci is gone: whoever reaps us cleans up */
	}
}

/*
 * Taking on a task's filesystem credentials and back (rconfine_enter,
 * confine_leave) clears the parent-death signal (the kernel does on any
 * change of fsuid or capabilities): set again, the parent checked again,
 * once the last of them is over; then the pidfd goes.
 */
static void child_rearm_pdeathsig(void)
{
	child_die_with_parent();
	if (child_parent_fd >= 0)
		close(child_parent_fd);
	child_parent_fd = -1;
}

/*
 * Close every fd that is neither saved nor the page image (keep; keep2, -1
 * or a deleted root held for prctl, above it): one pass over
 * /proc/self/fd against a bitmap of the saved numbers (keep is above all
 * of them), collected first so the directory is not changed under readdir.
 */
static int close_others(const struct rtask *t, int keep, int keep2, ckpt_err_t *err)
{
	cleanup_free unsigned char *saved = xzalloc(keep / 8 + 1);
	cleanup_dir DIR *d = opendir("/proc/self/fd");
	cleanup_free int *todo = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return ckpt_error(err, errno, "open /proc/self/fd");
	for (int i = 0; i < t->nfds; i++) {
		int fd = t->fds[i];

		if (fd >= 0 && fd < keep)
			saved[fd / 8] |= 1 << (fd % 8);
	}
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] == '.' || fd == keep || fd == keep2 || fd == child_owner_fd ||
		    fd == dirfd(d) || (fd < keep && saved[fd / 8] & (1 << (fd % 8))))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			todo = xrealloc(todo, cap * sizeof(*todo));
		}
		todo[n++] = fd;
	}
	for (size_t i = 0; i < n; i++)
		close(todo[i]);
	return 0;
}

static int child_setup_files(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	char name[64];
	uint64_t size;
	bool root;
	int fd, ret;

	snprintf(name, sizeof(name), "pages-%d.img", t->pid);
	/* lazy: ckpt-oci writes what is filled now, each chunk checked (lazy/lazy.c) */
	fd = rc->lazy ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
	ret = rc->lazy ? (fd < 0 ? ckpt_error(err, errno, "open /dev/null") : 0)
		       : bundle_open_file(rc->bundle, name, &fd, &size, err);
	if (ret < 0)
		return ret;
	log_close_file(); /* its fd number may be one the task needs */
	if (fd != t->img_fd) {
		if (dup3(fd, t->img_fd, O_CLOEXEC) < 0)
			return ckpt_error(err, errno, "move page image to fd %d", t->img_fd);
		close(fd);
	}
	/* what the task opens by path, it opens as itself (its cwd too) */
	ret = rconfine_enter(rc, t, err);
	if (ret < 0)
		return ret;
	ret = files_restore_task(t->pid, &rc->files, t->img_fd, err);
	if (ret == 0 && t->state->cwd)
		ret = files_chdir(t->state->cwd, err) < 0 ? -err->code : 0;
	root = ret == 0 && files_root_apart(t->state->cwd, t->state->root);
	if (root)
		ret = files_root_make(t->state->root, t->img_fd + 1, err);
	confine_leave();
	if (ret < 0)
		return ret;
	child_rearm_pdeathsig();
	return close_others(t, t->img_fd, root ? t->img_fd + 1 : -1, err);
}

int rconfine_enter(const struct rctx *rc, const struct rtask *t, ckpt_err_t *err)
{
	struct confine_creds c;

	if (!rc->confine || !t->state)
		return 0;
	creds_confine_of(&t->state->threads[0].creds, &c);
	return confine_enter(&c, err);
}

/*
 * The shared objects, made before the tree's first fork, are made with
 * the credentials of its root.
 */
static int prepare_paths(struct rctx *rc, ckpt_err_t *err)
{
	int ret = rconfine_enter(rc, rc->root, err);

	if (ret == 0)
		ret = files_prepare_paths(&rc->files, err);
	confine_leave();
	return ret;
}

/* Settings of task/prctl.c that the new process makes itself. */
static int child_setup_misc(struct rtask *t, ckpt_err_t *err)
{
	const struct task_state *m = t->state;
	char buf[32];
	int fd, n;

	umask(m->umask);
	if (personality(m->personality) < 0)
		return ckpt_error(err, errno, "personality");
	n = snprintf(buf, sizeof(buf), "%d", m->oom_score_adj);
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return ckpt_error(err, e, "set oom_score_adj %s", buf);
	}
	close(fd);
	return 0;
}

static int child_scratch(struct rctx *rc, ckpt_err_t *err)
{
	static const unsigned char code[] = {0x0f, 0x05, 0xcc, 0xcc}; /* syscall; int3 */
	void *p = mmap((void *)rc->scratch, SCRATCH_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || (uint64_t)p != rc->scratch)
		return ckpt_error(err, p == MAP_FAILED ? errno : EEXIST, "map scratch at %#lx",
				  (unsigned long)rc->scratch);
	memcpy(p, code, sizeof(code));
	memcpy((char *)p + SCRATCH_BATCH, rsys_code_batch, rsys_code_batch_end - rsys_code_batch);
	return 0;
}

/*
 * Shared descriptions opened by path, FIFOs and unix sockets are made by
 * the root when the tree has its own mount or network namespace: ckpt-oci's
 * paths lead to another filesystem, its abstract socket names are another
 * namespace's, and the root builds the tree's before it forks.
 */
static bool paths_in_root(const struct rctx *rc)
{
	return rc->ns.flags & (CLONE_NEWNS | CLONE_NEWNET);
}

__attribute__((noreturn)) static void child_main(struct rctx *rc, struct rtask *t, int parent_fd,
						 int owner_fd)
{
	ckpt_err_t err = {0};

	/* the parent's pidfd above every fd the task will have (img_fd, img_fd + 1) */
	if (parent_fd >= 0 && (t->zombie || t->img_fd < 0)) {
		child_parent_fd = parent_fd; /* no files to make: it stays */
	} else if (parent_fd >= 0) {
		child_parent_fd = fcntl(parent_fd, F_DUPFD_CLOEXEC, t->img_fd + 2);
		close(parent_fd);
	}
	if (owner_fd >= 0) {
		child_owner_fd = fcntl(owner_fd, F_DUPFD_CLOEXEC, t->img_fd + 2);
		close(owner_fd);
		rc->shared->owner_fd = child_owner_fd;
	}
	child_die_with_parent();
	/* whatever ckpt-oci inherited (an ignored SIGPIPE...) must not leak in */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (t->zombie) {
		int code = t->exit_code;

		/* its own session or group, made before it dies (task.c: rtask_pgid) */
		if (t->sid == t->pid && setsid() < 0)
			child_fail(rc, t, "setsid: %s", strerror(errno));
		if (t->sid != t->pid && t->pgid == t->pid && setpgid(0, 0) < 0)
			child_fail(rc, t, "setpgid: %s", strerror(errno));
		slot_done(rc, t, 1);
		if (WIFSIGNALED(code)) {
			signal(WTERMSIG(code), SIG_DFL);
			kill(getpid(), WTERMSIG(code));
		}
		_exit(WEXITSTATUS(code));
	}
	/* ckpt-oci, in the root's cgroups for its clone, leaves them before the root forks */
	if (t == rc->root)
		while (!__atomic_load_n(&rc->shared->born, __ATOMIC_SEQ_CST))
			syscall(SYS_futex, &rc->shared->born, FUTEX_WAIT, 0, NULL, NULL, 0);
	/* the root was created in the new namespaces: fill them before anything else */
	if (t == rc->root && ns_restore_all(&rc->ns, &err) < 0)
		child_fail(rc, t, "%s", err.msg);
	/* only now do paths and names mean the tree's; its children inherit them */
	if (t == rc->root && paths_in_root(rc) && prepare_paths(rc, &err) < 0)
		child_fail(rc, t, "%s", err.msg);
	if (t->sid == t->pid && setsid() < 0)
		child_fail(rc, t, "setsid: %s", strerror(errno));
	/* its controlling terminal, before the children that share it are forked */
	if (t->sid == t->pid && pty_set_ctty(&rc->files, t->pid, &err) < 0)
		child_fail(rc, t, "%s", err.msg);
	/* what the children share with it copy-on-write, they get by the fork */
	if (t->nchildren && cow_premake(rc, t, &err) < 0)
		child_fail(rc, t, "%s", err.msg);
	for (int i = 0; i < t->nchildren; i++) {
		struct rtask *c = t->children[i];
		pid_t hp;

		if (rchild_spawn(rc, c, false, &hp, &err) < 0)
			child_fail(rc, t, "%s", err.msg);
		/* a zombie must be dead before the parent's signals are taken over */
		if (c->zombie) {
			siginfo_t si;

			waitid(P_PID, hp, &si, WEXITED | WNOWAIT);
		}
	}
	if (child_scratch(rc, &err) < 0 || child_setup_files(rc, t, &err) < 0 ||
	    child_setup_misc(t, &err) < 0)
		child_fail(rc, t, "%s", err.msg);
	slot_done(rc, t, 1);
	child_wait_seized();
}

int rchild_spawn(struct rctx *rc, struct rtask *t, bool new_pidns, pid_t *host_pid, ckpt_err_t *err)
{
	pid_t want = t->pid;
	struct ckpt_clone_args a = {
		.flags = (new_pidns ? CLONE_NEWPID : 0) | (t == rc->root ? rc->ns.flags : 0),
		.exit_signal = t->state ? (uint64_t)t->state->exit_signal : 0,
		.set_tid = (uintptr_t)&want,
		.set_tid_size = 1,
	};
	long pid;
	int ret, parent_fd, owner_fd = -1, e;

	/* in ckpt-oci, the tree's paths are ours: open them here, as the rest */
	if (t == rc->root && !paths_in_root(rc)) {
		ret = prepare_paths(rc, err);
		if (ret < 0)
			return ret;
	}
	if (!a.exit_signal || t->zombie)
		a.exit_signal = SIGCHLD;
	/*
	 * restore -d: ckpt-oci, the root's parent, is about to exit, which would
	 * fire a parent-death signal. A root that has one gets ckpt-oci's own
	 * parent (the caller), as it had a parent of its own before; so does
	 * every root when the caller asked (sibling: runc waits for the
	 * container's init as its child). Not being ours, it is not waited for.
	 */
	if (t == rc->root && (rc->sibling || (rc->detach && t->state && t->state->pdeathsig))) {
		a.flags |= CLONE_PARENT;
		a.exit_signal = 0; /* clone3 wants none: it is ckpt-oci's own */
	}
	/* the root is born in its cgroups: ckpt-oci is in them for the clone */
	if (t == rc->root) {
		ret = ns_spawn_all(&rc->ns, err);
		if (ret < 0) {
			(void)ns_spawned_all(&rc->ns, &(ckpt_err_t){0});
			return ret;
		}
	}
	parent_fd = syscall(__NR_pidfd_open, a.flags & CLONE_PARENT ? getppid() : getpid(), 0);
	if (a.flags & CLONE_PARENT) {
		owner_fd = syscall(__NR_pidfd_open, getpid(), 0);
		if (owner_fd < 0) {
			e = errno;
			if (parent_fd >= 0)
				close(parent_fd);
			if (t == rc->root)
				(void)ns_spawned_all(&rc->ns, &(ckpt_err_t){0});
			return ckpt_error(err, e, "pidfd_open of ckpt-oci");
		}
	}
	pid = syscall(__NR_clone3, &a, sizeof(a));
	e = errno;
	if (pid == 0)
		child_main(rc, t, parent_fd, owner_fd);
	if (parent_fd >= 0)
		close(parent_fd);
	if (owner_fd >= 0)
		close(owner_fd);
	if (t == rc->root) {
		ret = ns_spawned_all(&rc->ns, err);
		__atomic_store_n(&rc->shared->born, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &rc->shared->born, FUTEX_WAKE, 1, NULL, NULL, 0);
		if (ret < 0 && pid > 0)
			*host_pid = pid; /* the caller kills it */
		if (ret < 0)
			return ret;
	}
	if (pid < 0) {
		if (e == EEXIST)
			return ckpt_error_msg(err, EEXIST, "pid %d is taken", want);
		return ckpt_error(err, e, "clone3 with pid %d", want);
	}
	*host_pid = pid;
	return 0;
}
