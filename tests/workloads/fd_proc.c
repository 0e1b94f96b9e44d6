/*
 * fd_proc - /proc files held open come back made for the restored tree,
 * never refused as "changed": the task's own /proc/self/status (read part
 * way: its offset kept), its child's /proc/PID/cmdline, and /proc/self as
 * a directory fd used with openat. After restore each shows the live
 * process (the same pid), and reading goes on where it was.
 */
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	char path[64], buf[4096], want[64];
	int st_fd, cmd_fd, dir_fd, sync[2], f, status;
	ssize_t n;
	pid_t kid;

	wl_init(argc, argv);
	if (pipe(sync) < 0)
		return wl_fail("pipe: %m");
	kid = fork();
	if (kid == 0) {
		char c;

		_exit(read(sync[0], &c, 1) == 1 ? 0 : 1);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", kid);
	st_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	cmd_fd = open(path, O_RDONLY | O_CLOEXEC);
	dir_fd = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (kid < 0 || st_fd < 0 || cmd_fd < 0 || dir_fd < 0 || read(st_fd, buf, 6) != 6)
		return wl_fail("open /proc files: %m");

	wl_ready();
	wl_wait_restored();

	if (lseek(st_fd, 0, SEEK_CUR) != 6)
		return wl_fail("offset in /proc/self/status: %lld",
			       (long long)lseek(st_fd, 0, SEEK_CUR));
	n = pread(st_fd, buf, sizeof(buf) - 1, 0);
	snprintf(want, sizeof(want), "\nPid:\t%d\n", getpid());
	if (n <= 0 || (buf[n] = '\0', !strstr(buf, want)))
		return wl_fail("/proc/self/status is not this process's");
	n = pread(cmd_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0 || !strstr(buf, "fd_proc"))
		return wl_fail("the child's cmdline: %zd bytes", n);
	f = openat(dir_fd, "stat", O_RDONLY | O_CLOEXEC);
	n = f < 0 ? -1 : read(f, buf, sizeof(buf) - 1);
	if (n <= 0 || atoi(buf) != getpid())
		return wl_fail("openat(/proc/self fd, stat) is not this process's");
	if (write(sync[1], "x", 1) != 1 || waitpid(kid, &status, 0) != kid || status)
		return wl_fail("child: %#x", status);
	return wl_pass();
}
