/*
 * aio_ring - an AIO context (io_setup) with a completed read not yet
 * reaped: the checkpoint is refused with one line naming the AIO ring, and
 * the program goes on untouched, reaping its event with the data read.
 * Temp file in argv[1], $WL_TMPDIR or /tmp.
 */
#include <linux/aio_abi.h>
#include <stdbool.h>

#include "wl.h"
#include "wl_sys.h"

/* The head of the ring the kernel maps into the task (fs/aio.c). */
struct ring {
	unsigned id, nr, head, tail;
};

int main(int argc, char **argv)
{
	char path[256], data[4096], buf[4096];
	struct iocb cb = {0}, *cbs[1] = {&cb};
	struct io_event ev;
	aio_context_t ctx = 0;
	volatile struct ring *ring;
	const char *dir;
	double end;
	int fd;

	wl_init(argc, argv);
	dir = wl_tmpdir(argc > 1 ? argv[1] : NULL);
	snprintf(path, sizeof(path), "%s/wl-aio-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || unlink(path))
		return wl_fail("temp file in %s: %m", dir);
	if (syscall(SYS_io_setup, 8, &ctx) < 0)
		return wl_fail("io_setup: %m");
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = fd;
	cb.aio_buf = (uintptr_t)buf;
	cb.aio_nbytes = sizeof(buf);
	cb.aio_data = 0x5eed;
	if (syscall(SYS_io_submit, ctx, 1, cbs) != 1)
		return wl_fail("io_submit: %m");
	/* completed, not reaped: the event sits in the ring */
	ring = (volatile struct ring *)ctx;
	for (end = wl_now() + WL_TIMEOUT_SEC; ring->head == ring->tail; wl_msleep(1))
		if (wl_now() > end)
			return wl_fail("the read did not complete");

	wl_ready();
	wl_wait_restored();

	if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, NULL) != 1)
		return wl_fail("io_getevents: %m");
	if (ev.data != 0x5eed || ev.res != (long)sizeof(buf) || memcmp(buf, data, sizeof(buf)))
		return wl_fail("the event or the data read is wrong");
	if (syscall(SYS_io_destroy, ctx) < 0)
		return wl_fail("io_destroy: %m");
	return wl_pass();
}
