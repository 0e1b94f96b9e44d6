/*
 * cmd/worker.c - run an operation in a worker process that the user's
 * signals cannot cut short.
 *
 * A checkpoint's ptrace tracer must outlive anything the user can kill:
 * a tracer that dies detaches every thread wherever it is, registers
 * pointing into a remote call, every signal blocked. So the ckpt-oci the
 * user started forks a worker that does all the work and only waits for
 * it. The worker turns SIGINT, SIGTERM, SIGHUP and the death of its parent
 * (PR_SET_PDEATHSIG, SIGHUP) into an abort request that the engine answers
 * at its next clean point, through its usual rollback. The parent relays
 * the signals it gets (SIGKILL it cannot), then the worker's exit status
 * and its one-line error.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "util/abort.h"
#include "util/fault.h"
#include "util/util.h"

static void abort_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
}

/* Error message to the parent: "ERRNO MESSAGE" in one datagram. */
static int worker_main(pid_t parent, int sock, const sigset_t *mask, cmd_work_fn fn, void *arg)
{
	ckpt_err_t err = {0};
	char msg[sizeof(err.msg) + 16];
	int ret, n;

	ckpt_abort_signals_on(parent);
	sigprocmask(SIG_SETMASK, mask, NULL);
	ret = ckpt_fault_arm(parent, &err);
	if (ret == 0)
		ret = fn(arg, &err);
	ckpt_fault_report();
	if (ret >= 0)
		return 0;
	n = snprintf(msg, sizeof(msg), "%d %s", err.code, err.msg);
	/* the parent may be gone (killed): no SIGPIPE for that */
	(void)send(sock, msg, MIN(n, (int)sizeof(msg) - 1), MSG_NOSIGNAL);
	return 1;
}

/* Relay our signals to the worker until it hangs up; *sig: the first one. */
static void parent_wait(pid_t pid, int sock, int sfd, char *msg, size_t len, int *sig)
{
	struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};

	for (;;) {
		struct signalfd_siginfo si;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (!*sig)
				*sig = si.ssi_signo;
			(void)kill(pid, si.ssi_signo);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(sock, msg, len - 1, MSG_DONTWAIT);
			if (n > 0)
				msg[n] = '\0';
			if (n > 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
			    (n == 0 && p[0].revents & POLLHUP))
				break;
		}
	}
}

int cmd_worker(const char *what, cmd_work_fn fn, void *arg)
{
	char msg[CKPT_ERR_MSG_MAX + 16] = "", *text;
	cleanup_close int sfd = -1;
	int sv[2], status, sig = 0, code = 0;
	sigset_t sigs, old;
	pid_t parent = getpid(), pid;

	abort_signals(&sigs);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cmd_fail(what, "socketpair: cannot start the worker");
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(worker_main(parent, sv[1], &old, fn, arg));
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return cmd_fail(what, "fork: cannot start the worker");
	}
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	parent_wait(pid, sv[0], sfd, msg, sizeof(msg), &sig);
	close(sv[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (WIFSIGNALED(status)) {
		snprintf(msg, sizeof(msg), "worker %d killed by SIG%s", pid,
			 sigabbrev_np(WTERMSIG(status)) ?: "?");
		return cmd_fail(what, msg);
	}
	if (WEXITSTATUS(status) == 0)
		return 0;
	code = strtol(msg, &text, 10);
	if (*text == ' ')
		text++;
	if (code == ECANCELED) {
		int s = sig ? sig : SIGTERM;
		char line[CKPT_ERR_MSG_MAX + 64];

		snprintf(line, sizeof(line), "%s: rolled back, the tree runs on as before", text);
		cmd_fail(what, line);
		return 128 + s;
	}
	return cmd_fail(what, *text ? text : "worker failed without a message");
}
