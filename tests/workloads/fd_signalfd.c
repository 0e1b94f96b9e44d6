/*
 * fd_signalfd - a signalfd with a mask of two blocked signals keeps its
 * mask: after restore a signal sent to the process is read from it.
 */
#include <signal.h>
#include <sys/signalfd.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	sigset_t m;
	int fd;

	wl_init(argc, argv);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	sigaddset(&m, SIGRTMIN + 2);
	sigprocmask(SIG_BLOCK, &m, NULL);
	fd = signalfd(-1, &m, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return wl_fail("signalfd: %m");
	wl_ready();
	wl_wait_restored();
	if (read(fd, &si, sizeof(si)) != -1 || errno != EAGAIN)
		return wl_fail("signalfd not empty and non-blocking");
	kill(getpid(), SIGRTMIN + 2);
	kill(getpid(), SIGUSR1);
	if (read(fd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGUSR1)
		return wl_fail("first signal read %u", si.ssi_signo);
	if (read(fd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != (unsigned)SIGRTMIN + 2)
		return wl_fail("second signal read %u", si.ssi_signo);
	return wl_pass();
}
