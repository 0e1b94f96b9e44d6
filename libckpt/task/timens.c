/*
 * libckpt/task/timens.c - a time namespace made for a thread's children
 * only: unshare(CLONE_NEWTIME) leaves the caller in its own namespace and
 * puts its children to come in the new one (/proc/TID/ns/time_for_children
 * differs from ns/time). Each such thread's threads[i] "timens_children"
 * holds that namespace's offsets, [monotonic s, ns, boottime s, ns] as
 * /proc/TID/timens_offsets shows them. Restore unshares a time namespace
 * in the thread (before its credentials drop CAP_SYS_ADMIN) and writes
 * the offsets from outside, before any child enters it. Threads that
 * shared one such namespace each get one of their own, with the same
 * offsets.
 *
 * A task already inside such a namespace (a child forked after the
 * unshare) is in another time namespace than the root: namespaces/ns.c
 * refuses it at checkpoint.
 */
#define LOG_PREFIX "timens: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* The namespace link /proc/TID/ns/NAME ("time:[4026531834]"), "" if it has none. */
static int ns_link(pid_t tid, const char *name, char *buf, size_t len, ckpt_err_t *err)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", tid, name);
	n = readlink(path, buf, len - 1);
	if (n < 0) {
		buf[0] = '\0';
		return errno == ENOENT ? 0 : ckpt_error(err, errno, "readlink %s", path);
	}
	buf[n] = '\0';
	return 0;
}

static int timens_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/timens_offsets", th->tid), *text = NULL;
	char now[64], children[64];
	struct proc_timens off;
	struct json *a;
	int ret;

	ret = ns_link(th->tid, "time", now, sizeof(now), err);
	if (ret == 0)
		ret = ns_link(th->tid, "time_for_children", children, sizeof(children), err);
	if (ret < 0 || !strcmp(now, children))
		return ret;
	ret = read_file_at(AT_FDCWD, path, 4096, &text, NULL, err);
	if (ret < 0)
		return ret;
	if (proc_parse_timens_offsets(text, &off, err) < 0)
		return ckpt_error_wrap(err, "%s", path);
	a = json_set(d->out, "timens_children", json_arr());
	json_push(a, json_int(off.mono_s));
	json_push(a, json_int(off.mono_ns));
	json_push(a, json_int(off.boot_s));
	json_push(a, json_int(off.boot_ns));
	return 0;
}

static int timens_parse_thread(const struct doc_at *at, const struct json *th,
			       struct thread_state *ts, ckpt_err_t *err)
{
	const struct json *a;
	struct doc_at here = DOC_KEY(at, "timens_children");
	size_t n;
	int ret = doc_opt_arr(at, th, "timens_children", 4, &a, &n, err);

	if (ret < 0 || !a)
		return ret;
	if (n != 4)
		return doc_error(err, &here, "%zu elements, want 4", n);
	for (size_t i = 0; i < 4; i++) {
		/* seconds within what the kernel takes (KTIME_SEC_MAX / 2), nanoseconds below 1e9
		 */
		int64_t lo = i & 1 ? 0 : -(INT64_C(1) << 32),
			hi = i & 1 ? 999999999 : INT64_C(1) << 32;

		ret = doc_elem_int(&here, a, i, lo, hi, &ts->timens_children[i], err);
		if (ret < 0)
			return ret;
	}
	ts->has_timens_children = true;
	return 0;
}

static int timens_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				 ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct rsys *rs = rthread_rsys(t, th);
	const int64_t *o = ts->timens_children;
	char path[64], val[128];
	int ret, fd, n;

	(void)rc;
	if (!ts->has_timens_children)
		return 0;
	ret = RSYS_OK(rs, NULL, err, SYS_unshare, CLONE_NEWTIME, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "unshare a time namespace for its children");
	snprintf(path, sizeof(path), "/proc/%d/timens_offsets", rs->tid);
	n = snprintf(val, sizeof(val),
		     "monotonic %" PRId64 " %" PRId64 "\nboottime %" PRId64 " %" PRId64 "\n", o[0],
		     o[1], o[2], o[3]);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	if (write(fd, val, n) != n)
		ret = ckpt_error(err, errno, "write %s: offsets of its children's time namespace",
				 path);
	close(fd);
	return ret;
}

static void timens_describe(FILE *out, const struct task_state *ts)
{
	for (size_t i = 0; i < ts->nthreads; i++) {
		const struct thread_state *th = &ts->threads[i];
		const int64_t *o = th->timens_children;

		if (th->has_timens_children)
			fprintf(out,
				"  timens:  thread %d: children's time namespace, monotonic "
				"%+" PRId64 ".%09" PRId64 "s, boottime %+" PRId64 ".%09" PRId64
				"s\n",
				th->tid, o[0], o[1], o[2], o[3]);
	}
}

const struct task_state_ops task_timens_ops = {
	.name = "timens",
	.dump_thread = timens_dump_thread,
	.parse_thread = timens_parse_thread,
	.restore_thread = timens_restore_thread,
	.describe = timens_describe,
};
