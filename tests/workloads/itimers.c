/*
 * itimers - ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF armed with
 * intervals, each counted by its handler. After restore the counters were
 * not reset and keep increasing, and getitimer() shows the same intervals
 * and a sane remaining value.
 */
#include <signal.h>
#include <sys/time.h>

#include "wl.h"
#include "wl_sys.h"

static const struct {
	int which, sig;
	long usec;
} timers[] = {
	{ITIMER_REAL, SIGALRM, 20000},
	{ITIMER_VIRTUAL, SIGVTALRM, 10000},
	{ITIMER_PROF, SIGPROF, 30000},
};

static volatile int count[65];

static void handler(int sig)
{
	count[sig]++;
}

/* Burn CPU (VIRTUAL/PROF only tick then) until every count >= want[i]. */
static int spin_until(const int *want)
{
	double end = wl_now() + WL_TIMEOUT_SEC;
	volatile unsigned long x = 0;

	for (;;) {
		int ok = 1;

		for (int i = 0; i < 3; i++)
			ok &= count[timers[i].sig] >= want[i];
		if (ok)
			return 0;
		if (wl_now() > end)
			return -1;
		for (int k = 0; k < 100000; k++)
			x += k;
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART};
	int want[3], base[3];

	wl_init(argc, argv);
	for (int i = 0; i < 3; i++) {
		struct itimerval it = {{0, timers[i].usec}, {0, timers[i].usec}};

		if (sigaction(timers[i].sig, &sa, NULL) || setitimer(timers[i].which, &it, NULL))
			return wl_fail("arm timer %d: %m", timers[i].which);
		want[i] = 3;
	}
	if (spin_until(want))
		return wl_fail("timers did not fire before the checkpoint");
	for (int i = 0; i < 3; i++)
		base[i] = count[timers[i].sig];

	wl_ready();
	wl_wait_restored();

	for (int i = 0; i < 3; i++) {
		struct itimerval it;

		if (count[timers[i].sig] < base[i])
			return wl_fail("timer %d count went back", timers[i].which);
		if (getitimer(timers[i].which, &it))
			return wl_fail("getitimer: %m");
		if (it.it_interval.tv_sec != 0 || it.it_interval.tv_usec != timers[i].usec)
			return wl_fail("timer %d interval is %ld.%06ld", timers[i].which,
				       (long)it.it_interval.tv_sec, (long)it.it_interval.tv_usec);
		if (it.it_value.tv_sec != 0 || it.it_value.tv_usec > timers[i].usec ||
		    (it.it_value.tv_usec == 0 && it.it_value.tv_sec == 0))
			return wl_fail("timer %d value is %ld.%06ld (disarmed or too far)",
				       timers[i].which, (long)it.it_value.tv_sec,
				       (long)it.it_value.tv_usec);
		want[i] = count[timers[i].sig] + 3;
	}
	if (spin_until(want))
		return wl_fail("timers stopped firing after restore");
	return wl_pass();
}
