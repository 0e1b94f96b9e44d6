/*
 * traced - a child traced by its parent (PTRACE_TRACEME) sits in a ptrace
 * stop by SIGTRAP. ckpt-oci cannot take a task another tracer holds: the
 * checkpoint must be refused with one line, and the tree go on untouched:
 * the parent resumes the child, which exits 0.
 */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	pid_t kid;
	int st;

	wl_init(argc, argv);
	kid = fork();
	if (kid < 0)
		return wl_fail("fork: %m");
	if (kid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(1);
		raise(SIGTRAP);
		_exit(0);
	}
	if (waitpid(kid, &st, 0) != kid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
		return wl_fail("child is not in its SIGTRAP stop (0x%x)", st);

	wl_ready();
	wl_wait_restored();

	/* still our tracee, still in the same stop: let it go without the signal */
	if (ptrace(PTRACE_CONT, kid, NULL, NULL))
		return wl_fail("PTRACE_CONT: %m");
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child: status 0x%x, want exit 0", st);
	return wl_pass();
}
