/*
 * tree - a session of three levels: the root calls setsid(), child A makes
 * its own process group and forks grandchild G (in A's group), child B
 * stays in the root's group. After restore every process checks its own
 * pid, ppid, pgid and sid against the values recorded before; results come
 * back through MAP_SHARED memory and exit statuses. The root prints PASS.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

enum { ROOT, A, B, G, N };
static const char *names[N] = {"root", "A", "B", "G"};

struct ids {
	pid_t pid, ppid, pgid, sid;
};

struct shared {
	volatile int ready, go, done;
	struct ids want[N];
	volatile int bad[N];
};

static struct shared *sh;

static struct ids mine(void)
{
	return (struct ids){getpid(), getppid(), getpgid(0), getsid(0)};
}

static int same(struct ids a, struct ids b)
{
	return a.pid == b.pid && a.ppid == b.ppid && a.pgid == b.pgid && a.sid == b.sid;
}

/* A child: record, park until go, check, report, exit. */
static void child_body(int who)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sh->want[who] = mine();
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_SEQ_CST);
	wl_futex_wake(&sh->ready);
	while (!sh->go)
		wl_futex_wait(&sh->go, 0, NULL);
	sh->bad[who] = !same(mine(), sh->want[who]);
	__atomic_fetch_add(&sh->done, 1, __ATOMIC_SEQ_CST);
	wl_futex_wake(&sh->done);
}

static pid_t spawn_a(void)
{
	pid_t pid = fork(), g;
	int st;

	if (pid)
		return pid;
	if (setpgid(0, 0))
		_exit(2);
	g = fork();
	if (g == 0) {
		child_body(G);
		_exit(0);
	}
	child_body(A);
	/* G's exit status reaches the root through ours */
	_exit(g > 0 && waitpid(g, &st, 0) == g && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : 3);
}

int main(int argc, char **argv)
{
	pid_t a, b;
	int sa, sb;

	wl_init(argc, argv);
	if (getsid(0) != getpid() && setsid() < 0)
		return wl_fail("setsid: %m (started as a process group leader?)");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return wl_fail("mmap: %m");
	sh->want[ROOT] = mine();
	a = spawn_a();
	b = fork();
	if (b == 0) {
		child_body(B);
		_exit(0);
	}
	if (a < 0 || b < 0)
		return wl_fail("fork: %m");
	if (wl_wait_atleast(&sh->ready, 3, WL_TIMEOUT_SEC))
		return wl_fail("children did not start");

	wl_ready();
	wl_wait_restored();

	/*
	 * The root's parent lives outside the tree: after a restore into the
	 * caller's namespace it is the restoring process, so only the
	 * children's parents are compared.
	 */
	sh->want[ROOT].ppid = getppid();
	if (!same(mine(), sh->want[ROOT]))
		return wl_fail("root: pid/pgid/sid changed");
	if (getpgid(a) != a || getpgid(b) != getpid() || getsid(sh->want[G].pid) != getpid() ||
	    getpgid(sh->want[G].pid) != a)
		return wl_fail("root: groups or session of the children differ");
	sh->go = 1;
	wl_futex_wake(&sh->go);
	if (wl_wait_atleast(&sh->done, 3, WL_TIMEOUT_SEC))
		return wl_fail("children did not answer after restore");
	for (int i = A; i < N; i++)
		if (sh->bad[i])
			return wl_fail("%s: pid/ppid/pgid/sid changed", names[i]);
	if (waitpid(a, &sa, 0) != a || waitpid(b, &sb, 0) != b)
		return wl_fail("waitpid: %m");
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) || !WIFEXITED(sb) || WEXITSTATUS(sb))
		return wl_fail("children exit statuses 0x%x 0x%x", sa, sb);
	return wl_pass();
}
