/*
 * oci/supervisor.c - the checkpoint supervisor the poststart hook leaves
 * behind. A detached process (double fork, setsid, stdio on DIR's log)
 * that checkpoints one container with --leave-running every interval into
 * DIR/ckpt-NNNNNN, points DIR/latest at the newest and removes all but the
 * newest `keep`. Each bundle is written by the engine as NAME.tmp and
 * renamed, so it is complete or absent.
 *
 * It stops when the container's init exits (a pidfd, polled with the
 * interval's timerfd) or on SIGTERM, which the poststop hook sends to the
 * holder of the POSIX lock on DIR/supervisor.pid: the lock, not the pid
 * written in the file, says which process is the live supervisor.
 */
#define LOG_PREFIX "supervisor: "
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "oci/hook.h"
#include "oci/oci.h"
#include "util/abort.h"
#include "util/fault.h"
#include "util/spawn.h"
#include "util/uapi.h"
#include "util/util.h"

#define BUNDLE_PREFIX "ckpt-"
#define LATEST	      "latest"
/* How long poststop waits for the supervisor, and for its first words. */
#define STOP_TIMEOUT_MS	 10000
#define START_TIMEOUT_MS 10000
#define LOG_MAX		 (4 << 20)

struct supervisor {
	const struct hook_conf *c;
	int pidfd; /* the container's init */
	int sigfd; /* SIGTERM, SIGINT, SIGHUP */
	int timerfd;
	unsigned long seq;  /* number of the last bundle written */
	unsigned long done; /* checkpoints written by this supervisor */
	char who[64];	    /* "supervisor[PID]" for the log */
};

/* N for a name ckpt-N (digits only), else 0; .tmp leftovers are not bundles. */
static unsigned long bundle_seq(const char *name)
{
	const char *p = name + strlen(BUNDLE_PREFIX);
	char *end;
	unsigned long n;

	if (strncmp(name, BUNDLE_PREFIX, strlen(BUNDLE_PREFIX)) || *p < '0' || *p > '9')
		return 0;
	n = strtoul(p, &end, 10);
	return *end ? 0 : n;
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/*
 * Scan DIR: remove ckpt-*.tmp (we hold DIR's lock, so nobody is writing
 * one: it is what a killed checkpoint left), then every bundle but the
 * newest keep. Returns the highest sequence number seen.
 */
static unsigned long prune(struct supervisor *s)
{
	cleanup_free unsigned long *seqs = NULL;
	cleanup_dir DIR *d = NULL;
	size_t n = 0, cap = 0;
	unsigned long max = 0;
	struct dirent *de;
	int fd, ret;

	fd = openat(s->c->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		hook_log(s->c->logfd, s->who, false, "list %s: %m, not pruning", s->c->dir);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		unsigned long seq = bundle_seq(de->d_name);

		if (!strncmp(de->d_name, BUNDLE_PREFIX, strlen(BUNDLE_PREFIX)) && len > 4 &&
		    !strcmp(de->d_name + len - 4, ".tmp")) {
			hook_log(s->c->logfd, s->who, false, "removing leftover %s", de->d_name);
			(void)bundle_rmtree(s->c->dirfd, de->d_name);
			continue;
		}
		if (!seq)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			seqs = xrealloc(seqs, cap * sizeof(*seqs));
		}
		seqs[n++] = seq;
		max = MAX(max, seq);
	}
	if (n) /* qsort's base must not be NULL, even for no elements */
		qsort(seqs, n, sizeof(*seqs), cmp_ulong);
	for (size_t i = 0; i + s->c->keep < n; i++) {
		char name[64];

		snprintf(name, sizeof(name), BUNDLE_PREFIX "%06lu", seqs[i]);
		ret = bundle_rmtree(s->c->dirfd, name);
		if (ret < 0)
			hook_log(s->c->logfd, s->who, false, "remove %s: %s, ignoring", name,
				 strerror(-ret));
	}
	return max;
}

/* DIR/latest -> ckpt-N, replaced by rename so it never dangles half-made. */
static void point_latest(struct supervisor *s, const char *name)
{
	(void)unlinkat(s->c->dirfd, LATEST ".tmp", 0);
	if (symlinkat(name, s->c->dirfd, LATEST ".tmp") < 0 ||
	    renameat(s->c->dirfd, LATEST ".tmp", s->c->dirfd, LATEST) < 0)
		hook_log(s->c->logfd, s->who, false, "update %s/%s: %m, ignoring", s->c->dir,
			 LATEST);
}

struct checkpoint_job {
	struct supervisor *s;
	const char *path;
	pid_t parent; /* the supervisor */
};

/*
 * In a child of its own: a crash or a leak in the engine must not take the
 * supervisor down, and the child's ptrace of the container ends with it.
 * The error message comes back through the pipe spawn gave as stdout;
 * stdout itself goes back to the log.
 */
static int checkpoint_child(void *arg)
{
	struct checkpoint_job *j = arg;
	struct oci_checkpoint_opts o = {0};
	ckpt_err_t err = {0};
	sigset_t none;
	int wfd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);

	if (wfd < 0 || dup2(j->s->c->logfd, STDOUT_FILENO) < 0)
		return 1;
	/*
	 * The tracer is never cut short: a stop signal, or the supervisor's
	 * death, rolls the checkpoint back (util/abort.h), as cmd/worker.c's.
	 */
	ckpt_abort_signals_on(j->parent);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (ckpt_fault_arm(j->parent, &err) < 0)
		return write_all(wfd, err.msg, strlen(err.msg)) < 0 ? 2 : 1;
	o.runtime = j->s->c->runtime;
	o.root = j->s->c->root;
	o.id = j->s->c->id;
	o.dump.bundle = j->path;
	o.dump.work_dir = j->s->c->dir;
	o.dump.leave_running = true;
	if (oci_checkpoint(&o, &err) == 0)
		return 0;
	if (write_all(wfd, err.msg, strlen(err.msg)) < 0) {
		/* the parent then reports the exit status alone */
	}
	return 1;
}

static int checkpoint_once(struct supervisor *s, ckpt_err_t *err)
{
	char name[64];
	cleanup_free char *path = NULL;
	struct checkpoint_job j = {s, NULL, getpid()};
	struct spawn sp = {.name = "checkpoint process",
			   .child = checkpoint_child,
			   .arg = &j,
			   .in = SPAWN_INHERIT,
			   .out = SPAWN_PIPE,
			   .out_max = CKPT_ERR_MSG_MAX,
			   .errout = SPAWN_INHERIT};
	int ret;

	snprintf(name, sizeof(name), BUNDLE_PREFIX "%06lu", s->seq + 1);
	path = xasprintf("%s/%s", s->c->dir, name);
	j.path = path;
	ret = spawn_run(&sp, err);
	if (ret == 0 && !spawn_ok(&sp)) {
		/* a killed child may leave NAME.tmp behind: never a half bundle */
		cleanup_free char *tmp = xasprintf("%s.tmp", name);

		(void)bundle_rmtree(s->c->dirfd, tmp);
		if (WIFSIGNALED(sp.status))
			ret = ckpt_error_msg(err, EIO, "%s: checkpoint process killed by signal %d",
					     name, WTERMSIG(sp.status));
		else
			ret = ckpt_error_msg(err, EIO, "%s: %s", name,
					     sp.out_len ? sp.out_buf : "checkpoint failed");
	}
	spawn_free(&sp);
	if (ret < 0)
		return ret;
	s->seq++;
	s->done++;
	point_latest(s, name);
	return 0;
}

/*
 * A long job at a short interval would grow the log without end: past
 * LOG_MAX it moves to supervisor.log.1 (the one before is dropped). The
 * new file takes the old one's fd number, and stdout/stderr follow it.
 */
static void rotate_log(struct supervisor *s)
{
	struct stat st;
	int fd;

	if (fstat(s->c->logfd, &st) < 0 || st.st_size < LOG_MAX)
		return;
	if (renameat(s->c->dirfd, HOOK_LOG_FILE, s->c->dirfd, HOOK_LOG_FILE ".1") < 0)
		return;
	fd = openat(s->c->dirfd, HOOK_LOG_FILE,
		    O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* the renamed file goes on taking the lines */
	if (dup3(fd, s->c->logfd, O_CLOEXEC) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		/* some fds still write to supervisor.log.1; nothing is lost */
	}
	close(fd);
}

/* One-shot timer: the next checkpoint starts an interval after this one ended. */
static int arm_timer(struct supervisor *s, ckpt_err_t *err)
{
	struct itimerspec it = {0};

	it.it_value.tv_sec = s->c->interval_ns / 1000000000ull;
	it.it_value.tv_nsec = s->c->interval_ns % 1000000000ull;
	if (timerfd_settime(s->timerfd, 0, &it, NULL) < 0)
		return ckpt_error(err, errno, "timerfd_settime");
	return 0;
}

static void tick(struct supervisor *s)
{
	uint64_t t0 = now_ns(), expirations;
	ckpt_err_t err = {0};

	if (read(s->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		hook_log(s->c->logfd, s->who, false, "read timerfd: %m, ignoring");
	if (checkpoint_once(s, &err) < 0) {
		hook_log(s->c->logfd, s->who, false, "checkpoint of `%s` failed: %s", s->c->id,
			 err.msg);
	} else {
		hook_log(s->c->logfd, s->who, false,
			 "checkpoint %s/" BUNDLE_PREFIX "%06lu in %.3f s", s->c->dir, s->seq,
			 (now_ns() - t0) / 1e9);
		(void)prune(s);
	}
	rotate_log(s);
	if (arm_timer(s, &err) < 0)
		hook_log(s->c->logfd, s->who, false, "%s, next checkpoint not scheduled", err.msg);
}

/* The loop: ticks until the init exits or a stop signal arrives. */
static void supervise(struct supervisor *s)
{
	struct pollfd p[3] = {
		{.fd = s->pidfd, .events = POLLIN},
		{.fd = s->sigfd, .events = POLLIN},
		{.fd = s->timerfd, .events = POLLIN},
	};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			hook_log(s->c->logfd, s->who, false, "poll: %m, stopping");
			return;
		}
		if (p[0].revents) {
			hook_log(s->c->logfd, s->who, false, "container init %d exited, stopping",
				 s->c->pid);
			return;
		}
		if (p[1].revents && read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
			hook_log(s->c->logfd, s->who, false, "%s from pid %u, stopping",
				 strsignal(si.ssi_signo), si.ssi_pid);
			return;
		}
		if (p[2].revents)
			tick(s);
	}
}

/* Lock DIR/supervisor.pid and write "PID\nID\n" into it; one supervisor per DIR. */
static int take_pid_file(const struct hook_conf *c, ckpt_err_t *err)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	cleanup_free char *text = NULL;
	cleanup_close int fd = -1;

	fd = openat(c->dirfd, HOOK_PID_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s/%s", c->dir, HOOK_PID_FILE);
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		if (errno != EAGAIN && errno != EACCES)
			return ckpt_error(err, errno, "lock %s/%s", c->dir, HOOK_PID_FILE);
		(void)fcntl(fd, F_GETLK, &fl);
		return ckpt_error_msg(err, EBUSY, "%s is in use by supervisor %d", c->dir,
				      (int)fl.l_pid);
	}
	text = xasprintf("%d\n%s\n", (int)getpid(), c->id);
	if (ftruncate(fd, 0) < 0 || write_all(fd, text, strlen(text)) < 0)
		return ckpt_error(err, errno, "write %s/%s", c->dir, HOOK_PID_FILE);
	/* kept open (and locked) for the supervisor's life: closing would unlock */
	return steal_fd(&fd);
}

/* stdin from /dev/null, stdout and stderr to the log: the engine's warnings land there. */
static int detach_stdio(const struct hook_conf *c, ckpt_err_t *err)
{
	cleanup_close int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return ckpt_error(err, errno, "open /dev/null");
	if (dup2(null, 0) < 0 || dup2(c->logfd, 1) < 0 || dup2(c->logfd, 2) < 0)
		return ckpt_error(err, errno, "dup2");
	return 0;
}

/* The grandchild's setup; afterwards it reports "ok" or the error on wfd. */
static int supervisor_setup(struct supervisor *s, int *lockfd, ckpt_err_t *err)
{
	sigset_t stop;
	int ret;

	if (chdir("/") < 0)
		return ckpt_error(err, errno, "chdir /");
	umask(077);
	ret = detach_stdio(s->c, err);
	if (ret < 0)
		return ret;
	*lockfd = take_pid_file(s->c, err);
	if (*lockfd < 0)
		return *lockfd;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
		return ckpt_error(err, errno, "sigprocmask");
	s->sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0)
		return ckpt_error(err, errno, "signalfd");
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->timerfd < 0)
		return ckpt_error(err, errno, "timerfd_create");
	s->seq = prune(s);
	return arm_timer(s, err);
}

/* The grandchild: set up, tell the hook, supervise, clean up. Never returns. */
static void supervisor_main(const struct hook_conf *c, int pidfd, int wfd)
{
	struct supervisor s = {.c = c, .pidfd = pidfd, .sigfd = -1, .timerfd = -1};
	ckpt_err_t err = {0};
	int lockfd = -1;
	char ok[32];

	snprintf(s.who, sizeof(s.who), "supervisor[%d]", (int)getpid());
	if (supervisor_setup(&s, &lockfd, &err) < 0) {
		if (write_all(wfd, err.msg, strlen(err.msg)) < 0) {
			/* the hook then reports that the supervisor died */
		}
		_exit(1);
	}
	/* logged before the hook's own line, which follows our "ok" */
	hook_log(c->logfd, s.who, false,
		 "checkpointing `%s` (%s %s, init %d) every %s into %s, "
		 "keeping %u",
		 c->id, c->runtime, c->root, c->pid, c->interval, c->dir, c->keep);
	snprintf(ok, sizeof(ok), "ok %d", (int)getpid());
	if (write_all(wfd, ok, strlen(ok)) < 0) {
		/* the hook is gone; supervising goes on */
	}
	close(wfd);
	supervise(&s);
	/* unlinked while still locked: poststop finds no file or a live holder */
	(void)unlinkat(c->dirfd, HOOK_PID_FILE, 0);
	hook_log(c->logfd, s.who, false, "stopped; %lu checkpoints written", s.done);
	_exit(0);
}

struct start_job {
	const struct hook_conf *c;
	int pidfd;
};

/*
 * The middle child: a new session, then a child that is no session leader
 * (no tty, ever). The supervisor's first words ("ok PID" or why it could
 * not start) go to the pipe spawn gave as stdout, through a copy of it:
 * the supervisor points its stdout at the log.
 */
static int start_child(void *arg)
{
	struct start_job *j = arg;
	int wfd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	pid_t pid;

	if (wfd < 0 || setsid() < 0)
		return 1;
	pid = fork();
	if (pid == 0)
		supervisor_main(j->c, j->pidfd, wfd);
	if (pid < 0 && write_all(wfd, "fork failed", 11) < 0)
		return 1;
	return pid < 0;
}

int supervisor_start(const struct hook_conf *c, pid_t *pid, ckpt_err_t *err)
{
	struct start_job j = {c, -1};
	struct spawn s = {.name = "supervisor",
			  .child = start_child,
			  .arg = &j,
			  .in = SPAWN_INHERIT,
			  .out = SPAWN_PIPE,
			  .out_max = CKPT_ERR_MSG_MAX,
			  .errout = SPAWN_INHERIT,
			  .timeout_ms = START_TIMEOUT_MS};
	int ret, v;

	/* opened here, while the init surely is the container's (the runtime waits on us) */
	j.pidfd = syscall(__NR_pidfd_open, c->pid, 0);
	if (j.pidfd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", c->pid);
	ret = spawn_run(&s, err);
	close(j.pidfd);
	if (ret == -ETIMEDOUT)
		ret = ckpt_error_msg(err, ETIMEDOUT, "supervisor did not start within %d s",
				     START_TIMEOUT_MS / 1000);
	else if (ret == 0 && s.out_buf && sscanf(s.out_buf, "ok %d", &v) == 1)
		*pid = v;
	else if (ret == 0)
		ret = ckpt_error_msg(err, EIO, "supervisor: %s",
				     s.out_len ? s.out_buf : "exited at start");
	spawn_free(&s);
	return ret;
}

/* The live supervisor: the holder of the lock on DIR/supervisor.pid, or 0. */
static pid_t lock_holder(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid;
}

/* "PID\nID\n": a DIR shared by two containers must not stop the other's. */
static int check_owner(const struct hook_conf *c, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	char *id;

	if (read_file_at(c->dirfd, HOOK_PID_FILE, 4096, &text, NULL, err) < 0)
		return ckpt_error_wrap(err, "%s", c->dir);
	id = strchr(text, '\n');
	if (id && strlen(++id) && id[strlen(id) - 1] == '\n')
		id[strlen(id) - 1] = '\0';
	if (!id || strcmp(id, c->id))
		return ckpt_error_msg(err, EBUSY, "%s/%s belongs to container `%s`, not `%s`",
				      c->dir, HOOK_PID_FILE, id ? id : "?", c->id);
	return 0;
}

int supervisor_stop(const struct hook_conf *c, pid_t *pid, ckpt_err_t *err)
{
	struct pollfd p = {.events = POLLIN};
	cleanup_close int fd = -1, pidfd = -1;
	pid_t holder;
	int r;

	*pid = 0;
	fd = openat(c->dirfd, HOOK_PID_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT
			       ? 0
			       : ckpt_error(err, errno, "open %s/%s", c->dir, HOOK_PID_FILE);
	holder = lock_holder(fd);
	if (!holder)
		return 0;
	r = check_owner(c, err);
	if (r < 0)
		return r;
	pidfd = syscall(__NR_pidfd_open, holder, 0);
	if (pidfd < 0)
		return errno == ESRCH ? 0 : ckpt_error(err, errno, "pidfd_open %d", holder);
	/* it may have exited and its pid been reused in between: the lock says */
	if (lock_holder(fd) != holder)
		return 0;
	if (syscall(__NR_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
		return errno == ESRCH ? 0 : ckpt_error(err, errno, "signal supervisor %d", holder);
	*pid = holder;
	p.fd = pidfd;
	do
		r = poll(&p, 1, STOP_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return ckpt_error_msg(err, ETIMEDOUT,
				      "supervisor %d did not stop within %d s "
				      "(a checkpoint still running?)",
				      holder, STOP_TIMEOUT_MS / 1000);
	return 0;
}
