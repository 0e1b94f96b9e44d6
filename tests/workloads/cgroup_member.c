/*
 * cgroup_member - every task and thread back in its own cgroups, with
 * their limits: below the cgroup it starts in, the workload makes a/, b/
 * and c/ in the v1 pids hierarchy (pids.max 50, 40, 30) and puts itself in
 * a, one of its threads in b (v1 per-thread) and its child in c; with "v2"
 * as argument also t/p and t/q (threaded) in the unified hierarchy, itself
 * in t/p and the thread in t/q (cgroup.threads).
 *
 * After restore /proc/PID/task/TID/cgroup must read as before for the
 * leader, the thread and the child, and the limits must be there. The
 * cgroup filesystems are reached through mounts of its own, in a helper
 * with a private mount namespace: inside a cgroup namespace they show its
 * root, so the same code checks a tree with or without one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define V1 "/tmp/wl-cg-pids"
#define V2 "/tmp/wl-cg-v2"

/*
 * The thread and the child answer 's' on their command pipe with their
 * own /proc/thread-self/cgroup on their answer pipe, and end on 'q': the
 * pid namespace's ids do not name them in the host's /proc.
 */
static int thread_cmd[2], thread_ans[2];
static pid_t thread_tid;

static int read_text(const char *path, char *buf, size_t len);

static void serve(int cmd, int ans)
{
	char c, buf[4096];

	for (;;) {
		ssize_t n = read(cmd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == 'q')
			return;
		if (read_text("/proc/thread-self/cgroup", buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		if (write(ans, buf, strlen(buf) + 1) < 0)
			return;
	}
}

static void *thread_main(void *arg __attribute__((unused)))
{
	__atomic_store_n(&thread_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	serve(thread_cmd[0], thread_ans[1]);
	return NULL;
}

/* Ask a server for its cgroups: the text up to its NUL. */
static int ask(int cmd, int ans, char *buf, size_t len)
{
	size_t off = 0;

	if (write(cmd, "s", 1) != 1)
		return -1;
	while (off < len) {
		ssize_t n = read(ans, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
		if (!buf[off - 1])
			return 0;
	}
	return -1;
}

static int read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

/* The path of hierarchy "ctl" (e.g. "pids", "") in a /proc/PID/cgroup text. */
static int cg_path(const char *text, const char *ctl, char *out, size_t len)
{
	char want[64];
	const char *p;

	snprintf(want, sizeof(want), ":%s:", ctl);
	for (p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *c = strchr(p, ':');

		if (c && !strncmp(c, want, strlen(want))) {
			c += strlen(want);
			snprintf(out, len, "%.*s", (int)strcspn(c, "\n"), c);
			return 0;
		}
	}
	return -1;
}

static int put(const char *dir, const char *file, const char *val)
{
	char path[4096];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

/* In a helper: our own mounts of the hierarchies, private to it. */
static int mount_own(int v2)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	if ((mkdir(V1, 0700) < 0 && errno != EEXIST) ||
	    mount("cgroup", V1, "cgroup", 0, "pids") < 0)
		return -1;
	if (v2 && ((mkdir(V2, 0700) < 0 && errno != EEXIST) ||
		   mount("cgroup2", V2, "cgroup2", 0, NULL) < 0))
		return -1;
	return 0;
}

/* Run fn in a helper process with the cgroup mounts; its exit status. */
static int in_helper(int v2, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(mount_own(v2) < 0 ? 100 : fn(arg));
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct setup {
	int v2;
	pid_t self, tid, child;
	char pids[1024], unified[1024]; /* our cgroups at the start */
};

static int make(const char *base, const char *sub, const char *max)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s%s/%s", V1, base, sub);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	return max ? put(dir, "pids.max", max) : 0;
}

static int setup_fn(void *arg)
{
	struct setup *s = arg;
	char dir[2048], id[32];

	if (make(s->pids, "a", "50") || make(s->pids, "b", "40") || make(s->pids, "c", "30"))
		return 1;
	snprintf(dir, sizeof(dir), "%s%s/a", V1, s->pids);
	snprintf(id, sizeof(id), "%d", s->self);
	if (put(dir, "cgroup.procs", id))
		return 2;
	snprintf(dir, sizeof(dir), "%s%s/b", V1, s->pids);
	snprintf(id, sizeof(id), "%d", s->tid);
	if (put(dir, "tasks", id))
		return 3;
	snprintf(dir, sizeof(dir), "%s%s/c", V1, s->pids);
	snprintf(id, sizeof(id), "%d", s->child);
	if (put(dir, "cgroup.procs", id))
		return 4;
	if (!s->v2)
		return 0;
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = {"t", "t/p", "t/q"};

		snprintf(dir, sizeof(dir), "%s%s/%s", V2, strcmp(s->unified, "/") ? s->unified : "",
			 sub[i]);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return 5;
		if (i && put(dir, "cgroup.type", "threaded"))
			return 6;
	}
	snprintf(dir, sizeof(dir), "%s%s/t/p", V2, strcmp(s->unified, "/") ? s->unified : "");
	snprintf(id, sizeof(id), "%d", s->self);
	if (put(dir, "cgroup.procs", id))
		return 7;
	snprintf(dir, sizeof(dir), "%s%s/t/q", V2, strcmp(s->unified, "/") ? s->unified : "");
	snprintf(id, sizeof(id), "%d", s->tid);
	if (put(dir, "cgroup.threads", id))
		return 8;
	return 0;
}

struct check {
	const char *path; /* in the pids hierarchy */
	const char *want;
};

static int check_fn(void *arg)
{
	const struct check *c = arg;
	char file[4200], got[64];

	snprintf(file, sizeof(file), "%s%s/pids.max", V1, c->path);
	if (read_text(file, got, sizeof(got)) < 0)
		return 1;
	return strncmp(got, c->want, strlen(c->want)) || got[strlen(c->want)] != '\n' ? 2 : 0;
}

static int child_cmd[2], child_ans[2];

/* The cgroup texts of the leader, the thread and the child. */
static int snapshot(char txt[3][4096])
{
	if (read_text("/proc/thread-self/cgroup", txt[0], 4096) < 0)
		return -1;
	if (ask(thread_cmd[1], thread_ans[0], txt[1], 4096) < 0)
		return -1;
	return ask(child_cmd[1], child_ans[0], txt[2], 4096);
}

int main(int argc, char **argv)
{
	static const char *const who[] = {"leader", "thread", "child"};
	static const char *const limit[] = {"50", "40", "30"};
	static char before[3][4096], after[3][4096];
	struct setup s = {.v2 = argc > 1 && !strcmp(argv[1], "v2")};
	pthread_t t;
	char self[4096];
	int ret;

	wl_init(argc, argv);
	if (pipe(thread_cmd) < 0 || pipe(thread_ans) < 0 || pipe(child_cmd) < 0 ||
	    pipe(child_ans) < 0)
		return wl_fail("pipe: %m");
	if (pthread_create(&t, NULL, thread_main, NULL))
		return wl_fail("pthread_create");
	while (!__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST))
		sched_yield();
	s.child = fork();
	if (s.child == 0) {
		serve(child_cmd[0], child_ans[1]);
		_exit(0);
	}
	s.self = getpid();
	s.tid = thread_tid;
	if (read_text("/proc/self/cgroup", self, sizeof(self)) < 0 ||
	    cg_path(self, "pids", s.pids, sizeof(s.pids)) < 0 ||
	    (s.v2 && cg_path(self, "", s.unified, sizeof(s.unified)) < 0))
		return wl_fail("our cgroups: %m");
	if (!strcmp(s.pids, "/"))
		s.pids[0] = '\0';
	ret = in_helper(s.v2, setup_fn, &s);
	if (ret)
		return wl_fail("setting up the cgroups failed at step %d", ret);
	if (snapshot(before) < 0)
		return wl_fail("read cgroups: %m");
	wl_ready();
	wl_wait_restored();
	if (snapshot(after) < 0)
		return wl_fail("read cgroups after restore: %m");
	for (int i = 0; i < 3; i++) {
		struct check c = {.want = limit[i]};
		char path[4096];

		if (strcmp(before[i], after[i]))
			return wl_fail("%s's cgroups were\n%snow\n%s", who[i], before[i], after[i]);
		if (cg_path(after[i], "pids", path, sizeof(path)) < 0)
			return wl_fail("%s: no pids cgroup", who[i]);
		c.path = path;
		ret = in_helper(s.v2, check_fn, &c);
		if (ret)
			return wl_fail("%s's pids cgroup %s: pids.max is not %s (%d)", who[i], path,
				       limit[i], ret);
	}
	if (write(thread_cmd[1], "q", 1) != 1 || write(child_cmd[1], "q", 1) != 1)
		return wl_fail("write: %m");
	pthread_join(t, NULL);
	waitpid(s.child, NULL, 0);
	return wl_pass();
}
