/*
 * counter - a thread keeps incrementing a counter and a checksum of its
 * whole history. After restore the counter must continue from where it was
 * (not reset), keep moving, and the checksum must still match the history.
 */
#include <pthread.h>
#include <stdint.h>

#include "wl.h"
#include "wl_sys.h"

static volatile uint64_t counter;
static volatile uint64_t checksum;
static volatile int stop;

/* checksum after n steps: sum of wl_pattern(7, i) for i in [1, n] */
static uint64_t expected_sum(uint64_t n)
{
	uint64_t s = 0;

	for (uint64_t i = 1; i <= n; i++)
		s += wl_pattern(7, i);
	return s;
}

static void *spin(void *arg __attribute__((unused)))
{
	while (!stop) {
		uint64_t n = counter + 1;

		checksum += wl_pattern(7, n);
		counter = n;
		/* keep the history short enough to recompute at the end */
		if ((n & 0xfff) == 0)
			wl_msleep(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t before, after, end_val;
	pthread_t t;
	double deadline;

	wl_init(argc, argv);
	if (pthread_create(&t, NULL, spin, NULL))
		return wl_fail("pthread_create");
	while (counter < 100000)
		wl_msleep(1);
	before = counter;
	wl_ready();
	wl_wait_restored();
	after = counter;
	if (after < before)
		return wl_fail("counter went back: %lu before checkpoint, %lu after",
			       (unsigned long)before, (unsigned long)after);
	deadline = wl_now() + WL_TIMEOUT_SEC;
	while (counter < after + 10000 && wl_now() < deadline)
		wl_msleep(1);
	if (counter < after + 10000)
		return wl_fail("counter stuck at %lu after restore", (unsigned long)counter);
	stop = 1;
	if (wl_join(t, NULL))
		return wl_fail("counter thread did not stop");
	end_val = counter;
	if (checksum != expected_sum(end_val))
		return wl_fail("checksum of history does not match counter %lu",
			       (unsigned long)end_val);
	wl_log("counter %lu at checkpoint, %lu at end", (unsigned long)before,
	       (unsigned long)end_val);
	return wl_pass();
}
