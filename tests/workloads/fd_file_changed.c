/*
 * fd_file_changed - holds a file open read-only at an offset; the test changes the
 * file on disk between checkpoint and restore. A plain restore must refuse;
 * with --ignore-file-changes the fd is restored at its offset.
 */
#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *path = fd_path("changed.txt");
	int w, fd;

	wl_init(argc, argv);
	w = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w < 0 || write(w, "abcdef", 6) != 6 || close(w) < 0)
		return wl_fail("setup: %m");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || lseek(fd, 2, SEEK_SET) != 2)
		return wl_fail("setup: %m");
	wl_ready();
	wl_wait_restored();
	if (lseek(fd, 0, SEEK_CUR) != 2)
		return wl_fail("offset lost");
	return wl_pass();
}
