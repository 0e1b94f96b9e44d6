/*
 * fd_pidfd_gone - a pidfd whose process is gone (exited and reaped) comes
 * back as one: it polls readable, pidfd_send_signal fails with ESRCH, its
 * fdinfo says Pid -1. A pidfd of a live child still signals it.
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	char path[64], buf[512];
	struct pollfd p;
	int gone, live, f, st;
	pid_t a, b;
	ssize_t n;

	wl_init(argc, argv);
	a = fork();
	if (a == 0)
		_exit(0);
	b = fork();
	if (b == 0) {
		pause();
		_exit(0);
	}
	gone = syscall(SYS_pidfd_open, a, 0);
	live = syscall(SYS_pidfd_open, b, 0);
	if (a < 0 || b < 0 || gone < 0 || live < 0 || waitpid(a, NULL, 0) != a)
		return wl_fail("set up: %m");

	wl_ready();
	wl_wait_restored();

	p = (struct pollfd){.fd = gone, .events = POLLIN};
	if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return wl_fail("the gone process's pidfd does not poll readable");
	if (syscall(SYS_pidfd_send_signal, gone, SIGTERM, NULL, 0) != -1 || errno != ESRCH)
		return wl_fail("pidfd_send_signal to a gone process: %m (want ESRCH)");
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", gone);
	f = open(path, O_RDONLY | O_CLOEXEC);
	n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	if (n <= 0 || (buf[n] = '\0', !strstr(buf, "Pid:\t-1")))
		return wl_fail("fdinfo of the gone pidfd: %s", n > 0 ? buf : "unreadable");
	if (syscall(SYS_pidfd_send_signal, live, SIGKILL, NULL, 0) < 0 || waitpid(b, &st, 0) != b ||
	    !WIFSIGNALED(st))
		return wl_fail("the live child's pidfd: %m");
	return wl_pass();
}
