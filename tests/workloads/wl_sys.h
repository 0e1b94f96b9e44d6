/*
 * tests/workloads/wl_sys.h - small helpers shared by several workloads:
 * futex wrappers, bounded waits, "is this thread blocked in syscall N".
 * Header-only so every workload stays one .c file plus wl.c.
 */
#ifndef WL_SYS_H
#define WL_SYS_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Every wait in a workload is bounded by this, so a lost wakeup fails. */
#define WL_TIMEOUT_SEC 60

static inline double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void wl_msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Shared (non-private) futex ops: the words may live in MAP_SHARED memory. */
static inline long wl_futex_wait(volatile int *w, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, FUTEX_WAIT, val, ts, NULL, 0);
}

static inline long wl_futex_wake(volatile int *w)
{
	return syscall(SYS_futex, w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Wait (bounded) until *w != val. Returns 0, or -1 on timeout. */
static inline int wl_futex_wait_change(volatile int *w, int val, int timeout_sec)
{
	double end = wl_now() + timeout_sec;
	struct timespec ts = {0, 100 * 1000000L};

	while (__atomic_load_n(w, __ATOMIC_SEQ_CST) == val) {
		if (wl_now() > end)
			return -1;
		wl_futex_wait(w, val, &ts);
	}
	return 0;
}

/* Wait (bounded) until *w >= target, for counters bumped by others. */
static inline int wl_wait_atleast(volatile int *w, int target, int timeout_sec)
{
	int v;

	while ((v = __atomic_load_n(w, __ATOMIC_SEQ_CST)) < target)
		if (wl_futex_wait_change(w, v, timeout_sec) < 0)
			return -1;
	return 0;
}

/* pthread_join with the workload timeout; 0 or -1 (thread stuck). */
static inline int wl_join(pthread_t t, void **ret)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WL_TIMEOUT_SEC;
	return pthread_timedjoin_np(t, ret, &ts) ? -1 : 0;
}

/*
 * Wait (bounded) until thread @tid of this process sleeps inside syscall
 * @nr, read from /proc/self/task/TID/syscall. This is what makes "the
 * checkpoint happens while the thread is blocked in the call" deterministic
 * instead of a race. Returns 0, or -1 on timeout.
 */
static inline int wl_wait_syscall_path(const char *path, long nr)
{
	double end = wl_now() + WL_TIMEOUT_SEC;
	char buf[256];

	while (wl_now() < end) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (buf[0] != 'r' && strtol(buf, NULL, 10) == nr)
				return 0;
		}
		wl_msleep(1);
	}
	return -1;
}

static inline int wl_wait_in_syscall(pid_t tid, long nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	return wl_wait_syscall_path(path, nr);
}

/* The same for another process (a child): /proc/PID/syscall. */
static inline int wl_wait_in_syscall_pid(pid_t pid, long nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	return wl_wait_syscall_path(path, nr);
}

/* Directory for temporary files: argv-given, else $WL_TMPDIR, else /tmp. */
static inline const char *wl_tmpdir(const char *arg)
{
	const char *d = arg ? arg : getenv("WL_TMPDIR");

	return d && *d ? d : "/tmp";
}

/* Find the /proc/self/maps line covering @addr into @line; 0 or -1. */
static inline int wl_maps_line(const void *addr, char *line, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long a = (unsigned long)addr, lo, hi;
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, len, f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
			line[strcspn(line, "\n")] = '\0';
			ret = 0;
			break;
		}
	fclose(f);
	return ret;
}

#endif
