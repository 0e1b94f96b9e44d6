/*
 * namespaces/ipc.h - what the IPC namespace module's files share: SysV
 * objects and sysctls in ipc.c, POSIX message queues in ipc-mq.c, and
 * ipc.json as typed structs in ipc-doc.c.
 */
#ifndef CKPT_NS_IPC_H
#define CKPT_NS_IPC_H

#include <stdint.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"

/* One queued message: SysV (type > 0) or POSIX (priority). */
struct ipc_msg {
	long type; /* SysV mtype, or POSIX priority */
	size_t len;
	char *data;
};

/*
 * One SysV object of ipc.json ("shm", "sem", "msg"): its id, key and
 * owner, plus what its kind has.
 */
struct ipc_obj {
	int32_t id, key;
	uint32_t mode, uid, gid;
	uint64_t size, offset; /* shm: bytes, and where they are in ipc-shm.img */
	uint64_t qbytes;       /* msg: the queue's byte limit */
	size_t n;	       /* semaphores or messages */
	unsigned short *vals;  /* sem */
	struct ipc_msg *msgs;  /* msg */
};

/* One POSIX message queue ("mqueue"). */
struct ipc_mq {
	const char *name; /* without the leading slash */
	uint32_t mode, uid, gid;
	int64_t maxmsg, msgsize;
	size_t n;
	struct ipc_msg *msgs;
};

/* ipc.json, checked whole before anything is made. */
struct ipc_doc {
	size_t nsys;
	const char **sys_name, **sys_val; /* point into the parsed document */
	struct ipc_obj *shm, *sem, *msg;
	size_t nshm, nsem, nmsg;
	struct ipc_mq *mq;
	size_t nmq;
};

/* ipc-doc.c: the writers' rows (perm_json, the mqueue reader). */
extern const struct doc_field ipc_perm_fields[];
extern const struct doc_field ipc_mq_fields[];
/* The limits known (sysctl names relative to /proc/sys). */
extern const char *const ipc_sysctls[];
extern const size_t ipc_nsysctls;

/* ipc-doc.c: the whole document; strings point into doc. */
int ipc_doc_read(const struct json *doc, struct ipc_doc *out, ckpt_err_t *err);
void ipc_doc_free(struct ipc_doc *d);
/* ipc-doc.c: "shm" as the dump helper returned it (no offsets yet). */
int ipc_shm_list(const struct json *doc, struct ipc_obj **out, size_t *n, ckpt_err_t *err);

/* Inside the namespace (a helper that may change its mount namespace). */
struct json *ipc_mq_read(ckpt_err_t *err);
/* In the root of the restored tree, inside the new namespace. */
int ipc_mq_restore(const struct ipc_mq *mqs, size_t n, ckpt_err_t *err);

/* Small /proc/sys helpers, relative to /proc/sys. */
int ipc_sysctl_read(const char *name, char **out, ckpt_err_t *err);
int ipc_sysctl_write(const char *name, const char *val, ckpt_err_t *err);

#endif
