/*
 * memfd_exec - a program kept in a memfd and executed from it later, as
 * runtimes and loaders do: /bin/true copied into a memfd, the writable fd
 * swapped for a read-only reopen through /proc/self/fd, the memfd mapped
 * read-only (shared and private) as a loader would. After restore a forked
 * child execveat()s the fd (AT_EMPTY_PATH), and the memfd reopened through
 * /proc/self/map_files of its shared mapping, and must exit 0 each time:
 * any writer left on the memfd (an fd or a mapping opened for writing)
 * fails the exec with ETXTBSY.
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

extern char **environ;

/* Fork, execveat(fd); the child's exit status, or 256 + errno of the exec. */
static int run_fd(int fd)
{
	char *argv[] = {"true", NULL};
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
		_exit(errno == ETXTBSY ? 100 : 101);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	char buf[65536], path[64];
	int in, mfd, ro, status;
	struct stat st;
	ssize_t n;
	void *shared, *priv;

	wl_init(argc, argv);
	in = open("/bin/true", O_RDONLY | O_CLOEXEC);
	mfd = memfd_create("prog", MFD_CLOEXEC);
	if (in < 0 || mfd < 0)
		return wl_fail("open /bin/true, memfd_create: %m");
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(mfd, buf, n) != n)
			return wl_fail("copy: %m");
	close(in);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro < 0 || fstat(ro, &st) < 0)
		return wl_fail("reopen memfd read-only: %m");
	close(mfd);
	shared = mmap(NULL, st.st_size, PROT_READ, MAP_SHARED, ro, 0);
	priv = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, ro, 0);
	if (shared == MAP_FAILED || priv == MAP_FAILED)
		return wl_fail("mmap memfd: %m");
	status = run_fd(ro);
	if (status != 0)
		return wl_fail("exec from the memfd before the checkpoint: status %d", status);

	wl_ready();
	wl_wait_restored();

	if (memcmp(shared, "\177ELF", 4) || memcmp(priv, "\177ELF", 4))
		return wl_fail("the mappings lost the program");
	status = run_fd(ro);
	if (status == 100)
		return wl_fail("exec from the memfd after restore: ETXTBSY (a writer is left)");
	if (status != 0)
		return wl_fail("exec from the memfd after restore: status %d", status);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)shared,
		 (unsigned long)shared + ((st.st_size + 4095) & ~4095L));
	mfd = open(path, O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return wl_fail("open %s: %m", path);
	status = run_fd(mfd);
	if (status == 100)
		return wl_fail(
			"exec of the mapped memfd after restore: ETXTBSY (a writer is left)");
	if (status != 0)
		return wl_fail("exec of the mapped memfd after restore: status %d", status);
	return wl_pass();
}
