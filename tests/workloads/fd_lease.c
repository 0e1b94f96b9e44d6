/*
 * fd_lease - file leases (F_SETLEASE) come back: a read lease and a write
 * lease are reported by F_GETLEASE after restore, and the write lease
 * still works: a child's open of the file is held up, the holder gets its
 * lease-break signal (F_SETSIG), gives the lease up, and the open goes on.
 *
 * `fd_lease breaking`: the checkpoint is taken while a child's open waits
 * for the holder to give up its write lease (a break in progress), which
 * restore cannot make again: the checkpoint must be refused and the
 * program run on as it was.
 */
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

/* A child that opens path for reading (breaking a write lease) and exits 0. */
static pid_t opener(const char *path)
{
	pid_t kid = fork();

	if (kid == 0)
		_exit(open(path, O_RDONLY) < 0 ? 1 : 0);
	return kid;
}

/* The lease-break signal for fd arrives, the lease is given up, the opener ends well. */
static int break_lease(int fd, int sig, pid_t kid, const char *when)
{
	struct timespec ts = {WL_TIMEOUT_SEC, 0};
	siginfo_t si;
	sigset_t set;
	int st;

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigtimedwait(&set, &si, &ts) != sig || si.si_fd != fd)
		return wl_fail("%s: no lease-break signal for fd %d: %m", when, fd);
	if (fcntl(fd, F_SETLEASE, F_UNLCK) < 0)
		return wl_fail("%s: give the lease up: %m", when);
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("%s: the opener failed: %#x", when, st);
	return 0;
}

int main(int argc, char **argv)
{
	const char *rpath = fd_path("lease-read"), *wpath = fd_path("lease-write");
	bool breaking = argc > 1 && !strcmp(argv[1], "breaking");
	int rfd, wfd, sig, tmp;
	pid_t kid = 0;
	sigset_t set;

	wl_init(argc, argv);
	sig = SIGRTMIN + 3;
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return wl_fail("sigprocmask: %m");
	tmp = open(rpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (tmp < 0 || close(tmp) < 0)
		return wl_fail("create %s: %m", rpath);
	rfd = open(rpath, O_RDONLY | O_CLOEXEC);
	wfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (rfd < 0 || wfd < 0)
		return wl_fail("open: %m");
	if (fcntl(rfd, F_SETLEASE, F_RDLCK) < 0 || fcntl(wfd, F_SETSIG, sig) < 0 ||
	    fcntl(wfd, F_SETLEASE, F_WRLCK) < 0)
		return wl_fail("F_SETLEASE: %m");
	if (breaking) {
		struct timespec ts = {WL_TIMEOUT_SEC, 0};
		siginfo_t si;

		/* the break has begun once the holder is told */
		kid = opener(wpath);
		if (kid < 0 || sigtimedwait(&set, &si, &ts) != sig)
			return wl_fail("no break begun: %m");
	}
	wl_ready();
	wl_wait_restored();
	if (breaking) {
		if (fcntl(wfd, F_SETLEASE, F_UNLCK) < 0 || waitpid(kid, NULL, 0) != kid)
			return wl_fail("finish the break: %m");
		return wl_pass();
	}
	if (fcntl(rfd, F_GETLEASE) != F_RDLCK || fcntl(wfd, F_GETLEASE) != F_WRLCK)
		return wl_fail("leases after restore: read %d write %d", fcntl(rfd, F_GETLEASE),
			       fcntl(wfd, F_GETLEASE));
	if (fcntl(wfd, F_GETSIG) != sig)
		return wl_fail("lease-break signal %d, want %d", fcntl(wfd, F_GETSIG), sig);
	kid = opener(wpath);
	if (kid < 0 || break_lease(wfd, sig, kid, "after restore"))
		return 1;
	return wl_pass();
}
