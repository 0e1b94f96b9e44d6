/*
 * fd_epoll - an epoll set watching a pipe (readable, with data), an
 * eventfd (edge-triggered) and the write end of another pipe, each with
 * its own data word: after restore epoll_wait reports the same events with
 * the same data.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	struct epoll_event ev[8], e;
	int ep, p[2], q[2], efd, n, seen = 0;
	uint64_t one = 1;

	wl_init(argc, argv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_NONBLOCK);
	if (ep < 0 || efd < 0 || pipe(p) < 0 || pipe(q) < 0 || write(p[1], "x", 1) != 1)
		return wl_fail("setup: %m");
	e = (struct epoll_event){EPOLLIN, {.u64 = 0x1111222233334444ULL}};
	epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
	e = (struct epoll_event){EPOLLIN | EPOLLET, {.u64 = 7}};
	epoll_ctl(ep, EPOLL_CTL_ADD, efd, &e);
	e = (struct epoll_event){EPOLLOUT, {.u64 = 99}};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, q[1], &e) < 0)
		return wl_fail("epoll_ctl: %m");
	wl_ready();
	wl_wait_restored();
	n = epoll_wait(ep, ev, 8, 1000);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == 0x1111222233334444ULL && (ev[i].events & EPOLLIN))
			seen |= 1;
		else if (ev[i].data.u64 == 99 && (ev[i].events & EPOLLOUT))
			seen |= 2;
		else
			return wl_fail("unexpected event %#x data %llx", ev[i].events,
				       (unsigned long long)ev[i].data.u64);
	}
	if (seen != 3)
		return wl_fail("events seen %#x (of %d), want pipe in and pipe out", seen, n);
	if (write(efd, &one, 8) != 8)
		return wl_fail("eventfd write: %m");
	n = epoll_wait(ep, ev, 8, 1000);
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == 7)
			seen |= 4;
	if (!(seen & 4))
		return wl_fail("eventfd watch lost");
	return wl_pass();
}
