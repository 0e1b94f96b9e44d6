/*
 * orphan - a process whose parent already exited: the root is a child
 * subreaper, its child A forks B and exits, so B is reparented to the root
 * (and A reaped). After restore B still has the root as its parent, and
 * the root can still wait for it.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"
#include "wl_sys.h"

struct shared {
	volatile int b_ready, go, b_ok;
	volatile pid_t b;
};

int main(int argc, char **argv)
{
	struct shared *sh =
		mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t a, root = getpid();
	int status;

	wl_init(argc, argv);
	if (sh == MAP_FAILED || prctl(PR_SET_CHILD_SUBREAPER, 1))
		return wl_fail("setup: %m");
	a = fork();
	if (a == 0) {
		pid_t b = fork();

		if (b == 0) {
			while (getppid() != root)
				wl_msleep(1);
			sh->b = getpid();
			sh->b_ready = 1;
			wl_futex_wake(&sh->b_ready);
			wl_futex_wait_change(&sh->go, 0, WL_TIMEOUT_SEC);
			sh->b_ok = getppid() == root;
			_exit(7);
		}
		_exit(0);
	}
	if (waitpid(a, &status, 0) != a || wl_wait_atleast(&sh->b_ready, 1, WL_TIMEOUT_SEC))
		return wl_fail("orphan was not reparented");
	wl_ready();
	wl_wait_restored();
	sh->go = 1;
	wl_futex_wake(&sh->go);
	if (waitpid(sh->b, &status, 0) != sh->b)
		return wl_fail("root cannot wait for its adopted child: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 7 || !sh->b_ok)
		return wl_fail("adopted child: status 0x%x, parent kept %d", status, sh->b_ok);
	return wl_pass();
}
