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

struct ckpt_bundle;

/* Dump side: objects shared between fds and tasks, written once (files.json). */
struct files_dctx {
	struct ckpt_bundle *bundle;
	struct json *doc;	/* files.json being built */
};

/*
 * Restore side: shared objects made by ckpt-oci before the tree is forked,
 * so every task inherits the same open file description, as before.
 */
struct fd_shared {
	const char *kind;
	uint64_t id;
	int end;		/* pipes: 0 read, 1 write */
	int fd;			/* in ckpt-oci, above every fd number of the tree */
};

struct files_rctx {
	struct ckpt_bundle *bundle;
	struct json *doc;	/* files.json */
	struct fd_shared *objs;
	int nobjs;
	int min_fd;		/* where shared objects are parked */
};

struct fd_ops {
	const char *kind;
	/* true when this kind handles the fd */
	bool (*match)(const struct fd_info *fi);
	/* fill obj with what restore needs; obj already has fd, kind, flags, pos */
	int (*dump)(const struct fd_info *fi, struct json *obj, struct files_dctx *dc,
		    ckpt_err_t *err);
	/* in ckpt-oci, before the tree exists: make the shared object of obj (optional) */
	int (*prepare)(const struct json *obj, struct files_rctx *rc, ckpt_err_t *err);
	/* in the restored task: return a new fd (any number) for obj */
	int (*restore)(const struct json *obj, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err);
};

extern const struct fd_ops fd_reg_ops, fd_dev_ops, fd_pipe_ops;

/* Dump every fd of a task into "fds" of its document. */
int files_dump_task(pid_t pid, int procfd, struct json *doc, struct files_dctx *dc,
		    ckpt_err_t *err);
/* Write files.json (after every task). */
int files_dump_finish(struct files_dctx *dc, ckpt_err_t *err);

/* Make every shared object the tree's fds need (in ckpt-oci, before forking). */
int files_prepare(struct files_rctx *rc, struct json *const *docs, int ndocs, ckpt_err_t *err);
void files_rctx_free(struct files_rctx *rc);
struct fd_shared *files_shared_find(const struct files_rctx *rc, const char *kind, uint64_t id,
				    int end);
/*
 * In the restored task: open every fd of doc at its number and close all
 * others except keep_fd (the page image). Runs before the task is rewritten.
 */
int files_restore_task(const struct json *doc, const struct files_rctx *rc, int keep_fd,
		       ckpt_err_t *err);

#endif
