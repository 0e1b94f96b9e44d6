/*
 * fd_ghost - a file opened then unlinked keeps its content and offset
 * across checkpoint/restore, and stays unlinked; a directory fd keeps its
 * path.
 */
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *path = fd_path("ghost.bin");
	char buf[8192], got[8192];
	struct stat st;
	int fd, dir;

	wl_init(argc, argv);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 1);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf) || unlink(path) < 0)
		return wl_fail("ghost %s: %m", path);
	lseek(fd, 100, SEEK_SET);
	dir = open(fd_path(""), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return wl_fail("open dir: %m");
	wl_ready();
	wl_wait_restored();
	if (fstat(fd, &st) < 0 || st.st_nlink != 0 || st.st_size != sizeof(buf))
		return wl_fail("restored ghost: nlink %ld size %ld", (long)st.st_nlink,
			       (long)st.st_size);
	if ((st.st_mode & 0777) != 0640)
		return wl_fail("mode %o", st.st_mode & 0777);
	if (lseek(fd, 0, SEEK_CUR) != 100)
		return wl_fail("offset %ld", (long)lseek(fd, 0, SEEK_CUR));
	if (pread(fd, got, sizeof(got), 0) != sizeof(got) || memcmp(buf, got, sizeof(buf)))
		return wl_fail("content differs");
	if (access(path, F_OK) == 0)
		return wl_fail("the ghost came back on disk");
	if (fstatat(dir, "ready", &st, 0) < 0)
		return wl_fail("directory fd does not see the test dir: %m");
	return wl_pass();
}
