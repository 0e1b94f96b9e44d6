/*
 * libckpt/check/check-cgroup.c - probes for the two freezers dump can use: the
 * cgroup v1 freezer (freezer.state) and cgroup v2 cgroup.freeze. Each
 * probe makes a cgroup named after the checking process, freezes a helper
 * in it, thaws it and removes the cgroup. check_cgroup_cleanup() repeats
 * the thaw/kill/remove from the checking process, so a probe that was
 * killed half-way leaves nothing behind (a v1-frozen task ignores SIGKILL
 * until thawed).
 */
#define LOG_PREFIX "check: "
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check/check.h"
#include "util/proc.h"
#include "util/util.h"

#define FREEZE_TIMEOUT_MS 2000

enum cg_kind { CG_V1_FREEZER, CG_V2 };

static char *cg_path(enum cg_kind kind)
{
	/* found as the freezer at dump finds it */
	cleanup_free char *mnt = proc_cgroup_mount(kind == CG_V2 ? "" : "freezer");

	if (!mnt)
		return NULL;
	return xasprintf("%s/ckpt-oci-check-%d", mnt, check_owner);
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write_all(fd, val, strlen(val));
}

/* Poll freezer.state: the v1 freezer has no change notification. */
static bool v1_wait_state(const char *dir, const char *want)
{
	cleanup_free char *path = xasprintf("%s/freezer.state", dir);
	struct timespec tick = {0, 1000000};
	ckpt_err_t err;

	for (int i = 0; i < FREEZE_TIMEOUT_MS; i++) {
		cleanup_free char *state = NULL;

		if (read_file_at(AT_FDCWD, path, 64, &state, NULL, &err) < 0)
			return false;
		if (!strncmp(state, want, strlen(want)))
			return true;
		nanosleep(&tick, NULL);
	}
	return false;
}

/* Wait for "frozen <want>" in cgroup.events, woken by POLLPRI on change. */
static bool v2_wait_frozen(int fd, int want)
{
	uint64_t deadline = now_ns() + FREEZE_TIMEOUT_MS * 1000000ULL;
	struct pollfd pfd = {.fd = fd, .events = POLLPRI};
	char buf[256], line[16];

	snprintf(line, sizeof(line), "frozen %d", want);
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		uint64_t now = now_ns();

		if (n < 0)
			return false;
		buf[n] = '\0';
		if (strstr(buf, line))
			return true;
		if (now >= deadline)
			return false;
		if (poll(&pfd, 1, (deadline - now) / 1000000 + 1) < 0 && errno != EINTR)
			return false;
	}
}

/* Thaw, kill every member, remove the cgroup. Quiet: it is a cleanup. */
static void cg_remove(enum cg_kind kind, const char *dir)
{
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);
	cleanup_file FILE *f = NULL;
	int pid;

	if (kind == CG_V1_FREEZER)
		(void)cg_write(dir, "freezer.state", "THAWED");
	else
		(void)cg_write(dir, "cgroup.freeze", "0");
	f = fopen(procs, "re");
	while (f && fscanf(f, "%d", &pid) == 1)
		(void)kill(pid, SIGKILL);
	(void)rmdir(dir);
}

void check_cgroup_cleanup(void)
{
	for (enum cg_kind k = CG_V1_FREEZER; k <= CG_V2; k++) {
		cleanup_free char *dir = cg_path(k);

		if (dir)
			cg_remove(k, dir);
	}
}

/* Make the cgroup and move a fresh helper into it. */
static pid_t cg_enter(const char *dir, struct probe_out *o)
{
	char buf[16];
	pid_t pid;
	int ret;

	if (mkdir(dir, 0755) < 0)
		return probe_errno(o, "mkdir %s", dir), -1;
	pid = check_spawn(NULL, NULL, NULL, o);
	if (pid < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%d", pid);
	ret = cg_write(dir, "cgroup.procs", buf);
	if (ret < 0) {
		errno = -ret;
		probe_errno(o, "move a task into %s", dir);
		check_kill(pid);
		return -1;
	}
	return pid;
}

static void v1_freeze(const char *dir, struct probe_out *o)
{
	uint64_t t = now_ns();
	int ret;

	ret = cg_write(dir, "freezer.state", "FROZEN");
	if (ret < 0) {
		errno = -ret;
		return (void)probe_errno(o, "write FROZEN");
	}
	if (!v1_wait_state(dir, "FROZEN"))
		return (void)probe_fail(o, "freezer.state never reached FROZEN");
	t = now_ns() - t;
	ret = cg_write(dir, "freezer.state", "THAWED");
	if (ret < 0) {
		errno = -ret;
		return (void)probe_errno(o, "write THAWED");
	}
	if (!v1_wait_state(dir, "THAWED"))
		return (void)probe_fail(o, "freezer.state never reached THAWED");
	probe_detail(o, "%.*s: froze a task in %.1f ms and thawed it",
		     (int)(strrchr(dir, '/') - dir), dir, t / 1e6);
}

void probe_cgroup_freezer(struct probe_out *o)
{
	cleanup_free char *dir = cg_path(CG_V1_FREEZER);
	pid_t pid;

	if (!dir)
		return (void)probe_fail(o, "no v1 freezer hierarchy mounted");
	pid = cg_enter(dir, o);
	if (pid < 0) {
		(void)rmdir(dir);
		return;
	}
	v1_freeze(dir, o);
	/* thaw before the kill: a frozen task would not die */
	cg_remove(CG_V1_FREEZER, dir);
	check_kill(pid);
	if (rmdir(dir) < 0 && errno != ENOENT && o->ok)
		probe_errno(o, "rmdir %s", dir);
}

static void v2_freeze(const char *dir, struct probe_out *o)
{
	cleanup_free char *events = xasprintf("%s/cgroup.events", dir);
	cleanup_close int fd = open(events, O_RDONLY | O_CLOEXEC);
	uint64_t t = now_ns();
	int ret;

	if (fd < 0)
		return (void)probe_errno(o, "open %s", events);
	ret = cg_write(dir, "cgroup.freeze", "1");
	if (ret < 0) {
		errno = -ret;
		return (void)probe_errno(o, "write cgroup.freeze");
	}
	if (!v2_wait_frozen(fd, 1))
		return (void)probe_fail(o, "cgroup.events never said frozen 1");
	t = now_ns() - t;
	ret = cg_write(dir, "cgroup.freeze", "0");
	if (ret < 0) {
		errno = -ret;
		return (void)probe_errno(o, "thaw");
	}
	if (!v2_wait_frozen(fd, 0))
		return (void)probe_fail(o, "cgroup.events never said frozen 0");
	probe_detail(o, "%.*s: froze a task in %.1f ms and thawed it",
		     (int)(strrchr(dir, '/') - dir), dir, t / 1e6);
}

void probe_cgroup_v2_freeze(struct probe_out *o)
{
	cleanup_free char *dir = cg_path(CG_V2);
	pid_t pid;

	if (!dir)
		return (void)probe_fail(o, "no cgroup2 mount");
	pid = cg_enter(dir, o);
	if (pid < 0) {
		(void)rmdir(dir);
		return;
	}
	v2_freeze(dir, o);
	cg_remove(CG_V2, dir);
	check_kill(pid);
	if (rmdir(dir) < 0 && errno != ENOENT && o->ok)
		probe_errno(o, "rmdir %s", dir);
}
