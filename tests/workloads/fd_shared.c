/*
 * fd_shared - open file descriptions shared by dup() and by fork() stay
 * shared after restore (offsets move together), and per-fd / per-description
 * flags (close-on-exec, O_APPEND, O_NONBLOCK) and offsets are as they were.
 * A second open of the same file is a separate description.
 */
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

#define TEXT "0123456789abcdefghijklmnopqrstuvwxyz"

int main(int argc, char **argv)
{
	const char *path = fd_path("shared.txt");
	int a, b, c, ap, status, sync[2];
	char ch;
	pid_t kid;

	wl_init(argc, argv);
	a = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (a < 0 || write(a, TEXT, strlen(TEXT)) != (ssize_t)strlen(TEXT))
		return wl_fail("create %s: %m", path);
	lseek(a, 3, SEEK_SET);
	b = dup(a); /* same description, no cloexec */
	c = open(path, O_RDONLY | O_NONBLOCK);
	lseek(c, 10, SEEK_SET);
	ap = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (b < 0 || c < 0 || ap < 0 || pipe(sync) < 0)
		return wl_fail("open: %m");
	kid = fork();
	if (kid == 0) {
		/* after restore: read one byte through the shared description */
		if (read(sync[0], &ch, 1) != 1)
			_exit(2);
		_exit(read(a, &ch, 1) == 1 && ch == '3' ? 0 : 1);
	}
	wl_ready();
	wl_wait_restored();
	if ((fcntl(a, F_GETFD) & FD_CLOEXEC) == 0 || (fcntl(b, F_GETFD) & FD_CLOEXEC))
		return wl_fail("close-on-exec flags differ");
	if (!(fcntl(c, F_GETFL) & O_NONBLOCK) || !(fcntl(ap, F_GETFL) & O_APPEND))
		return wl_fail("status flags differ: %o %o", fcntl(c, F_GETFL), fcntl(ap, F_GETFL));
	if ((fcntl(ap, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return wl_fail("access mode differs");
	if (lseek(c, 0, SEEK_CUR) != 10)
		return wl_fail("offset of the second open is %ld", (long)lseek(c, 0, SEEK_CUR));
	if (write(sync[1], "x", 1) != 1 || waitpid(kid, &status, 0) != kid)
		return wl_fail("child: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("child read the wrong byte (status %#x)", status);
	/* the child moved the offset of the description a and b share */
	if (lseek(b, 0, SEEK_CUR) != 4 || lseek(a, 0, SEEK_CUR) != 4)
		return wl_fail("offsets not shared: a %ld b %ld", (long)lseek(a, 0, SEEK_CUR),
			       (long)lseek(b, 0, SEEK_CUR));
	if (read(b, &ch, 1) != 1 || ch != '4' || lseek(a, 0, SEEK_CUR) != 5)
		return wl_fail("dup does not share the offset");
	if (write(ap, "!", 1) != 1 || lseek(a, -1, SEEK_END) < 0 || read(a, &ch, 1) != 1 ||
	    ch != '!')
		return wl_fail("O_APPEND write did not land at the end");
	return wl_pass();
}
