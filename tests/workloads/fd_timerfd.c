/*
 * fd_timerfd - a periodic timerfd (armed for 3 s, then every 200 ms) and a
 * disarmed one: after restore the first fires within its remaining time
 * (not at once, not never) and keeps its interval; the other stays disarmed.
 */
#include <sys/timerfd.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	struct itimerspec its = {{0, 200000000}, {3, 0}}, cur;
	uint64_t ticks;
	double t0;
	int fd, off;

	wl_init(argc, argv);
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	off = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK);
	if (fd < 0 || off < 0 || timerfd_settime(fd, 0, &its, NULL) < 0)
		return wl_fail("timerfd: %m");
	wl_ready();
	wl_wait_restored();
	t0 = wl_now();
	if (timerfd_gettime(fd, &cur) < 0)
		return wl_fail("gettime: %m");
	if (cur.it_interval.tv_sec != 0 || cur.it_interval.tv_nsec != 200000000)
		return wl_fail("interval %ld.%09ld", (long)cur.it_interval.tv_sec,
			       cur.it_interval.tv_nsec);
	if (cur.it_value.tv_sec > 3)
		return wl_fail("remaining time grew: %ld s", (long)cur.it_value.tv_sec);
	if (read(fd, &ticks, 8) != 8 || ticks < 1)
		return wl_fail("read: %m");
	if (wl_now() - t0 > 3.5)
		return wl_fail("fired late: %.3f s", wl_now() - t0);
	t0 = wl_now();
	if (read(fd, &ticks, 8) != 8 || wl_now() - t0 > 1.0)
		return wl_fail("interval not kept (%.3f s)", wl_now() - t0);
	if (timerfd_gettime(off, &cur) < 0 || cur.it_value.tv_sec || cur.it_value.tv_nsec)
		return wl_fail("disarmed timer armed");
	if (!(fcntl(off, F_GETFL) & O_NONBLOCK))
		return wl_fail("flags lost");
	return wl_pass();
}
