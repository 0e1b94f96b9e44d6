/*
 * libckpt/files/owner.c - who gets the signal of signal-driven I/O: the
 * owner of an open file description (F_SETOWN, F_SETOWN_EX: a process, a
 * thread or a process group) and the signal it gets (F_SETSIG), saved as
 * the fd's "owner" and set again by the restored task once its fds are at
 * their numbers (O_ASYNC itself is a status flag, files.c).
 *
 * F_GETOWN_EX answers in ckpt-oci's pid namespace; the owner is saved as
 * the tree sees it (the last NSpid entry), and must be in the task's pid
 * namespace. Refused, naming the fd: an owner in another pid namespace,
 * and a thread that is not its process's first (threads are made after
 * the fds, so there is no such thread yet to own it). An owner gone by the
 * checkpoint owned nothing: no owner is restored, the signal number is.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
#include "util/proc.h"
#include "util/util.h"

#define OWNER_WAIT_MS 10000

struct fd_owner {
	int type; /* F_OWNER_TID, F_OWNER_PID, F_OWNER_PGRP */
	int pid;  /* 0: none */
	int sig;  /* 0: SIGIO */
};

static const struct doc_field owner_fields[] = {
	DOC_INT(struct fd_owner, type, "type", F_OWNER_TID, F_OWNER_PGRP),
	DOC_INT(struct fd_owner, pid, "pid", 0, DOC_PID_MAX),
	DOC_INT(struct fd_owner, sig, "sig", 0, 64),
	DOC_END,
};

static int refuse(const struct fd_info *fi, const char *why, int id, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (O_ASYNC owner %s %d) in pid %d",
			      fi->fd, why, id, fi->pid);
}

/*
 * The id host (in our pid namespace) has in the task's: 0 when it is gone.
 * A thread must be its process's first.
 */
static int owner_ns_id(const struct fd_info *fi, pid_t host, bool thread, int *out, ckpt_err_t *err)
{
	struct stat ours, its;
	char path[64];
	cleanup_close int dir = -1;
	struct proc_status st = {0};
	int ret;

	*out = 0;
	snprintf(path, sizeof(path), "/proc/%d", host);
	dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return 0;
	if (fstatat(dir, "ns/pid", &its, 0) < 0 || fstatat(fi->procfd, "ns/pid", &ours, 0) < 0)
		return ckpt_error(err, errno, "pid namespace of the owner of fd %d of %d", fi->fd,
				  fi->pid);
	if (its.st_ino != ours.st_ino || its.st_dev != ours.st_dev)
		return refuse(fi, "in another pid namespace, pid", host, err);
	ret = proc_read_status(dir, &st, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "owner %d of fd %d of %d", host, fi->fd, fi->pid);
	if (thread && st.tgid != host) {
		proc_status_free(&st);
		return refuse(fi, "is a thread other than its process's first, tid", host, err);
	}
	*out = st.nspid_count ? st.nspid[st.nspid_count - 1] : host;
	proc_status_free(&st);
	return 0;
}

int owner_dump(const struct fd_info *fi, struct json *o, ckpt_err_t *err)
{
	cleanup_close int copy = fi->pidfd >= 0
					 ? (int)syscall(__NR_pidfd_getfd, fi->pidfd, fi->fd, 0)
					 : files_steal_fd(fi->pid, fi->fd, err);
	struct f_owner_ex own = {0};
	struct fd_owner w = {0};
	int ret;

	if (copy < 0 && fi->pidfd >= 0)
		return ckpt_error(err, errno, "pidfd_getfd fd %d of %d", fi->fd, fi->pid);
	if (copy < 0)
		return copy;
	if (fcntl(copy, F_GETOWN_EX, &own) < 0)
		return ckpt_error(err, errno, "F_GETOWN_EX of fd %d of %d", fi->fd, fi->pid);
	w.sig = fcntl(copy, F_GETSIG);
	if (w.sig < 0)
		return ckpt_error(err, errno, "F_GETSIG of fd %d of %d", fi->fd, fi->pid);
	if (!own.pid && !w.sig)
		return 0;
	w.type = own.type;
	if (own.pid) {
		ret = owner_ns_id(fi, own.pid, own.type == F_OWNER_TID, &w.pid, err);
		if (ret < 0)
			return ret;
	}
	doc_write(json_set(o, "owner", json_obj()), owner_fields, &w);
	return 0;
}

int owner_restore(const struct fd_entry *e, int fd, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "owner");
	const struct json *obj;
	struct fd_owner w = {0};
	struct f_owner_ex own;
	int ret = doc_opt_obj(&e->at, e->obj, "owner", &obj, err);

	if (ret < 0 || !obj)
		return ret;
	ret = doc_read(&at, obj, owner_fields, &w, err);
	if (ret < 0)
		return ret;
	own = (struct f_owner_ex){w.type, w.pid};
	/*
	 * Every task forks its children before its fds: an owner in another
	 * branch of the tree may not exist yet, but will (bounded wait).
	 */
	for (int ms = 0; w.pid && ms < OWNER_WAIT_MS; ms++) {
		if (fcntl(fd, F_SETOWN_EX, &own) == 0 || errno != ESRCH)
			break;
		(void)poll(NULL, 0, 1);
	}
	if (w.pid && fcntl(fd, F_SETOWN_EX, &own) < 0)
		return ckpt_error(err, errno, "F_SETOWN_EX %s %d",
				  w.type == F_OWNER_PGRP  ? "process group"
				  : w.type == F_OWNER_TID ? "thread"
							  : "process",
				  w.pid);
	if (w.sig && fcntl(fd, F_SETSIG, w.sig) < 0)
		return ckpt_error(err, errno, "F_SETSIG %d", w.sig);
	return 0;
}
