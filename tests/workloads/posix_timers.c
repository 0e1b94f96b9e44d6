/*
 * posix_timers - three POSIX timers: periodic CLOCK_MONOTONIC with
 * SIGEV_SIGNAL, periodic CLOCK_MONOTONIC with SIGEV_THREAD_ID to a worker
 * thread, and a one-shot CLOCK_REALTIME far in the future. After restore
 * the kernel timer ids are unchanged (timer_gettime on the saved ids works,
 * /proc/self/timers lists the same ids), intervals are equal, and the
 * periodic ones keep firing with their sival_int, in the right thread.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

#define NT 3
static timer_t tids[NT];
static const int tags[NT] = {0x1111, 0x2222, 0x3333};
static volatile int fired[NT], wrong;
static volatile pid_t worker_tid;
static volatile int stop;

static void handler(int sig __attribute__((unused)), siginfo_t *si,
		    void *uc __attribute__((unused)))
{
	for (int i = 0; i < NT; i++)
		if (si->si_value.sival_int == tags[i]) {
			if (si->si_code != SI_TIMER || (i == 1 && gettid() != worker_tid))
				wrong = 1;
			fired[i]++;
			return;
		}
	wrong = 1;
}

static void *worker(void *arg __attribute__((unused)))
{
	worker_tid = gettid();
	while (!stop)
		wl_msleep(5); /* the timer signal interrupts; the loop continues */
	return NULL;
}

/* Sum of the "ID: n" values in /proc/self/timers: changes if any id does. */
static long proc_timer_ids(void)
{
	char line[256];
	long sum = 0, n = 0;
	FILE *f = fopen("/proc/self/timers", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "ID: ", 4)) {
			sum += atol(line + 4) * 1000003 + 1;
			n++;
		}
	if (f)
		fclose(f);
	return n == NT ? sum : -1;
}

static int wait_fired(const int *want)
{
	double end = wl_now() + WL_TIMEOUT_SEC;

	while (fired[0] < want[0] || fired[1] < want[1])
		if (wl_now() > end)
			return -1;
		else
			wl_msleep(1);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_RESTART};
	struct itimerspec its[NT] = {
		{{0, 20000000}, {0, 20000000}},
		{{0, 30000000}, {0, 30000000}},
		{{0, 0}, {100000, 0}},
	};
	int sigs[NT] = {SIGRTMIN, SIGRTMIN + 1, SIGUSR1};
	int want[2] = {3, 3};
	pthread_t t;
	long ids;

	wl_init(argc, argv);
	if (pthread_create(&t, NULL, worker, NULL))
		return wl_fail("pthread_create");
	while (!worker_tid)
		wl_msleep(1);
	for (int i = 0; i < NT; i++) {
		struct sigevent sev = {.sigev_signo = sigs[i],
				       .sigev_value.sival_int = tags[i],
				       .sigev_notify = i == 1 ? SIGEV_THREAD_ID : SIGEV_SIGNAL};

		sev._sigev_un._tid = worker_tid;
		if (sigaction(sigs[i], &sa, NULL) ||
		    timer_create(i == 2 ? CLOCK_REALTIME : CLOCK_MONOTONIC, &sev, &tids[i]) ||
		    timer_settime(tids[i], 0, &its[i], NULL))
			return wl_fail("timer %d: %m", i);
	}
	if (wait_fired(want))
		return wl_fail("timers did not fire before the checkpoint");
	ids = proc_timer_ids();

	wl_ready();
	wl_wait_restored();

	if (proc_timer_ids() != ids)
		return wl_fail("kernel timer ids in /proc/self/timers changed");
	for (int i = 0; i < NT; i++) {
		struct itimerspec cur;

		if (timer_gettime(tids[i], &cur))
			return wl_fail("timer_gettime on saved id %d: %m", i);
		if (memcmp(&cur.it_interval, &its[i].it_interval, sizeof(cur.it_interval)))
			return wl_fail("timer %d interval changed", i);
		if (cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0)
			return wl_fail("timer %d disarmed", i);
		if (cur.it_value.tv_sec > its[i].it_value.tv_sec)
			return wl_fail("timer %d remaining time grew", i);
	}
	want[0] = fired[0] + 3;
	want[1] = fired[1] + 3;
	if (wait_fired(want))
		return wl_fail("timers stopped firing after restore (%d, %d)", fired[0], fired[1]);
	stop = 1;
	if (wl_join(t, NULL))
		return wl_fail("worker stuck");
	if (wrong || fired[2])
		return wl_fail("a timer signal came with a wrong value, code or thread");
	return wl_pass();
}
