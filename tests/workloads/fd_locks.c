/*
 * fd_locks - a POSIX lock (fcntl), an OFD lock and a flock held before the
 * checkpoint are held after restore: a child process made after restore is
 * refused each of them, and they go away when released.
 */
#include <sys/file.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

/* In a new child: 0 when every lock attempt is refused, as it must be. */
static int blocked(const char *a, const char *b)
{
	pid_t kid = fork();
	int st;

	if (kid == 0) {
		struct flock pl = {F_WRLCK, SEEK_SET, 0, 10, 0};
		struct flock ol = {F_WRLCK, SEEK_SET, 100, 10, 0};
		int fa = open(a, O_RDWR), fb = open(b, O_RDWR);

		if (fa < 0 || fb < 0)
			_exit(10);
		if (fcntl(fa, F_SETLK, &pl) == 0)
			_exit(1);
		if (fcntl(fa, F_OFD_SETLK, &ol) == 0)
			_exit(2);
		if (flock(fb, LOCK_EX | LOCK_NB) == 0)
			_exit(3);
		_exit(0);
	}
	if (kid < 0 || waitpid(kid, &st, 0) != kid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	const char *a = fd_path("locked.a"), *b = fd_path("locked.b");
	struct flock pl = {F_WRLCK, SEEK_SET, 0, 10, 0};
	struct flock ol = {F_RDLCK, SEEK_SET, 100, 10, 0};
	int fa, fb, r;

	wl_init(argc, argv);
	fa = open(a, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fb = open(b, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fa < 0 || fb < 0 || fcntl(fa, F_SETLK, &pl) < 0 || fcntl(fa, F_OFD_SETLK, &ol) < 0 ||
	    flock(fb, LOCK_EX) < 0)
		return wl_fail("lock: %m");
	if ((r = blocked(a, b)))
		return wl_fail("before checkpoint: lock %d not held", r);
	wl_ready();
	wl_wait_restored();
	if ((r = blocked(a, b)))
		return wl_fail("after restore: lock %d not held", r);
	flock(fb, LOCK_UN);
	if (blocked(a, b) != 3)
		return wl_fail("flock still held after unlock");
	return wl_pass();
}
