/*
 * fd_epoll_closed - epoll registrations that outlive their fd: an eventfd
 * and a pipe's read end are watched, then their fds are closed (dups keep
 * the descriptions). After restore the watches are on the same
 * descriptions (kcmp KCMP_EPOLL_TFD against the dups), the closed numbers
 * are still closed, and an event on each reports the saved data.
 *
 * Argument "taken": a watched fd is closed and its number taken by another
 * file: the checkpoint must refuse it, and after the go the program runs
 * on as before.
 */
#include <linux/kcmp.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include "wl.h"
#include "wl_sys.h"

#define EV_FD	 20 /* closed after the watch; its dup stays */
#define RD_FD	 21
#define TAKEN_FD 22

static bool watch_is(int ep, int tfd, int fd)
{
	struct kcmp_epoll_slot slot = {.efd = ep, .tfd = tfd, .toff = 0};

	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, fd, (unsigned long)&slot) == 0;
}

static int add(int ep, int fd, uint64_t data)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = data};

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int main(int argc, char **argv)
{
	bool taken = argc > 1 && !strcmp(argv[1], "taken");
	int ep = epoll_create1(EPOLL_CLOEXEC), efd, rd, p[2], seen = 0;
	struct epoll_event evs[4];
	uint64_t one = 1;

	wl_init(argc, argv);
	if (ep < 0 || pipe2(p, O_CLOEXEC) < 0 || dup3(p[0], RD_FD, O_CLOEXEC) < 0 ||
	    (efd = eventfd(0, EFD_CLOEXEC)) < 0 || dup3(efd, EV_FD, 0) < 0)
		return wl_fail("set up: %m");
	close(efd);
	close(p[0]);
	if (add(ep, EV_FD, 0xe7) < 0 || add(ep, RD_FD, 0x7d) < 0)
		return wl_fail("epoll_ctl: %m");
	efd = fcntl(EV_FD, F_DUPFD_CLOEXEC, 30);
	rd = fcntl(RD_FD, F_DUPFD_CLOEXEC, 30);
	if (efd < 0 || rd < 0 || close(EV_FD) < 0 || close(RD_FD) < 0)
		return wl_fail("dup, close: %m");
	if (taken) {
		int t = eventfd(0, EFD_CLOEXEC);

		if (t < 0 || add(ep, t, 0x22) < 0 || dup3(t, TAKEN_FD, O_CLOEXEC) < 0 ||
		    close(t) < 0 || dup3(p[1], t, O_CLOEXEC) < 0)
			return wl_fail("taken: %m");
	}

	wl_ready();
	wl_wait_restored();

	if (!watch_is(ep, EV_FD, efd) || !watch_is(ep, RD_FD, rd))
		return wl_fail("the watches are not on the descriptions of the dups");
	if (fcntl(EV_FD, F_GETFD) >= 0 || fcntl(RD_FD, F_GETFD) >= 0)
		return wl_fail("a closed fd number is open after restore");
	if (write(efd, &one, 8) != 8 || write(p[1], "x", 1) != 1)
		return wl_fail("write: %m");
	for (int n = epoll_wait(ep, evs, 4, 10000), i = 0; i < n; i++)
		seen |= evs[i].data.u64 == 0xe7 ? 1 : evs[i].data.u64 == 0x7d ? 2 : 4;
	if (seen != 3)
		return wl_fail("events seen %#x, want the eventfd's and the pipe's (3)", seen);
	return wl_pass();
}
