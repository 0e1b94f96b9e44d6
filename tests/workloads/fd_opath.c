/*
 * fd_opath - O_PATH fds come back as O_PATH fds on the same objects: a
 * regular file, a directory (used with openat) and a symlink opened with
 * O_PATH | O_NOFOLLOW (the link itself: readlinkat on it gives its
 * target). Seeking one fails as it did (EBADF), fstat works.
 */
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *file = fd_path("opath-file"), *dir = fd_path("opath-dir"),
		   *link = fd_path("opath-link");
	struct stat f0, d0, l0, st;
	int ffd, dfd, lfd, tmp;
	char target[256];
	ssize_t n;

	wl_init(argc, argv);
	tmp = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (tmp < 0 || close(tmp) < 0 || mkdir(dir, 0700) < 0 || symlink("opath-file", link) < 0)
		return wl_fail("set up: %m");
	tmp = open(fd_path("opath-dir/inside"), O_WRONLY | O_CREAT, 0600);
	if (tmp < 0 || close(tmp) < 0)
		return wl_fail("set up: %m");
	ffd = open(file, O_PATH | O_CLOEXEC);
	dfd = open(dir, O_PATH | O_DIRECTORY);
	lfd = open(link, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (ffd < 0 || dfd < 0 || lfd < 0 || fstat(ffd, &f0) < 0 || fstat(dfd, &d0) < 0 ||
	    fstat(lfd, &l0) < 0)
		return wl_fail("O_PATH: %m");

	wl_ready();
	wl_wait_restored();

	if (!(fcntl(ffd, F_GETFL) & O_PATH) || !(fcntl(dfd, F_GETFL) & O_PATH) ||
	    !(fcntl(lfd, F_GETFL) & O_PATH))
		return wl_fail("not O_PATH after restore");
	if (fstat(ffd, &st) < 0 || st.st_ino != f0.st_ino || !S_ISREG(st.st_mode))
		return wl_fail("file fd: another object");
	if (fstat(dfd, &st) < 0 || st.st_ino != d0.st_ino || !S_ISDIR(st.st_mode))
		return wl_fail("directory fd: another object");
	if (fstat(lfd, &st) < 0 || st.st_ino != l0.st_ino || !S_ISLNK(st.st_mode))
		return wl_fail("symlink fd: not the link itself (mode %#o)", st.st_mode);
	n = readlinkat(lfd, "", target, sizeof(target) - 1);
	if (n < 0 || (target[n] = '\0', strcmp(target, "opath-file")))
		return wl_fail("readlinkat on the symlink fd: %m");
	if (faccessat(dfd, "inside", F_OK, 0) < 0)
		return wl_fail("faccessat through the directory fd: %m");
	if (lseek(ffd, 0, SEEK_SET) != -1 || errno != EBADF)
		return wl_fail("seek on an O_PATH fd did not fail with EBADF");
	return wl_pass();
}
