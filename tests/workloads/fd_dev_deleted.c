/*
 * fd_dev_deleted - device nodes made by the program (a null and a zero of
 * its own) and removed while open come back open on removed nodes of the
 * same devices, names, modes and owners: reads, writes and flags as before.
 * A third (a full) stays where it was made and is opened there again.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static int deleted_node(int fd, const char *path, unsigned int mi, unsigned int mode)
{
	char l[64], buf[4096], want[4200];
	struct stat st;
	ssize_t n;

	snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
	n = readlink(l, buf, sizeof(buf) - 1);
	if (n < 0)
		return wl_fail("readlink: %m");
	buf[n] = '\0';
	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (strcmp(buf, want))
		return wl_fail("fd %d names `%s`, want `%s`", fd, buf, want);
	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, mi) ||
	    (st.st_mode & 07777) != mode || st.st_nlink != 0 || st.st_uid != 0)
		return wl_fail("fd %d is not a removed node 1:%u of mode %o", fd, mi, mode);
	return 0;
}

int main(int argc, char **argv)
{
	const char *null = fd_path("my-null"), *zero = fd_path("my-zero"),
		   *full = fd_path("my-full");
	struct stat st;
	int fu;
	char buf[8] = "xxxxxxx";
	int n, z;

	wl_init(argc, argv);
	if (mknod(null, S_IFCHR | 0620, makedev(1, 3)) < 0 ||
	    mknod(zero, S_IFCHR | 0640, makedev(1, 5)) < 0 || chmod(null, 0620) < 0 ||
	    chmod(zero, 0640) < 0)
		return wl_fail("mknod: %m");
	if (mknod(full, S_IFCHR | 0600, makedev(1, 7)) < 0 || (fu = open(full, O_RDWR)) < 0)
		return wl_fail("full: %m");
	n = open(null, O_WRONLY | O_APPEND | O_CLOEXEC);
	z = open(zero, O_RDONLY);
	if (n < 0 || z < 0)
		return wl_fail("open: %m");
	if (unlink(null) < 0 || unlink(zero) < 0)
		return wl_fail("unlink: %m");

	wl_ready();
	wl_wait_restored();

	if (deleted_node(n, null, 3, 0620) || deleted_node(z, zero, 5, 0640))
		return 1;
	if (write(n, "gone", 4) != 4 || read(z, buf, 8) != 8 || memcmp(buf, "\0\0\0\0\0\0\0", 8))
		return wl_fail("the devices do not answer as before");
	if ((fcntl(n, F_GETFL) & (O_ACCMODE | O_APPEND)) != (O_WRONLY | O_APPEND) ||
	    (fcntl(z, F_GETFD) & FD_CLOEXEC))
		return wl_fail("flags differ");
	if (fstat(fu, &st) < 0 || st.st_rdev != makedev(1, 7) || st.st_nlink != 1 ||
	    write(fu, "x", 1) != -1 || errno != ENOSPC)
		return wl_fail("the full kept on disk is not open as before");
	if (access(null, F_OK) == 0 || access(zero, F_OK) == 0)
		return wl_fail("a removed node is back");
	return wl_pass();
}
