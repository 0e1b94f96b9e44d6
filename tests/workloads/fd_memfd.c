/*
 * fd_memfd - a sealed memfd keeps its name, content, offset and seals, and
 * two fds on it (dup) still share the offset.
 */
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	char link[256], buf[64];
	int fd, d;
	ssize_t l;

	wl_init(argc, argv);
	fd = memfd_create("wl-memfd", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (fd < 0 || write(fd, "memfd-content", 13) != 13)
		return wl_fail("memfd: %m");
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
		return wl_fail("seal: %m");
	lseek(fd, 6, SEEK_SET);
	d = dup(fd);
	wl_ready();
	wl_wait_restored();
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	l = readlink(buf, link, sizeof(link) - 1);
	link[l > 0 ? l : 0] = '\0';
	if (strncmp(link, "/memfd:wl-memfd", 15))
		return wl_fail("name `%s`", link);
	if (fcntl(fd, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return wl_fail("seals %#x", fcntl(fd, F_GET_SEALS));
	if (read(d, buf, 7) != 7 || memcmp(buf, "content", 7))
		return wl_fail("content or offset lost");
	if (lseek(fd, 0, SEEK_CUR) != 13)
		return wl_fail("dup does not share the offset");
	if (write(fd, "x", 1) != -1 || errno != EPERM)
		return wl_fail("grow seal not enforced");
	return wl_pass();
}
