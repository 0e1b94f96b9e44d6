/*
 * libckpt/files/files.h - one fd kind per file, behind struct fd_ops.
 *
 * Dump runs in ckpt-oci and looks at the task's fd through /proc/PID/fd
 * and fdinfo; restore runs inside the restored task (still ckpt-oci code
 * at that point) and puts an open file at the same fd number.
 */
#ifndef CKPT_FILES_H
#define CKPT_FILES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ckpt/error.h"
#include "json.h"

struct fd_info {
	pid_t pid;
	int fd;
	int procfd;		/* /proc/PID */
	struct stat st;		/* stat of the open file (through /proc/PID/fd/N) */
	char link[4096];	/* readlink of /proc/PID/fd/N */
	unsigned int flags;	/* from fdinfo, O_* with O_CLOEXEC */
	long long pos;
};

struct fd_ops {
	const char *kind;
	/* true when this kind handles the fd */
	bool (*match)(const struct fd_info *fi);
	/* fill obj with what restore needs; obj already has fd, kind, flags, pos */
	int (*dump)(const struct fd_info *fi, struct json *obj, ckpt_err_t *err);
	/* in the restored task: return a new fd (any number) for obj */
	int (*restore)(const struct json *obj, int *fd, ckpt_err_t *err);
};

extern const struct fd_ops fd_reg_ops, fd_dev_ops;

/* Dump every fd of a task into "fds" of its document. */
int files_dump_task(pid_t pid, int procfd, struct json *doc, ckpt_err_t *err);
/*
 * In the restored task: open every fd of doc at its number and close all
 * others except keep_fd (the page image). Runs before the task is rewritten.
 */
int files_restore_task(const struct json *doc, int keep_fd, ckpt_err_t *err);

#endif
