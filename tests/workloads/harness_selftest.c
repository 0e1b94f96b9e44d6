/*
 * tests/workloads/harness_selftest.c - a workload that tests the harness,
 * not the checkpointer: ready, wait, PASS. Its argument picks a way to
 * misbehave so tests/integration/harness.bats can prove the harness
 * notices:
 *   (none)  ready, wait for go, PASS
 *   fail    ready, wait for go, FAIL
 *   early   FAIL and exit before saying ready
 *   eintr   a SIGUSR1 handler without SA_RESTART; PASS only if the
 *           signal arrived (the harness sends it while we block in the
 *           WL_GO open(), which must then be restarted by wl.c)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <string.h>

#include "wl.h"

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct sigaction sa;

	wl_init(argc, argv);
	if (!strcmp(mode, "early"))
		return wl_fail("exiting before ready, as asked");
	if (!strcmp(mode, "eintr")) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_usr1; /* no SA_RESTART: open() gets EINTR */
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) < 0)
			return wl_fail("sigaction: %m");
	}
	wl_ready();
	wl_wait_restored();
	if (!strcmp(mode, "fail"))
		return wl_fail("asked to fail");
	if (!strcmp(mode, "eintr") && !got_usr1)
		return wl_fail("SIGUSR1 never arrived");
	wl_log("mode `%s` done", mode);
	return wl_pass();
}
