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
#include "util/json.h"

struct fd_info {
	pid_t pid;
	int fd;
	int procfd;	    /* /proc/PID */
	struct stat st;	    /* stat of the open file (through /proc/PID/fd/N) */
	char link[4096];    /* readlink of /proc/PID/fd/N */
	unsigned int flags; /* from fdinfo, O_* with O_CLOEXEC */
	long long pos;
	char *fdinfo; /* the whole of /proc/PID/fdinfo/N */
};

struct ckpt_bundle;

/* Dump side: objects shared between fds and tasks, written once (files.json). */
struct files_desc;
struct unix_diag_sk;

#define FILES_GHOST_LIMIT_DEFAULT (64ULL << 20)

struct files_dctx {
	struct ckpt_bundle *bundle;
	struct json *doc;	  /* files.json being built */
	uint64_t ghost_limit;	  /* largest unlinked file saved with its content */
	struct files_desc *descs; /* every open file description seen (kcmp) */
	int ndescs;
	bool tcp_established;	  /* --tcp-established: dump connections (inet.c) */
	int *inet_held;		  /* copies of repaired TCP sockets, until the end */
	int ninet_held;
	struct unix_diag_sk **unix_diag; /* sock_diag sockets, one per netns (unix-diag.c) */
	int nunix_diag;
	uint64_t mnt_ns; /* mount namespace (inode) whose mount ids are below */
	int *mnt_ids;	 /* sorted: is a file on one of the task's mounts? */
	int nmnt_ids;
};

/* The list `key` of files.json, created on first use. */
struct json *files_dlist(struct files_dctx *dc, const char *key);
/* The member of a files.json list whose "id" is id. */
struct json *files_list_find(const struct json *list, uint64_t id);

/*
 * Restore side: shared objects made before the tree is forked (by ckpt-oci,
 * or by the tree's root for descriptions opened by path in a tree with its
 * own mount namespace), so every task inherits the same open file
 * description, as before.
 */
struct fd_shared {
	const char *kind;
	uint64_t id;
	int end; /* pipes: 0 read, 1 write */
	int fd;	 /* in ckpt-oci, above every fd number of the tree */
	bool external;	/* a dup of ckpt-oci's own stdio (pipe.c) */
};

struct files_rctx {
	struct ckpt_bundle *bundle;
	struct json *doc; /* files.json */
	struct fd_shared *objs;
	int nobjs;
	int min_fd;	     /* where shared objects are parked */
	bool ignore_changes; /* --ignore-file-changes */
	bool unix_made;	     /* every unix socket of files.json exists (unix.c) */
	struct json **docs;  /* the tasks' documents given to files_prepare */
	int ndocs;
};

/* Park fd above rc->min_fd as shared object (kind, id, end); closes fd. */
int files_park(struct files_rctx *rc, const char *kind, uint64_t id, int end, int fd,
	       ckpt_err_t *err);

struct fd_ops {
	const char *kind;
	/* true when this kind handles the fd */
	bool (*match)(const struct fd_info *fi);
	/* fill obj with what restore needs; obj already has fd, kind, flags, pos */
	int (*dump)(const struct fd_info *fi, struct json *obj, struct files_dctx *dc,
		    ckpt_err_t *err);
	/* before the tree's first fork: make the shared object of obj (optional) */
	int (*prepare)(const struct json *obj, struct files_rctx *rc, ckpt_err_t *err);
	/* in the restored task: return a new fd (any number) for obj */
	int (*restore)(const struct json *obj, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err);
	/* in the restored task, once every fd is at its number (optional) */
	int (*restore_late)(const struct json *obj, const struct files_rctx *rc, int fd,
			    ckpt_err_t *err);
	/*
	 * The kind shares its objects itself (pipes, sockets: one description
	 * per object); else descriptions are compared with kcmp and a shared
	 * one is made once in ckpt-oci before the fork (files.c).
	 */
	bool own_sharing;
	/*
	 * prepare makes an object whose name means something only in the
	 * tree's namespaces (a unix socket's bound name, a FIFO's path): it
	 * runs in files_prepare_paths, not files_prepare (a FIFO "outside"
	 * the tree's mounts still in files_prepare).
	 */
	bool prepare_in_tree;
};

extern const struct fd_ops fd_reg_ops, fd_dev_ops, fd_pipe_ops, fd_fifo_ops, fd_unix_ops,
	fd_eventfd_ops, fd_signalfd_ops, fd_timerfd_ops, fd_epoll_ops, fd_inotify_ops, fd_pidfd_ops,
	fd_memfd_ops, fd_inet_ops;

/* pipe.c: copy the queued bytes behind read end rfd without consuming them */
int pipe_peek(int rfd, int size, char **buf, ssize_t *len, ckpt_err_t *err);
/* pipe.c: write image `name` of the bundle into wfd */
int pipe_fill_image(int wfd, const char *name, struct ckpt_bundle *b, ckpt_err_t *err);
/* pipe.c: write buf as image name */
int files_put_image(struct ckpt_bundle *b, const char *name, const void *buf, size_t len,
		    ckpt_err_t *err);
/* files.c: a pidfd_getfd copy of the task's fd (for getsockopt, peeking...) */
int files_steal_fd(pid_t pid, int fd, ckpt_err_t *err);
/* files.c: value of "key:" in an fdinfo text, as a number in base; def when absent */
long long fdinfo_num(const char *text, const char *key, int base, long long def);

/* locks.c: POSIX, OFD and flock locks held through this fd (into obj "locks") */
int locks_dump(const struct fd_info *fi, struct json *obj, ckpt_err_t *err);
int locks_restore(const struct json *obj, int fd, ckpt_err_t *err);

/* Dump every fd of a task into "fds" of its document. */
int files_dump_task(pid_t pid, int procfd, struct json *doc, struct files_dctx *dc,
		    ckpt_err_t *err);
/* unix.c: fds in flight, then every connected socket's peer is in the tree (end of dump) */
int unix_dump_check(struct files_dctx *dc, ckpt_err_t *err);
/* files.c: dump fd of pid (procfd /proc/PID) as one more entry of fds */
int files_dump_fd(pid_t pid, int procfd, int fd, struct json *fds, struct files_dctx *dc,
		  ckpt_err_t *err);
/* files.c: the fd_ops of a saved fd object, by its "kind" */
const struct fd_ops *files_ops_of(const struct json *o);
/* unix-inflight.c: after every shared object: fds in flight, unix queues refilled */
int unix_prepare_late(struct files_rctx *rc, struct json *const *docs, int ndocs,
		      ckpt_err_t *err);
/*
 * inet.c: once the dump is over (committed or not): close the copies of
 * repaired TCP sockets, silently (in repair mode) when the tree was killed.
 */
void inet_dump_release(struct files_dctx *dc, bool killed);
/* Write files.json (after every task). */
int files_dump_finish(struct files_dctx *dc, ckpt_err_t *err);

/*
 * Make every shared object the tree's fds need (in ckpt-oci, before forking)
 * except the descriptions opened by path and the kinds prepare_in_tree:
 * files_prepare_paths makes those.
 */
int files_prepare(struct files_rctx *rc, struct json *const *docs, int ndocs, ckpt_err_t *err);
/*
 * The objects of the kinds prepare_in_tree (unix sockets with their queues
 * and fds in flight, FIFOs) and the shared descriptions opened by path
 * (files, directories, FIFOs, devices, inotify, fanotify), parked like the
 * others: in the mount and network namespaces where the tree's paths and
 * abstract names mean what they meant, before the tree's first fork
 * (ckpt-oci, or the root once it built its own namespaces).
 */
int files_prepare_paths(struct files_rctx *rc, ckpt_err_t *err);
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
