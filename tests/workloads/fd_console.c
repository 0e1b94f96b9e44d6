/*
 * fd_console - the console and a virtual terminal held open come back as
 * the same devices (5:1 and 4:1), with their flags; nothing is written to
 * them.
 *
 * Mode "removed": the virtual terminal is opened through a node the program
 * made and removed, which no path leads to any more: the checkpoint
 * refuses it, and the fd still works after.
 */
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "wl.h"
#include "wl_sys.h"

static int check(int fd, dev_t want, int flags, const char *what)
{
	struct stat st;
	int fl = fcntl(fd, F_GETFL);

	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != want)
		return wl_fail("%s is device %u:%u, want %u:%u", what, major(st.st_rdev),
			       minor(st.st_rdev), major(want), minor(want));
	if (fl < 0 || (fl & (O_ACCMODE | O_NONBLOCK)) != flags)
		return wl_fail("%s flags %#o, want %#o", what, fl & (O_ACCMODE | O_NONBLOCK),
			       flags);
	return 0;
}

int main(int argc, char **argv)
{
	bool removed = argc > 1 && !strcmp(argv[1], "removed");
	char node[64];
	int con, vt;

	wl_init(argc, argv);
	con = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (removed) {
		snprintf(node, sizeof(node), "/tmp/ckpt-wl-vt-%d", getpid());
		if (mknod(node, S_IFCHR | 0600, makedev(4, 1)) < 0)
			return wl_fail("mknod %s: %m", node);
		vt = open(node, O_RDONLY | O_NOCTTY | O_NONBLOCK);
		unlink(node);
	} else {
		vt = open("/dev/tty1", O_RDONLY | O_NOCTTY | O_NONBLOCK);
	}
	if (con < 0 || vt < 0)
		return wl_fail("open the console and tty1: %m");

	wl_ready();
	wl_wait_restored();

	if (check(con, makedev(5, 1), O_RDWR, "the console") ||
	    check(vt, makedev(4, 1), O_RDONLY | O_NONBLOCK, "tty1"))
		return 1;
	if (!(fcntl(con, F_GETFD) & FD_CLOEXEC) || (fcntl(vt, F_GETFD) & FD_CLOEXEC))
		return wl_fail("close-on-exec flags changed");
	return wl_pass();
}
