/*
 * ns_cgroup - the tree's own cgroups and cgroup namespace: /proc/self/cgroup
 * reads the same after restore (the namespace's root is the tree's
 * cgroup), and the pids limit still holds: after restore, exactly N
 * children can be created (N, the first argument, is pids.max less one for
 * the workload itself; before the checkpoint the harness' unshare process
 * shares the cgroup, so there only "some limit" is checked).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

static int read_cgroup(char *buf, size_t len)
{
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* Children we can create before fork() fails with EAGAIN (at most 1000). */
static int count_forks(void)
{
	int p[2], n = 0;
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		return -1;
	for (; n < 1000; n++) {
		pid = fork();
		if (pid == 0) {
			close(p[1]);
			_exit(read(p[0], &c, 1) != 0);
		}
		if (pid < 0)
			break;
	}
	if (n == 1000 || errno != EAGAIN)
		n = -1;
	close(p[0]);
	close(p[1]);
	while (wait(NULL) > 0)
		;
	return n;
}

int main(int argc, char **argv)
{
	char before[4096], after[4096];
	int want = argc > 1 ? atoi(argv[1]) : 0, n1, n2;

	wl_init(argc, argv);
	if (read_cgroup(before, sizeof(before)) < 0)
		return wl_fail("read /proc/self/cgroup: %m");
	n1 = count_forks();
	if (n1 < 0)
		return wl_fail("no pids limit before checkpoint");
	wl_ready();
	wl_wait_restored();
	if (read_cgroup(after, sizeof(after)) < 0)
		return wl_fail("read /proc/self/cgroup: %m");
	if (strcmp(before, after))
		return wl_fail("/proc/self/cgroup was\n%snow\n%s", before, after);
	n2 = count_forks();
	if (n2 != want)
		return wl_fail("could fork %d children (%d before), want %d", n2, n1, want);
	return wl_pass();
}
