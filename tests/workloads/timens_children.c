/*
 * timens_children - unshare(CLONE_NEWTIME) without entering it: the
 * process stays in its time namespace, its children to come get one with
 * CLOCK_MONOTONIC 100000 s and CLOCK_BOOTTIME 200000 s ahead. After
 * restore /proc/self/ns/time_for_children still differs from ns/time, and
 * a child forked then sees both clocks that far ahead of its parent's.
 * With "inside", a child forked after the unshare lives in the new
 * namespace through the checkpoint (refused: the tree cannot be forked
 * into it) and checks its clocks at the end.
 */
#include <sched.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <time.h>

#include "wl.h"
#include "wl_sys.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MONO_OFF 100000LL
#define BOOT_OFF 200000LL

static long long secs(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec;
}

static bool ns_differ(void)
{
	char a[64] = "", b[64] = "";

	if (readlink("/proc/self/ns/time", a, sizeof(a) - 1) < 0 ||
	    readlink("/proc/self/ns/time_for_children", b, sizeof(b) - 1) < 0)
		return false;
	return strcmp(a, b) != 0;
}

/* The clocks a new child sees, less ours: 0 when they are MONO_OFF and BOOT_OFF ahead. */
static const char *child_clocks(void)
{
	long long v[2], mono = secs(CLOCK_MONOTONIC), boot = secs(CLOCK_BOOTTIME);
	int p[2], status;
	pid_t pid;

	if (pipe(p))
		return "pipe failed";
	pid = fork();
	if (pid < 0)
		return "fork failed";
	if (pid == 0) {
		v[0] = secs(CLOCK_MONOTONIC);
		v[1] = secs(CLOCK_BOOTTIME);
		_exit(write(p[1], v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], v, sizeof(v)) != sizeof(v) || waitpid(pid, &status, 0) != pid || status)
		return "the child did not report its clocks";
	close(p[0]);
	if (llabs(v[0] - mono - MONO_OFF) > 5)
		return "a child's CLOCK_MONOTONIC is not 100000 s ahead";
	if (llabs(v[1] - boot - BOOT_OFF) > 5)
		return "a child's CLOCK_BOOTTIME is not 200000 s ahead";
	return NULL;
}

int main(int argc, char **argv)
{
	bool inside = argc > 1 && !strcmp(argv[1], "inside");
	const char *why;
	char buf[64];
	int fd, n, go[2] = {-1, -1}, status;
	pid_t child = -1;

	wl_init(argc, argv);
	if (unshare(CLONE_NEWTIME))
		return wl_fail("unshare(CLONE_NEWTIME): %m");
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	n = snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld 0\n", MONO_OFF, BOOT_OFF);
	if (fd < 0 || write(fd, buf, n) != n)
		return wl_fail("timens_offsets: %m");
	close(fd);
	if (!ns_differ())
		return wl_fail("ns/time_for_children is ns/time after the unshare");
	why = child_clocks();
	if (why)
		return wl_fail("before the checkpoint: %s", why);
	if (inside) {
		long long mono = secs(CLOCK_MONOTONIC);

		if (pipe(go) || (child = fork()) < 0)
			return wl_fail("fork: %m");
		if (child == 0) {
			char c;

			close(go[1]);
			if (read(go[0], &c, 1) != 1)
				_exit(2);
			_exit(secs(CLOCK_MONOTONIC) - mono >= MONO_OFF ? 0 : 1);
		}
		close(go[0]);
	}

	wl_ready();
	wl_wait_restored();

	if (!ns_differ())
		return wl_fail("after restore: ns/time_for_children is ns/time");
	why = child_clocks();
	if (why)
		return wl_fail("after restore: %s", why);
	if (inside) {
		if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) != child)
			return wl_fail("child: %m");
		if (status)
			return wl_fail("the child in the new namespace: status %#x", status);
	}
	return wl_pass();
}
