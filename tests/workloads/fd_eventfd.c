/*
 * fd_eventfd - two eventfds, a counter and a semaphore, keep their counts,
 * modes and flags.
 */
#include <sys/eventfd.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	uint64_t v;
	int c, s;

	wl_init(argc, argv);
	c = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s = eventfd(3, EFD_SEMAPHORE);
	v = 41;
	if (c < 0 || s < 0 || write(c, &v, 8) != 8)
		return wl_fail("eventfd: %m");
	wl_ready();
	wl_wait_restored();
	if (read(c, &v, 8) != 8 || v != 41)
		return wl_fail("counter %llu, want 41", (unsigned long long)v);
	if (read(c, &v, 8) != -1 || errno != EAGAIN)
		return wl_fail("counter not non-blocking");
	for (int i = 0; i < 3; i++)
		if (read(s, &v, 8) != 8 || v != 1)
			return wl_fail("semaphore read %d gave %llu", i, (unsigned long long)v);
	if (fcntl(s, F_GETFD) & FD_CLOEXEC)
		return wl_fail("semaphore became close-on-exec");
	fcntl(s, F_SETFL, O_NONBLOCK);
	if (read(s, &v, 8) != -1 || errno != EAGAIN)
		return wl_fail("semaphore not at 0");
	return wl_pass();
}
