/*
 * fd_cwd_deleted - a process whose working directory was removed while it
 * was in it comes back in a removed directory of the same name: its
 * /proc/self/cwd reads "PATH (deleted)", getcwd fails with ENOENT, and
 * nothing can be made in it.
 */
#include <sys/stat.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	const char *dir = fd_path("gone-cwd");
	char buf[4096], want[4200], cwd[4096];
	struct stat st;
	ssize_t n;

	wl_init(argc, argv);
	if (mkdir(dir, 0700) < 0 || chdir(dir) < 0 || rmdir(dir) < 0)
		return wl_fail("set up: %m");

	wl_ready();
	wl_wait_restored();

	n = readlink("/proc/self/cwd", buf, sizeof(buf) - 1);
	snprintf(want, sizeof(want), "%s (deleted)", dir);
	if (n < 0 || (buf[n] = '\0', strcmp(buf, want)))
		return wl_fail("cwd is `%s`, want `%s`", n < 0 ? "?" : buf, want);
	if (getcwd(cwd, sizeof(cwd)) || errno != ENOENT)
		return wl_fail("getcwd did not fail with ENOENT");
	if (stat(".", &st) < 0 || !S_ISDIR(st.st_mode) || st.st_nlink != 0)
		return wl_fail("cwd is not a removed directory");
	if (open("new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != ENOENT)
		return wl_fail("a file was made in the removed cwd");
	if (access(dir, F_OK) == 0)
		return wl_fail("the removed directory is back");
	return wl_pass();
}
