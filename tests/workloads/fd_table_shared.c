/*
 * fd_table_shared - fd tables shared other than as usual. By default a
 * child made with clone(CLONE_FILES) without CLONE_THREAD shares its
 * parent's table: an fd it closes is closed for the parent too. With
 * "thread", a thread that called unshare(CLONE_FILES) has a table of its
 * own: an fd it opens is not the main thread's. Both are refused at
 * checkpoint; the program checks the sharing again at the end.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int cmd[2], done[2], probe = -1;
static char stack[64 << 10] __attribute__((aligned(16)));

/* The CLONE_FILES child: each byte on cmd is an fd to close; it answers. */
static int child_fn(void *arg)
{
	unsigned char c;

	(void)arg;
	/* it holds the write end of cmd too (one table): it would outlive a failed parent */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (read(cmd[0], &c, 1) == 1) {
		close(c);
		if (write(done[1], "d", 1) != 1)
			return 1;
	}
	return 0;
}

/* The unshared thread: opens an fd in its table, tells its number, waits. */
static void *thread_fn(void *arg)
{
	char c;

	(void)arg;
	if (unshare(CLONE_FILES) || (probe = open("/dev/null", O_RDONLY)) < 0) {
		probe = -2;
		return NULL;
	}
	if (write(done[1], "t", 1) != 1)
		return NULL;
	while (read(cmd[0], &c, 1) == 1)
		if (write(done[1], fcntl(probe, F_GETFD) >= 0 ? "y" : "n", 1) != 1)
			break;
	return NULL;
}

/* The child closes probe: the parent must see it closed. */
static const char *check_child(void)
{
	unsigned char c;

	probe = open("/dev/null", O_RDONLY);
	if (probe < 0 || probe > 255)
		return "open /dev/null failed";
	c = probe;
	if (write(cmd[1], &c, 1) != 1 || read(done[0], &c, 1) != 1)
		return "the child does not answer";
	if (fcntl(probe, F_GETFD) >= 0)
		return "an fd the CLONE_FILES child closed is still open in the parent";
	return NULL;
}

/* The thread's fd is open in its table, and not in ours. */
static const char *check_thread(int ours)
{
	char c;

	if (write(cmd[1], "c", 1) != 1 || read(done[0], &c, 1) != 1)
		return "the thread does not answer";
	if (c != 'y')
		return "the thread's own fd is not open in its table";
	if (fcntl(ours, F_GETFD) >= 0)
		return "the main thread sees the unshared thread's fd";
	return NULL;
}

int main(int argc, char **argv)
{
	bool thread = argc > 1 && !strcmp(argv[1], "thread");
	const char *why;
	pthread_t th;
	pid_t child = -1;
	int status, ours = -1;
	char c;

	wl_init(argc, argv);
	if (pipe(cmd) || pipe(done))
		return wl_fail("pipe: %m");
	if (thread) {
		if (pthread_create(&th, NULL, thread_fn, NULL) || read(done[0], &c, 1) != 1 ||
		    probe < 0)
			return wl_fail("the thread could not unshare its fd table");
		ours = probe;
		why = check_thread(ours);
	} else {
		child = clone(child_fn, stack + sizeof(stack), CLONE_FILES | SIGCHLD, NULL);
		if (child < 0)
			return wl_fail("clone: %m");
		why = check_child();
	}
	if (why)
		return wl_fail("before the checkpoint: %s", why);

	wl_ready();
	wl_wait_restored();

	why = thread ? check_thread(ours) : check_child();
	if (why)
		return wl_fail("at the end: %s", why);
	if (!thread) {
		close(cmd[1]);
		if (waitpid(child, &status, 0) != child || status)
			return wl_fail("child: status %#x", status);
	}
	return wl_pass();
}
