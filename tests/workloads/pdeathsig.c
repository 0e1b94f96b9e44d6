/*
 * pdeathsig - parent-death signals on every task of a tree. The root R
 * asks for SIGURG (ignored by default: harmless when restore -d gives it
 * another parent); its child A for SIGUSR1, and a thread of A for SIGWINCH
 * (each thread has its own); A's child G first becomes uid
 * 65534, then asks for SIGUSR2 (a change of uid resets the signal, so it
 * must come back after G's credentials). After restore each reads its own
 * with PR_GET_PDEATHSIG; then A exits and G must get its SIGUSR2.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int report[2], cmd[2], tcmd[2];
static int thread_sig = -1;

static void *a_thread(void *arg)
{
	char c;

	(void)arg;
	if (prctl(PR_SET_PDEATHSIG, SIGWINCH))
		return NULL;
	if (write(report[1], "t", 1) != 1)
		return NULL;
	while (read(tcmd[0], &c, 1) != 1)
		;
	prctl(PR_GET_PDEATHSIG, &thread_sig);
	return NULL;
}

static void g_died(int sig)
{
	char c = 'G';

	(void)sig;
	if (write(report[1], &c, 1) != 1)
		_exit(1);
	_exit(0);
}

static void grandchild(void)
{
	struct sigaction sa = {.sa_handler = g_died};
	char c = 'g';

	sigaction(SIGUSR2, &sa, NULL);
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534) ||
	    prctl(PR_SET_PDEATHSIG, SIGUSR2))
		_exit(2);
	if (write(report[1], &c, 1) != 1)
		_exit(3);
	alarm(2 * WL_TIMEOUT_SEC); /* a failed run leaves no process behind */
	for (;;)
		pause();
}

static void child(void)
{
	pthread_t th;
	char c;
	int sig = 0;
	pid_t g;

	if (prctl(PR_SET_PDEATHSIG, SIGUSR1) || pipe(tcmd) ||
	    pthread_create(&th, NULL, a_thread, NULL))
		_exit(4);
	g = fork();
	if (g < 0)
		_exit(5);
	if (g == 0)
		grandchild();
	while (read(cmd[0], &c, 1) != 1)
		;
	prctl(PR_GET_PDEATHSIG, &sig);
	if (write(tcmd[1], "x", 1) != 1 || pthread_join(th, NULL))
		_exit(7);
	c = (char)sig;
	if (write(report[1], &c, 1) != 1)
		_exit(6);
	c = (char)thread_sig;
	if (write(report[1], &c, 1) != 1)
		_exit(8);
	_exit(0); /* G gets its SIGUSR2 now */
}

/* One byte from report, within the workloads' bound. */
static int next(char *c)
{
	struct pollfd p = {.fd = report[0], .events = POLLIN};

	if (poll(&p, 1, WL_TIMEOUT_SEC * 1000) != 1)
		return -1;
	return read(report[0], c, 1) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	int sig = 0, st;
	pid_t a;
	char c;

	wl_init(argc, argv);
	if (pipe(report) || pipe(cmd))
		return wl_fail("pipe: %m");
	/* orphans (G once A exits) come to R, which reaps them */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) || prctl(PR_SET_PDEATHSIG, SIGURG))
		return wl_fail("prctl: %m");
	a = fork();
	if (a < 0)
		return wl_fail("fork: %m");
	if (a == 0)
		child();
	for (int i = 0; i < 2; i++)
		if (next(&c) || (c != 'g' && c != 't'))
			return wl_fail("child's thread or grandchild did not start");

	wl_ready();
	wl_wait_restored();

	if (prctl(PR_GET_PDEATHSIG, &sig) || sig != SIGURG)
		return wl_fail("root: parent-death signal %d, want SIGURG", sig);
	if (write(cmd[1], "x", 1) != 1 || next(&c))
		return wl_fail("child did not answer");
	if (c != SIGUSR1)
		return wl_fail("child: parent-death signal %d, want SIGUSR1", c);
	if (next(&c) || c != SIGWINCH)
		return wl_fail("child's thread: parent-death signal %d, want SIGWINCH", c);
	if (waitpid(a, &st, 0) != a || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child: status 0x%x", st);
	if (next(&c) || c != 'G')
		return wl_fail("grandchild (uid 65534) did not get SIGUSR2 when its parent died");
	while (wait(&st) > 0)
		;
	return wl_pass();
}
