/*
 * libckpt/dump/seize.c - stop a process tree without running any of its code.
 *
 * Every thread is PTRACE_SEIZEd and PTRACE_INTERRUPTed. The tree is walked
 * again and again (threads from /proc/PID/task, children from
 * task/TID/children) until a pass finds nothing new: a task that forks or
 * spawns a thread while we seize it is caught on the next pass, because a
 * stopped thread can create nothing. Zombies are recorded, not seized.
 * A signal dequeued by a delivery stop during the seize is kept in
 * thread->stolen and queued back before anything reads the pending sets.
 */
#define LOG_PREFIX "seize: "
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "engine.h"
#include "util/abort.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define SEIZE_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_SUSPEND_SECCOMP)

struct task *ctx_find(const struct ckpt_ctx *ctx, pid_t pid)
{
	for (int i = 0; i < ctx->ntasks; i++)
		if (ctx->tasks[i]->pid == pid)
			return ctx->tasks[i];
	return NULL;
}

static struct thread *task_find_thread(struct task *t, pid_t tid)
{
	for (int i = 0; i < t->nthreads; i++)
		if (t->threads[i].tid == tid)
			return &t->threads[i];
	return NULL;
}

/* The TracerPid of a thread, 0 when none or unknown. */
static pid_t thread_tracer(pid_t tid)
{
	cleanup_free char *path = xasprintf("/proc/%d", tid);
	cleanup_close int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct proc_status st;
	ckpt_err_t e = {0};
	pid_t tracer;

	if (fd < 0 || proc_read_status(fd, &st, &e) < 0) {
		ckpt_error_clear(&e);
		return 0;
	}
	tracer = st.tracer;
	proc_status_free(&st);
	return tracer;
}

/* Attach to one thread and ask it to stop. -ESRCH: it is gone. */
static int seize_attach(struct thread *th, ckpt_err_t *err)
{
	if (ptrace(PTRACE_SEIZE, th->tid, NULL, (void *)(long)SEIZE_OPTIONS) < 0) {
		pid_t tracer;

		if (errno == ESRCH)
			return -ESRCH;
		/* one tracer at a time: a debugger (or the program's own) holds it */
		if (errno == EPERM && (tracer = thread_tracer(th->tid)) > 0)
			return ckpt_error_msg(err, EBUSY,
					      "thread %d is traced by process %d: a task under "
					      "another tracer cannot be checkpointed",
					      th->tid, tracer);
		return ckpt_error(err, errno, "ptrace seize thread %d", th->tid);
	}
	th->seized = true;
	if (ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) < 0)
		return ckpt_error(err, errno, "ptrace interrupt thread %d", th->tid);
	return 0;
}

/* Wait for the interrupt stop of a seized thread. -ESRCH: it died. */
static int seize_wait(struct thread *th, ckpt_err_t *err)
{
	int status;

	for (;;) {
		siginfo_t si;

		if (waitpid(th->tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return ckpt_error(err, errno, "wait for thread %d", th->tid);
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			th->seized = false;
			return -ESRCH;
		}
		if (status >> 16 == PTRACE_EVENT_STOP) {
			th->stopped = true;
			th->stop_sig = WSTOPSIG(status); /* a group stop's signal */
			return 0;
		}
		/* signal-delivery stop: keep the signal, deliver it later, stay stopped */
		if (ptrace(PTRACE_GETSIGINFO, th->tid, NULL, &si) < 0)
			return ckpt_error(err, errno, "thread %d: get siginfo", th->tid);
		th->stolen = xrealloc(th->stolen, (th->nstolen + 1) * sizeof(si));
		th->stolen[th->nstolen++] = si;
		pr_debug("thread %d: signal %d caught while seizing, kept", th->tid, si.si_signo);
		if (ptrace(PTRACE_CONT, th->tid, NULL, NULL) < 0)
			return ckpt_error(err, errno, "thread %d: resume", th->tid);
	}
}

/* A frozen thread stops only once thawed: then ctx->defer_wait is set. */
static int seize_thread(struct ckpt_ctx *ctx, struct thread *th, ckpt_err_t *err)
{
	int ret = seize_attach(th, err);

	if (ret < 0 || ctx->defer_wait)
		return ret;
	return seize_wait(th, err);
}

int seize_wait_all(struct ckpt_ctx *ctx, ckpt_err_t *err)
{
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];

		for (int j = 0; j < t->nthreads; j++) {
			struct thread *th = &t->threads[j];
			int ret;

			if (!th->seized || th->stopped)
				continue;
			ret = seize_wait(th, err);
			if (ret == -ESRCH)
				continue; /* died while thawing: its pass finds it gone */
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static struct task *task_new(struct ckpt_ctx *ctx, pid_t pid, struct task *parent, ckpt_err_t *err)
{
	struct task *t = xzalloc(sizeof(*t));
	char path[64];

	t->pid = pid;
	t->parent = parent;
	t->procfd = -1;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	t->procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->procfd < 0) {
		int e = errno;

		free(t);
		if (e == ENOENT)
			ckpt_error_msg(err, ESRCH, "no process with pid %d", pid);
		else
			ckpt_error(err, e, "open %s", path);
		return NULL;
	}
	ctx->tasks = xrealloc(ctx->tasks, (ctx->ntasks + 1) * sizeof(*ctx->tasks));
	ctx->tasks[ctx->ntasks++] = t;
	if (parent) {
		parent->children = xrealloc(parent->children,
					    (parent->nchildren + 1) * sizeof(*parent->children));
		parent->children[parent->nchildren++] = t;
	}
	return t;
}

/* The children of every thread of t not yet known become tasks (*changed then). */
static int seize_add_children(struct ckpt_ctx *ctx, struct task *t, bool *changed, ckpt_err_t *err)
{
	for (int i = 0; i < t->nthreads; i++) {
		cleanup_free pid_t *kids = NULL;
		int nkids;

		if (proc_list_children(t->procfd, t->threads[i].tid, &kids, &nkids, err) < 0) {
			ckpt_error_clear(err); /* thread gone: its children moved to others */
			continue;
		}
		for (int k = 0; k < nkids; k++) {
			if (ctx_find(ctx, kids[k]))
				continue;
			if (!task_new(ctx, kids[k], t, err)) {
				if (err->code == ESRCH) {
					ckpt_error_clear(err);
					continue;
				}
				return -err->code;
			}
			*changed = true;
		}
	}
	return 0;
}

/*
 * One pass over a task: seize threads not yet seized, add children not
 * yet known. *changed is set when anything new was found.
 */
static int seize_pass_task(struct ckpt_ctx *ctx, struct task *t, bool *changed, ckpt_err_t *err)
{
	cleanup_free pid_t *tids = NULL;
	struct proc_stat st;
	int ntids, ret;

	ret = proc_read_stat(t->procfd, &st, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d", t->pid);
	if (!t->state || st.state == 'Z')
		t->state = st.state; /* as it was before we stopped it */
	if (st.state == 'Z' || st.state == 'X') {
		if (!t->nthreads) {
			t->threads = xzalloc(sizeof(*t->threads));
			t->threads[0].tid = t->pid;
			t->nthreads = 1;
			*changed = true;
		}
		return 0;
	}
	ret = proc_list_threads(t->procfd, &tids, &ntids, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d", t->pid);
	for (int i = 0; i < ntids; i++) {
		struct thread *th = task_find_thread(t, tids[i]);

		if (th)
			continue;
		t->threads = xrealloc(t->threads, (t->nthreads + 1) * sizeof(*t->threads));
		th = &t->threads[t->nthreads];
		memset(th, 0, sizeof(*th));
		th->tid = tids[i];
		ret = seize_thread(ctx, th, err);
		if (ret == -ESRCH)
			continue; /* exited meanwhile */
		t->nthreads++;
		if (ret < 0)
			return ret;
		*changed = true;
	}
	return seize_add_children(ctx, t, changed, err);
}

int seize_tree(struct ckpt_ctx *ctx, pid_t root, ckpt_err_t *err)
{
	bool changed;
	int ret, passes = 0;

	if (root == getpid())
		return ckpt_error_msg(err, EINVAL, "cannot checkpoint ckpt-oci itself");
	if (!ctx->root)
		ctx->root = task_new(ctx, root, NULL, err);
	if (!ctx->root)
		return -err->code;
	do {
		changed = false;
		for (int i = 0; i < ctx->ntasks; i++) {
			ret = ckpt_abort_check(err);
			if (ret == 0)
				ret = seize_pass_task(ctx, ctx->tasks[i], &changed, err);
			if (ret < 0)
				return ret;
		}
		passes++;
	} while (changed);
	if (ctx->root->state == 'Z')
		return ckpt_error_msg(err, ESRCH, "process %d is a zombie", root);
	pr_info("seized %d tasks in %d passes", ctx->ntasks, passes);
	return 0;
}

void seize_release(struct ckpt_ctx *ctx)
{
	for (int i = ctx->ntasks - 1; i >= 0; i--) {
		struct task *t = ctx->tasks[i];

		for (int j = 0; j < t->nthreads; j++) {
			struct thread *th = &t->threads[j];

			if (!th->seized)
				continue;
			if (ptrace(PTRACE_DETACH, th->tid, NULL, NULL) < 0)
				pr_warn("detach thread %d: %m, ignoring", th->tid);
			th->seized = false;
		}
	}
}

/* Wait until no process holds pid; pid 1 of these machines reaps lazily. */
static void wait_pid_free(pid_t pid)
{
	struct timespec ts = {0, 2 * 1000 * 1000};

	for (int i = 0; i < 5000; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return;
		nanosleep(&ts, NULL);
	}
	pr_warn("pid %d still taken after the tree was killed", pid);
}

/* Collect the death of every thread of a killed task (we are its tracer). */
static void reap_traced(struct task *t)
{
	/* a group leader is reported only after its other threads */
	for (int j = t->nthreads - 1; j >= 0; j--) {
		struct thread *th = &t->threads[j];
		int status;

		while (th->seized && waitpid(th->tid, &status, __WALL) >= 0)
			if (WIFEXITED(status) || WIFSIGNALED(status))
				break;
		th->seized = false;
	}
}

/*
 * Have the (still stopped) parent reap a killed child with a remote
 * wait4(): otherwise the child's zombie goes to pid 1, which on these
 * machines reaps only about once a second, and restore would find the
 * pid taken.
 */
/* Have a (still stopped) parent reap its killed children. */
static void parent_reaps(struct task *p)
{
	struct rsys rs;
	ckpt_err_t e = {0};
	long r;

	if (!p->sc_addr || !p->nthreads || !p->threads[0].stopped)
		return;
	if (rsys_init(&rs, p->threads[0].tid, p->sc_addr, &e) < 0)
		return;
	for (int k = 0; k < p->nchildren; k++) {
		if (rsys_call(&rs, &r, SYS_wait4, p->children[k]->pid, 0, __WALL, 0, 0, 0, &e) < 0)
			break;
		if (r < 0)
			pr_debug("task %d could not reap %d, pid 1 will", p->pid,
				 p->children[k]->pid);
	}
	rsys_drop(&rs); /* it dies next: no need to put its registers back */
}

static int task_depth(const struct task *t)
{
	int d = 0;

	for (; t->parent; t = t->parent)
		d++;
	return d;
}

/*
 * Kill the tree level by level, deepest first: all tasks of a level at
 * once, our trace report of each collected, then each parent (one level
 * up, still stopped) reaps its children with remote wait4() calls. The
 * zombies would otherwise go to pid 1, which on these machines reaps only
 * about once a second, and restore would find their pids taken. In a pid
 * namespace of its own the dying init reaps everything itself, but only
 * once we collected each report: a traced zombie is invisible to it.
 */
int seize_kill(struct ckpt_ctx *ctx, uint64_t *killed_at, ckpt_err_t *err)
{
	cleanup_free int *depth = xzalloc((ctx->ntasks + 1) * sizeof(int));
	int maxd = 0;

	for (int i = 0; i < ctx->ntasks; i++) {
		depth[i] = task_depth(ctx->tasks[i]);
		maxd = MAX(maxd, depth[i]);
	}
	*killed_at = 0;
	for (int d = maxd; d >= 0; d--) {
		for (int i = 0; i < ctx->ntasks; i++) {
			if (depth[i] != d)
				continue;
			if (kill(ctx->tasks[i]->pid, SIGKILL) < 0 && errno != ESRCH)
				return ckpt_error(err, errno, "kill %d", ctx->tasks[i]->pid);
			if (!*killed_at)
				*killed_at = now_ns();
		}
		for (int i = ctx->ntasks - 1; i >= 0; i--)
			if (depth[i] == d)
				reap_traced(ctx->tasks[i]);
		if (ctx->own_pidns || d == 0)
			continue;
		for (int i = 0; i < ctx->ntasks; i++)
			if (depth[i] == d - 1 && ctx->tasks[i]->nchildren)
				parent_reaps(ctx->tasks[i]);
	}
	/*
	 * A tree in a pid namespace of its own comes back in a fresh one: its
	 * host pids need not be free. (Its dead init waits for the host's pid 1,
	 * which reaps about once a second, or for its parent.)
	 */
	if (ctx->own_pidns)
		return 0;
	for (int i = 0; i < ctx->ntasks; i++)
		for (int j = 0; j < ctx->tasks[i]->nthreads; j++)
			wait_pid_free(ctx->tasks[i]->threads[j].tid);
	return 0;
}

void ctx_free(struct ckpt_ctx *ctx)
{
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];

		for (int j = 0; j < t->nthreads; j++) {
			free(t->threads[j].xstate);
			free(t->threads[j].stolen);
		}
		free(t->threads);
		free(t->children);
		if (t->procfd >= 0)
			close(t->procfd);
		json_free(t->doc);
		free(t);
	}
	free(ctx->tasks);
	ctx->tasks = NULL;
	ctx->ntasks = 0;
}
