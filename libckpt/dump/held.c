/*
 * libckpt/dump/held.c - a tree left stopped, detached, for the operator to
 * resume or kill: a lazy migration whose page server lost node B before
 * node B had every page (migrate.c). Node B may run the tree by then, or
 * have killed it; from here nobody can tell (the last word may be what was
 * lost), so the tree is neither resumed nor killed.
 *
 * Each process gets SIGSTOP while still ptrace-stopped, so that it drops
 * into a group stop as it is detached, before a user instruction; a tree
 * with a cgroup of its own (a container's) has it frozen too once
 * detached, which holds against a SIGCONT from outside. The tree is
 * written down in /run/ckpt-oci/held/ROOT-START: "stop PID START" a
 * process, "cgroup DIR" the cgroup frozen, "netlock PID START" the
 * network of the tree's own namespace, locked by the checkpoint and left
 * so (node B may answer for its addresses by now). Nothing undoes it by itself
 * (ckpt_recover leaves it): only ckpt_held_release, from `ckpt-oci recover
 * --resume ROOT` or `--kill ROOT`, each process checked by its start time.
 */
#define LOG_PREFIX "held: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"
#include "namespaces/ns.h"
#include "util/journal.h"
#include "util/log.h"
#include "util/util.h"

#define HELD_DIR "/run/ckpt-oci/held"

static char *held_path(pid_t root, unsigned long long start)
{
	return xasprintf(HELD_DIR "/%d-%llu", root, start);
}

static void held_append(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void held_append(const char *path, const char *fmt, ...)
{
	cleanup_close int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	char line[4200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fd < 0 || write_all(fd, line, MIN(n, (int)sizeof(line) - 1)) < 0)
		pr_warn("write %s: %m, ignoring (the tree stays stopped all the same)", path);
}

void held_stop(struct ckpt_ctx *ctx, bool netlock)
{
	unsigned long long start = journal_starttime(ctx->root->pid);
	cleanup_free char *path = held_path(ctx->root->pid, start);

	if ((mkdir("/run/ckpt-oci", 0700) < 0 && errno != EEXIST) ||
	    (mkdir(HELD_DIR, 0700) < 0 && errno != EEXIST))
		pr_warn("mkdir " HELD_DIR ": %m, ignoring");
	(void)unlink(path);
	/* written down first: a run killed now leaves a record, not a tree nobody knows of */
	if (netlock)
		held_append(path, "netlock %d %llu\n", ctx->root->pid, start);
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];

		if (t->state != 'Z')
			held_append(path, "stop %d %llu\n", t->pid, journal_starttime(t->pid));
	}
	for (int i = 0; i < ctx->ntasks; i++)
		if (ctx->tasks[i]->state != 'Z' && kill(ctx->tasks[i]->pid, SIGSTOP) < 0)
			pr_warn("SIGSTOP to %d: %m", ctx->tasks[i]->pid);
	pr_info("tree of %d left stopped: %s", ctx->root->pid, path);
}

void held_freeze(struct ckpt_ctx *ctx, struct freezer *fz)
{
	cleanup_free char *path = NULL;
	ckpt_err_t e = {0};

	if (fz->dirfd < 0)
		return;
	if (freezer_freeze(fz, &e) < 0) {
		pr_warn("%s: the tree is held by SIGSTOP alone", e.msg);
		return;
	}
	fz->frozen = false; /* stays frozen: freezer_close must not thaw it */
	path = held_path(ctx->root->pid, journal_starttime(ctx->root->pid));
	held_append(path, "cgroup %s\n", fz->path);
}

static int write_str(const char *dir, const char *file, const char *val)
{
	cleanup_free char *p = xasprintf("%s/%s", dir, file);
	cleanup_close int fd = open(p, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -errno;
}

/*
 * Record path undone: its cgroup thawed first (a SIGCONT to a frozen task
 * would be lost: it stays stopped once thawed), then each process that is
 * still the one written down gets SIGCONT (kill_it: SIGKILL). Returns how
 * many did.
 */
static int held_undo(const char *path, bool kill_it, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	char dir[4096];
	unsigned long long start;
	int pid, ret, n = 0;

	ret = read_file_at(AT_FDCWD, path, 1 << 22, &buf, NULL, err);
	if (ret < 0)
		return ret;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (sscanf(l, "netlock %d %llu", &pid, &start) == 2 && pid > 0 &&
		    journal_starttime(pid) == start)
			ns_unlock_all(pid);
		if (sscanf(l, "cgroup %4095[^\n]", dir) != 1 || dir[0] != '/')
			continue;
		if (write_str(dir, "cgroup.freeze", "0") < 0)
			(void)write_str(dir, "freezer.state", "THAWED");
	}
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (sscanf(l, "stop %d %llu", &pid, &start) != 2 || pid <= 0 ||
		    journal_starttime(pid) != start)
			continue;
		/* SIGCONT wakes even a pid namespace's init, which ignores it */
		(void)kill(pid, kill_it ? SIGKILL : SIGCONT);
		n++;
	}
	(void)unlink(path);
	return n;
}

/* The record of root's tree (NULL: none). */
static char *held_find(pid_t root)
{
	unsigned long long start = journal_starttime(root);
	char *path;

	if (!start)
		return NULL;
	path = held_path(root, start);
	if (access(path, F_OK) == 0)
		return path;
	free(path);
	return NULL;
}

int ckpt_held_release(pid_t root, bool kill_it, ckpt_err_t *err)
{
	cleanup_free char *path = held_find(root);
	int ret;

	if (!path)
		return ckpt_error_msg(err, ESRCH, "no tree of %d is held stopped here", root);
	ret = held_undo(path, kill_it, err);
	if (ret < 0)
		return ret;
	return ret ? 0 : ckpt_error_msg(err, ESRCH, "the tree of %d is gone", root);
}

int ckpt_held_list(void (*report)(pid_t root, void *arg), void *arg)
{
	cleanup_dir DIR *d = opendir(HELD_DIR);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		unsigned long long start;
		int root;

		if (sscanf(de->d_name, "%d-%llu", &root, &start) != 2)
			continue;
		/* the tree gone (killed by the operator): its record goes too */
		if (journal_starttime(root) != start) {
			(void)unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		report(root, arg);
		n++;
	}
	return n;
}
