/*
 * fd_file_changed - holds a file open at an offset; the test changes the
 * file on disk between checkpoint and restore. A plain restore must refuse;
 * with --ignore-file-changes the fd is restored at its offset.
 */
#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *path = fd_path("changed.txt");
	int fd;

	wl_init(argc, argv);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "abcdef", 6) != 6 || lseek(fd, 2, SEEK_SET) != 2)
		return wl_fail("setup: %m");
	wl_ready();
	wl_wait_restored();
	if (lseek(fd, 0, SEEK_CUR) != 2)
		return wl_fail("offset lost");
	return wl_pass();
}
