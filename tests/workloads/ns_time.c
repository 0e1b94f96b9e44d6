/*
 * ns_time - CLOCK_MONOTONIC and CLOCK_BOOTTIME in the tree's own time
 * namespace: after restore they have not gone backwards and keep moving.
 * With an argument N, both must also be at least N seconds (the harness
 * starts the namespace with a large offset, so a restore that lost the
 * offsets is caught even on a host with a long uptime).
 */
#include <stdlib.h>
#include <time.h>

#include "wl.h"

static long long now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long long min = argc > 1 ? atoll(argv[1]) * 1000000000LL : 0;
	long long mono, boot, m2, b2, m3;
	struct timespec pause = {0, 20 * 1000 * 1000};

	wl_init(argc, argv);
	mono = now(CLOCK_MONOTONIC);
	boot = now(CLOCK_BOOTTIME);
	if (mono < min || boot < min)
		return wl_fail("clocks below %lld s before checkpoint: offsets not set",
			       min / 1000000000LL);
	wl_ready();
	wl_wait_restored();
	m2 = now(CLOCK_MONOTONIC);
	b2 = now(CLOCK_BOOTTIME);
	if (m2 < mono)
		return wl_fail("CLOCK_MONOTONIC went back by %.3f s", (mono - m2) / 1e9);
	if (b2 < boot)
		return wl_fail("CLOCK_BOOTTIME went back by %.3f s", (boot - b2) / 1e9);
	nanosleep(&pause, NULL);
	m3 = now(CLOCK_MONOTONIC);
	if (m3 < m2 + 20 * 1000 * 1000)
		return wl_fail("CLOCK_MONOTONIC does not move: %lld then %lld", m2, m3);
	wl_log("monotonic %.3f s -> %.3f s", mono / 1e9, m2 / 1e9);
	return wl_pass();
}
