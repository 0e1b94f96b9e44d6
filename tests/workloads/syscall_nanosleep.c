/*
 * syscall_nanosleep - a thread sleeps 3 s in nanosleep() when the
 * checkpoint is taken, with the usual `while (nanosleep(&req, &req) &&
 * errno == EINTR)` loop. After restore the sleep completes without an error
 * and at least 3 s passed on CLOCK_MONOTONIC since it started.
 */
#include <pthread.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

#define SLEEP_SEC 3

static volatile pid_t sleeper_tid;
static volatile int done;
static int ret, err;
static double started, elapsed;

static void *sleeper(void *arg __attribute__((unused)))
{
	struct timespec req = {SLEEP_SEC, 0};

	started = wl_now();
	sleeper_tid = gettid();
	while ((ret = nanosleep(&req, &req)) && errno == EINTR)
		;
	err = errno;
	elapsed = wl_now() - started;
	done = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	wl_init(argc, argv);
	if (pthread_create(&t, NULL, sleeper, NULL))
		return wl_fail("pthread_create");
	while (!sleeper_tid)
		wl_msleep(1);
	/* glibc's nanosleep() is the clock_nanosleep syscall */
	if (wl_wait_in_syscall(sleeper_tid, SYS_clock_nanosleep))
		return wl_fail("sleeper never entered clock_nanosleep");

	wl_ready();
	wl_wait_restored();

	if (wl_join(t, NULL))
		return wl_fail("sleep did not complete");
	if (ret)
		return wl_fail("nanosleep failed: %s", strerror(err));
	if (elapsed < SLEEP_SEC)
		return wl_fail("slept only %.3f s of %d", elapsed, SLEEP_SEC);
	return wl_pass();
}
