/*
 * libckpt/util/spawn.c - run a helper program or function in a child and
 * talk to it through pipes: stdin fed from a buffer, stdout and stderr
 * captured (bounded) or streamed, all through one poll() loop so a helper
 * that writes while we still feed it cannot deadlock us. See spawn.h for
 * the trust rules (trusted directories, clean environment).
 */
#define LOG_PREFIX "spawn: "
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "util/log.h"
#include "util/spawn.h"
#include "util/util.h"

#define ENV_MAX 32

char *spawn_resolve(const char *name)
{
	cleanup_free char *dirs = xstrdup(SPAWN_TRUSTED_PATH);
	char *save = NULL;

	if (!name || !*name)
		return NULL;
	if (strchr(name, '/'))
		return xstrdup(name);
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/%s", d, name);

		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

bool spawn_ok(const struct spawn *s)
{
	return WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0;
}

const char *spawn_status_str(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
	return buf;
}

static const char *last_line(char *buf)
{
	char *p;

	if (!buf)
		return NULL;
	while ((p = strrchr(buf, '\n')) && !p[1])
		*p = '\0';
	p = strrchr(buf, '\n');
	return p ? p + 1 : buf;
}

const char *spawn_last_line(struct spawn *s)
{
	const char *l = last_line(s->err_buf);

	if (!l || !*l)
		l = last_line(s->out_buf);
	return l ?: "";
}

void spawn_free(struct spawn *s)
{
	free(s->out_buf);
	free(s->err_buf);
	s->out_buf = s->err_buf = NULL;
	s->out_len = s->err_len = 0;
}

/* ---- the child --------------------------------------------------------- */

/* What the child's stdio fds come from; -1 leaves one as it is. */
struct child_fds {
	int src[3];
	bool err_to_out;
	int close_fds[4]; /* the parent's pipe ends */
	int report;	  /* exec failure: errno goes here (close-on-exec) */
};

static __attribute__((noreturn)) void child_exec(const struct spawn *s, struct child_fds *c,
						 const char *prog, char *const envp[])
{
	sigset_t none;
	int r;

	for (int i = 0; i < 4; i++)
		if (c->close_fds[i] >= 0)
			close(c->close_fds[i]);
	/* a source below 3 that is not its own target would be clobbered by dup2 */
	for (int i = 0; i < 3; i++)
		if (c->src[i] >= 0 && c->src[i] < 3 && c->src[i] != i) {
			c->src[i] = fcntl(c->src[i], F_DUPFD_CLOEXEC, 3);
			if (c->src[i] < 0)
				_exit(127);
		}
	for (int i = 0; i < 3; i++) {
		if (c->src[i] < 0 && !(i == 2 && c->err_to_out))
			continue;
		if (i == 2 && c->err_to_out)
			r = dup2(1, 2);
		else if (c->src[i] == i)
			r = fcntl(i, F_SETFD, 0);
		else
			r = dup2(c->src[i], i);
		if (r < 0)
			_exit(127);
	}
	for (int i = 0; i < s->nkeep; i++)
		if (fcntl(s->keep_fds[i], F_SETFD, 0) < 0)
			_exit(127);
	if (s->child) {
		r = s->child(s->arg);
		if (!s->argv || r)
			_exit(r);
	}
	/* a program starts with no signal blocked, whatever ckpt-oci was doing */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execve(prog, (char *const *)s->argv, envp);
	r = errno;
	if (write(c->report, &r, sizeof(r)) < 0) {
		/* the parent then sees exit code 127 alone */
	}
	_exit(127);
}

/* ---- the parent's side of the pipes ------------------------------------- */

struct capture {
	char *buf;
	size_t len, max;
	bool truncated;
};

/* Read what is there; 0 at EOF, 1 if more may come, negative errno. */
static int capture_read(int fd, struct capture *c)
{
	char drop[4096];
	ssize_t n;

	if (c->len < c->max) {
		size_t room = MIN(c->max - c->len, (size_t)1 << 16);

		c->buf = xrealloc(c->buf, c->len + room + 1);
		n = read(fd, c->buf + c->len, room);
		if (n > 0)
			c->len += n;
		c->buf[c->len] = '\0';
	} else {
		n = read(fd, drop, sizeof(drop));
		if (n > 0)
			c->truncated = true;
	}
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	return n > 0;
}

static int sink_read(int fd, const struct spawn *s, ckpt_err_t *err)
{
	char buf[1 << 16];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : ckpt_error(err, errno, "read");
	if (n == 0)
		return 0;
	return s->sink(s->sink_arg, buf, n, err) < 0 ? -EIO : 1;
}

/*
 * Write the next part of the input; 0 when all is written, 1 if more is
 * left, -EPIPE when the helper closed its end. SIGPIPE is blocked in this
 * thread by the caller: the signal the kernel queued is taken back here.
 */
static int feed(int fd, const struct spawn *s, size_t *done)
{
	static const struct timespec now = {0, 0};
	ssize_t n = write(fd, (const char *)s->in_buf + *done, MIN(s->in_len - *done, 1 << 16));
	sigset_t pipe_set;

	if (n < 0 && errno == EPIPE) {
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigtimedwait(&pipe_set, NULL, &now);
		return -EPIPE;
	}
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	*done += n;
	return *done < s->in_len;
}

enum { P_IN, P_OUT, P_ERR, P_N };

static void drop(int *fd)
{
	closep(fd);
	*fd = -1;
}

/* The poll loop: until the child closed stdout and stderr, or a failure. */
static int pump(struct spawn *s, int fds[P_N], struct capture *out, struct capture *er,
		uint64_t deadline, const char *name, int *in_error, ckpt_err_t *err)
{
	size_t fed = 0;

	if (fds[P_IN] >= 0 && s->in_len == 0)
		drop(&fds[P_IN]);
	while (fds[P_IN] >= 0 || fds[P_OUT] >= 0 || fds[P_ERR] >= 0) {
		struct pollfd p[P_N];
		int timeout = -1, r;
		uint64_t now;

		for (int i = 0; i < P_N; i++)
			p[i] = (struct pollfd){.fd = fds[i],
					       .events = i == P_IN ? POLLOUT : POLLIN};
		if (deadline) {
			now = now_ns();
			if (now >= deadline)
				return ckpt_error_msg(err, ETIMEDOUT,
						      "`%s` still running after %d ms", name,
						      s->timeout_ms);
			timeout = (deadline - now + 999999) / 1000000;
		}
		r = poll(p, P_N, timeout);
		if (r < 0 && errno != EINTR)
			return ckpt_error(err, errno, "poll `%s`", name);
		if (r <= 0)
			continue;
		if (fds[P_IN] >= 0 && p[P_IN].revents) {
			r = feed(fds[P_IN], s, &fed);
			if (r < 0)
				*in_error = -r;
			if (r <= 0)
				drop(&fds[P_IN]);
		}
		if (fds[P_OUT] >= 0 && p[P_OUT].revents) {
			r = s->out == SPAWN_SINK ? sink_read(fds[P_OUT], s, err)
						 : capture_read(fds[P_OUT], out);
			if (r < 0)
				return s->out == SPAWN_SINK
					       ? r
					       : ckpt_error(err, -r, "read `%s`", name);
			if (r == 0)
				drop(&fds[P_OUT]);
		}
		if (fds[P_ERR] >= 0 && p[P_ERR].revents) {
			r = capture_read(fds[P_ERR], er);
			if (r < 0)
				return ckpt_error(err, -r, "read `%s`'s stderr", name);
			if (r == 0)
				drop(&fds[P_ERR]);
		}
	}
	return 0;
}

/* With a deadline: wait (on a pidfd) until the child is gone or the time is up. */
static int wait_deadline(const struct spawn *s, uint64_t deadline, const char *name,
			 ckpt_err_t *err)
{
	cleanup_close int pidfd = syscall(SYS_pidfd_open, s->pid, 0);
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	uint64_t now;
	int r;

	if (pidfd < 0)
		return ckpt_error(err, errno, "pidfd_open `%s`", name);
	for (;;) {
		now = now_ns();
		if (now >= deadline)
			return ckpt_error_msg(err, ETIMEDOUT, "`%s` still running after %d ms",
					      name, s->timeout_ms);
		r = poll(&p, 1, (deadline - now + 999999) / 1000000);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return ckpt_error(err, errno, "poll `%s`", name);
	}
}

/* The child's fd for one stdio slot, opening pipes as needed; -1 for inherit. */
static int stdio_src(enum spawn_io io, int fd, int devnull, int pipe_fds[2], bool to_child_read)
{
	switch (io) {
	case SPAWN_NULL:
		return devnull;
	case SPAWN_FD:
		return fd;
	case SPAWN_PIPE:
	case SPAWN_SINK:
		if (pipe2(pipe_fds, O_CLOEXEC) < 0)
			return -2;
		return to_child_read ? pipe_fds[0] : pipe_fds[1];
	default:
		return -1;
	}
}

static void build_env(const struct spawn *s, const char *envp[ENV_MAX + 3])
{
	int n = 0;

	/* the caller's entries first: getenv() takes the first of a name */
	for (int i = 0; s->env && s->env[i] && n < ENV_MAX; i++)
		envp[n++] = s->env[i];
	envp[n++] = "PATH=" SPAWN_TRUSTED_PATH;
	envp[n++] = "LC_ALL=C";
	envp[n] = NULL;
}

/*
 * The child's stdio sources (pipes made as needed) and the fds it closes:
 * -1 with errno set when a pipe could not be made.
 */
static int child_fds_make(const struct spawn *s, struct child_fds *c, int devnull, int inp[2],
			  int outp[2], int errp[2], int rep[2])
{
	c->src[0] = stdio_src(s->in, s->in_fd, devnull, inp, true);
	c->src[1] = stdio_src(s->out, s->out_fd, devnull, outp, false);
	c->err_to_out = s->errout == SPAWN_TO_STDOUT;
	c->src[2] = stdio_src(c->err_to_out ? SPAWN_INHERIT : s->errout, s->err_fd, devnull, errp,
			      false);
	if (c->src[0] == -2 || c->src[1] == -2 || c->src[2] == -2 ||
	    (s->argv && pipe2(rep, O_CLOEXEC) < 0))
		return -1;
	c->close_fds[0] = inp[1];
	c->close_fds[1] = outp[0];
	c->close_fds[2] = errp[0];
	c->close_fds[3] = rep[0];
	c->report = rep[1];
	return 0;
}

/*
 * Feed and drain the child (SIGPIPE blocked meanwhile), close our ends,
 * then with a deadline wait until it is gone.
 */
static int talk(struct spawn *s, int fds[P_N], struct capture *out, struct capture *er,
		uint64_t deadline, const char *name, int *in_error, ckpt_err_t *err)
{
	sigset_t pipe_set, old_mask;
	int ret;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	ret = pump(s, fds, out, er, deadline, name, in_error, err);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	for (int i = 0; i < P_N; i++)
		closep(&fds[i]);
	if (ret == 0 && deadline)
		ret = wait_deadline(s, deadline, name, err);
	return ret;
}

/*
 * The child killed when talking to it failed (ret < 0), the errno of a
 * failed exec read from report, and the child waited for.
 */
static int reap(struct spawn *s, int report, int ret, int *exec_errno, const char *name,
		ckpt_err_t *err)
{
	if (ret < 0)
		kill(s->pid, SIGKILL);
	/* EOF when exec succeeded (close-on-exec), errno when it failed */
	if (report >= 0 && ret == 0 &&
	    read_all(report, exec_errno, sizeof(*exec_errno)) != sizeof(*exec_errno))
		*exec_errno = 0;
	while (waitpid(s->pid, &s->status, 0) < 0)
		if (errno != EINTR) {
			if (ret == 0)
				ret = ckpt_error(err, errno, "wait for `%s`", name);
			break;
		}
	return ret;
}

/* After the fork: the child's ends closed, ours in fds (stdin non-blocking). */
static void parent_ends(int inp[2], int outp[2], int errp[2], int rep[2], int fds[P_N])
{
	drop(&inp[0]);
	drop(&outp[1]);
	drop(&errp[1]);
	drop(&rep[1]);
	if (inp[1] >= 0)
		(void)fcntl(inp[1], F_SETFL, O_NONBLOCK);
	fds[P_IN] = steal_fd(&inp[1]);
	fds[P_OUT] = steal_fd(&outp[0]);
	fds[P_ERR] = steal_fd(&errp[0]);
}

/* What was captured of stdout and stderr, the caller's now. */
static void keep_output(struct spawn *s, struct capture *out, struct capture *er)
{
	s->out_buf = steal_pointer(&out->buf);
	s->out_len = out->len;
	s->out_truncated = out->truncated;
	s->err_buf = steal_pointer(&er->buf);
	s->err_len = er->len;
}

int spawn_run(struct spawn *s, ckpt_err_t *err)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, errp[2] = {-1, -1}, rep[2] = {-1, -1};
	const char *name = s->name ?: s->argv ? s->argv[0] : "helper";
	struct capture out = {.max = s->out_max ?: SPAWN_CAPTURE_MAX};
	struct capture er = {.max = s->err_max ?: SPAWN_CAPTURE_MAX};
	cleanup_close int devnull = -1;
	cleanup_free char *prog = NULL;
	const char *envp[ENV_MAX + 3];
	struct child_fds c = {.report = -1};
	int fds[P_N], in_error = 0, exec_errno = 0, ret = 0;
	uint64_t deadline = s->timeout_ms ? now_ns() + (uint64_t)s->timeout_ms * 1000000 : 0;
	char st[64];

	spawn_free(s);
	s->status = 0;
	s->out_truncated = false;
	if (s->argv) {
		prog = spawn_resolve(s->argv[0]);
		if (!prog)
			return ckpt_error_msg(err, ENOENT, "`%s` not found in %s", name,
					      SPAWN_TRUSTED_PATH);
		build_env(s, envp);
	}
	if (s->in == SPAWN_NULL || s->out == SPAWN_NULL || s->errout == SPAWN_NULL) {
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull < 0)
			return ckpt_error(err, errno, "open /dev/null");
	}
	if (child_fds_make(s, &c, devnull, inp, outp, errp, rep) < 0) {
		ret = ckpt_error(err, errno, "pipe for `%s`", name);
		goto out;
	}
	s->pid = fork();
	if (s->pid < 0) {
		ret = ckpt_error(err, errno, "fork for `%s`", name);
		goto out;
	}
	if (s->pid == 0)
		child_exec(s, &c, prog, (char *const *)envp);
	parent_ends(inp, outp, errp, rep, fds);
	ret = talk(s, fds, &out, &er, deadline, name, &in_error, err);
	ret = reap(s, rep[0], ret, &exec_errno, name, err);
	keep_output(s, &out, &er);
	if (ret == 0 && exec_errno)
		ret = ckpt_error(err, exec_errno, "run %s", prog);
	else if (ret == 0 && in_error)
		ret = ckpt_error(err, in_error, "`%s` did not read its input (%s)", name,
				 spawn_status_str(s->status, st, sizeof(st)));
out:
	free(out.buf);
	free(er.buf);
	for (int i = 0; i < 2; i++) {
		closep(&inp[i]);
		closep(&outp[i]);
		closep(&errp[i]);
		closep(&rep[i]);
	}
	return ret;
}
