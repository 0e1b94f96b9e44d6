/*
 * syscall_epoll_wait - a thread blocked in epoll_wait() (no timeout) on an
 * eventfd when the checkpoint is taken. After restore main signals the
 * eventfd; the thread must come out of epoll_wait with exactly that event
 * and its data word, and no spurious error.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"
#include "wl_sys.h"

static int ep, efd;
static volatile pid_t waiter_tid;
static int got_n = -2, got_err;
static uint64_t got_data;

static void *waiter(void *arg __attribute__((unused)))
{
	struct epoll_event ev[4];

	waiter_tid = gettid();
	got_n = epoll_wait(ep, ev, 4, -1);
	got_err = got_n < 0 ? errno : 0;
	if (got_n > 0)
		got_data = ev[0].data.u64;
	return NULL;
}

int main(int argc, char **argv)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1234abcd5678ULL};
	uint64_t one = 1;
	pthread_t t;

	wl_init(argc, argv);
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ep < 0 || efd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev))
		return wl_fail("epoll/eventfd: %m");
	if (pthread_create(&t, NULL, waiter, NULL))
		return wl_fail("pthread_create");
	while (!waiter_tid)
		wl_msleep(1);
	if (wl_wait_in_syscall(waiter_tid, SYS_epoll_wait) &&
	    wl_wait_in_syscall(waiter_tid, SYS_epoll_pwait))
		return wl_fail("waiter never blocked in epoll_wait");
	wl_ready();
	wl_wait_restored();
	if (got_n != -2)
		return wl_fail("epoll_wait returned %d (errno %d) before the event", got_n,
			       got_err);
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		return wl_fail("write eventfd: %m");
	if (wl_join(t, NULL))
		return wl_fail("waiter did not come back");
	if (got_n != 1 || got_data != 0x1234abcd5678ULL)
		return wl_fail("epoll_wait gave %d events (errno %d), data %#llx", got_n, got_err,
			       (unsigned long long)got_data);
	return wl_pass();
}
