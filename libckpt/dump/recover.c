/*
 * libckpt/dump/recover.c - undo what a killed ckpt-oci left outside the
 * tree, from its journal (util/journal.h): thaw the cgroup it froze, take
 * the lock table out of the tree's network namespace, remove a half bundle
 * or a runtime state directory, kill what is left in a cgroup a restore
 * made and remove it.
 *
 * A worker outlives the ckpt-oci the user kills and rolls back itself;
 * this is for the worker killed too (SIGKILL to it, the OOM killer), and
 * for a killed restore, whose tree dies with it (PTRACE_O_EXITKILL).
 */
#define LOG_PREFIX "recover: "
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "namespaces/ns.h"
#include "util/journal.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/util.h"

struct recover {
	void (*report)(const char *what);
	int n;
};

static void say(struct recover *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct recover *r, const char *fmt, ...)
{
	char what[4200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	r->n++;
	if (r->report)
		r->report(what);
}

static int write_str(const char *dir, const char *file, const char *val)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
}

static void recover_thaw(struct recover *r, const char *dir)
{
	if (write_str(dir, "freezer.state", "THAWED") == 0 ||
	    write_str(dir, "cgroup.freeze", "0") == 0)
		say(r, "thawed cgroup %s", dir);
}

/* A cgroup a restore made: whatever still runs in it is that restore's. */
static void recover_cgroup(struct recover *r, const char *dir)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	cleanup_free char *procs = xasprintf("%s/cgroup.procs", dir);

	for (int i = 0; i < 400; i++) {
		cleanup_free char *buf = NULL;
		ckpt_err_t e = {0};

		if (rmdir(dir) == 0) {
			say(r, "removed cgroup %s", dir);
			return;
		}
		if (errno != EBUSY)
			return; /* ENOENT: never made, or removed */
		if (read_file_at(AT_FDCWD, procs, 1 << 20, &buf, NULL, &e) == 0)
			for (char *s = NULL, *l = strtok_r(buf, "\n", &s); l;
			     l = strtok_r(NULL, "\n", &s))
				(void)kill(atoi(l), SIGKILL);
		nanosleep(&ts, NULL);
	}
	pr_warn("cgroup %s still busy, left", dir);
}

static int recover_entry(const char *kind, const char *arg, void *data)
{
	struct recover *r = data;
	unsigned long long start;
	int pid;

	if (!strcmp(kind, "thaw")) {
		recover_thaw(r, arg);
	} else if (!strcmp(kind, "netlock")) {
		if (sscanf(arg, "%d %llu", &pid, &start) == 2 && journal_starttime(pid) == start) {
			ns_unlock_all(pid);
			say(r, "unlocked the network of %d", pid);
		}
	} else if (!strcmp(kind, "rmtree")) {
		if (*arg == '/' && access(arg, F_OK) == 0) {
			(void)bundle_rmtree(AT_FDCWD, arg);
			say(r, "removed %s", arg);
		}
	} else if (!strcmp(kind, "cgroup")) {
		if (*arg == '/')
			recover_cgroup(r, arg);
	} else {
		pr_warn("unknown journal entry `%s`, ignoring", kind);
	}
	return 0;
}

static void lock_removed(const char *path, void *data)
{
	pr_debug("removed stale lock file %s", path);
}

int ckpt_recover(void (*report)(const char *what), ckpt_err_t *err)
{
	struct recover r = {report, 0};
	int ret = journal_recover(recover_entry, &r, err);

	/* the lock files of killed runs: nobody holds them, nothing to report */
	(void)lockfile_sweep(lock_removed, NULL);
	return ret < 0 ? ret : r.n;
}
