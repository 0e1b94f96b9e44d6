/*
 * fd_flags - every status flag of every open description and the
 * close-on-exec flag of every fd come back as they were, and signal-driven
 * I/O still signals its owner:
 *   - a pipe whose read end is non-blocking and write end is not, and one
 *     the other way round; a second description of a pipe's read end
 *     (opened through /proc/self/fd) with flags of its own;
 *   - a packet-mode pipe (O_DIRECT);
 *   - files opened O_APPEND, O_SYNC, O_DSYNC, O_NOATIME, O_DIRECT;
 *   - close-on-exec set on some fds and dups, clear on others;
 *   - O_ASYNC with F_SETOWN and F_SETSIG (a real-time signal), with
 *     F_SETOWN_EX naming the thread (SIGIO), and with a process group owner
 *     (its own group: a signal there reaches no one else).
 * Every fd's F_GETFL and F_GETFD are compared with the values before the
 * checkpoint, then I/O on the async pipes must raise their signals.
 *
 * `fd_flags thread`: one more pipe is owned by a second thread, which a
 * restore cannot give back (threads are made after fds): the checkpoint
 * must be refused and the program run on as it was.
 */
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

#define NFD 64

static int flags_before[NFD], fdflags_before[NFD];

static void snapshot(int *fl, int *fdfl)
{
	for (int fd = 0; fd < NFD; fd++) {
		fl[fd] = fcntl(fd, F_GETFL);
		fdfl[fd] = fcntl(fd, F_GETFD);
	}
}

static pthread_t helper;
static volatile pid_t helper_tid;
static int helper_stop[2];

static void *helper_main(void *arg)
{
	char c;

	helper_tid = gettid();
	return read(helper_stop[0], &c, 1) < 0 ? arg : NULL;
}

static int async_on(int fd, const struct f_owner_ex *own, int sig)
{
	if (fcntl(fd, F_SETOWN_EX, own) < 0 || fcntl(fd, F_SETSIG, sig) < 0)
		return -1;
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
}

/* A signal sig for fd arrives within a second of writing to w. */
static int expect_signal(int w, int fd, int sig, const char *what)
{
	struct timespec ts = {1, 0};
	siginfo_t si;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	/* the checkpoint's own look at the pipe may have raised one: not this one */
	while (sigtimedwait(&set, &si, &(struct timespec){0, 0}) == sig)
		;
	if (write(w, "s", 1) != 1)
		return wl_fail("%s: write: %m", what);
	if (sigtimedwait(&set, &si, &ts) != sig)
		return wl_fail("%s: no signal %d after restore: %m", what, sig);
	/* a real-time signal set with F_SETSIG carries the fd */
	if (sig != SIGIO && si.si_fd != fd)
		return wl_fail("%s: si_fd %d, want %d", what, si.si_fd, fd);
	return 0;
}

int main(int argc, char **argv)
{
	int p1[2], p2[2], p3[2], p4[2], p5[2], p6[2], p1r2, app, syn, dsyn, noat, dir, dupc, dupn;
	int rtsig, fl_after[NFD], fdfl_after[NFD], p7[2] = {-1, -1};
	bool thread = argc > 1 && !strcmp(argv[1], "thread");
	struct f_owner_ex own, got;
	char path[64], buf[16];
	sigset_t block;

	wl_init(argc, argv);
	if (setpgid(0, 0) < 0)
		return wl_fail("setpgid: %m");
	rtsig = SIGRTMIN + 2;
	sigemptyset(&block);
	sigaddset(&block, SIGIO);
	sigaddset(&block, rtsig);
	sigaddset(&block, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &block, NULL) < 0)
		return wl_fail("sigprocmask: %m");
	if (pipe2(p1, O_CLOEXEC) < 0 || pipe(p2) < 0 || pipe2(p3, O_DIRECT) < 0 ||
	    pipe2(p4, O_CLOEXEC) < 0 || pipe(p5) < 0 || pipe(p6) < 0)
		return wl_fail("pipe: %m");
	if (fcntl(p1[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(p2[1], F_SETFL, O_NONBLOCK) < 0)
		return wl_fail("F_SETFL: %m");
	/* a second description of p1's read end, blocking, without close-on-exec */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p1[0]);
	p1r2 = open(path, O_RDONLY);
	app = open(fd_path("flags-append"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	syn = open(fd_path("flags-sync"), O_RDWR | O_CREAT | O_SYNC, 0600);
	dsyn = open(fd_path("flags-dsync"), O_RDWR | O_CREAT | O_DSYNC | O_CLOEXEC, 0600);
	noat = open(fd_path("flags-append"), O_RDONLY | O_NOATIME);
	dir = open(fd_path("flags-sync"), O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (p1r2 < 0 || app < 0 || syn < 0 || dsyn < 0 || noat < 0 || dir < 0)
		return wl_fail("open: %m");
	dupc = fcntl(app, F_DUPFD_CLOEXEC, 40);
	dupn = dup(dsyn);
	own = (struct f_owner_ex){F_OWNER_PID, getpid()};
	if (dupc < 0 || dupn < 0 || async_on(p4[0], &own, rtsig) < 0)
		return wl_fail("dup / async: %m");
	own = (struct f_owner_ex){F_OWNER_TID, gettid()};
	if (async_on(p5[0], &own, 0) < 0)
		return wl_fail("async tid: %m");
	own = (struct f_owner_ex){F_OWNER_PGRP, getpgrp()};
	if (async_on(p6[0], &own, SIGUSR2) < 0)
		return wl_fail("async pgrp: %m");
	if (thread) {
		if (pipe(helper_stop) < 0 || pipe(p7) < 0 ||
		    pthread_create(&helper, NULL, helper_main, NULL))
			return wl_fail("thread: %m");
		while (!helper_tid)
			sched_yield();
		own = (struct f_owner_ex){F_OWNER_TID, helper_tid};
		if (async_on(p7[0], &own, 0) < 0)
			return wl_fail("async other thread: %m");
	}
	snapshot(flags_before, fdflags_before);

	wl_ready();
	wl_wait_restored();

	snapshot(fl_after, fdfl_after);
	/* 0-2 may be the restore's own stdio */
	for (int fd = 3; fd < NFD; fd++) {
		if (flags_before[fd] != fl_after[fd])
			return wl_fail("fd %d: status flags %#o, were %#o", fd, fl_after[fd],
				       flags_before[fd]);
		if (fdflags_before[fd] != fdfl_after[fd])
			return wl_fail("fd %d: fd flags %#x, were %#x", fd, fdfl_after[fd],
				       fdflags_before[fd]);
	}
	if (fcntl(p4[0], F_GETOWN_EX, &got) < 0 || got.type != F_OWNER_PID || got.pid != getpid() ||
	    fcntl(p4[0], F_GETSIG) != rtsig)
		return wl_fail("owner of the F_SETSIG pipe: type %d pid %d sig %d", got.type,
			       got.pid, fcntl(p4[0], F_GETSIG));
	if (fcntl(p5[0], F_GETOWN_EX, &got) < 0 || got.type != F_OWNER_TID || got.pid != gettid())
		return wl_fail("owner of the thread's pipe: type %d pid %d", got.type, got.pid);
	if (fcntl(p6[0], F_GETOWN_EX, &got) < 0 || got.type != F_OWNER_PGRP ||
	    got.pid != getpgrp() || fcntl(p6[0], F_GETSIG) != SIGUSR2)
		return wl_fail("owner of the group's pipe: type %d pid %d", got.type, got.pid);
	if (thread && (fcntl(p7[0], F_GETOWN_EX, &got) < 0 || got.type != F_OWNER_TID ||
		       got.pid != helper_tid))
		return wl_fail("owner of the other thread's pipe: type %d pid %d", got.type,
			       got.pid);
	if (expect_signal(p4[1], p4[0], rtsig, "F_SETOWN + F_SETSIG") ||
	    expect_signal(p5[1], p5[0], SIGIO, "F_SETOWN_EX thread"))
		return 1;
	/* two descriptions of one pipe: both read it, each with its own flags */
	if (write(p1[1], "ab", 2) != 2 || read(p1[0], buf, 1) != 1 || read(p1r2, buf + 1, 1) != 1 ||
	    memcmp(buf, "ab", 2))
		return wl_fail("the two descriptions of one pipe do not read it");
	if (fcntl(p1r2, F_SETFL, O_NONBLOCK) < 0 || !(fcntl(p1[0], F_GETFL) & O_NONBLOCK) ||
	    fcntl(p1[0], F_SETFL, 0) < 0 || !(fcntl(p1r2, F_GETFL) & O_NONBLOCK))
		return wl_fail("the two descriptions of one pipe share their flags");
	/* packet mode: two writes, two reads of one packet each */
	if (write(p3[1], "abc", 3) != 3 || write(p3[1], "de", 2) != 2 ||
	    read(p3[0], buf, sizeof(buf)) != 3 || read(p3[0], buf, sizeof(buf)) != 2)
		return wl_fail("the O_DIRECT pipe is not in packet mode");
	return wl_pass();
}
