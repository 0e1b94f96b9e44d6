/*
 * namespaces/ipc.h - what the IPC namespace module's files share: SysV
 * objects and sysctls in ipc.c, POSIX message queues in ipc-mq.c.
 */
#ifndef CKPT_NS_IPC_H
#define CKPT_NS_IPC_H

#include "ckpt/error.h"
#include "util/json.h"

/* Inside the namespace (a helper that may change its mount namespace). */
struct json *ipc_mq_read(ckpt_err_t *err);
/* In the root of the restored tree, inside the new namespace. */
int ipc_mq_restore(const struct json *mqs, ckpt_err_t *err);

/* Small /proc/sys helpers, relative to /proc/sys. */
int ipc_sysctl_read(const char *name, char **out, ckpt_err_t *err);
int ipc_sysctl_write(const char *name, const char *val, ckpt_err_t *err);

#endif
