/*
 * libckpt/task/prctl.c - the small settings of a process kept by prctl()
 * and /proc: name ("comm", and each thread's threads[i].comm), exit signal,
 * personality, oom_score_adj, cwd and root (a deleted root: made again
 * as the cwd, or apart from it, by the restored process, then entered
 * with chroot), umask, parent-death signal
 * ("pdeathsig", and each thread's own), child subreaper, dumpable, and
 * each thread's audit loginuid ("loginuid"; "sessionid" is saved to be
 * shown). personality,
 * umask, oom_score_adj and cwd are set by the restored process itself
 * before it is taken over (restore/restore-child.c); the rest here, while
 * the task is still privileged; dumpable and the parent-death signal last,
 * after the credentials: a change of euid, egid, fsuid or fsgid
 * (commit_creds) resets both.
 *
 * The audit session id cannot be restored: the kernel hands out a new one
 * whenever loginuid is written, and nothing sets it. A task whose loginuid
 * had to be written comes back in a new session, said in the log.
 */
#define LOG_PREFIX "prctl: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "engine.h"
#include "files/files.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

static int read_int_file(int procfd, const char *name, int base, long *v, ckpt_err_t *err)
{
	cleanup_free char *s = NULL;
	int ret = read_file_at(procfd, name, 64, &s, NULL, err);

	if (ret < 0)
		return ret;
	*v = strtol(s, NULL, base);
	return 0;
}

/* An int a prctl(PR_GET_*) writes at its second argument. */
static int prctl_get_int(struct rsys *rs, int op, int *v, ckpt_err_t *err)
{
	int ret = RSYS_OK(rs, NULL, err, SYS_prctl, op, rsys_at(rs, 0), 0, 0, 0, 0);

	return ret < 0 ? ret : rsys_get(rs, 0, v, sizeof(*v), err);
}

static int prctl_dump(struct task_dump *d, ckpt_err_t *err)
{
	struct task *t = d->t;
	char link[2][4096];
	ssize_t n;
	long v, r;
	int ret, iv;

	json_set(d->out, "comm", json_str(d->stat->comm));
	json_set(d->out, "exit_signal", json_int(d->stat->exit_signal));
	ret = read_int_file(t->procfd, "personality", 16, &v, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "personality", json_hex(v));
	ret = read_int_file(t->procfd, "oom_score_adj", 10, &v, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "oom_score_adj", json_int(v));
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "root" : "cwd";

		n = readlinkat(t->procfd, name, link[i], sizeof(link[i]) - 1);
		if (n < 0)
			return ckpt_error(err, errno, "readlink /proc/%d/%s", t->pid, name);
		link[i][n] = '\0';
		json_set(d->out, name, json_str(link[i]));
	}
	ret = prctl_get_int(d->rs, PR_GET_PDEATHSIG, &iv, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "pdeathsig", json_int(iv));
	ret = prctl_get_int(d->rs, PR_GET_CHILD_SUBREAPER, &iv, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "child_subreaper", json_bool(iv));
	ret = RSYS(d->rs, &r, err, SYS_prctl, PR_GET_DUMPABLE, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	json_set(d->out, "dumpable", json_int(r));
	/* umask() only reads by writing */
	ret = RSYS(d->rs, &r, err, SYS_umask, 0, 0, 0, 0, 0, 0);
	if (ret == 0)
		ret = RSYS(d->rs, &v, err, SYS_umask, r, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	json_set(d->out, "umask", json_int(r));
	return 0;
}

/* A number in /proc/PID/task/TID/NAME (loginuid, sessionid), as unsigned. */
static int read_thread_u32(int procfd, pid_t tid, const char *name, uint64_t *v, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("task/%d/%s", tid, name);
	cleanup_free char *s = NULL;
	int ret = read_file_at(procfd, path, 64, &s, NULL, err);

	if (ret < 0)
		return ret;
	*v = strtoull(s, NULL, 10);
	return 0;
}

static int prctl_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("task/%d/comm", th->tid);
	cleanup_free char *comm = NULL;
	uint64_t uid, ses;
	int sig, ret = read_file_at(d->t->procfd, path, 64, &comm, NULL, err);

	if (ret < 0)
		return ret;
	comm[strcspn(comm, "\n")] = '\0';
	json_set(d->out, "comm", json_str(comm));
	ret = read_thread_u32(d->t->procfd, th->tid, "loginuid", &uid, err);
	if (ret == 0)
		ret = read_thread_u32(d->t->procfd, th->tid, "sessionid", &ses, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "loginuid", json_int(uid));
	json_set(d->out, "sessionid", json_int(ses));
	ret = prctl_get_int(d->rs, PR_GET_PDEATHSIG, &sig, err);
	if (ret < 0)
		return ret;
	json_set(d->out, "pdeathsig", json_int(sig));
	return 0;
}

static const struct doc_field prctl_fields[] = {
	DOC_OPT_STR(struct task_state, comm, "comm", 15),
	DOC_INT(struct task_state, exit_signal, "exit_signal", 0, 64),
	DOC_HEX(struct task_state, personality, "personality", UINT32_MAX),
	DOC_INT(struct task_state, oom_score_adj, "oom_score_adj", -1000, 1000),
	DOC_STR(struct task_state, cwd, "cwd", PATH_MAX),
	DOC_STR(struct task_state, root, "root", PATH_MAX),
	DOC_INT(struct task_state, pdeathsig, "pdeathsig", 0, 64),
	DOC_BOOL(struct task_state, child_subreaper, "child_subreaper"),
	DOC_INT(struct task_state, dumpable, "dumpable", 0, 2),
	DOC_INT(struct task_state, umask, "umask", 0, 0777),
	DOC_END,
};

static int prctl_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
		       ckpt_err_t *err)
{
	return doc_read(at, doc, prctl_fields, ts, err);
}

static int prctl_parse_thread(const struct doc_at *at, const struct json *th,
			      struct thread_state *ts, ckpt_err_t *err)
{
	int64_t sig = -1;
	int ret = doc_opt_str(at, th, "comm", 15, &ts->comm, err);

	if (ret == 0)
		ret = doc_opt_int(at, th, "loginuid", 0, UINT32_MAX, -1, &ts->loginuid, err);
	if (ret == 0)
		ret = doc_opt_int(at, th, "sessionid", 0, UINT32_MAX, -1, &ts->sessionid, err);
	if (ret == 0)
		ret = doc_opt_int(at, th, "pdeathsig", 0, 64, -1, &sig, err);
	ts->pdeathsig = sig;
	return ret;
}

/* Process-wide settings that need privileges: before the threads drop theirs. */
static int prctl_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	const struct task_state *ts = t->state;
	struct rsys *rs = &t->rs;
	int ret;

	ret = rsys_queue(rs, 0, 0, SYS_prctl,
			 (uint64_t[6]){PR_SET_CHILD_SUBREAPER, ts->child_subreaper}, err,
			 "child subreaper: prctl");
	if (ret < 0)
		return ret;
	if (strcmp(ts->root, "/")) {
		char held[64], real[PATH_MAX];
		const char *root = ts->root;
		bool apart = files_root_apart(ts->cwd, ts->root);

		/*
		 * A deleted root: made again by the process, as its cwd (entered
		 * through "."), or apart from it, held at img_fd + 1 (entered
		 * through its /proc link, then closed).
		 */
		if (apart) {
			snprintf(held, sizeof(held), "/proc/self/fd/%d", t->img_fd + 1);
			root = held;
		} else if (files_link_deleted(ts->root, real, sizeof(real))) {
			root = ".";
		}
		ret = rsys_put(rs, 0, root, strlen(root) + 1, err);
		if (ret == 0)
			ret = RSYS_OK(rs, NULL, err, SYS_chroot, rsys_at(rs, 0), 0, 0, 0, 0, 0);
		if (ret == 0 && apart)
			ret = RSYS_OK(rs, NULL, err, SYS_close, t->img_fd + 1, 0, 0, 0, 0, 0);
		if (ret < 0)
			return ckpt_error_wrap(err, "root `%s`", ts->root);
	}
	return 0;
}

/*
 * Only the thread itself may write its loginuid (proc_loginuid_write), and
 * it needs CAP_AUDIT_CONTROL unless the one it has is unset: before the
 * credentials.
 */
static int loginuid_restore(struct rtask *t, struct rthread *th, struct rsys *rs,
			    const struct thread_state *ts, ckpt_err_t *err)
{
	cleanup_free char *dir = xasprintf("/proc/%d", t->host_pid);
	cleanup_close int procfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	static const char path[] = "/proc/thread-self/loginuid"; /* self: the leader */
	uint64_t now = 0;
	char val[16];
	long fd;
	int ret, n;

	if (ts->loginuid < 0)
		return 0;
	if (procfd < 0)
		return ckpt_error(err, errno, "open %s", dir);
	ret = read_thread_u32(procfd, rs->tid, "loginuid", &now, err);
	if (ret < 0 || (int64_t)now == ts->loginuid)
		return ret;
	n = snprintf(val, sizeof(val), "%lld", (long long)(int32_t)ts->loginuid);
	ret = rsys_put(rs, 0, path, sizeof(path), err);
	if (ret == 0)
		ret = rsys_put(rs, 64, val, n, err);
	if (ret == 0)
		ret = RSYS_OK(rs, &fd, err, SYS_openat, AT_FDCWD, rsys_at(rs, 0),
			      O_WRONLY | O_CLOEXEC, 0, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "loginuid %lld", (long long)ts->loginuid);
	ret = RSYS_OK(rs, NULL, err, SYS_write, fd, rsys_at(rs, 64), n, 0, 0, 0);
	if (RSYS_OK(rs, NULL, ret < 0 ? NULL : err, SYS_close, fd, 0, 0, 0, 0, 0) < 0 && ret == 0)
		ret = -EIO;
	if (ret < 0)
		return ckpt_error_wrap(err, "loginuid %lld", (long long)ts->loginuid);
	if (ts->sessionid >= 0 && ts->sessionid != (int64_t)(uint32_t)-1)
		pr_info("task %d: thread %d: loginuid %lld back, audit session %lld is a new one",
			t->pid, th->tid, (long long)ts->loginuid, (long long)ts->sessionid);
	return 0;
}

static int prctl_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct rsys *rs = rthread_rsys(t, th);
	int ret;

	(void)rc;
	if (ts->comm) {
		uint64_t at;

		ret = rsys_queue_data(rs, ts->comm, strlen(ts->comm) + 1, &at, err);
		if (ret == 0)
			ret = rsys_queue(rs, 0, 0, SYS_prctl, (uint64_t[6]){PR_SET_NAME, at}, err,
					 "thread name: prctl");
		if (ret < 0)
			return ret;
	}
	return loginuid_restore(t, th, rs, ts, err);
}

/*
 * After the thread's own credentials: a change of its euid or fsuid
 * resets it. Each thread has its own (a new thread starts without one);
 * with -d, a root that has one is not ckpt-oci's child (restore-child.c).
 */
static int prctl_restore_thread_last(struct rctx *rc, struct rtask *t, struct rthread *th,
				     ckpt_err_t *err)
{
	int k = th - t->threads;
	long sig = t->state->threads[k].pdeathsig;

	(void)rc;
	if (sig < 0) /* a bundle that kept the leader's only */
		sig = k ? 0 : t->state->pdeathsig;
	return rsys_queue(rthread_rsys(t, th), 0, 0, SYS_prctl,
			  (uint64_t[6]){PR_SET_PDEATHSIG, sig}, err, "parent-death signal: prctl");
}

/* After every thread's credentials: a change of euid or fsuid in any resets it. */
static int prctl_restore_last(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	(void)rc;
	return rsys_queue(&t->rs, 0, 0, SYS_prctl,
			  (uint64_t[6]){PR_SET_DUMPABLE, t->state->dumpable}, err,
			  "dumpable: prctl");
}

/* What differs from a plain process: nothing is printed for one. */
static void prctl_describe(FILE *out, const struct task_state *ts)
{
	int64_t uid = ts->nthreads ? ts->threads[0].loginuid : -1;
	const char *sep = "  prctl:   ";

	if (ts->pdeathsig) {
		fprintf(out, "%sparent-death signal SIG%s", sep,
			sigabbrev_np(ts->pdeathsig) ?: "?");
		sep = ", ";
	}
	if (ts->child_subreaper) {
		fprintf(out, "%schild subreaper", sep);
		sep = ", ";
	}
	if (uid >= 0 && uid != UINT32_MAX) {
		fprintf(out, "%sloginuid %lld (audit session %lld)", sep, (long long)uid,
			(long long)ts->threads[0].sessionid);
		sep = ", ";
	}
	if (sep[0] == ',')
		fputc('\n', out);
}

const struct task_state_ops task_prctl_ops = {
	.name = "prctl",
	.dump = prctl_dump,
	.dump_thread = prctl_dump_thread,
	.parse = prctl_parse,
	.parse_thread = prctl_parse_thread,
	.restore = prctl_restore,
	.restore_thread = prctl_restore_thread,
	.restore_thread_last = prctl_restore_thread_last,
	.restore_last = prctl_restore_last,
	.describe = prctl_describe,
};
