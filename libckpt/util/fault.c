/*
 * libckpt/util/fault.c - CKPT_OCI_FAULT (see fault.h): a kill of the
 * user's ckpt-oci at a chosen ptrace call, so a test can go through every
 * point of a checkpoint instead of hoping a timed kill lands somewhere new.
 *
 * This file is linked only into a binary built with -Wl,--wrap=ptrace:
 * nothing else refers to its symbols.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#include "util/abort.h"
#include "util/fault.h"

long __real_ptrace(enum __ptrace_request req, ...);

enum fault_kind { FAULT_NONE, FAULT_KILL_PARENT, FAULT_KILL_SELF, FAULT_PAUSE };

static unsigned long fault_calls; /* ptrace calls made so far */
static unsigned long fault_at;	  /* act at this call (1-based) */
static enum fault_kind fault_kind;
static int fault_sig;
static pid_t fault_parent;
static char fault_dir[4096];		    /* pause: where `paused` and `resume` are */
static int fault_count;			    /* report the count on exit */
static unsigned long span_first, span_last; /* ckpt_fault_span: the page copy */

static int sig_from_name(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (!*end && n > 0 && n < NSIG)
		return n;
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (int i = 1; i < NSIG; i++) {
		const char *name = sigabbrev_np(i);

		if (name && !strcmp(name, s))
			return i;
	}
	return 0;
}

int ckpt_fault_arm(pid_t parent, ckpt_err_t *err)
{
	const char *spec = getenv("CKPT_OCI_FAULT");
	char sig[32];
	unsigned long n;

	fault_calls = 0;
	if (!spec || !*spec)
		return 0;
	if (!strcmp(spec, "count")) {
		fault_count = 1;
		return 0;
	}
	if (!strcmp(spec, "live-flip") || !strcmp(spec, "live-late-death") ||
	    !strcmp(spec, "unix-diag-recv") || !strcmp(spec, "predump-exit") ||
	    ckpt_fault_arg("remote-fail"))
		return 0; /* each read where it acts (fault.h) */
	fault_parent = parent;
	if (sscanf(spec, "pause:%lu:%4095s", &n, fault_dir) == 2 && n && fault_dir[0] == '/') {
		fault_kind = FAULT_PAUSE;
		fault_at = n;
		return 0;
	}
	if (sscanf(spec, "kill-parent:%31[^:]:%lu", sig, &n) == 2 && n && sig_from_name(sig))
		fault_kind = FAULT_KILL_PARENT;
	else if (sscanf(spec, "kill-self:%31[^:]:%lu", sig, &n) == 2 && n && sig_from_name(sig))
		fault_kind = FAULT_KILL_SELF;
	else
		return ckpt_error_msg(
			err, EINVAL,
			"CKPT_OCI_FAULT=`%s`: want count, "
			"kill-parent:SIG:N, kill-self:SIG:N, pause:N:/DIR, live-flip, "
			"live-late-death, unix-diag-recv, predump-exit or remote-fail:LABEL",
			spec);
	fault_sig = sig_from_name(sig);
	fault_at = n;
	return 0;
}

void ckpt_fault_report(void)
{
	if (fault_count && span_first)
		fprintf(stderr, "ckpt-oci: ptrace calls: %lu, page copy: %lu-%lu\n", fault_calls,
			span_first, span_last);
	else if (fault_count)
		fprintf(stderr, "ckpt-oci: ptrace calls: %lu\n", fault_calls);
}

/*
 * Kill the parent, then wait (at most 10 s) for the abort request that
 * follows: its relay for SIGINT and SIGTERM, our parent-death signal for
 * SIGKILL. The abort is then pending before the call, every time.
 */
static void fault_fire(void)
{
	sigset_t sigs, old;
	struct timespec ts = {0, 10 * 1000 * 1000};
	int saved = errno;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, &old);
	if (kill(fault_parent, fault_sig) == 0)
		for (int i = 0; i < 1000 && !ckpt_abort_signal(); i++)
			ppoll(NULL, 0, &ts, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
}

/* Say "paused" (DIR/paused) and wait until someone opens DIR/resume, a FIFO. */
static void fault_pause(void)
{
	char path[4200];
	int fd, saved = errno;

	snprintf(path, sizeof(path), "%s/paused", fault_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/resume", fault_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close(fd);
	errno = saved;
}

static void fault_act(void)
{
	switch (fault_kind) {
	case FAULT_KILL_PARENT:
		fault_fire();
		break;
	case FAULT_KILL_SELF:
		kill(getpid(), fault_sig);
		break;
	case FAULT_PAUSE:
		fault_pause();
		break;
	default:
		break;
	}
}

void ckpt_fault_span(bool start)
{
	if (start && !span_first)
		span_first = fault_calls + 1;
	if (!start)
		span_last = fault_calls;
}

long __wrap_ptrace(enum __ptrace_request req, ...)
{
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, req);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (++fault_calls == fault_at)
		fault_act();
	return __real_ptrace(req, pid, addr, data);
}
