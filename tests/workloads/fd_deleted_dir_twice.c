/*
 * fd_deleted_dir_twice - one removed directory held by two descriptions (one
 * opened O_RDONLY|O_DIRECTORY, one O_PATH) and a third fd that is a dup,
 * beside an unlinked file of the same directory held open: after restore
 * every fd on the directory is on one and the same removed inode, each with
 * its own open flags; the file (also held O_PATH) keeps its content, and
 * every fd names the old path, " (deleted)" added.
 *
 * Argument "tmpfs" (run in a mount namespace of its own): all of it on a
 * tmpfs mounted there, which the restored files must be on too.
 */
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static int same_inode(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_ino == y.st_ino &&
	       x.st_dev == y.st_dev;
}

/* readlink of fd is path with " (deleted)" added. */
static int deleted_as(int fd, const char *path)
{
	char l[64], buf[4096], want[4200];
	ssize_t n;

	snprintf(l, sizeof(l), "/proc/self/fd/%d", fd);
	n = readlink(l, buf, sizeof(buf) - 1);
	if (n < 0)
		return wl_fail("readlink fd %d: %m", fd);
	buf[n] = '\0';
	snprintf(want, sizeof(want), "%s (deleted)", path);
	if (strcmp(buf, want))
		return wl_fail("fd %d names `%s`, want `%s`", fd, buf, want);
	return 0;
}

int main(int argc, char **argv)
{
	bool tmpfs = argc > 1 && !strcmp(argv[1], "tmpfs");
	const char *mnt = fd_path("twice-mnt");
	const char *dir = fd_path(tmpfs ? "twice-mnt/twice-dir" : "twice-dir");
	const char *file = fd_path(tmpfs ? "twice-mnt/twice-dir/f" : "twice-dir/f");
	struct stat m;
	int d, p, dd, f, fp;
	struct stat st;
	char buf[8];

	wl_init(argc, argv);
	if (tmpfs && (mkdir(mnt, 0700) < 0 || mount("wl", mnt, "tmpfs", 0, NULL) < 0))
		return wl_fail("tmpfs: %m");
	if (mkdir(dir, 0750) < 0)
		return wl_fail("set up: %m");
	f = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fp = open(file, O_PATH | O_CLOEXEC);
	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	p = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	dd = dup(d);
	if (f < 0 || fp < 0 || d < 0 || p < 0 || dd < 0 || write(f, "content", 7) != 7)
		return wl_fail("open: %m");
	if (unlink(file) < 0 || rmdir(dir) < 0)
		return wl_fail("delete: %m");

	wl_ready();
	wl_wait_restored();

	if (deleted_as(d, dir) || deleted_as(p, dir) || deleted_as(dd, dir) ||
	    deleted_as(f, file) || deleted_as(fp, file))
		return 1;
	if (!same_inode(f, fp))
		return wl_fail("the fds on the unlinked file are on different inodes");
	if (!same_inode(d, p) || !same_inode(d, dd))
		return wl_fail("the fds on the removed directory are on different inodes");
	if (fstat(d, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_nlink != 0 ||
	    (st.st_mode & 07777) != 0750)
		return wl_fail("the directory is not a removed one of mode 0750");
	if (!(fcntl(p, F_GETFL) & O_PATH) || (fcntl(d, F_GETFL) & O_PATH))
		return wl_fail("open flags differ");
	if (openat(d, "new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != ENOENT)
		return wl_fail("the removed directory took a new entry");
	if (pread(f, buf, 7, 0) != 7 || memcmp(buf, "content", 7))
		return wl_fail("the unlinked file lost its content");
	if (fstat(f, &st) < 0 || st.st_nlink != 0)
		return wl_fail("the unlinked file has a link");
	if (access(dir, F_OK) == 0)
		return wl_fail("the removed directory is back");
	if (tmpfs && (stat(mnt, &m) < 0 || fstat(f, &st) < 0 || st.st_dev != m.st_dev ||
		      fstat(d, &st) < 0 || st.st_dev != m.st_dev))
		return wl_fail("the file or the directory is not on the tmpfs");
	return wl_pass();
}
