/*
 * libckpt/check/check-ns.c - probes for what restore builds the process tree
 * with: clone3 set_tid and ns_last_pid inside a fresh pid namespace, time
 * namespace offsets, and unsharing each namespace kind.
 */
#define LOG_PREFIX "check: "
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "check/check.h"
#include "util/uapi.h"
#include "util/util.h"

#define CHOSEN_PID    100
#define LAST_PID      199
#define TIMENS_OFFSET 86400 /* seconds added to CLOCK_MONOTONIC */

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Runs as pid 1 of a new pid namespace. */
static void set_tid_init(struct probe_out *o, void *arg)
{
	pid_t tid = CHOSEN_PID;
	struct ckpt_clone_args a = {
		.exit_signal = SIGCHLD,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};
	long pid;
	int code;

	pid = syscall(__NR_clone3, &a, sizeof(a));
	if (pid == 0)
		_exit(syscall(SYS_getpid) == CHOSEN_PID ? 0 : 1);
	if (pid < 0)
		return (void)probe_errno(o, "clone3 with set_tid %d", CHOSEN_PID);
	code = check_wait_exit(pid);
	if (pid != CHOSEN_PID)
		return (void)probe_fail(o, "asked for pid %d, clone3 returned %ld", CHOSEN_PID,
					pid);
	if (code != 0)
		return (void)probe_fail(o, "the child does not see itself as pid %d", CHOSEN_PID);
	probe_detail(o, "pid %d chosen in a new pid namespace", CHOSEN_PID);
}

void probe_clone3_set_tid(struct probe_out *o)
{
	if (unshare(CLONE_NEWPID) < 0)
		return (void)probe_errno(o, "unshare(CLONE_NEWPID)");
	check_in_child(set_tid_init, NULL, o);
}

/* Runs as pid 1 of a new pid namespace: ns_last_pid acts on that namespace. */
static void last_pid_init(struct probe_out *o, void *arg)
{
	char buf[16];
	int fd, len;
	pid_t pid;

	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return (void)probe_errno(o, "open /proc/sys/kernel/ns_last_pid");
	len = snprintf(buf, sizeof(buf), "%d", LAST_PID);
	if (write(fd, buf, len) != len) {
		probe_errno(o, "write /proc/sys/kernel/ns_last_pid");
		close(fd);
		return;
	}
	close(fd);
	pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return (void)probe_errno(o, "fork");
	(void)check_wait_exit(pid);
	if (pid != LAST_PID + 1)
		return (void)probe_fail(o, "wrote %d, next fork got pid %d", LAST_PID, pid);
	probe_detail(o, "wrote %d, next fork got pid %d", LAST_PID, pid);
}

void probe_ns_last_pid(struct probe_out *o)
{
	if (unshare(CLONE_NEWPID) < 0)
		return (void)probe_errno(o, "unshare(CLONE_NEWPID)");
	check_in_child(last_pid_init, NULL, o);
}

/* Runs in the new time namespace; arg is the parent's CLOCK_MONOTONIC. */
static void timens_child(struct probe_out *o, void *arg)
{
	const struct timespec *before = arg;
	struct timespec now;
	long diff;

	/* through the vdso, as a restored program would read it */
	clock_gettime(CLOCK_MONOTONIC, &now);
	diff = now.tv_sec - before->tv_sec;
	if (diff < TIMENS_OFFSET || diff > TIMENS_OFFSET + 5)
		return (void)probe_fail(o, "CLOCK_MONOTONIC moved by %ld s, offset was %d s", diff,
					TIMENS_OFFSET);
	probe_detail(o, "offset of %d s seen on CLOCK_MONOTONIC", TIMENS_OFFSET);
}

void probe_time_ns(struct probe_out *o)
{
	struct timespec before;
	char buf[64];
	int fd, len;

	if (unshare(CLONE_NEWTIME) < 0)
		return (void)probe_errno(o, "unshare(CLONE_NEWTIME)");
	/* offsets can only be set before the first task enters the namespace */
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return (void)probe_errno(o, "open /proc/self/timens_offsets");
	len = snprintf(buf, sizeof(buf), "monotonic %d 0", TIMENS_OFFSET);
	if (write(fd, buf, len) != len) {
		probe_errno(o, "write /proc/self/timens_offsets");
		close(fd);
		return;
	}
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &before);
	check_in_child(timens_child, &before, o);
}

void probe_namespaces(struct probe_out *o)
{
	static const struct {
		const char *name;
		int flag;
	} kinds[] = {
		{"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},  {"net", CLONE_NEWNET},
		{"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"cgroup", CLONE_NEWCGROUP},
	};
	char good[64] = "", bad[160] = "";

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		pid_t pid = fork();
		int code;

		if (pid == 0)
			_exit(unshare(kinds[i].flag) < 0 ? errno : 0);
		code = pid < 0 ? errno : check_wait_exit(pid);
		if (code == 0) {
			snprintf(good + strlen(good), sizeof(good) - strlen(good), "%s%s",
				 good[0] ? " " : "", kinds[i].name);
			continue;
		}
		snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), "%s%s: %s",
			 bad[0] ? ", " : "", kinds[i].name,
			 code > 0 ? strerror(code) : "child killed");
	}
	if (bad[0])
		probe_fail(o, "%s (works: %s)", bad, good[0] ? good : "none");
	else
		probe_detail(o, "%s", good);
}
