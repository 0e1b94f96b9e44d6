/*
 * namespaces/ipc-mq.c - POSIX message queues of an IPC namespace ("mqueue"
 * in ipc.json): name, owner, mode, limits and every message with its
 * priority, in order.
 *
 * The queues of a namespace are listed through an mqueue filesystem: the
 * dump helper mounts one (it belongs to the helper's IPC namespace) in a
 * mount namespace of its own. A message cannot be read without taking it,
 * so the helper takes them all and sends them back in the order received
 * (highest priority first, oldest first within a priority): the queue ends
 * as it was. The tree is stopped meanwhile, but a queue with an mq_notify()
 * registration would fire it, so such a queue is refused.
 */
#define LOG_PREFIX "ipc: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/ipc.h"
#include "util/util.h"

/* any directory will do: the mount lives in the helper's own mount namespace */
#define MQ_MNT "/tmp"

/* The queue's proc-like status line: "QSIZE:.. NOTIFY:.. SIGNO:.. NOTIFY_PID:.." */
static int mq_notify_pid(int dirfd, const char *name, int *pid, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	const char *p;
	size_t len;
	int ret;

	ret = read_file_at(dirfd, name, 4096, &text, &len, err);
	if (ret < 0)
		return ret;
	p = strstr(text, "NOTIFY_PID:");
	*pid = p ? atoi(p + 11) : 0;
	return 0;
}

/* Take every message and put it back; record them in msgs. */
static int mq_copy_messages(mqd_t q, const struct mq_attr *a, struct json *msgs, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(a->mq_msgsize + 1);
	cleanup_free char **data = xzalloc((a->mq_curmsgs + 1) * sizeof(*data));
	cleanup_free unsigned *prio = xzalloc((a->mq_curmsgs + 1) * sizeof(*prio));
	cleanup_free ssize_t *len = xzalloc((a->mq_curmsgs + 1) * sizeof(*len));
	long n = 0;
	int ret = 0;

	while (n < a->mq_curmsgs) {
		len[n] = mq_receive(q, buf, a->mq_msgsize, &prio[n]);
		if (len[n] < 0)
			break;
		data[n] = xzalloc(len[n] + 1);
		memcpy(data[n], buf, len[n]);
		n++;
	}
	if (n < a->mq_curmsgs && errno != EAGAIN)
		ret = ckpt_error(err, errno, "take message %ld", n);
	for (long i = 0; i < n; i++) {
		struct json *o = json_push(msgs, json_obj());

		/* put back even after an error: the queue must stay as it was */
		if (mq_send(q, data[i], len[i], prio[i]) < 0 && ret == 0)
			ret = ckpt_error(err, errno, "put back message %ld", i);
		json_set(o, "prio", json_int(prio[i]));
		json_set(o, "data", json_hexbuf(data[i], len[i]));
		free(data[i]);
	}
	return ret;
}

static int mq_read_one(int dirfd, const char *name, struct json *arr, ckpt_err_t *err)
{
	cleanup_free char *qname = xasprintf("/%s", name);
	struct mq_attr a;
	struct stat st;
	struct json *o;
	int npid, ret;
	mqd_t q;

	if (fstatat(dirfd, name, &st, 0) < 0)
		return ckpt_error(err, errno, "stat queue");
	ret = mq_notify_pid(dirfd, name, &npid, err);
	if (ret < 0)
		return ret;
	if (npid)
		return ckpt_error_msg(err, ENOTSUP, "mq_notify() registration of pid %d", npid);
	q = mq_open(qname, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (q == (mqd_t)-1)
		return ckpt_error(err, errno, "mq_open");
	if (mq_getattr(q, &a) < 0) {
		ret = ckpt_error(err, errno, "mq_getattr");
		mq_close(q);
		return ret;
	}
	o = json_push(arr, json_obj());
	doc_write(o, ipc_mq_fields,
		  &(struct ipc_mq){.name = name,
				   .mode = st.st_mode & 07777,
				   .uid = st.st_uid,
				   .gid = st.st_gid,
				   .maxmsg = a.mq_maxmsg,
				   .msgsize = a.mq_msgsize});
	ret = mq_copy_messages(q, &a, json_set(o, "messages", json_arr()), err);
	mq_close(q);
	return ret;
}

struct json *ipc_mq_read(ckpt_err_t *err)
{
	cleanup_json struct json *arr = json_arr();
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	/* a private mount namespace: the mqueue mount never shows outside */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		ckpt_error(err, errno, "private mount namespace for mqueue");
		return NULL;
	}
	if (mount("mqueue", MQ_MNT, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		ckpt_error(err, errno, "mount mqueue on %s", MQ_MNT);
		return NULL;
	}
	d = opendir(MQ_MNT);
	if (!d) {
		ckpt_error(err, errno, "open %s", MQ_MNT);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (mq_read_one(dirfd(d), de->d_name, arr, err) < 0) {
			ckpt_error_wrap(err, "POSIX message queue `%s`", de->d_name);
			return NULL;
		}
	}
	return steal_pointer(&arr);
}

static int mq_fill(mqd_t q, const struct ipc_mq *o, ckpt_err_t *err)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct ipc_msg *m = &o->msgs[i];

		if ((int64_t)m->len > o->msgsize)
			return ckpt_error_msg(err, EPROTO, "message %zu: %zu bytes, at most %lld",
					      i, m->len, (long long)o->msgsize);
		if (mq_send(q, m->data, m->len, m->type) < 0)
			return ckpt_error(err, errno, "queue message %zu", i);
	}
	return 0;
}

static int mq_restore_one(const struct ipc_mq *o, ckpt_err_t *err)
{
	struct mq_attr a = {.mq_maxmsg = o->maxmsg, .mq_msgsize = o->msgsize};
	cleanup_free char *qname = xasprintf("/%s", o->name);
	int ret;
	mqd_t q;

	q = mq_open(qname, O_CREAT | O_EXCL | O_WRONLY | O_NONBLOCK | O_CLOEXEC, 0600, &a);
	if (q == (mqd_t)-1)
		return ckpt_error(err, errno, "create POSIX message queue `%s`", o->name);
	ret = mq_fill(q, o, err);
	/* an mqd_t is a file descriptor on Linux */
	if (ret == 0 && fchown(q, o->uid, o->gid) < 0)
		ret = ckpt_error(err, errno, "chown");
	if (ret == 0 && fchmod(q, o->mode & 07777) < 0)
		ret = ckpt_error(err, errno, "chmod");
	mq_close(q);
	if (ret < 0)
		return ckpt_error_wrap(err, "POSIX message queue `%s`", o->name);
	return 0;
}

int ipc_mq_restore(const struct ipc_mq *mqs, size_t n, ckpt_err_t *err)
{
	for (size_t i = 0; i < n; i++)
		if (mq_restore_one(&mqs[i], err) < 0)
			return -err->code;
	return 0;
}
