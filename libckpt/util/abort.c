/*
 * libckpt/util/abort.c - the abort request (see abort.h). Process-wide on
 * purpose: a signal handler sets it, and one checkpoint runs per process.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util/abort.h"

/* 0: none; a signal number: requested and not yet answered; -sig: answered. */
static volatile sig_atomic_t abort_sig;

void ckpt_abort_request(int sig)
{
	if (!abort_sig)
		abort_sig = sig > 0 ? sig : SIGTERM;
}

int ckpt_abort_signal(void)
{
	return abort_sig < 0 ? -abort_sig : abort_sig;
}

static int abort_error(ckpt_err_t *err)
{
	int sig = ckpt_abort_signal();

	return ckpt_error_msg(err, ECANCELED, "interrupted by SIG%s", sigabbrev_np(sig) ?: "?");
}

int ckpt_abort_check(ckpt_err_t *err)
{
	if (!abort_sig)
		return 0;
	if (abort_sig > 0)
		abort_sig = -abort_sig;
	return abort_error(err);
}

int ckpt_abort_check_once(ckpt_err_t *err)
{
	if (abort_sig <= 0)
		return 0;
	abort_sig = -abort_sig;
	return abort_error(err);
}

static const int abort_sigs[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction abort_old[3];

static void on_abort(int sig)
{
	ckpt_abort_request(sig);
}

void ckpt_abort_signals_on(pid_t parent)
{
	struct sigaction sa = {.sa_handler = on_abort, .sa_flags = SA_RESTART};

	sigfillset(&sa.sa_mask);
	for (int i = 0; i < 3; i++)
		sigaction(abort_sigs[i], &sa, &abort_old[i]);
	if (prctl(PR_SET_PDEATHSIG, SIGHUP) < 0 || getppid() != parent)
		ckpt_abort_request(SIGHUP);
}

void ckpt_abort_signals_off(void)
{
	(void)prctl(PR_SET_PDEATHSIG, 0);
	for (int i = 0; i < 3; i++)
		sigaction(abort_sigs[i], &abort_old[i], NULL);
}
