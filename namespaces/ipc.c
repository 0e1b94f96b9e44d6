/*
 * namespaces/ipc.c - IPC namespace (ipc.json, ipc-shm.img): the ipc
 * sysctls, SysV shared memory segments (key, id, owner, mode, size and
 * contents), semaphore sets (values) and message queues (messages in order,
 * with their types); POSIX message queues are in ipc-mq.c.
 *
 * Dump runs in helpers that join the tree's namespace: one returns the
 * description as JSON, one streams the segments' contents into the image.
 * Queued messages are copied with msgrcv(MSG_COPY), which leaves them in
 * place. Restore runs in the root of the new tree, in its new namespace,
 * before it has children: every object gets its old id back by writing
 * /proc/sys/kernel/{shm,sem,msg}_next_id right before it is created. Tasks
 * attach segments again in their memory restore (VMA kind "sysv").
 *
 * Not kept: creator uid/gid (the creator is the restorer), times, last
 * pids, semaphore undo (semadj) lists, and the "destroyed once detached"
 * state of a segment removed while attached: it comes back as a live
 * IPC_PRIVATE segment, freed when the namespace goes.
 */
#define LOG_PREFIX "ipc: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include "namespaces/ipc.h"
#include "namespaces/ns.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/util.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif
#define SHM_IMG "ipc-shm.img"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

int ipc_sysctl_read(const char *name, char **out, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/sys/%s", name);
	size_t len;
	int ret;

	ret = read_file_at(AT_FDCWD, path, 4096, out, &len, err);
	if (ret < 0)
		return ret;
	while (len && (*out)[len - 1] == '\n')
		(*out)[--len] = '\0';
	return 0;
}

int ipc_sysctl_write(const char *name, const char *val, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/sys/%s", name);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		return ckpt_error(err, errno, "write `%s` to %s", val, path);
	return 0;
}

static void perm_json(struct json *o, int id, const struct ipc_perm *p)
{
	struct ipc_obj x = {
		.id = id, .key = p->__key, .mode = p->mode, .uid = p->uid, .gid = p->gid};

	doc_write(o, ipc_perm_fields, &x);
}

static struct json *shm_read(void)
{
	struct json *arr = json_arr();
	struct shm_info info;
	struct shmid_ds ds;
	int max = shmctl(0, SHM_INFO, (struct shmid_ds *)&info);

	for (int i = 0; i <= max; i++) {
		int id = shmctl(i, SHM_STAT, &ds);
		struct json *o;

		if (id < 0)
			continue;
		o = json_push(arr, json_obj());
		perm_json(o, id, &ds.shm_perm);
		json_set(o, "size", json_int(ds.shm_segsz));
	}
	return arr;
}

static struct json *sem_read(ckpt_err_t *err)
{
	struct json *arr = json_arr();
	struct seminfo info;
	struct semid_ds ds;
	int max = semctl(0, 0, SEM_INFO, (union semun){.buf = (struct semid_ds *)&info});

	for (int i = 0; i <= max; i++) {
		int id = semctl(i, 0, SEM_STAT, (union semun){.buf = &ds});
		cleanup_free unsigned short *vals = NULL;
		struct json *o, *v;

		if (id < 0)
			continue;
		vals = xzalloc(ds.sem_nsems * sizeof(*vals) + 1);
		if (semctl(id, 0, GETALL, (union semun){.array = vals}) < 0) {
			ckpt_error(err, errno, "semaphore set %d: GETALL", id);
			json_free(arr);
			return NULL;
		}
		o = json_push(arr, json_obj());
		perm_json(o, id, &ds.sem_perm);
		v = json_set(o, "values", json_arr());
		for (unsigned long k = 0; k < ds.sem_nsems; k++)
			json_push(v, json_int(vals[k]));
	}
	return arr;
}

/* Every message of one queue, oldest first, copied in place (MSG_COPY). */
static int msg_read_queue(int id, size_t qnum, size_t msgmax, struct json *msgs, ckpt_err_t *err)
{
	cleanup_free struct msgbuf *m = xzalloc(sizeof(long) + msgmax + 1);

	for (size_t k = 0; k < qnum; k++) {
		ssize_t n = msgrcv(id, m, msgmax, k, IPC_NOWAIT | MSG_COPY | MSG_NOERROR);
		struct json *o;

		if (n < 0)
			return ckpt_error(err, errno, "message queue %d: copy message %zu", id, k);
		o = json_push(msgs, json_obj());
		json_set(o, "type", json_int(m->mtype));
		json_set(o, "data", json_hexbuf(m->mtext, n));
	}
	return 0;
}

static struct json *msg_read(ckpt_err_t *err)
{
	struct json *arr = json_arr();
	cleanup_free char *mx = NULL;
	struct msginfo info;
	struct msqid_ds ds;
	int max = msgctl(0, MSG_INFO, (struct msqid_ds *)&info);
	size_t msgmax;

	if (ipc_sysctl_read("kernel/msgmax", &mx, err) < 0) {
		json_free(arr);
		return NULL;
	}
	msgmax = strtoul(mx, NULL, 10);
	for (int i = 0; i <= max; i++) {
		int id = msgctl(i, MSG_STAT, &ds);
		struct json *o;

		if (id < 0)
			continue;
		o = json_push(arr, json_obj());
		perm_json(o, id, &ds.msg_perm);
		json_set(o, "qbytes", json_int(ds.msg_qbytes));
		if (msg_read_queue(id, ds.msg_qnum, msgmax, json_set(o, "messages", json_arr()),
				   err) < 0) {
			json_free(arr);
			return NULL;
		}
	}
	return arr;
}

/* In a helper inside the tree's namespace. */
static struct json *ipc_read(void *arg, ckpt_err_t *err)
{
	cleanup_json struct json *j = json_obj();
	struct json *sys = json_set(j, "sysctls", json_obj()), *v;

	for (size_t i = 0; i < ipc_nsysctls; i++) {
		cleanup_free char *val = NULL;

		if (ipc_sysctl_read(ipc_sysctls[i], &val, err) < 0)
			return NULL;
		json_set(sys, ipc_sysctls[i], json_str(val));
	}
	json_set(j, "shm", shm_read());
	if (!(v = sem_read(err)))
		return NULL;
	json_set(j, "sem", v);
	if (!(v = msg_read(err)))
		return NULL;
	json_set(j, "msg", v);
	/* last: it moves this helper into a mount namespace of its own */
	if (!(v = ipc_mq_read(err)))
		return NULL;
	json_set(j, "mqueue", v);
	return steal_pointer(&j);
}

struct shm_job {
	int nsfd;
	const struct ipc_obj *shm;
	size_t n;
	struct bundle_image *img;
	uint64_t got;
};

/* The child of shm_dump_data: every segment's bytes, in order, to stdout. */
static int shm_stream(void *arg)
{
	const struct shm_job *j = arg;

	if (setns(j->nsfd, CLONE_NEWIPC) < 0)
		return 1;
	for (size_t i = 0; i < j->n; i++) {
		void *p = shmat(j->shm[i].id, NULL, SHM_RDONLY);

		if (p == (void *)-1 || write_all(STDOUT_FILENO, p, j->shm[i].size) < 0)
			return 1;
		shmdt(p);
	}
	return 0;
}

static int shm_sink(void *arg, const void *buf, size_t len, ckpt_err_t *err)
{
	struct shm_job *j = arg;

	j->got += len;
	return bundle_image_write(j->img, buf, len, err);
}

/* Copy the contents of every segment into ipc-shm.img; record offsets. */
static int shm_dump_data(const struct ns_dump *d, struct json *ipc, ckpt_err_t *err)
{
	cleanup_free struct ipc_obj *shm = NULL;
	struct shm_job j = {.nsfd = d->nsfd};
	struct spawn s = {.name = "shared memory helper",
			  .child = shm_stream,
			  .arg = &j,
			  .in = SPAWN_INHERIT,
			  .out = SPAWN_SINK,
			  .sink = shm_sink,
			  .sink_arg = &j,
			  .errout = SPAWN_INHERIT};
	uint64_t total = 0;
	size_t n = 0;
	int ret;

	ret = ipc_shm_list(ipc, &shm, &n, err);
	if (ret < 0 || !n)
		return ret;
	for (size_t i = 0; i < n; i++) {
		json_set(json_at(json_get(ipc, "shm"), i), "offset", json_int(total));
		total += shm[i].size;
	}
	j.shm = shm;
	j.n = n;
	ret = bundle_image_create(d->bundle, SHM_IMG, &j.img, err);
	if (ret == 0)
		ret = spawn_run(&s, err);
	if (ret == 0 && j.got != total)
		ret = ckpt_error_msg(err, EIO, "read shared memory segments: helper died");
	else if (ret == 0 && !spawn_ok(&s))
		ret = ckpt_error_msg(err, EIO, "shared memory helper failed (status 0x%x)",
				     s.status);
	spawn_free(&s);
	if (ret < 0) {
		bundle_image_abort(j.img);
		return ret;
	}
	return bundle_image_close(j.img, err);
}

static int ipc_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *ipc = NULL;
	struct json *shm;
	int ret;

	ret = ns_exec_json(d->nsfd, CLONE_NEWIPC, ipc_read, NULL, &ipc, err);
	if (ret < 0)
		return ret;
	shm = json_get(ipc, "shm");
	ret = shm_dump_data(d, ipc, err);
	if (ret < 0)
		return ret;
	pr_info("%zu segments, %zu semaphore sets, %zu message queues, %zu POSIX queues",
		json_len(shm), json_len(json_get(ipc, "sem")), json_len(json_get(ipc, "msg")),
		json_len(json_get(ipc, "mqueue")));
	return bundle_put_json(d->bundle, "ipc.json", ipc, err);
}

/* ---- restore: in the root, inside the new namespace ---------------------- */

/* The next object of this kind gets exactly id (needs CONFIG_CHECKPOINT_RESTORE). */
static int next_id(const char *kind, int64_t id, ckpt_err_t *err)
{
	char name[32], val[32];

	snprintf(name, sizeof(name), "kernel/%s_next_id", kind);
	snprintf(val, sizeof(val), "%lld", (long long)id);
	return ipc_sysctl_write(name, val, err);
}

static int got_id(const char *what, int64_t want, int got, ckpt_err_t *err)
{
	if (got < 0)
		return ckpt_error(err, errno, "create %s %lld", what, (long long)want);
	if (got != want)
		return ckpt_error_msg(err, EEXIST, "%s %lld came back as %d", what, (long long)want,
				      got);
	return 0;
}

static int sysctls_restore(const struct ipc_doc *d, ckpt_err_t *err)
{
	for (size_t i = 0; i < d->nsys; i++) {
		cleanup_free char *cur = NULL;

		if (ipc_sysctl_read(d->sys_name[i], &cur, err) < 0)
			return -err->code;
		if (!strcmp(cur, d->sys_val[i]))
			continue; /* a new namespace starts with the defaults */
		if (ipc_sysctl_write(d->sys_name[i], d->sys_val[i], err) < 0)
			return -err->code;
	}
	return 0;
}

static int shm_restore_one(const struct ipc_obj *s, int img, uint64_t img_size, ckpt_err_t *err)
{
	struct shmid_ds ds;
	ssize_t n = 0;
	void *p;
	int got;

	if (s->offset > img_size || s->size > img_size - s->offset)
		return ckpt_error_msg(err, EPROTO,
				      "ipc.json: SysV segment %d: %llu bytes at %llu, past the "
				      "end of " SHM_IMG " (%llu bytes)",
				      s->id, (unsigned long long)s->size,
				      (unsigned long long)s->offset, (unsigned long long)img_size);
	if (next_id("shm", s->id, err) < 0)
		return -err->code;
	got = shmget(s->key, s->size, IPC_CREAT | IPC_EXCL | 0600);
	if (got_id("SysV segment", s->id, got, err) < 0)
		return -err->code;
	p = shmat(s->id, NULL, 0);
	if (p == (void *)-1)
		return ckpt_error(err, errno, "attach SysV segment %d", s->id);
	for (uint64_t done = 0; done < s->size; done += n) {
		n = pread(img, (char *)p + done, s->size - done, s->offset + done);
		if (n <= 0)
			break;
	}
	shmdt(p);
	if (n <= 0)
		return ckpt_error(err, n < 0 ? errno : EIO, "fill SysV segment %d", s->id);
	memset(&ds, 0, sizeof(ds));
	ds.shm_perm.uid = s->uid;
	ds.shm_perm.gid = s->gid;
	ds.shm_perm.mode = s->mode & 0777;
	if (shmctl(s->id, IPC_SET, &ds) < 0)
		return ckpt_error(err, errno, "set owner of SysV segment %d", s->id);
	return 0;
}

static int sem_restore_one(const struct ipc_obj *s, ckpt_err_t *err)
{
	struct semid_ds ds = {0};
	int got;

	if (next_id("sem", s->id, err) < 0)
		return -err->code;
	got = semget(s->key, s->n, IPC_CREAT | IPC_EXCL | 0600);
	if (got_id("semaphore set", s->id, got, err) < 0)
		return -err->code;
	if (semctl(s->id, 0, SETALL, (union semun){.array = s->vals}) < 0)
		return ckpt_error(err, errno, "set values of semaphore set %d", s->id);
	ds.sem_perm.uid = s->uid;
	ds.sem_perm.gid = s->gid;
	ds.sem_perm.mode = s->mode & 0777;
	if (semctl(s->id, 0, IPC_SET, (union semun){.buf = &ds}) < 0)
		return ckpt_error(err, errno, "set owner of semaphore set %d", s->id);
	return 0;
}

static int msg_fill(const struct ipc_obj *q, ckpt_err_t *err)
{
	for (size_t i = 0; i < q->n; i++) {
		const struct ipc_msg *m = &q->msgs[i];
		cleanup_free struct msgbuf *b = xzalloc(sizeof(long) + m->len + 1);

		b->mtype = m->type;
		memcpy(b->mtext, m->data, m->len);
		if (msgsnd(q->id, b, m->len, IPC_NOWAIT) < 0)
			return ckpt_error(err, errno, "queue message %zu", i);
	}
	return 0;
}

/*
 * A queue's byte limit may only exceed kernel.msgmnb with CAP_SYS_RESOURCE
 * (missing here even for root), and a new queue takes msgmnb as its limit:
 * so msgmnb is set to the queue's limit while it is made, then put back.
 */
static int msg_restore_one(const struct ipc_obj *q, const char *msgmnb, ckpt_err_t *err)
{
	struct msqid_ds ds = {0};
	char lim[32];
	int got, ret;

	snprintf(lim, sizeof(lim), "%llu", (unsigned long long)q->qbytes);
	if (ipc_sysctl_write("kernel/msgmnb", lim, err) < 0 || next_id("msg", q->id, err) < 0)
		return -err->code;
	got = msgget(q->key, IPC_CREAT | IPC_EXCL | 0600);
	ret = got_id("message queue", q->id, got, err);
	if (ret == 0)
		ret = msg_fill(q, err);
	ds.msg_perm.uid = q->uid;
	ds.msg_perm.gid = q->gid;
	ds.msg_perm.mode = q->mode & 0777;
	ds.msg_qbytes = q->qbytes;
	if (ret == 0 && msgctl(q->id, IPC_SET, &ds) < 0)
		ret = ckpt_error(err, errno, "set owner and limit");
	if (ipc_sysctl_write("kernel/msgmnb", msgmnb, ret < 0 ? &(ckpt_err_t){0} : err) < 0 &&
	    ret == 0)
		ret = -err->code;
	if (ret < 0)
		return ckpt_error_wrap(err, "message queue %d", q->id);
	return 0;
}

static int sysv_restore(const struct ipc_doc *d, struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_free char *msgmnb = NULL;
	cleanup_close int img = -1;
	uint64_t size = 0;
	int ret;

	if (d->nshm) {
		ret = bundle_open_file(b, SHM_IMG, &img, &size, err);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < d->nshm; i++)
		if (shm_restore_one(&d->shm[i], img, size, err) < 0)
			return -err->code;
	for (size_t i = 0; i < d->nsem; i++)
		if (sem_restore_one(&d->sem[i], err) < 0)
			return -err->code;
	if (d->nmsg && ipc_sysctl_read("kernel/msgmnb", &msgmnb, err) < 0)
		return -err->code;
	for (size_t i = 0; i < d->nmsg; i++)
		if (msg_restore_one(&d->msg[i], msgmnb, err) < 0)
			return -err->code;
	return 0;
}

static int ipc_restore(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *ipc = NULL;
	struct ipc_doc d;
	int ret;

	ret = bundle_get_json(r->bundle, "ipc.json", &ipc, err);
	if (ret == 0)
		ret = ipc_doc_read(ipc, &d, err);
	if (ret < 0)
		return ret;
	ret = sysctls_restore(&d, err);
	if (ret == 0)
		ret = sysv_restore(&d, r->bundle, err);
	if (ret == 0)
		ret = ipc_mq_restore(d.mq, d.nmq, err);
	ipc_doc_free(&d);
	return ret;
}

const struct ckpt_ns_ops ns_ipc_ops = {
	.name = "ipc",
	.clone_flag = CLONE_NEWIPC,
	.dump = ipc_dump,
	.restore = ipc_restore,
};
