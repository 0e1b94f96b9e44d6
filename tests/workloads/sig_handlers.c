/*
 * sig_handlers - handlers with different flags and masks: SA_SIGINFO,
 * SA_RESTART, SA_ONSTACK, SA_NODEFER, SA_RESETHAND, an ignored and a
 * default signal. After restore sigaction() reads back exactly what it did
 * before (handler, flags, mask, restorer), and queued signals reach the
 * right handler with the right si_signo, si_code and si_value.
 */
#include <signal.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

struct hit {
	int signo, code, value, count, mask_ok, on_stack;
};

static struct hit hits[65];
static char altstack[64 << 10] __attribute__((aligned(16)));

static void info_handler(int sig, siginfo_t *si, void *uc __attribute__((unused)))
{
	stack_t ss;

	hits[sig].signo = si->si_signo;
	hits[sig].code = si->si_code;
	hits[sig].value = si->si_value.sival_int;
	hits[sig].count++;
	sigaltstack(NULL, &ss);
	hits[sig].on_stack = (ss.ss_flags & SS_ONSTACK) != 0;
	if (sig == SIGUSR1) {
		sigset_t cur;

		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		hits[sig].mask_ok = sigismember(&cur, SIGUSR2) && sigismember(&cur, SIGTERM) &&
				    sigismember(&cur, SIGUSR1);
	}
}

static void plain_handler(int sig)
{
	hits[sig].count++;
}

struct setup {
	int sig;
	void *handler;
	int flags;
	int mask[3];
};

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* set by glibc, visible in the read-back */
#endif
#define RT (SIGRTMIN + 3)
static struct setup setups[7];
static struct sigaction before[7];

static void init_setups(void)
{
	struct setup s[] = {
		{SIGUSR1, info_handler, SA_SIGINFO | SA_RESTART, {SIGUSR2, SIGTERM}},
		{SIGUSR2, info_handler, SA_SIGINFO | SA_ONSTACK | SA_NODEFER, {SIGHUP}},
		{RT, info_handler, SA_SIGINFO | SA_RESETHAND, {0}},
		{SIGHUP, plain_handler, SA_RESTART, {SIGRTMIN + 5}},
		{SIGPIPE, SIG_IGN, 0, {0}},
		{SIGWINCH, SIG_DFL, 0, {0}},
		/* a trap while SIGTRAP is blocked would reset it (rsys_run_code) */
		{SIGTRAP, plain_handler, 0, {0}},
	};
	memcpy(setups, s, sizeof(s));
}

static int same(const struct sigaction *a, const struct sigaction *b)
{
	if (a->sa_sigaction != b->sa_sigaction || a->sa_flags != b->sa_flags ||
	    a->sa_restorer != b->sa_restorer)
		return 0;
	for (int s = 1; s < 65; s++)
		if (sigismember(&a->sa_mask, s) != sigismember(&b->sa_mask, s))
			return 0;
	return 1;
}

static int fire(int sig, int value)
{
	return sigqueue(getpid(), sig, (union sigval){.sival_int = value});
}

int main(int argc, char **argv)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa, now;

	wl_init(argc, argv);
	init_setups();
	if (sigaltstack(&ss, NULL))
		return wl_fail("sigaltstack: %m");
	for (int i = 0; i < 7; i++) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = setups[i].handler;
		sa.sa_flags = setups[i].flags;
		sigemptyset(&sa.sa_mask);
		for (int k = 0; k < 3 && setups[i].mask[k]; k++)
			sigaddset(&sa.sa_mask, setups[i].mask[k]);
		if (sigaction(setups[i].sig, &sa, NULL) ||
		    sigaction(setups[i].sig, NULL, &before[i]))
			return wl_fail("sigaction %d: %m", setups[i].sig);
		if ((before[i].sa_flags & ~SA_RESTORER) != setups[i].flags)
			return wl_fail("signal %d: flags read back 0x%x", setups[i].sig,
				       before[i].sa_flags);
	}

	wl_ready();
	wl_wait_restored();

	for (int i = 0; i < 7; i++)
		if (sigaction(setups[i].sig, NULL, &now) || !same(&now, &before[i]))
			return wl_fail("signal %d: sigaction differs after restore", setups[i].sig);
	if (fire(SIGUSR1, 101) || fire(SIGUSR2, 102) || fire(RT, 103) || raise(SIGHUP) ||
	    raise(SIGPIPE) || raise(SIGWINCH))
		return wl_fail("sending signals: %m");
	for (int i = 0; i < 3; i++) {
		int s = setups[i].sig;
		struct hit *h = &hits[s];

		if (h->count != 1 || h->signo != s || h->code != SI_QUEUE || h->value != 101 + i)
			return wl_fail("signal %d: count %d signo %d code %d value %d", s, h->count,
				       h->signo, h->code, h->value);
	}
	if (!hits[SIGUSR1].mask_ok)
		return wl_fail("SIGUSR1 handler ran without its sa_mask");
	if (!hits[SIGUSR2].on_stack || hits[SIGUSR1].on_stack)
		return wl_fail("SA_ONSTACK not honoured");
	if (hits[SIGHUP].count != 1)
		return wl_fail("SIGHUP handler ran %d times", hits[SIGHUP].count);
	if (sigaction(RT, NULL, &now) || now.sa_handler != SIG_DFL)
		return wl_fail("SA_RESETHAND did not reset the handler");
	return wl_pass();
}
