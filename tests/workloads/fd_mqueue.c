/*
 * fd_mqueue - open POSIX message queue descriptors with queued messages:
 * after restore the same fds (same access mode, O_NONBLOCK, close-on-exec)
 * receive the messages in priority order, oldest first within one
 * priority, then send and receive a new one.
 *
 * The queue is named after the pid the workload had at start, so runs in
 * the host's IPC namespace do not collide. Argument "notify": the queue
 * also has an mq_notify() registration (the checkpoint must refuse it).
 * The workload removes its queue at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

#define RD_FD 21 /* O_RDWR | O_NONBLOCK */
#define WR_FD 22 /* O_WRONLY, blocking */

static const struct {
	unsigned prio;
	const char *text;
} sent[] = {{1, "low one"}, {9, "high"}, {1, "low two"}, {4, ""}, {9, "high two"}};
static const int order[] = {1, 4, 3, 0, 2};
#define NSENT (sizeof(sent) / sizeof(sent[0]))

static int move_to(mqd_t q, int want)
{
	if (dup3(q, want, O_CLOEXEC) < 0)
		return -1;
	return close(q);
}

static int check_flags(int fd, int want_fl, int want_fd)
{
	int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);

	if ((fl & (O_ACCMODE | O_NONBLOCK)) != want_fl || fdf != want_fd)
		return wl_fail("fd %d: flags %#x fd flags %#x, want %#x %#x", fd, fl, fdf, want_fl,
			       want_fd);
	return 0;
}

static int check_after(const char *name, int rd_fdflags, int wr_fdflags)
{
	struct mq_attr a;
	char buf[128];
	unsigned prio;

	if (check_flags(RD_FD, O_RDWR | O_NONBLOCK, rd_fdflags) ||
	    check_flags(WR_FD, O_WRONLY, wr_fdflags))
		return 1;
	if (mq_getattr(RD_FD, &a) < 0 || a.mq_maxmsg != 8 || a.mq_msgsize != 128 ||
	    a.mq_curmsgs != (long)NSENT || !(a.mq_flags & O_NONBLOCK))
		return wl_fail("attributes of %s: %m, maxmsg %ld msgsize %ld curmsgs %ld", name,
			       a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
	for (size_t i = 0; i < NSENT; i++) {
		ssize_t n = mq_receive(RD_FD, buf, sizeof(buf), &prio);
		int k = order[i];

		if (n != (ssize_t)strlen(sent[k].text) || prio != sent[k].prio ||
		    memcmp(buf, sent[k].text, n))
			return wl_fail("message %zu: %zd bytes, prio %u (%m)", i, n, prio);
	}
	if (mq_receive(RD_FD, buf, sizeof(buf), &prio) >= 0 || errno != EAGAIN)
		return wl_fail("queue not empty or not non-blocking: %m");
	if (mq_send(WR_FD, "after", 5, 3) < 0)
		return wl_fail("send after restore: %m");
	if (mq_receive(RD_FD, buf, sizeof(buf), &prio) != 5 || prio != 3 || memcmp(buf, "after", 5))
		return wl_fail("message sent after restore not received: %m");
	return 0;
}

int main(int argc, char **argv)
{
	struct mq_attr a = {.mq_maxmsg = 8, .mq_msgsize = 128};
	bool notify = argc > 1 && !strcmp(argv[1], "notify");
	char name[64];
	int rd_fdflags, wr_fdflags;
	mqd_t q, w;

	wl_init(argc, argv);
	snprintf(name, sizeof(name), "/ckpt-wl-fdmq-%d", (int)getpid());
	(void)mq_unlink(name);
	q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_NONBLOCK, 0600, &a);
	w = mq_open(name, O_WRONLY);
	if (q == (mqd_t)-1 || w == (mqd_t)-1)
		return wl_fail("mq_open %s: %m", name);
	/* the read end keeps close-on-exec, the write end loses it */
	if (move_to(q, RD_FD) < 0 || move_to(w, WR_FD) < 0 || fcntl(WR_FD, F_SETFD, 0) < 0)
		return wl_fail("move fds: %m");
	for (size_t i = 0; i < NSENT; i++)
		if (mq_send(WR_FD, sent[i].text, strlen(sent[i].text), sent[i].prio) < 0)
			return wl_fail("mq_send: %m");
	if (notify) {
		struct sigevent ev = {.sigev_notify = SIGEV_NONE};

		if (mq_notify(RD_FD, &ev) < 0)
			return wl_fail("mq_notify: %m");
	}
	rd_fdflags = fcntl(RD_FD, F_GETFD);
	wr_fdflags = fcntl(WR_FD, F_GETFD);
	wl_ready();
	wl_wait_restored();
	if (check_after(name, rd_fdflags, wr_fdflags))
		return 1;
	mq_unlink(name);
	return wl_pass();
}
