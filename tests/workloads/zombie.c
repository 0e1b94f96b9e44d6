/*
 * zombie - a child exits with code 42 before the checkpoint and is not
 * reaped. After restore /proc/PID/stat shows it in state Z, and waitpid()
 * returns it with status 42.
 */
#include <stdio.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces and parens */
	return p && p[1] == ' ' ? p[2] : '?';
}

int main(int argc, char **argv)
{
	siginfo_t si;
	pid_t pid;
	int st;

	wl_init(argc, argv);
	pid = fork();
	if (pid < 0)
		return wl_fail("fork: %m");
	if (pid == 0)
		_exit(42);
	/* wait for the exit without reaping it */
	if (waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		return wl_fail("waitid: %m");
	if (proc_state(pid) != 'Z')
		return wl_fail("child is not a zombie before the checkpoint");

	wl_ready();
	wl_wait_restored();

	if (proc_state(pid) != 'Z')
		return wl_fail("child %d is in state %c, want Z", pid, proc_state(pid));
	if (waitpid(pid, &st, WNOHANG) != pid)
		return wl_fail("waitpid(%d) did not return the zombie: %m", pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 42)
		return wl_fail("zombie status 0x%x, want exit 42", st);
	return wl_pass();
}
