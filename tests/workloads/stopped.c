/*
 * stopped - children stopped every way a job can be, checked by their
 * parent after restore:
 *   A  stopped by SIGSTOP;
 *   B  stopped by SIGTSTP (in a process group of its own, not orphaned);
 *   C  two threads, a group stop by SIGSTOP: both threads stopped;
 *   D  stopped by SIGSTOP with a SIGTERM pending (handled): it must stay
 *      stopped, and run its handler only once continued;
 *   E  running, SIGCONT blocked and pending: its handler runs once it
 *      unblocks it;
 *   F  running, SIGTSTP blocked and pending: it stops once it unblocks it.
 * After restore A-D are in state T (every thread), their pending signals
 * kept; each continues on SIGCONT and exits with its own code.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

enum { A, B, C, D, E, F, N };
static const char *const names[N] = {"A (SIGSTOP)",	    "B (SIGTSTP)",
				     "C (two threads)",	    "D (SIGTERM pending)",
				     "E (SIGCONT pending)", "F (SIGTSTP pending)"};
static pid_t kids[N];
static int pipes[N][2]; /* parent -> child k */
static int up[2];	/* children -> parent: started */
static volatile sig_atomic_t got;

static void on_signal(int sig)
{
	got = sig;
}

/* State letter of /proc/PID/task/TID/stat (TID 0: the process). */
static char proc_state(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	FILE *f;
	size_t n;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Every thread of pid in state want; how many threads it has in *n. */
static int all_threads(pid_t pid, char want, int *n)
{
	char path[64];
	int ok = 1;

	*n = 0;
	for (pid_t tid = pid; tid < pid + 64; tid++) {
		char s;

		snprintf(path, sizeof(path), "/proc/%d/task/%d", pid, tid);
		if (access(path, F_OK))
			continue;
		s = proc_state(pid, tid);
		(*n)++;
		ok &= s == want;
	}
	return ok;
}

/* Is sig in the process-wide pending set (ShdPnd) of pid? */
static int shared_pending(pid_t pid, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "ShdPnd: %llx", &mask) == 1)
			break;
	if (f)
		fclose(f);
	return !!(mask & (1ULL << (sig - 1)));
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The child's body: wait for a byte from the parent, then exit with code. */
static void child(int k)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t set;
	pthread_t th;
	char c;

	sigemptyset(&set);
	switch (k) {
	case B:
	case F:
		setpgid(0, 0); /* SIGTSTP in an orphaned process group is discarded */
		break;
	case C:
		if (pthread_create(&th, NULL, idle_thread, NULL))
			_exit(90);
		break;
	case D:
		sigaction(SIGTERM, &sa, NULL);
		break;
	case E:
		sigaction(SIGCONT, &sa, NULL);
		sigaddset(&set, SIGCONT);
		sigprocmask(SIG_BLOCK, &set, NULL);
		break;
	}
	if (k == F) {
		sigaddset(&set, SIGTSTP);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	if (write(up[1], "r", 1) != 1) /* started */
		_exit(91);
	while (read(pipes[k][0], &c, 1) != 1)
		;
	if (k == E || k == F)
		sigprocmask(SIG_UNBLOCK, &set, NULL); /* E: handler runs; F: stops here */
	if (k == D)
		_exit(got == SIGTERM ? 10 + D : 92);
	if (k == E)
		_exit(got == SIGCONT ? 10 + E : 93);
	_exit(10 + k);
}

/* Start every child, stop or signal it, and check it is as wanted. */
static const char *setup(void)
{
	int st;
	char c;

	if (pipe(up))
		return "pipe";
	for (int k = 0; k < N; k++) {
		if (pipe(pipes[k]))
			return "pipe";
		kids[k] = fork();
		if (kids[k] < 0)
			return "fork";
		if (kids[k] == 0)
			child(k);
		if (read(up[0], &c, 1) != 1)
			return "child did not start";
	}
	/* C's second thread exists once C said it started */
	for (int k = A; k <= D; k++) {
		int sig = k == B ? SIGTSTP : SIGSTOP;

		if (kill(kids[k], sig) || waitpid(kids[k], &st, WUNTRACED) != kids[k] ||
		    !WIFSTOPPED(st) || WSTOPSIG(st) != sig)
			return "a child did not stop";
	}
	kill(kids[D], SIGTERM);
	kill(kids[E], SIGCONT);
	kill(kids[F], SIGTSTP);
	return NULL;
}

/* The state of each child, as before the checkpoint: NULL when right. */
static const char *check(char *why, size_t len)
{
	int n;

	for (int k = A; k <= D; k++) {
		if (!all_threads(kids[k], 'T', &n)) {
			snprintf(why, len, "%s: not every thread stopped", names[k]);
			return why;
		}
		if (k == C && n != 2) {
			snprintf(why, len, "%s: %d threads", names[k], n);
			return why;
		}
	}
	if (!shared_pending(kids[D], SIGTERM))
		return "D: SIGTERM is not pending";
	if (!shared_pending(kids[E], SIGCONT) || proc_state(kids[E], 0) == 'T')
		return "E: SIGCONT is not pending, or E is stopped";
	if (!shared_pending(kids[F], SIGTSTP) || proc_state(kids[F], 0) == 'T')
		return "F: SIGTSTP is not pending, or F is stopped";
	return NULL;
}

/* Let each child go on; each exits with 10 + its index. */
static const char *release(char *why, size_t len)
{
	int st;

	for (int k = 0; k < N; k++) {
		if (write(pipes[k][1], "g", 1) != 1)
			return "write to a child";
		if (k == F) {
			/* it stops when it unblocks SIGTSTP */
			if (waitpid(kids[F], &st, WUNTRACED) != kids[F] || !WIFSTOPPED(st) ||
			    WSTOPSIG(st) != SIGTSTP) {
				snprintf(why, len, "F: not stopped by its pending SIGTSTP (0x%x)",
					 st);
				return why;
			}
		}
		if (k != E)
			kill(kids[k], SIGCONT);
		if (waitpid(kids[k], &st, 0) != kids[k] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 10 + k) {
			snprintf(why, len, "%s: status 0x%x, want exit %d", names[k], st, 10 + k);
			return why;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	char why[256];
	const char *err;

	wl_init(argc, argv);
	err = setup();
	if (!err)
		err = check(why, sizeof(why));
	if (err) {
		for (int k = 0; k < N; k++)
			if (kids[k] > 0)
				kill(kids[k], SIGKILL);
		return wl_fail("before checkpoint: %s", err);
	}

	wl_ready();
	wl_wait_restored();

	err = check(why, sizeof(why));
	if (!err)
		err = release(why, sizeof(why));
	if (!err)
		return wl_pass();
	/* a failed run leaves no stopped child behind */
	for (int k = 0; k < N; k++)
		if (kids[k] > 0)
			kill(kids[k], SIGKILL);
	return wl_fail("after restore: %s", err);
}
