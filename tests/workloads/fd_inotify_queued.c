/*
 * fd_inotify_queued - an inotify fd with an event queued but not read: the
 * checkpoint must fail naming the fd (queued events cannot be put back)
 * and leave the tree running; after the go the event is still there.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	char buf[4096] __attribute__((aligned(8)));
	const char *dir = fd_path("watched");
	struct inotify_event *ev = (struct inotify_event *)buf;
	int in, wd;

	wl_init(argc, argv);
	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0 || mkdir(dir, 0700) < 0 || (wd = inotify_add_watch(in, dir, IN_CREATE)) < 0)
		return wl_fail("setup: %m");
	close(open(fd_path("watched/queued"), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	wl_ready();
	wl_wait_restored();
	if (read(in, buf, sizeof(buf)) <= 0)
		return wl_fail("queued event lost: %m");
	if (ev->wd != wd || !(ev->mask & IN_CREATE) || strcmp(ev->name, "queued"))
		return wl_fail("unexpected event wd %d mask %#x", ev->wd, ev->mask);
	return wl_pass();
}
