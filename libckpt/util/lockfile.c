/*
 * libckpt/util/lockfile.c - lock files removed on release. The holder
 * unlinks the file before it closes it; so a process that opened the old
 * file and then won its flock holds a lock on a name that is gone: it
 * checks that the path still leads to the file it locked, and opens anew
 * if not.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/lockfile.h"
#include "util/util.h"

int lockfile_take(const char *path, ckpt_err_t *err)
{
	if (mkdir(LOCKFILE_DIR, 0700) < 0 && errno != EEXIST)
		return ckpt_error(err, errno, "mkdir %s", LOCKFILE_DIR);
	for (int tries = 0; tries < 100; tries++) {
		cleanup_close int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		struct stat a, b;

		if (fd < 0)
			return ckpt_error(err, errno, "open %s", path);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				return -EBUSY;
			return ckpt_error(err, errno, "lock %s", path);
		}
		if (fstat(fd, &a) < 0)
			return ckpt_error(err, errno, "stat %s", path);
		if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return steal_fd(&fd);
	}
	return ckpt_error_msg(err, EAGAIN, "lock %s: removed under us again and again", path);
}

void lockfile_release(const char *path, int fd)
{
	if (fd < 0)
		return;
	(void)unlink(path);
	close(fd);
}

int lockfile_sweep(void (*fn)(const char *path, void *data), void *data)
{
	cleanup_close int dirfd = open(LOCKFILE_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (dirfd < 0 || !(d = fdopendir(dup(dirfd))))
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		cleanup_free char *path = NULL;
		int fd;

		if (len < 6 || strcmp(de->d_name + len - 5, ".lock"))
			continue;
		path = xasprintf(LOCKFILE_DIR "/%s", de->d_name);
		/* taken as a holder would, so a live holder keeps it */
		fd = openat(dirfd, de->d_name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			continue;
		}
		lockfile_release(path, fd);
		if (fn)
			fn(path, data);
		n++;
	}
	closedir(d);
	return n;
}
