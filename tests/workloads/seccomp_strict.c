/*
 * seccomp_strict - a child in seccomp strict mode (SECCOMP_SET_MODE_STRICT:
 * only read, write, _exit, sigreturn) blocked in read() on a pipe. After
 * restore the parent writes a byte; the child answers through the other
 * pipe (so read and write still work), then calls getppid(), which strict
 * mode must still punish with SIGKILL.
 */
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	int down[2], up[2], status;
	char c = 0;
	pid_t child;

	wl_init(argc, argv);
	if (pipe(down) || pipe(up))
		return wl_fail("pipe: %m");
	child = fork();
	if (child < 0)
		return wl_fail("fork: %m");
	if (child == 0) {
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL))
			syscall(SYS_exit, 3);
		if (syscall(SYS_read, down[0], &c, 1) != 1)
			syscall(SYS_exit, 4);
		c++;
		syscall(SYS_write, up[1], &c, 1);
		syscall(SYS_getppid); /* killed here */
		syscall(SYS_exit, 5);
	}
	if (wl_wait_in_syscall_pid(child, SYS_read))
		return wl_fail("child never blocked in read");
	wl_ready();
	wl_wait_restored();
	c = 41;
	if (write(down[1], &c, 1) != 1 || read(up[0], &c, 1) != 1 || c != 42)
		return wl_fail("strict child did not answer (got %d)", c);
	if (waitpid(child, &status, 0) != child)
		return wl_fail("waitpid: %m");
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return wl_fail("forbidden syscall not killed (status 0x%x)", status);
	return wl_pass();
}
