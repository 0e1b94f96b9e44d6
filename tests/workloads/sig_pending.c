/*
 * sig_pending - blocked signals queued before the checkpoint: process-wide
 * (sigqueue: SIGUSR1 once, SIGRTMIN+1 twice) and per-thread
 * (pthread_sigqueue: SIGRTMIN+2 twice and SIGUSR2 to main, SIGRTMIN+2 to a
 * second thread). After restore /proc/self/status ShdPnd/SigPnd and
 * sigpending() show them, and unblocking delivers each with its si_value,
 * the right number of times, in queue order, in the right thread.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

#define MAXREC 16

static volatile int nrec;
static struct {
	int sig, value, code;
	pid_t tid;
} rec[MAXREC];
static volatile int go;
static volatile pid_t tid2;

static void handler(int sig, siginfo_t *si, void *uc __attribute__((unused)))
{
	int i = __atomic_fetch_add(&nrec, 1, __ATOMIC_SEQ_CST);

	if (i < MAXREC) {
		rec[i].sig = sig;
		rec[i].value = si->si_value.sival_int;
		rec[i].code = si->si_code;
		rec[i].tid = gettid();
	}
}

/* Unblocks only SIGRTMIN+2: the shared pending ones must stay for main. */
static void *second(void *arg __attribute__((unused)))
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 2);
	tid2 = gettid();
	while (!go)
		wl_futex_wait(&go, 0, NULL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return NULL;
}

/* The hex mask on @key's line of /proc/self/status (per-thread for SigPnd). */
static unsigned long long status_mask(const char *key)
{
	char line[256];
	unsigned long long m = 0;
	FILE *f = fopen("/proc/thread-self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			m = strtoull(line + strlen(key) + 1, NULL, 16);
	if (f)
		fclose(f);
	return m;
}

#define BIT(s) (1ULL << ((s)-1))

/* Did records for @sig arrive in thread @tid with exactly @vals, in order? */
static int got(int sig, pid_t tid, const int *vals, int n)
{
	int k = 0;

	for (int i = 0; i < nrec && i < MAXREC; i++) {
		if (rec[i].sig != sig || rec[i].tid != tid)
			continue;
		if (k >= n || rec[i].value != vals[k] || rec[i].code != SI_QUEUE)
			return 0;
		k++;
	}
	return k == n;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO};
	int r1 = SIGRTMIN + 1, r2 = SIGRTMIN + 2;
	sigset_t set, pend;
	pthread_t t;
	unsigned long long shd, mine;

	wl_init(argc, argv);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, r1);
	sigaddset(&set, r2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL) ||
	    sigaction(r1, &sa, NULL) || sigaction(r2, &sa, NULL))
		return wl_fail("sigaction: %m");
	if (pthread_create(&t, NULL, second, NULL))
		return wl_fail("pthread_create");
	while (!tid2)
		wl_msleep(1);
	if (sigqueue(getpid(), SIGUSR1, (union sigval){11}) ||
	    sigqueue(getpid(), r1, (union sigval){21}) ||
	    sigqueue(getpid(), r1, (union sigval){22}) ||
	    pthread_sigqueue(pthread_self(), r2, (union sigval){31}) ||
	    pthread_sigqueue(pthread_self(), r2, (union sigval){32}) ||
	    pthread_sigqueue(pthread_self(), SIGUSR2, (union sigval){41}) ||
	    pthread_sigqueue(t, r2, (union sigval){51}))
		return wl_fail("queueing signals: %m");

	wl_ready();
	wl_wait_restored();

	shd = status_mask("ShdPnd:");
	mine = status_mask("SigPnd:");
	if (shd != (BIT(SIGUSR1) | BIT(r1)))
		return wl_fail("ShdPnd is %llx", shd);
	if (mine != (BIT(SIGUSR2) | BIT(r2)))
		return wl_fail("main's SigPnd is %llx", mine);
	if (sigpending(&pend) || !sigismember(&pend, SIGUSR1) || !sigismember(&pend, SIGUSR2) ||
	    !sigismember(&pend, r1) || !sigismember(&pend, r2))
		return wl_fail("sigpending() lost signals");
	if (nrec)
		return wl_fail("a blocked signal was delivered");
	/* the second thread takes its own first: main keeps everything blocked */
	go = 1;
	wl_futex_wake(&go);
	if (wl_join(t, NULL))
		return wl_fail("second thread stuck");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (!got(SIGUSR1, gettid(), (int[]){11}, 1) || !got(SIGUSR2, gettid(), (int[]){41}, 1) ||
	    !got(r1, gettid(), (int[]){21, 22}, 2) || !got(r2, gettid(), (int[]){31, 32}, 2) ||
	    !got(r2, tid2, (int[]){51}, 1) || nrec != 7)
		return wl_fail("delivered signals differ (%d records)", nrec);
	return wl_pass();
}
