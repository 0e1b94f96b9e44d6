/*
 * rlimits - several soft limits lowered, and hard limits lowered below
 * their current value (irreversible without CAP_SYS_RESOURCE). After
 * restore getrlimit() returns exactly what it did before, for every limit.
 */
#include <sys/resource.h>

#include "wl.h"
#include "wl_sys.h"

static const struct {
	int res;
	rlim_t soft, hard; /* RLIM_SAVED_CUR: keep the current hard limit */
} lower[] = {
	{RLIMIT_NOFILE, 200, 4096},
	{RLIMIT_CPU, 3600, 7200},
	{RLIMIT_FSIZE, 1UL << 30, 2UL << 30},
	{RLIMIT_CORE, 0, RLIM_SAVED_CUR},
	{RLIMIT_STACK, 4UL << 20, RLIM_SAVED_CUR},
	{RLIMIT_NPROC, 5000, RLIM_SAVED_CUR},
	{RLIMIT_MSGQUEUE, 100000, RLIM_SAVED_CUR},
	{RLIMIT_SIGPENDING, 1000, RLIM_SAVED_CUR},
	{RLIMIT_RTTIME, 1000000, 2000000},
};

int main(int argc, char **argv)
{
	struct rlimit before[RLIM_NLIMITS], now;

	wl_init(argc, argv);
	for (size_t i = 0; i < sizeof(lower) / sizeof(lower[0]); i++) {
		struct rlimit rl;

		if (getrlimit(lower[i].res, &rl))
			return wl_fail("getrlimit %d: %m", lower[i].res);
		rl.rlim_cur = lower[i].soft;
		/* only ever lower: works unprivileged too */
		if (lower[i].hard != RLIM_SAVED_CUR && lower[i].hard < rl.rlim_max)
			rl.rlim_max = lower[i].hard;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		if (setrlimit(lower[i].res, &rl))
			return wl_fail("setrlimit %d: %m", lower[i].res);
	}
	for (int r = 0; r < RLIM_NLIMITS; r++)
		if (getrlimit(r, &before[r]))
			return wl_fail("getrlimit %d: %m", r);
	if (before[RLIMIT_NOFILE].rlim_cur != 200 || before[RLIMIT_NOFILE].rlim_max > 4096)
		return wl_fail("RLIMIT_NOFILE not set");

	wl_ready();
	wl_wait_restored();

	for (int r = 0; r < RLIM_NLIMITS; r++) {
		if (getrlimit(r, &now))
			return wl_fail("getrlimit %d: %m", r);
		if (now.rlim_cur != before[r].rlim_cur || now.rlim_max != before[r].rlim_max)
			return wl_fail("limit %d is %llu/%llu, was %llu/%llu", r,
				       (unsigned long long)now.rlim_cur,
				       (unsigned long long)now.rlim_max,
				       (unsigned long long)before[r].rlim_cur,
				       (unsigned long long)before[r].rlim_max);
	}
	return wl_pass();
}
