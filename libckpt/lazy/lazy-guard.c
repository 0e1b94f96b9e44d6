/*
 * libckpt/lazy/lazy-guard.c - the guard of a lazy restore: a child of the
 * lazy-pages process, forked before it serves, that holds a copy of each
 * restored task's userfaultfd and a pidfd of the task.
 *
 * Were the lazy-pages process to die (SIGKILL, OOM) before every page is
 * back, its userfaultfds would close, the ranges would be unregistered and
 * the tree's next faults would be filled with zeros: the program would run
 * on with its memory wrong. The guard's copies keep the userfaultfds open,
 * so those faults block instead; on the end of its socket without the
 * "every page back" message it kills every task through its pidfd.
 *
 * Gap: a child forked in the tree while pages come (UFFD_EVENT_FORK) is
 * not handed to the guard, as its pid is not known to lazy-pages. When
 * lazy-pages dies, such a child's userfaultfd closes and its next faults
 * on pages still pending are zero-filled, unless the child dies with the
 * tree (a pid namespace whose init is killed).
 */
#define LOG_PREFIX "lazy-guard: "
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lazy/lazy.h"
#include "util/log.h"
#include "util/util.h"

#define GUARD_TASK 'T' /* one task: its userfaultfd and pidfd */
#define GUARD_DONE 'D' /* every page back: the copies may close */

struct guard_task {
	int pidfd, uffd;
};

static void guard_kill(struct guard_task *t, size_t n)
{
	size_t killed = 0;

	for (size_t i = 0; i < n; i++)
		if (t[i].pidfd >= 0 &&
		    syscall(SYS_pidfd_send_signal, t[i].pidfd, SIGKILL, NULL, 0) == 0)
			killed++;
	pr_warn("the lazy-pages process died before every page was back: "
		"%zu tasks of the tree killed, never fed zeros",
		killed);
	/* the copies of the userfaultfds close only once the tasks are gone */
	for (size_t i = 0; i < n; i++) {
		struct pollfd pf = {.fd = t[i].pidfd, .events = POLLIN};

		while (t[i].pidfd >= 0 && poll(&pf, 1, -1) < 0 && errno == EINTR)
			;
	}
}

/* One message from lazy-pages: 1 on a task or "done", 0 on its end. */
static int guard_read(int sk, struct guard_task **t, size_t *n)
{
	char tag;
	int fds[2] = {-1, -1};
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = {&tag, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t r;

	do
		r = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	if (tag == GUARD_DONE)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(fds)))
		return 1;
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	*t = xrealloc(*t, (*n + 1) * sizeof(**t));
	(*t)[(*n)++] = (struct guard_task){.uffd = fds[0], .pidfd = fds[1]};
	return 1;
}

static int guard_main(int sk)
{
	cleanup_free struct guard_task *t = NULL;
	size_t n = 0, live = 0;

	prctl(PR_SET_NAME, "ckpt-lazy-guard");
	for (;;) {
		cleanup_free struct pollfd *pf = xzalloc((n + 1) * sizeof(*pf));
		int r;

		pf[0] = (struct pollfd){.fd = sk, .events = POLLIN};
		for (size_t i = 0; i < n; i++)
			pf[i + 1] = (struct pollfd){.fd = t[i].pidfd, .events = POLLIN};
		if (poll(pf, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			guard_kill(t, n);
			return 1;
		}
		/* a task that exited: its copy of the userfaultfd goes too */
		for (size_t i = 0; i < n; i++)
			if (pf[i + 1].revents && t[i].pidfd >= 0) {
				close(t[i].pidfd);
				close(t[i].uffd);
				t[i].pidfd = t[i].uffd = -1;
				live--;
			}
		if (pf[0].revents) {
			size_t was = n;

			r = guard_read(sk, &t, &n);
			if (r < 0)
				return 0;
			if (r == 0) {
				guard_kill(t, n);
				return 1;
			}
			live += n - was;
		}
		/* the guard does not outlive the tree */
		if (n && !live)
			return 0;
	}
}

int lazy_guard_start(struct lazy_guard *g, const int *others, int nothers, ckpt_err_t *err)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ckpt_error(err, errno, "socketpair for the lazy guard");
	g->pid = fork();
	if (g->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return ckpt_error(err, errno, "fork the lazy guard");
	}
	if (g->pid == 0) {
		close(sv[0]);
		for (int i = 0; i < nothers; i++)
			close(others[i]);
		_exit(guard_main(sv[1]));
	}
	close(sv[1]);
	g->sk = sv[0];
	pr_info("guard %d watches the tree", (int)g->pid);
	return 0;
}

int lazy_guard_add(struct lazy_guard *g, int uffd, pid_t host_pid, ckpt_err_t *err)
{
	char tag = GUARD_TASK;
	int fds[2] = {uffd, (int)syscall(SYS_pidfd_open, host_pid, 0)};
	char cbuf[CMSG_SPACE(sizeof(fds))] = {0};
	struct iovec iov = {&tag, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	ssize_t r;

	if (fds[1] < 0)
		return ckpt_error(err, errno, "pidfd of task %d", (int)host_pid);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	r = sendmsg(g->sk, &mh, MSG_NOSIGNAL);
	close(fds[1]);
	if (r != 1)
		return ckpt_error(err, errno ? errno : EPIPE, "hand task %d to the lazy guard",
				  (int)host_pid);
	return 0;
}

void lazy_guard_done(struct lazy_guard *g)
{
	char tag = GUARD_DONE;

	if (g->sk < 0)
		return;
	if (send(g->sk, &tag, 1, MSG_NOSIGNAL) != 1)
		pr_warn("tell the lazy guard every page is back: %s", strerror(errno));
	close(g->sk);
	g->sk = -1;
	while (waitpid(g->pid, NULL, 0) < 0 && errno == EINTR)
		;
}
