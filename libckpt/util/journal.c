/*
 * libckpt/util/journal.c - the run's journal (see journal.h). Kept in
 * memory and rewritten whole (temporary file, rename) at each change: a
 * few lines, a few times per run. Process-wide, like the log: one run per
 * process, and a worker's journal is its own (keyed by pid).
 */
#define LOG_PREFIX "journal: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/journal.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define JOURNAL_MAX 256

static char *entries[JOURNAL_MAX]; /* "KIND ARG", NULL when struck off */
static pid_t owner;		   /* the pid the file is named after */
static bool broken;		   /* could not write: warned once */

unsigned long long journal_starttime(pid_t pid)
{
	cleanup_free char *path = xasprintf("/proc/%d", pid);
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_stat st;
	ckpt_err_t e = {0};

	if (fd < 0 || proc_read_stat(fd, &st, &e) < 0 || st.state == 'Z' || st.state == 'X')
		return 0;
	return st.starttime;
}

static char *journal_path(pid_t pid)
{
	return xasprintf(JOURNAL_DIR "/%d-%llu", pid, journal_starttime(pid));
}

/* Write the live entries (or remove the file when there is none). */
static void journal_write(void)
{
	cleanup_free char *path = journal_path(owner), *tmp = xasprintf("%s.tmp", path);
	cleanup_file FILE *f = NULL;
	bool any = false;

	for (int i = 0; i < JOURNAL_MAX; i++)
		any |= entries[i] != NULL;
	if (!any) {
		(void)unlink(path);
		return;
	}
	if ((mkdir("/run/ckpt-oci", 0700) < 0 && errno != EEXIST) ||
	    (mkdir(JOURNAL_DIR, 0700) < 0 && errno != EEXIST) || !(f = fopen(tmp, "we"))) {
		if (!broken)
			pr_warn("cannot write %s: %m; a kill now would leave its changes behind",
				path);
		broken = true;
		return;
	}
	for (int i = 0; i < JOURNAL_MAX; i++)
		if (entries[i])
			fprintf(f, "%s\n", entries[i]);
	if (fflush(f) != 0 || rename(tmp, path) < 0) {
		pr_warn("write %s: %m, ignoring", path);
		(void)unlink(tmp);
	}
}

int journal_add(const char *kind, const char *fmt, ...)
{
	char *arg;
	va_list ap;

	if (owner != getpid()) {
		/* a forked child starts with its parent's entries: they are not its own */
		for (int i = 0; i < JOURNAL_MAX; i++)
			free(entries[i]), entries[i] = NULL;
		owner = getpid();
	}
	va_start(ap, fmt);
	if (vasprintf(&arg, fmt, ap) < 0)
		abort();
	va_end(ap);
	for (int i = 0; i < JOURNAL_MAX; i++) {
		if (entries[i])
			continue;
		entries[i] = xasprintf("%s %s", kind, arg);
		free(arg);
		journal_write();
		return i;
	}
	free(arg);
	pr_warn("journal full, `%s` not recorded", kind);
	return -1;
}

void journal_done(int id)
{
	if (id < 0 || id >= JOURNAL_MAX || !entries[id] || owner != getpid())
		return;
	free(entries[id]);
	entries[id] = NULL;
	journal_write();
}

void journal_done_match(const char *kind, const char *arg)
{
	cleanup_free char *line = xasprintf("%s %s", kind, arg);

	for (int i = 0; owner == getpid() && i < JOURNAL_MAX; i++)
		if (entries[i] && !strcmp(entries[i], line)) {
			journal_done(i);
			return;
		}
}

void journal_keep(const char *kind)
{
	bool changed = false;

	if (owner != getpid())
		return;
	for (int i = 0; i < JOURNAL_MAX; i++) {
		size_t n = kind ? strlen(kind) : 0;

		if (!entries[i] || (kind && (strncmp(entries[i], kind, n) || entries[i][n] != ' ')))
			continue;
		free(entries[i]);
		entries[i] = NULL;
		changed = true;
	}
	if (changed)
		journal_write();
}

/* "PID-START" of a live process: its journal is not ours to undo. */
static bool owner_alive(const char *name)
{
	unsigned long long start;
	int pid, end = 0;

	if (sscanf(name, "%d-%llu%n", &pid, &start, &end) != 2 || name[end])
		return true; /* not a journal (a .tmp being written) */
	return start && journal_starttime(pid) == start;
}

static int recover_one(int dirfd, const char *name,
		       int (*fn)(const char *kind, const char *arg, void *data), void *data)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free char *buf = NULL;
	char *lines[JOURNAL_MAX + 1];
	struct stat a, b;
	int n = 0;
	ckpt_err_t e = {0};

	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
		return 0; /* gone, or another ckpt-oci is at it */
	/* the file may have been recovered and removed before we locked it */
	if (fstat(fd, &a) < 0 || fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0 ||
	    a.st_ino != b.st_ino)
		return 0;
	if (read_file_at(dirfd, name, 1 << 20, &buf, NULL, &e) < 0)
		return -e.code;
	for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l && n < JOURNAL_MAX;
	     l = strtok_r(NULL, "\n", &save))
		lines[n++] = l;
	while (n-- > 0) {
		char *sp = strchr(lines[n], ' ');

		if (!sp)
			continue;
		*sp = '\0';
		(void)fn(lines[n], sp + 1, data);
	}
	(void)unlinkat(dirfd, name, 0);
	return 0;
}

int journal_recover(int (*fn)(const char *kind, const char *arg, void *data), void *data,
		    ckpt_err_t *err)
{
	cleanup_close int dirfd = open(JOURNAL_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;

	if (dirfd < 0)
		return errno == ENOENT ? 0 : ckpt_error(err, errno, "open %s", JOURNAL_DIR);
	d = fdopendir(dup(dirfd));
	if (!d)
		return ckpt_error(err, errno, "read %s", JOURNAL_DIR);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || owner_alive(de->d_name))
			continue;
		(void)recover_one(dirfd, de->d_name, fn, data);
	}
	closedir(d);
	return 0;
}
