/*
 * fd_root_deleted - a process whose root directory (chroot) was removed
 * comes back in a removed directory of the same name: its root and cwd read
 * "PATH (deleted)" from its parent, "/" is an empty directory with no links,
 * ".." of "/" is "/", and nothing can be made in it.
 *
 * Argument "elsewhere": the child's cwd stays outside its root, where it
 * is after restore too (the root made again apart from it).
 *
 * The child chroots (it can reach nothing after that, so the parent speaks
 * the harness's protocol) and answers the parent's question over a pipe.
 */
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

/* How many of the fds 0..1023 are open (no /proc in the chroot). */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/*
 * In the chroot: 'y' if "/" is a removed, empty directory that takes
 * nothing, and the restore left no fd of its own (nfds open before).
 */
static char child_check(int nfds)
{
	struct stat root, up;

	if (open_fds() != nfds)
		return 'f';
	if (stat("/", &root) < 0 || !S_ISDIR(root.st_mode) || root.st_nlink != 0)
		return 'n';
	if (stat("/..", &up) < 0 || up.st_ino != root.st_ino || up.st_dev != root.st_dev)
		return 'u';
	if (open("/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != ENOENT)
		return 'c';
	return 'y';
}

static int link_is(pid_t pid, const char *what, const char *want)
{
	char l[64], buf[4096];
	ssize_t n;

	snprintf(l, sizeof(l), "/proc/%d/%s", pid, what);
	n = readlink(l, buf, sizeof(buf) - 1);
	if (n < 0)
		return wl_fail("readlink %s: %m", l);
	buf[n] = '\0';
	if (strcmp(buf, want))
		return wl_fail("%s of the child is `%s`, want `%s`", what, buf, want);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = fd_path("gone-root");
	int ask[2], answer[2], status;
	char want[4200], cwd[4096], l[64], c = 0;
	ssize_t n;
	bool elsewhere;
	pid_t pid;

	wl_init(argc, argv);
	elsewhere = argc > 1 && !strcmp(argv[1], "elsewhere");
	if (mkdir(dir, 0700) < 0 || pipe2(ask, O_CLOEXEC) < 0 || pipe2(answer, O_CLOEXEC) < 0)
		return wl_fail("set up: %m");
	pid = fork();
	if (pid < 0)
		return wl_fail("fork: %m");
	if (pid == 0) {
		int nfds;

		if (elsewhere)
			c = chroot(dir) < 0 ? 'e' : 'r';
		else
			c = chdir(dir) < 0 || chroot(".") < 0 ? 'e' : 'r';
		/* says it is in place (the parent removes it), then waits for the question */
		nfds = open_fds();

		if (write(answer[1], &c, 1) != 1 || c == 'e' || read(ask[0], &c, 1) != 1)
			_exit(1);
		c = child_check(nfds);
		_exit(write(answer[1], &c, 1) == 1 ? 0 : 1);
	}
	if (read(answer[0], &c, 1) != 1 || c != 'r')
		return wl_fail("the child did not get into its root");
	if (rmdir(dir) < 0)
		return wl_fail("rmdir: %m");
	snprintf(l, sizeof(l), "/proc/%d/cwd", pid);
	n = readlink(l, cwd, sizeof(cwd) - 1);
	if (n < 0)
		return wl_fail("readlink %s: %m", l);
	cwd[n] = '\0';

	wl_ready();
	wl_wait_restored();

	snprintf(want, sizeof(want), "%s (deleted)", dir);
	if (link_is(pid, "root", want) || link_is(pid, "cwd", elsewhere ? cwd : want))
		return 1;
	if (write(ask[1], "?", 1) != 1 || read(answer[0], &c, 1) != 1)
		return wl_fail("no answer from the child");
	if (c != 'y')
		return wl_fail("the child's root is not a removed directory (%c)", c);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("the child failed");
	if (access(dir, F_OK) == 0)
		return wl_fail("the removed directory is back");
	return wl_pass();
}
