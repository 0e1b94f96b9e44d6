/*
 * libckpt/files/mqueue.c - POSIX message queue descriptors (mq_open): the
 * queue's name, the access mode and O_NONBLOCK ("mqueue" in task-PID.json).
 *
 * The queue itself (attributes, messages) is not this file's: it belongs
 * to the IPC namespace and namespaces/ipc-mq.c saves and recreates it when
 * the tree has an IPC namespace of its own. Restore runs in the restored
 * task, already in that namespace, and opens the queue by name. A tree
 * sharing ckpt-oci's IPC namespace finds its queue, messages included,
 * where it was on this node; a queue gone by then is a clear error.
 *
 * Each fd opens a description of its own (own_sharing): shared
 * descriptions are made before the tree's namespaces exist, where the
 * queue cannot be found. Two fds that shared one description (dup, fork)
 * therefore no longer share O_NONBLOCK changes after restore.
 *
 * Refused (the checkpoint fails, naming the fd): a queue unlinked while
 * open (nothing left to open by name), and a queue with an mq_notify()
 * registration, whose sigevent value cannot be read back.
 */
#define LOG_PREFIX "mqueue: "
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

#define MQUEUE_MAGIC 0x19800202

/* Only regular files whose link is a path can be queues: spare the rest a statfs. */
static bool mqueue_match(const struct fd_info *fi)
{
	cleanup_close int fd = -1;
	struct statfs sfs;
	char path[64];

	/* mqueue, like every in-memory filesystem, has an anonymous device (major 0) */
	if (!S_ISREG(fi->st.st_mode) || fi->link[0] != '/' || major(fi->st.st_dev) != 0)
		return false;
	snprintf(path, sizeof(path), "fd/%d", fi->fd);
	/* O_PATH: the queue's own open (and its accounting) is never called */
	fd = openat(fi->procfd, path, O_PATH | O_CLOEXEC);
	return fd >= 0 && fstatfs(fd, &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC;
}

/*
 * The pid registered with mq_notify() on the queue, 0 if none. Reading a
 * queue's fd gives its status line ("QSIZE:.. NOTIFY:.. SIGNO:..
 * NOTIFY_PID:..").
 */
static int notify_pid(const struct fd_info *fi, int *pid, ckpt_err_t *err)
{
	cleanup_close int copy = -1;
	char buf[256], path[64];
	const char *p;
	ssize_t n;

	/* a new open of the queue, for reading: the task's fd may be write-only */
	snprintf(path, sizeof(path), "fd/%d", fi->fd);
	copy = openat(fi->procfd, path, O_RDONLY | O_CLOEXEC);
	if (copy < 0)
		return ckpt_error(err, errno, "open queue of fd %d of %d", fi->fd, fi->pid);
	n = pread(copy, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return ckpt_error(err, errno, "read status of queue fd %d of %d", fi->fd, fi->pid);
	buf[n] = '\0';
	p = strstr(buf, "NOTIFY_PID:");
	*pid = p ? atoi(p + 11) : 0;
	return 0;
}

/* Whether the task is in ckpt-oci's IPC namespace (then the queue stays on this node). */
static bool host_ipc(const struct fd_info *fi)
{
	struct stat mine, its;

	return stat("/proc/self/ns/ipc", &mine) == 0 &&
	       fstatat(fi->procfd, "ns/ipc", &its, 0) == 0 && mine.st_ino == its.st_ino &&
	       mine.st_dev == its.st_dev;
}

static int mqueue_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		       ckpt_err_t *err)
{
	int npid = 0, ret;

	(void)dc;
	if (fi->st.st_nlink == 0)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (POSIX message queue `%s` unlinked while "
				      "open) in pid %d",
				      fi->fd, fi->link, fi->pid);
	ret = notify_pid(fi, &npid, err);
	if (ret < 0)
		return ret;
	if (npid)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (POSIX message queue `%s` with an "
				      "mq_notify() registration of pid %d) in pid %d",
				      fi->fd, fi->link, npid, fi->pid);
	/* the link is the path inside the mqueue filesystem: "/NAME", mq_open's form */
	if (strchr(fi->link + 1, '/'))
		return ckpt_error_msg(err, EPROTO, "fd %d of %d: bad queue name `%s`", fi->fd,
				      fi->pid, fi->link);
	json_set(o, "name", json_str(fi->link));
	json_set(o, "host_ipc", json_bool(host_ipc(fi)));
	return 0;
}

static int mqueue_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			  ckpt_err_t *err)
{
	int flags = e->flags;
	const char *name;
	bool host;
	int ret;

	(void)rc;
	/* NAME_MAX and the leading '/' */
	ret = doc_str(&e->at, e->obj, "name", 256, &name, err);
	if (ret == 0)
		ret = doc_opt_bool(&e->at, e->obj, "host_ipc", false, &host, err);
	if (ret < 0)
		return ret;
	if (name[0] != '/' || strchr(name + 1, '/'))
		return doc_error(err, &e->at, "queue name `%s` is not /NAME", name);
	/* never O_CREAT: the queue comes back with its namespace, or is the host's */
	*fd = mq_open(name, (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	if (errno == ENOENT && host)
		return ckpt_error_msg(err, ENOENT,
				      "POSIX message queue `%s` is gone from the host's IPC "
				      "namespace (the tree shared it at checkpoint)",
				      name);
	return ckpt_error(err, errno, "open POSIX message queue `%s`", name);
}

static int mqueue_describe(const struct fd_entry *e, const struct json *files, bool lines,
			   FILE *out, ckpt_err_t *err)
{
	const char *name;
	int ret = lines ? 0 : doc_str(&e->at, e->obj, "name", 256, &name, err);

	if (ret == 0 && !lines)
		fprintf(out, " queue %s", name);
	return ret;
}

const struct fd_ops fd_mqueue_ops = {
	.kind = "mqueue",
	.match = mqueue_match,
	.dump = mqueue_dump,
	.restore = mqueue_restore,
	.describe = mqueue_describe,
	.own_sharing = true,
};
