/*
 * fd_inotify - an inotify fd watching a directory (create) and a file
 * (modify): after restore a new file in the directory and a write to the
 * file are both reported, with the watch descriptors seen before.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	int in, wd_dir, wd_file, fd, got = 0;
	const char *dir = fd_path("watched"), *file = fd_path("watched.txt");
	ssize_t n;

	wl_init(argc, argv);
	if (mkdir(dir, 0700) < 0 || (fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0)
		return wl_fail("setup: %m");
	in = inotify_init1(IN_CLOEXEC);
	wd_dir = inotify_add_watch(in, dir, IN_CREATE);
	/* a removed watch leaves a gap in the wd numbers */
	inotify_rm_watch(in, inotify_add_watch(in, "/", IN_ACCESS));
	wd_file = inotify_add_watch(in, file, IN_MODIFY);
	if (in < 0 || wd_dir < 0 || wd_file < 0)
		return wl_fail("inotify: %m");
	n = read(in, buf, sizeof(buf)); /* the IN_IGNORED of the removed watch */
	wl_ready();
	wl_wait_restored();
	close(open(fd_path("watched/new"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	if (write(fd, "m", 1) != 1)
		return wl_fail("write: %m");
	while (got != 3) {
		n = read(in, buf, sizeof(buf));
		if (n <= 0)
			return wl_fail("read: %m");
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->wd == wd_dir && (ev->mask & IN_CREATE) && !strcmp(ev->name, "new"))
				got |= 1;
			else if (ev->wd == wd_file && (ev->mask & IN_MODIFY))
				got |= 2;
			else
				return wl_fail("unexpected event wd %d mask %#x", ev->wd, ev->mask);
			p += sizeof(*ev) + ev->len;
		}
	}
	return wl_pass();
}
