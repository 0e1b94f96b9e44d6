/*
 * fd_shared_mntns - an open file description shared by dup() and fork(),
 * on a file that exists only in the tree's own mount namespace.
 *
 * Run in new mount and pid namespaces (unshare --mount --pid --fork) with
 * DIR, a directory of the host that holds a file `f` of its own: a private
 * tmpfs is mounted on DIR and a different DIR/f made in it, so the path
 * names another file outside the tree. After restore the shared
 * description must be the tmpfs file (restore opens it inside the tree's
 * namespace, not ckpt-oci's), still shared: the child's read moves the
 * parent's offset, and a write through the dup lands in the tmpfs file.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define TEXT "0123456789 inside the tree"

/* fd is the file DIR/f names now, on a tmpfs */
static int same_file(int fd, const char *path)
{
	struct stat a, b;
	struct statfs fs;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino && fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

int main(int argc, char **argv)
{
	char path[4096], buf[64], ch;
	int a, b, status, sync[2];
	pid_t kid;

	wl_init(argc, argv);
	if (argc < 2)
		return wl_fail("usage: fd_shared_mntns DIR");
	snprintf(path, sizeof(path), "%s/f", argv[1]);
	if (mount("inside", argv[1], "tmpfs", 0, NULL) < 0)
		return wl_fail("mount tmpfs on %s: %m", argv[1]);
	a = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (a < 0 || write(a, TEXT, strlen(TEXT)) != (ssize_t)strlen(TEXT))
		return wl_fail("create %s: %m", path);
	lseek(a, 3, SEEK_SET);
	b = dup(a);
	if (b < 0 || pipe(sync) < 0)
		return wl_fail("dup: %m");
	kid = fork();
	if (kid == 0) {
		/* after restore: one byte through the inherited description */
		if (read(sync[0], &ch, 1) != 1)
			_exit(2);
		_exit(read(a, &ch, 1) == 1 && ch == '3' ? 0 : 1);
	}
	wl_ready();
	wl_wait_restored();
	if (!same_file(a, path) || !same_file(b, path))
		return wl_fail("fds are not the tmpfs file %s", path);
	if (write(sync[1], "x", 1) != 1 || waitpid(kid, &status, 0) != kid)
		return wl_fail("child: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("child read the wrong byte (status %#x)", status);
	if (lseek(a, 0, SEEK_CUR) != 4 || lseek(b, 0, SEEK_CUR) != 4)
		return wl_fail("offsets not shared with the child: a %ld b %ld",
			       (long)lseek(a, 0, SEEK_CUR), (long)lseek(b, 0, SEEK_CUR));
	if (write(b, "!", 1) != 1 || pread(a, buf, 6, 0) != 6 || memcmp(buf, "0123!5", 6))
		return wl_fail("write through the dup did not land in the tmpfs file");
	return wl_pass();
}
