/*
 * tests/workloads/wl.h - the library every workload uses.
 *
 * Protocol with the harness (tests/integration/helpers.bash):
 *   WL_READY  path of a FIFO: wl_ready() opens it for writing, writes
 *             "ready\n" and closes it; the harness reads it.
 *   WL_GO     path of a FIFO: wl_wait_restored() opens it for reading and
 *             blocks until the harness writes to it (after restore). The
 *             process holds no fd of either FIFO while it is checkpointed:
 *             it sits inside open(), which restarts after restore.
 * Output goes to stdout: "PASS" or "FAIL: reason" as the last line.
 * Without WL_READY / WL_GO set, wl_ready() and wl_wait_restored() return
 * at once, so a workload can be run by hand.
 */
#ifndef WL_H
#define WL_H

#include <stdint.h>
#include <stddef.h>

void wl_init(int argc, char **argv);
void wl_ready(void);
void wl_wait_restored(void);
int wl_pass(void);
__attribute__((format(printf, 1, 2))) int wl_fail(const char *fmt, ...);
/* Progress or debug line on stderr, prefixed with the workload's name. */
__attribute__((format(printf, 1, 2))) void wl_log(const char *fmt, ...);

/* A 64-bit pattern generator for memory checks: value of word i under seed. */
static inline uint64_t wl_pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = seed ^ (i * 0x9E3779B97F4A7C15ULL);

	x ^= x >> 31;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 27;
	return x;
}

#endif
