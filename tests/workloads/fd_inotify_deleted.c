/*
 * fd_inotify_deleted - an inotify watch on a file that was unlinked while
 * open (the watch and the fd keep the inode): after restore the watch, at
 * its wd, reports a write through the fd, and closing the last fd reports
 * the inode's end (IN_DELETE_SELF, then IN_IGNORED). A second watch on the
 * directory is still there.
 *
 * Argument "mapped": the file is only mapped (its fd closed), so no fd
 * holds it: the checkpoint must refuse it; after the go, unmapping it ends
 * the watch as before.
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static char ev[4096] __attribute__((aligned(8)));

/* Every event of in until none is left: the masks of wd or'ed. */
static uint32_t drain(int in, int wd)
{
	uint32_t mask = 0;
	ssize_t n;

	while ((n = read(in, ev, sizeof(ev))) > 0)
		for (char *p = ev; p < ev + n;) {
			struct inotify_event *e = (void *)p;

			if (e->wd == wd)
				mask |= e->mask;
			p += sizeof(*e) + e->len;
		}
	return mask;
}

int main(int argc, char **argv)
{
	const char *dir = fd_path("inodir"), *file = fd_path("inodir/watched");
	int in, f, wd, dwd;
	uint32_t m;

	wl_init(argc, argv);
	if (mkdir(dir, 0700) < 0)
		return wl_fail("mkdir: %m");
	f = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f < 0 || in < 0 || write(f, "before", 6) != 6)
		return wl_fail("set up: %m");
	dwd = inotify_add_watch(in, dir, IN_CREATE);
	wd = inotify_add_watch(in, file, IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF);
	if (dwd < 0 || wd < 0 || unlink(file) < 0)
		return wl_fail("watch, unlink: %m");
	/* the unlink's IN_ATTRIB (link count), read before the checkpoint */
	if (!(drain(in, wd) & IN_ATTRIB))
		return wl_fail("no IN_ATTRIB for the unlink");

	if (argc > 1 && !strcmp(argv[1], "mapped")) {
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);

		if (m == MAP_FAILED || close(f) < 0)
			return wl_fail("mmap: %m");
		wl_ready();
		wl_wait_restored();
		if (drain(in, wd) & IN_DELETE_SELF)
			return wl_fail("the watch ended while the file was mapped");
		munmap(m, 4096);
		m = NULL;
		if (!(drain(in, wd) & IN_IGNORED))
			return wl_fail("unmapping the file did not end the watch");
		return wl_pass();
	}

	wl_ready();
	wl_wait_restored();

	if (write(f, "after", 5) != 5)
		return wl_fail("write: %m");
	m = drain(in, wd);
	if (!(m & IN_MODIFY))
		return wl_fail("no IN_MODIFY on the removed file after restore (%#x)", m);
	close(f);
	m = drain(in, wd);
	if ((m & (IN_DELETE_SELF | IN_IGNORED)) != (IN_DELETE_SELF | IN_IGNORED))
		return wl_fail("closing the last fd did not end the watch (%#x)", m);
	close(open(fd_path("inodir/new"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	if (!(drain(in, dwd) & IN_CREATE))
		return wl_fail("the directory's watch is gone");
	return wl_pass();
}
