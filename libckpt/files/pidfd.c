/*
 * libckpt/files/pidfd.c - pidfd: the pid it refers to (fdinfo "Pid", in
 * the namespace of whoever reads fdinfo, here the tree's). Restore opens a
 * new pidfd on the same pid, which must exist by then: the task's parent
 * and children do (children are created before fds are put in place).
 */
#define LOG_PREFIX "pidfd: "
#include <errno.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>

#include "files/files.h"
#include "util/uapi.h"
#include "util/util.h"

static bool pidfd_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[pidfd]") || !strncmp(fi->link, "pidfd:", 6);
}

static int pidfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	pid_t pid = proc_parse_pidfd(fi->fdinfo);

	/* -1: the process is gone (reaped); 0: not in our pid namespace */
	if (pid == -1) {
		json_set(o, "gone", json_bool(true));
		return 0;
	}
	if (pid <= 0)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (pidfd of a process outside the pid "
				      "namespace) in pid %d",
				      fi->fd, fi->pid);
	json_set(o, "pid", json_int(pid));
	return 0;
}

/*
 * A pidfd of a process that is gone: of a child made for it, which exits
 * at once and is reaped (its pid free again before any of the tree's
 * threads is made). It polls readable, and pidfd_send_signal says ESRCH,
 * as the original did.
 */
static int pidfd_gone(int flags, int *fd, ckpt_err_t *err)
{
	pid_t kid = fork();

	if (kid < 0)
		return ckpt_error(err, errno, "fork for a pidfd of a gone process");
	if (kid == 0)
		_exit(0);
	*fd = syscall(__NR_pidfd_open, kid, flags);
	if (waitpid(kid, NULL, 0) != kid) {
		if (*fd >= 0)
			close(*fd);
		return ckpt_error(err, errno, "reap the child of a gone pidfd");
	}
	if (*fd < 0)
		return ckpt_error(err, errno, "pidfd_open");
	return 0;
}

static int pidfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			 ckpt_err_t *err)
{
	int flags = e->flags & O_NONBLOCK;
	int64_t pid;
	bool gone;
	int ret = doc_opt_bool(&e->at, e->obj, "gone", false, &gone, err);

	if (ret == 0 && gone)
		return pidfd_gone(flags, fd, err);
	if (ret == 0)
		ret = doc_int(&e->at, e->obj, "pid", 1, DOC_PID_MAX, &pid, err);
	if (ret < 0)
		return ret;
	*fd = syscall(__NR_pidfd_open, pid, flags);
	if (*fd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", (int)pid);
	return 0;
}

static int pidfd_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			  ckpt_err_t *err)
{
	int64_t pid = 0;
	bool gone = false;
	int ret = lines ? 0 : doc_opt_bool(&e->at, e->obj, "gone", false, &gone, err);

	if (ret == 0 && !lines && !gone)
		ret = doc_int(&e->at, e->obj, "pid", 1, DOC_PID_MAX, &pid, err);
	if (ret == 0 && !lines)
		fprintf(out, gone ? " process gone" : " pid %d", (int)pid);
	return ret;
}

const struct fd_ops fd_pidfd_ops = {
	.kind = "pidfd",
	.match = pidfd_match,
	.dump = pidfd_dump,
	.restore = pidfd_restore,
	.describe = pidfd_describe,
};
