/*
 * shared_anon - a MAP_SHARED|MAP_ANONYMOUS region shared by parent and
 * child. After restore both see the pattern, and a write by one is seen by
 * the other (the sharing itself survived, not two private copies). The
 * child reports through the shared memory; the parent prints the verdict.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define WORDS (4UL << 20) / 8

struct shared {
	volatile int child_ready;
	volatile int go;	   /* parent -> child: restored, token written */
	volatile int done;	   /* child -> parent: result below is valid */
	volatile int result;	   /* 0 ok, else which check failed */
	volatile uint64_t token_p; /* written by the parent after restore */
	volatile uint64_t token_c; /* written by the child after restore */
	uint64_t data[WORDS];
};

static int check(struct shared *s)
{
	for (size_t i = 0; i < WORDS; i++)
		if (s->data[i] != wl_pattern(11, i))
			return -1;
	return 0;
}

static void child(struct shared *s)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	s->child_ready = 1;
	wl_futex_wake(&s->child_ready);
	/* Unbounded on purpose: the checkpoint happens while we sit here. */
	while (!s->go)
		wl_futex_wait(&s->go, 0, NULL);
	if (check(s))
		s->result = 1;
	else if (s->token_p != 0xfeedfacecafe0001ULL)
		s->result = 2;
	s->token_c = 0xfeedfacecafe0002ULL;
	s->done = 1;
	wl_futex_wake(&s->done);
	_exit(0);
}

int main(int argc, char **argv)
{
	static const char *why[] = {"", "child: pattern lost", "child: parent's write not seen"};
	struct shared *s;
	pid_t pid;
	int st;

	wl_init(argc, argv);
	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return wl_fail("mmap: %m");
	for (size_t i = 0; i < WORDS; i++)
		s->data[i] = wl_pattern(11, i);
	pid = fork();
	if (pid < 0)
		return wl_fail("fork: %m");
	if (pid == 0)
		child(s);
	if (wl_futex_wait_change(&s->child_ready, 0, WL_TIMEOUT_SEC))
		return wl_fail("child did not start");
	wl_ready();
	wl_wait_restored();
	if (check(s))
		return wl_fail("parent: pattern lost");
	s->token_p = 0xfeedfacecafe0001ULL;
	s->go = 1;
	wl_futex_wake(&s->go);
	if (wl_futex_wait_change(&s->done, 0, WL_TIMEOUT_SEC))
		return wl_fail("child never answered: sharing lost or child stuck");
	if (s->result)
		return wl_fail("%s", why[s->result]);
	if (s->token_c != 0xfeedfacecafe0002ULL)
		return wl_fail("parent: child's write not seen");
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child exit status 0x%x", st);
	return wl_pass();
}
