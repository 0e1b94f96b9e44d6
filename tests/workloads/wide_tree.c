/*
 * wide_tree N - a root and N-1 children (default 64), one level, as the
 * bench's tree: each child records its pid and parent, parks until told
 * the tree was restored, then checks both again. Results come back through
 * MAP_SHARED memory and exit statuses; the root prints PASS. For tests of
 * what restoring many processes costs, not of any one property.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define WIDE_MAX 4096

struct shared {
	volatile int ready, go, done;
	volatile int bad[WIDE_MAX];
};

static struct shared *sh;

static void child_body(int idx, pid_t parent)
{
	pid_t self = getpid();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	wl_futex_wake(&sh->ready);
	while (!sh->go)
		wl_futex_wait(&sh->go, 0, NULL);
	sh->bad[idx] = getpid() != self || getppid() != parent;
	__atomic_fetch_add(&sh->done, 1, __ATOMIC_SEQ_CST);
	wl_futex_wake(&sh->done);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 64, st;
	pid_t *kids;

	wl_init(argc, argv);
	if (n < 1 || n > WIDE_MAX)
		return wl_fail("%d processes: 1..%d", n, WIDE_MAX);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	kids = calloc(n, sizeof(*kids));
	if (sh == MAP_FAILED || !kids)
		return wl_fail("memory: %m");
	for (int i = 1; i < n; i++) {
		pid_t parent = getpid();

		kids[i] = fork();
		if (kids[i] < 0)
			return wl_fail("fork %d: %m", i);
		if (kids[i] == 0) {
			child_body(i, parent);
			_exit(0);
		}
	}
	if (wl_wait_atleast(&sh->ready, n - 1, WL_TIMEOUT_SEC))
		return wl_fail("children did not start");

	wl_ready();
	wl_wait_restored();

	sh->go = 1;
	wl_futex_wake(&sh->go);
	if (wl_wait_atleast(&sh->done, n - 1, WL_TIMEOUT_SEC))
		return wl_fail("%d of %d children answered after restore", sh->done, n - 1);
	for (int i = 1; i < n; i++) {
		if (sh->bad[i])
			return wl_fail("child %d: pid or parent changed", i);
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			return wl_fail("child %d: exit status 0x%x", i, st);
	}
	return wl_pass();
}
