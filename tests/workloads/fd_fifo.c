/*
 * fd_fifo - a FIFO on a path, opened at both ends, with bytes queued in it:
 * after restore the bytes are still there, in order, and new ones flow.
 */
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *path = fd_path("data.fifo");
	char buf[64];
	int r, w;

	wl_init(argc, argv);
	if (mkfifo(path, 0600) < 0)
		return wl_fail("mkfifo: %m");
	r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	w = open(path, O_WRONLY | O_CLOEXEC);
	if (r < 0 || w < 0 || write(w, "queued", 6) != 6)
		return wl_fail("fifo: %m");
	wl_ready();
	wl_wait_restored();
	if (write(w, "+new", 4) != 4)
		return wl_fail("write: %m");
	if (read(r, buf, sizeof(buf)) != 10 || memcmp(buf, "queued+new", 10))
		return wl_fail("fifo data lost or reordered");
	if (!(fcntl(r, F_GETFL) & O_NONBLOCK) || (fcntl(w, F_GETFL) & O_NONBLOCK))
		return wl_fail("fifo flags differ");
	if (read(r, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		return wl_fail("fifo not empty afterwards");
	return wl_pass();
}
