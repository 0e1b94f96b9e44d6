/*
 * fd_pidfd - a pidfd on a child still refers to that child after restore:
 * signalling through it and polling it for exit work.
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	struct pollfd p;
	int pfd, st;
	pid_t kid;

	wl_init(argc, argv);
	kid = fork();
	if (kid == 0) {
		for (;;)
			pause();
	}
	pfd = syscall(SYS_pidfd_open, kid, 0);
	if (pfd < 0)
		return wl_fail("pidfd_open: %m");
	wl_ready();
	wl_wait_restored();
	p = (struct pollfd){pfd, POLLIN, 0};
	if (poll(&p, 1, 0) != 0)
		return wl_fail("pidfd reports exit of a live child");
	if (syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0) < 0)
		return wl_fail("pidfd_send_signal: %m");
	if (poll(&p, 1, WL_TIMEOUT_SEC * 1000) != 1)
		return wl_fail("pidfd did not report the exit");
	if (waitpid(kid, &st, 0) != kid || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM)
		return wl_fail("child status %#x", st);
	return wl_pass();
}
