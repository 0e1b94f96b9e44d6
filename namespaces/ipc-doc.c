/*
 * namespaces/ipc-doc.c - ipc.json as typed structs (ipc.h): the field
 * tables the dump writes with, and the one parse at restore that checks
 * the whole document (every id, key, size, count and message in range)
 * before the root makes any object.
 *
 *	{ "sysctls": { "kernel/msgmnb": "16384", ... },
 *	  "shm": [ { "id", "key", "mode", "uid", "gid", "size", "offset" } ],
 *	  "sem": [ { ...perm, "values": [ 0, 1 ] } ],
 *	  "msg": [ { ...perm, "qbytes", "messages": [ { "type", "data" } ] } ],
 *	  "mqueue": [ { "name", "mode", "uid", "gid", "maxmsg", "msgsize",
 *		      "messages": [ { "prio", "data" } ] } ] }
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "namespaces/ipc.h"
#include "util/util.h"

/* Bounds: x86-64 user space for a segment, the kernel's for the rest. */
#define IPC_SHM_MAX	 (INT64_C(1) << 47)
#define IPC_OBJS_MAX	 32768	   /* IPCMNI: objects of one kind */
#define IPC_SEMS_MAX	 32000	   /* SEMMSL */
#define IPC_SEMVMX	 32767	   /* largest semaphore value */
#define IPC_MSG_MAX	 (1 << 24) /* bytes in one message (HARD_MSGSIZEMAX) */
#define IPC_MSGS_MAX	 65536	   /* messages in one queue (HARD_MSGMAX) */
#define IPC_MQ_PRIO_MAX	 32767	   /* MQ_PRIO_MAX - 1 */
#define IPC_SYSCTL_VALUE 256

const char *const ipc_sysctls[] = {
	"kernel/shmmax",
	"kernel/shmall",
	"kernel/shmmni",
	"kernel/shm_rmid_forced",
	"kernel/msgmax",
	"kernel/msgmnb",
	"kernel/msgmni",
	"kernel/sem",
	"fs/mqueue/msg_max",
	"fs/mqueue/msgsize_max",
	"fs/mqueue/queues_max",
	"fs/mqueue/msg_default",
	"fs/mqueue/msgsize_default",
};
const size_t ipc_nsysctls = ARRAY_SIZE(ipc_sysctls);

#define IPC_PERM_FIELDS                                                                            \
	DOC_INT(struct ipc_obj, id, "id", 0, INT32_MAX),                                           \
		DOC_INT(struct ipc_obj, key, "key", INT32_MIN, INT32_MAX),                         \
		DOC_INT(struct ipc_obj, mode, "mode", 0, 0xffff),                                  \
		DOC_INT(struct ipc_obj, uid, "uid", 0, UINT32_MAX),                                \
		DOC_INT(struct ipc_obj, gid, "gid", 0, UINT32_MAX)

const struct doc_field ipc_perm_fields[] = {IPC_PERM_FIELDS, DOC_END};

static const struct doc_field shm_fields[] = {
	IPC_PERM_FIELDS,
	DOC_INT(struct ipc_obj, size, "size", 1, IPC_SHM_MAX),
	DOC_END,
};

static const struct doc_field shm_offset_fields[] = {
	DOC_INT(struct ipc_obj, offset, "offset", 0, IPC_SHM_MAX *IPC_OBJS_MAX),
	DOC_END,
};

static const struct doc_field msg_fields[] = {
	IPC_PERM_FIELDS,
	DOC_INT(struct ipc_obj, qbytes, "qbytes", 0, INT32_MAX),
	DOC_END,
};

const struct doc_field ipc_mq_fields[] = {
	DOC_STR(struct ipc_mq, name, "name", 255),
	DOC_INT(struct ipc_mq, mode, "mode", 0, 07777),
	DOC_INT(struct ipc_mq, uid, "uid", 0, UINT32_MAX),
	DOC_INT(struct ipc_mq, gid, "gid", 0, UINT32_MAX),
	DOC_INT(struct ipc_mq, maxmsg, "maxmsg", 1, IPC_MSGS_MAX),
	DOC_INT(struct ipc_mq, msgsize, "msgsize", 1, IPC_MSG_MAX),
	DOC_END,
};

static void msgs_free(struct ipc_msg *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		free(m[i].data);
	free(m);
}

/*
 * "messages": each with its number (key: "type" 1.. or "prio" 0..) and
 * its bytes as hex, at most maxlen of them.
 */
static int msgs_read(const struct doc_at *at, const struct json *o, const char *key, int64_t lo,
		     int64_t hi, size_t maxlen, struct ipc_msg **out, size_t *n, ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "messages");
	const struct json *arr, *m;
	struct ipc_msg *v;
	int ret;

	*out = NULL;
	ret = doc_opt_arr(at, o, "messages", IPC_MSGS_MAX, &arr, n, err);
	if (ret < 0 || !*n)
		return ret;
	v = xzalloc(*n * sizeof(*v));
	for (size_t i = 0; ret == 0 && i < *n; i++) {
		struct doc_at e = DOC_IDX(&l, i), d = DOC_KEY(&e, "data");
		const char *hex;
		int64_t t;

		ret = doc_elem_obj(&l, arr, i, &m, err);
		if (ret == 0)
			ret = doc_int(&e, m, key, lo, hi, &t, err);
		if (ret == 0)
			ret = doc_str(&e, m, "data", 2 * maxlen, &hex, err);
		if (ret == 0 && strlen(hex) % 2)
			ret = doc_error(err, &d, "odd number of hex digits");
		if (ret < 0)
			break;
		v[i].type = t;
		v[i].len = strlen(hex) / 2;
		v[i].data = xzalloc(v[i].len + 1);
		if (v[i].len)
			ret = doc_hexbuf(&e, m, "data", v[i].data, v[i].len, err);
	}
	if (ret < 0) {
		msgs_free(v, *n);
		*n = 0;
		return ret;
	}
	*out = v;
	return 0;
}

static int ipc_sysctls_read(const struct doc_at *at, const struct json *doc, struct ipc_doc *d,
			    ckpt_err_t *err)
{
	struct doc_at s = DOC_KEY(at, "sysctls");
	const struct json *sys;
	int ret = doc_opt_obj(at, doc, "sysctls", &sys, err);

	if (ret < 0)
		return ret;
	if (json_len(sys) > ipc_nsysctls)
		return doc_error(err, &s, "%zu sysctls, %zu known", json_len(sys), ipc_nsysctls);
	d->sys_name = xzalloc((ipc_nsysctls + 1) * sizeof(*d->sys_name));
	d->sys_val = xzalloc((ipc_nsysctls + 1) * sizeof(*d->sys_val));
	for (size_t i = 0; i < json_len(sys); i++) {
		bool known = false;

		ret = doc_map_str(&s, sys, i, IPC_SYSCTL_VALUE, &d->sys_name[i], &d->sys_val[i],
				  err);
		if (ret < 0)
			return ret;
		for (size_t k = 0; k < ipc_nsysctls; k++)
			known |= !strcmp(d->sys_name[i], ipc_sysctls[k]);
		if (!known)
			return doc_error(err, &s, "unknown sysctl `%s`", d->sys_name[i]);
		d->nsys++;
	}
	return 0;
}

/* One object of "sem": its values, 1..SEMMSL of them. */
static int sem_values(const struct doc_at *at, const struct json *o, struct ipc_obj *x,
		      ckpt_err_t *err)
{
	struct doc_at v = DOC_KEY(at, "values");
	const struct json *arr;
	int ret = doc_arr(at, o, "values", IPC_SEMS_MAX, &arr, &x->n, err);

	if (ret < 0)
		return ret;
	if (!x->n)
		return doc_error(err, &v, "a semaphore set has at least one value");
	x->vals = xzalloc(x->n * sizeof(*x->vals));
	for (size_t i = 0; i < x->n; i++) {
		int64_t val;

		ret = doc_elem_int(&v, arr, i, 0, IPC_SEMVMX, &val, err);
		if (ret < 0)
			return ret;
		x->vals[i] = (unsigned short)val;
	}
	return 0;
}

enum ipc_kind { IPC_SHM, IPC_SEM, IPC_MSG };

static int objs_read(const struct doc_at *at, const struct json *doc, enum ipc_kind kind,
		     struct ipc_obj **out, size_t *n, ckpt_err_t *err)
{
	static const char *const keys[] = {"shm", "sem", "msg"};
	static const struct doc_field *const tables[] = {shm_fields, ipc_perm_fields, msg_fields};
	struct doc_at l = DOC_KEY(at, keys[kind]);
	const struct json *arr, *o;
	int ret = doc_opt_arr(at, doc, keys[kind], IPC_OBJS_MAX, &arr, n, err);

	*out = NULL;
	if (ret < 0 || !*n)
		return ret;
	*out = xzalloc(*n * sizeof(**out));
	for (size_t i = 0; ret == 0 && i < *n; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct ipc_obj *x = &(*out)[i];

		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, tables[kind], x, err);
		if (ret == 0 && kind == IPC_SHM)
			ret = doc_read(&e, o, shm_offset_fields, x, err);
		if (ret == 0 && kind == IPC_SEM)
			ret = sem_values(&e, o, x, err);
		if (ret == 0 && kind == IPC_MSG)
			ret = msgs_read(&e, o, "type", 1, LONG_MAX, IPC_MSG_MAX, &x->msgs, &x->n,
					err);
	}
	return ret;
}

static int mqs_read(const struct doc_at *at, const struct json *doc, struct ipc_doc *d,
		    ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "mqueue");
	const struct json *arr, *o;
	int ret = doc_opt_arr(at, doc, "mqueue", IPC_OBJS_MAX, &arr, &d->nmq, err);

	if (ret < 0 || !d->nmq)
		return ret;
	d->mq = xzalloc(d->nmq * sizeof(*d->mq));
	for (size_t i = 0; ret == 0 && i < d->nmq; i++) {
		struct doc_at e = DOC_IDX(&l, i);
		struct ipc_mq *q = &d->mq[i];

		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, ipc_mq_fields, q, err);
		if (ret == 0 && (!q->name[0] || strchr(q->name, '/') || !strcmp(q->name, ".") ||
				 !strcmp(q->name, "..")))
			ret = doc_error(err, &e, "bad queue name `%s`", q->name);
		if (ret == 0)
			ret = msgs_read(&e, o, "prio", 0, IPC_MQ_PRIO_MAX, q->msgsize, &q->msgs,
					&q->n, err);
		if (ret == 0 && q->n > (size_t)q->maxmsg)
			ret = doc_error(err, &e, "%zu messages in a queue of %lld", q->n,
					(long long)q->maxmsg);
	}
	return ret;
}

int ipc_doc_read(const struct json *doc, struct ipc_doc *d, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("ipc.json");
	int ret;

	memset(d, 0, sizeof(*d));
	ret = ipc_sysctls_read(&at, doc, d, err);
	if (ret == 0)
		ret = objs_read(&at, doc, IPC_SHM, &d->shm, &d->nshm, err);
	if (ret == 0)
		ret = objs_read(&at, doc, IPC_SEM, &d->sem, &d->nsem, err);
	if (ret == 0)
		ret = objs_read(&at, doc, IPC_MSG, &d->msg, &d->nmsg, err);
	if (ret == 0)
		ret = mqs_read(&at, doc, d, err);
	if (ret < 0)
		ipc_doc_free(d);
	return ret;
}

int ipc_shm_list(const struct json *doc, struct ipc_obj **out, size_t *n, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("ipc.json");
	struct doc_at l = DOC_KEY(&at, "shm");
	const struct json *arr, *o;
	int ret = doc_opt_arr(&at, doc, "shm", IPC_OBJS_MAX, &arr, n, err);

	*out = NULL;
	if (ret < 0 || !*n)
		return ret;
	*out = xzalloc(*n * sizeof(**out));
	for (size_t i = 0; ret == 0 && i < *n; i++) {
		struct doc_at e = DOC_IDX(&l, i);

		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, shm_fields, &(*out)[i], err);
	}
	if (ret < 0) {
		free(*out);
		*out = NULL;
	}
	return ret;
}

static void objs_free(struct ipc_obj *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].vals);
		msgs_free(v[i].msgs, v[i].n);
	}
	free(v);
}

void ipc_doc_free(struct ipc_doc *d)
{
	free(d->sys_name);
	free(d->sys_val);
	objs_free(d->shm, d->nshm);
	objs_free(d->sem, d->nsem);
	/* a sem's n counts values, not messages: msgs is NULL there */
	objs_free(d->msg, d->nmsg);
	for (size_t i = 0; d->mq && i < d->nmq; i++)
		msgs_free(d->mq[i].msgs, d->mq[i].n);
	free(d->mq);
	memset(d, 0, sizeof(*d));
}
