/*
 * libckpt/dump/freezer.c - stop a whole cgroup at once before seizing it.
 *
 * When the tree has a cgroup of its own (every process in it belongs to
 * the tree), freezing it first means no task forks or spawns a thread
 * while we attach: one pass attaches every thread, then we thaw, and each
 * thread drops into its ptrace stop without running user code. cgroup v1
 * (freezer.state) and v2 (cgroup.freeze, completion seen through poll() on
 * cgroup.events) are both handled. Every error path thaws: a task frozen by
 * the v1 freezer ignores even SIGKILL.
 */
#define LOG_PREFIX "freezer: "
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "dump/freezer.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/* Is pid the root or a descendant of it? */
static bool in_tree(pid_t pid, pid_t root)
{
	for (int depth = 0; pid > 1 && depth < 4096; depth++) {
		cleanup_free char *path = xasprintf("/proc/%d/stat", pid), *buf = NULL;
		struct proc_stat st;
		ckpt_err_t e = {0};

		if (pid == root)
			return true;
		if (read_file_at(AT_FDCWD, path, 4096, &buf, NULL, &e) < 0 ||
		    proc_parse_stat(buf, &st, &e) < 0)
			return false;
		pid = st.ppid;
	}
	return pid == root;
}

/* Every process of the cgroup belongs to the tree, and there is one. */
static bool cgroup_is_tree(int dirfd, pid_t root)
{
	cleanup_free char *procs = NULL;
	ckpt_err_t e = {0};
	char *save = NULL;
	int n = 0;

	if (read_file_at(dirfd, "cgroup.procs", 1 << 22, &procs, NULL, &e) < 0)
		return false;
	for (char *t = strtok_r(procs, "\n", &save); t; t = strtok_r(NULL, "\n", &save), n++)
		if (!in_tree(atoi(t), root))
			return false;
	return n > 0;
}

static int open_cgroup(struct freezer *fz, const char *dir, ckpt_err_t *err)
{
	fz->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fz->dirfd < 0)
		return ckpt_error(err, errno, "open cgroup `%s`", dir);
	snprintf(fz->path, sizeof(fz->path), "%s", dir);
	fz->v2 = faccessat(fz->dirfd, "cgroup.freeze", F_OK, 0) == 0;
	if (!fz->v2 && faccessat(fz->dirfd, "freezer.state", F_OK, 0) < 0)
		return ckpt_error_msg(err, ENOTSUP, "cgroup `%s` has no freezer", dir);
	return 0;
}

int freezer_find(struct freezer *fz, pid_t root, const char *given, ckpt_err_t *err)
{
	memset(fz, 0, sizeof(*fz));
	fz->dirfd = -1;
	if (given)
		return open_cgroup(fz, given, err);
	for (int v2 = 0; v2 < 2; v2++) {
		/* the hierarchies `ckpt-oci check` probes: v1 "freezer", then v2 */
		const char *ctl = v2 ? "" : "freezer";
		cleanup_free char *dir = NULL, *mnt = proc_cgroup_mount(ctl);
		cleanup_free char *cg = proc_cgroup_path(root, ctl);
		ckpt_err_t e = {0};

		if (!mnt || !cg || !strcmp(cg, "/"))
			continue;
		dir = xasprintf("%s%s", mnt, cg);
		if (open_cgroup(fz, dir, &e) < 0) {
			freezer_close(fz);
			continue;
		}
		if (cgroup_is_tree(fz->dirfd, root))
			return 0;
		freezer_close(fz);
	}
	return 0; /* no cgroup of its own: seize thread by thread */
}

static int write_at(int dirfd, const char *name, const char *val, ckpt_err_t *err)
{
	int ret = write_file_at(dirfd, name, val, strlen(val), 0644, err);

	return ret;
}

/* v1 has no notification: re-read freezer.state every 200 us, bounded. */
static int wait_v1(struct freezer *fz, ckpt_err_t *err)
{
	struct timespec ts = {0, 200 * 1000};

	for (int i = 0; i < 50000; i++) {
		cleanup_free char *st = NULL;
		int ret = read_file_at(fz->dirfd, "freezer.state", 64, &st, NULL, err);

		if (ret < 0)
			return ret;
		if (!strncmp(st, "FROZEN", 6))
			return 0;
		nanosleep(&ts, NULL);
	}
	return ckpt_error_msg(err, ETIMEDOUT, "cgroup `%s` did not freeze", fz->path);
}

/* v2: cgroup.events says "frozen 1"; poll() wakes on each change. */
static int wait_v2(struct freezer *fz, ckpt_err_t *err)
{
	cleanup_close int fd = openat(fz->dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	char buf[512];

	if (fd < 0)
		return ckpt_error(err, errno, "open cgroup.events");
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = {fd, POLLPRI, 0};
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			return ckpt_error(err, errno, "read cgroup.events");
		buf[n] = '\0';
		if (strstr(buf, "frozen 1"))
			return 0;
		if (poll(&p, 1, 10000) == 0)
			break;
	}
	return ckpt_error_msg(err, ETIMEDOUT, "cgroup `%s` did not freeze", fz->path);
}

/* Frozen already: v1 FROZEN (or FREEZING), v2 cgroup.freeze 1. */
static bool is_frozen(struct freezer *fz)
{
	cleanup_free char *st = NULL;
	ckpt_err_t e = {0};

	if (read_file_at(fz->dirfd, fz->v2 ? "cgroup.freeze" : "freezer.state", 64, &st, NULL, &e) <
	    0)
		return false;
	return fz->v2 ? st[0] == '1' : strncmp(st, "THAWED", 6) != 0;
}

int freezer_freeze(struct freezer *fz, ckpt_err_t *err)
{
	int ret;

	fz->was_frozen = is_frozen(fz);
	ret = write_at(fz->dirfd, fz->v2 ? "cgroup.freeze" : "freezer.state",
		       fz->v2 ? "1" : "FROZEN", err);
	if (ret < 0)
		return ret;
	fz->frozen = true;
	ret = fz->v2 ? wait_v2(fz, err) : wait_v1(fz, err);
	if (ret < 0)
		freezer_thaw(fz);
	else
		pr_info("froze cgroup %s (v%d)", fz->path, fz->v2 ? 2 : 1);
	return ret;
}

void freezer_thaw(struct freezer *fz)
{
	ckpt_err_t e = {0};

	if (!fz->frozen)
		return;
	if (write_at(fz->dirfd, fz->v2 ? "cgroup.freeze" : "freezer.state", fz->v2 ? "0" : "THAWED",
		     &e) < 0)
		pr_warn("thaw %s: %s", fz->path, e.msg);
	fz->frozen = false;
}

int freezer_restore_state(struct freezer *fz, ckpt_err_t *err)
{
	int ret;

	if (fz->dirfd < 0 || !fz->was_frozen)
		return 0;
	ret = freezer_freeze(fz, err);
	fz->frozen = false; /* stays frozen: freezer_close must not thaw it */
	fz->was_frozen = true;
	return ret;
}

void freezer_close(struct freezer *fz)
{
	freezer_thaw(fz);
	if (fz->dirfd >= 0)
		close(fz->dirfd);
	fz->dirfd = -1;
}
