/*
 * fd_nsfd - fds on namespaces held open (/proc/self/ns/NAME of every kind,
 * one of them O_PATH, one a dup in a child): after restore each is on the
 * namespace of its kind the process is in, as ioctl(NS_GET_NSTYPE) and a
 * comparison with /proc/self/ns/NAME tell.
 *
 * Argument "gone": one more fd is on a UTS namespace no task is in any more
 * (a child's, made by unshare; the child has exited): the checkpoint must
 * refuse it, and after the go the fd is still on a UTS namespace other than
 * the process's own.
 */
#include <linux/nsfs.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static const struct {
	const char *name;
	int type;
} kinds[] = {
	{"net", CLONE_NEWNET},	     {"mnt", CLONE_NEWNS},    {"uts", CLONE_NEWUTS},
	{"ipc", CLONE_NEWIPC},	     {"pid", CLONE_NEWPID},   {"user", CLONE_NEWUSER},
	{"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* fd is on this process's namespace of kind i. */
static int on_own(int fd, size_t i, bool opath)
{
	char path[64];
	struct stat a, b;
	int type;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i].name);
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0)
		return wl_fail("stat %s: %m", path);
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return wl_fail("fd %d is not on this process's %s namespace", fd, kinds[i].name);
	/* an O_PATH fd takes no ioctl */
	if (!opath && (type = ioctl(fd, NS_GET_NSTYPE)) != kinds[i].type)
		return wl_fail("fd %d: NS_GET_NSTYPE %d, want %d (%m)", fd, type, kinds[i].type);
	if (opath != !!(fcntl(fd, F_GETFL) & O_PATH))
		return wl_fail("fd %d: O_PATH differs", fd);
	return 0;
}

/* A UTS namespace made by a child that then exits: an fd on it. */
static int orphan_uts(void)
{
	int up[2], down[2], fd, status;
	char path[64], c;
	pid_t pid;

	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		/* made, said, held until the parent has its fd (down closed) */
		c = unshare(CLONE_NEWUTS) == 0 ? 'y' : 'n';
		close(down[1]);
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &c, 1) != 1 || c != 'y')
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/ns/uts", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	close(down[1]);
	close(up[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	int fds[NKINDS], opath, ask[2], answer[2], gone = -1;
	bool refused = argc > 1 && !strcmp(argv[1], "gone");
	struct stat a, b;
	char path[64], c;
	pid_t pid;

	wl_init(argc, argv);
	for (size_t i = 0; i < NKINDS; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i].name);
		fds[i] = open(path, O_RDONLY | (i % 2 ? O_CLOEXEC : 0));
		if (fds[i] < 0)
			return wl_fail("open %s: %m", path);
	}
	opath = open("/proc/self/ns/net", O_PATH | O_CLOEXEC);
	if (opath < 0 || pipe2(ask, O_CLOEXEC) < 0 || pipe2(answer, O_CLOEXEC) < 0)
		return wl_fail("set up: %m");
	if (refused && (gone = orphan_uts()) < 0)
		return wl_fail("orphan UTS namespace: %m");
	/* a child holds the net fd too (inherited) and checks it after restore */
	pid = fork();
	if (pid < 0)
		return wl_fail("fork: %m");
	if (pid == 0) {
		if (read(ask[0], &c, 1) != 1)
			_exit(1);
		c = on_own(fds[0], 0, false) ? 'n' : 'y';
		_exit(write(answer[1], &c, 1) == 1 ? 0 : 1);
	}

	wl_ready();
	wl_wait_restored();

	for (size_t i = 0; i < NKINDS; i++) {
		if (on_own(fds[i], i, false))
			return 1;
		if (!(fcntl(fds[i], F_GETFD) & FD_CLOEXEC) != !(i % 2))
			return wl_fail("close-on-exec of the %s fd differs", kinds[i].name);
	}
	if (on_own(opath, 0, true))
		return 1;
	if (write(ask[1], "?", 1) != 1 || read(answer[0], &c, 1) != 1 || c != 'y')
		return wl_fail("the child's net fd is not on its namespace");
	if (waitpid(pid, NULL, 0) != pid)
		return wl_fail("waitpid: %m");
	if (gone >= 0 && (ioctl(gone, NS_GET_NSTYPE) != CLONE_NEWUTS || fstat(gone, &a) < 0 ||
			  stat("/proc/self/ns/uts", &b) < 0 || a.st_ino == b.st_ino))
		return wl_fail("the fd on the child's UTS namespace changed");
	return wl_pass();
}
