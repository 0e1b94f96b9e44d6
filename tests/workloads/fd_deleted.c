/*
 * fd_deleted - objects deleted while open come back deleted and open: a
 * FIFO (a read end, a write end, a read-write end, bytes queued) and a
 * directory. Their fds still name the old paths, " (deleted)" added; the
 * FIFO carries the queued bytes and new ones; the directory is empty and
 * takes no new entries.
 */
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

/* readlink of fd ends with " (deleted)" and starts with path. */
static int deleted_as(int fd, const char *path)
{
	char l[64], buf[4096];
	ssize_t n;

	snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
	n = readlink(l, buf, sizeof(buf) - 1);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return !strncmp(buf, path, strlen(path)) && strstr(buf, " (deleted)");
}

int main(int argc, char **argv)
{
	const char *fifo = fd_path("deleted-fifo"), *dir = fd_path("deleted-dir");
	int r, w, rw, d;
	char buf[16];

	wl_init(argc, argv);
	if (mkfifo(fifo, 0600) < 0 || mkdir(dir, 0700) < 0)
		return wl_fail("set up: %m");
	rw = open(fifo, O_RDWR | O_CLOEXEC);
	r = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	w = open(fifo, O_WRONLY | O_CLOEXEC);
	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rw < 0 || r < 0 || w < 0 || d < 0 || write(w, "queued", 6) != 6)
		return wl_fail("open: %m");
	if (unlink(fifo) < 0 || rmdir(dir) < 0)
		return wl_fail("delete: %m");

	wl_ready();
	wl_wait_restored();

	if (!deleted_as(r, fifo) || !deleted_as(w, fifo) || !deleted_as(rw, fifo) ||
	    !deleted_as(d, dir))
		return wl_fail("fds do not name the deleted objects");
	if (read(r, buf, 6) != 6 || memcmp(buf, "queued", 6))
		return wl_fail("the FIFO's queued bytes are lost");
	if (write(rw, "more", 4) != 4 || read(r, buf, 4) != 4 || memcmp(buf, "more", 4))
		return wl_fail("the FIFO does not carry new bytes");
	if (!(fcntl(r, F_GETFL) & O_NONBLOCK) || (fcntl(w, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return wl_fail("FIFO flags differ");
	if (openat(d, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != ENOENT)
		return wl_fail("the deleted directory took a new entry");
	if (access(fifo, F_OK) == 0 || access(dir, F_OK) == 0)
		return wl_fail("a deleted object is back in the directory");
	return wl_pass();
}
