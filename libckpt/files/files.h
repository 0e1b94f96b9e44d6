/*
 * libckpt/files/files.h - one fd kind per file, behind struct fd_ops.
 *
 * Dump runs in ckpt-oci and looks at the task's fd through /proc/PID/fd
 * and fdinfo; restore runs inside the restored task (still ckpt-oci code
 * at that point) and puts an open file at the same fd number.
 *
 * Folder libckpt/files/: the fd table (files.c at dump, files-restore.c at
 * restore), its typed documents (files-doc.c: the "fds" of task-PID.json
 * and files.json), and one file per kind (pipes, FIFOs, regular files,
 * sockets, event fds...; unix-doc.c reads files.json "unix"). Objects
 * shared by several fds or tasks are made once before the tree forks and
 * inherited; status flags, owners (owner.c), locks and leases are set on
 * each description once every fd is in place.
 */
#ifndef CKPT_FILES_H
#define CKPT_FILES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <limits.h>
#include <stdio.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/proc.h"

struct fd_info {
	pid_t pid;
	int fd;
	int procfd;	    /* /proc/PID */
	struct stat st;	    /* stat of the open file (through /proc/PID/fd/N) */
	char link[4096];    /* readlink of /proc/PID/fd/N */
	unsigned int flags; /* from fdinfo, O_* with O_CLOEXEC */
	long long pos;
	int mnt_id;    /* from fdinfo; -1 when it does not say */
	char *fdinfo;  /* the whole of /proc/PID/fdinfo/N */
	int pidfd;     /* of pid, while its fds are dumped (files_dump_task); else -1 */
	int sk_family; /* a socket's SO_DOMAIN, asked once for every kind's match; else -1 */
	struct files_dctx *dc; /* the dump it is part of */
};

struct ckpt_bundle;

/* Dump side: objects shared between fds and tasks, written once (files.json). */
struct files_desc;
struct unix_diag_sk;
struct pty_master;

#define FILES_GHOST_LIMIT_DEFAULT (64ULL << 20)

/* A ghost (files.json "ghosts") held by fd of pid, or watched by inotify fd fd. */
struct ghost_use {
	uint64_t id;
	pid_t pid;
	int fd;
	bool watch;
};

struct files_dctx {
	struct ckpt_bundle *bundle;
	struct json *doc;	  /* files.json being built */
	uint64_t ghost_limit;	  /* largest unlinked file saved with its content */
	struct files_desc *descs; /* every open file description seen (kcmp) */
	int ndescs;
	bool tcp_established; /* --tcp-established: dump connections (inet.c) */
	bool ext_unix_sk;     /* --ext-unix-sk: datagram peers outside by name (unix.c) */
	bool skip_in_flight;  /* --skip-in-flight: a listener's unaccepted ones left out */
	int *inet_held;	      /* copies of repaired TCP sockets, until the end */
	int ninet_held;
	struct unix_diag_sk **unix_diag; /* sock_diag sockets, one per netns (unix-diag.c) */
	int nunix_diag;
	int task_pidfd; /* pidfd of task_pid while files_dump_task runs */
	pid_t task_pid;
	uint64_t mnt_ns; /* mount namespace (inode) whose mount ids are below */
	int *mnt_ids;	 /* sorted: is a file on one of the task's mounts? */
	int nmnt_ids;
	struct ghost_use *ghost_uses; /* reg.c: who holds or watches each ghost */
	int nghost_uses;
	pid_t *tree_pids; /* every task of the tree (ckpt-oci's numbers) */
	int ntree_pids;
	struct pty_master *pty_masters; /* pty masters the tree holds (tty.c) */
	int npty_masters;
	bool pty_scanned;
};

/* The list `key` of files.json, created on first use. */
struct json *files_dlist(struct files_dctx *dc, const char *key);
/* The member of a files.json list being written whose "id" is id. */
struct json *files_list_find(const struct json *list, uint64_t id);

/*
 * Limits of what a bundle may say about files. fd numbers: below fs.nr_open's
 * default (2^20), the page image's fd above them all; flags: every O_* bit
 * fdinfo can show; lists of files.json and "fds": at most FILES_LIST_MAX
 * members.
 */
#define FILES_FD_MAX	((1 << 20) - 2)
#define FILES_FLAGS_MAX 037777777
/* The kernel's O_LARGEFILE as fdinfo shows it (glibc's is 0 on 64-bit). */
#define FILES_O_LARGEFILE 0100000
#define FILES_LIST_MAX	  (1 << 22)
/* A pipe or FIFO holds at most this much (pipe-max-size can go no higher). */
#define FILES_PIPE_MAX (1U << 31)

/*
 * One saved fd, an element of "fds" in task-PID.json or of "inflight" in
 * files.json (fd -1), read through fd_entry_fields (files.c) once, at the
 * boundary: the members every kind has, range-checked; the kind's own
 * members stay in obj and are read by its fd_ops with at as position, so
 * errors read "task-12.json: fds[3].watches[0].wd: ...". Never copied
 * (at points into the entry itself).
 */
struct fd_entry {
	int fd;		    /* -1: a file in flight */
	unsigned int flags; /* O_* with O_CLOEXEC, as fdinfo */
	int64_t pos;
	const char *kind, *path;
	int desc;     /* shared description id, 0: none (the kind shares itself) */
	bool dup;     /* another fd holds the description's state */
	bool outside; /* on a mount the tree's namespace lacks (files.c) */
	int64_t outside_dev, outside_ino;
	int64_t outside_btime; /* birth time in ns, 0: unknown (inode numbers are reused) */
	const struct fd_ops *ops;
	const struct json *obj;
	struct doc_at at, up[2];
	char file[32];
};

/* The members every fd has (files-doc.c); the other two written only when set. */
extern const struct doc_field fd_entry_fields[], fd_entry_desc_fields[], fd_entry_outside_fields[];

/* Read element idx of list `list` of document file into e. */
int fd_entry_read(struct fd_entry *e, const char *file, const char *list, size_t idx,
		  const struct json *obj, ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * A member of a files.json list found by its "id", with its position (for
 * errors naming "files.json: pipes[2].size"). Never copied.
 */
struct files_item {
	const struct json *obj;
	struct doc_at top, list, at;
};

/* Find id in list `list` of files.json doc: 1 found, 0 absent, < 0 a bad list. */
int files_find(const struct json *doc, const char *list, uint64_t id, struct files_item *it,
	       ckpt_err_t *err) __attribute__((warn_unused_result));
/* The same, absent an EPROTO error naming what e refers to. */
int files_need(const struct json *doc, const char *list, uint64_t id, const struct fd_entry *e,
	       struct files_item *it, ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * Restore side: shared objects made before the tree is forked (by ckpt-oci,
 * or by the tree's root for descriptions opened by path in a tree with its
 * own mount namespace), so every task inherits the same open file
 * description, as before.
 */
struct fd_shared {
	const char *kind;
	uint64_t id;
	int end;       /* pipes: 0 read, 1 write */
	int fd;	       /* in ckpt-oci, above every fd number of the tree */
	bool external; /* a dup of ckpt-oci's own stdio (pipe.c) */
};

/*
 * The saved fds of one task, read by files_task_load from a copy of its
 * "fds" it owns: the task's document need not outlive the load.
 */
struct files_task {
	pid_t pid;
	struct json *list; /* task-PID.json "fds", copied: what fds[] point into */
	struct fd_entry *fds;
	size_t nfds;
};

struct files_rctx {
	struct ckpt_bundle *bundle;
	struct json *doc; /* files.json */
	struct fd_shared *objs;
	int nobjs;
	int min_fd;		   /* where shared objects are parked */
	bool ignore_changes;	   /* --ignore-file-changes */
	bool tcp_close;		   /* --tcp-close: connections restored reset (inet-restore.c) */
	bool unix_made;		   /* every unix socket of files.json exists (unix-restore.c) */
	struct files_task **tasks; /* every task's fds (files_task_load) */
	int ntasks;
	struct fd_entry *inflight; /* files.json "inflight" (files_prepare) */
	size_t ninflight;
	int ndescs;	/* the largest description id any fd may name */
	int console_sk; /* masters of orphan ptys go to ckpt-oci through it; -1: none */
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
	/* before the tree's first fork: make the shared object of e (optional) */
	int (*prepare)(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err);
	/*
	 * in the restored task: return a new fd (any number) for e; 1 when it
	 * is the caller's own description (stdio), whose flags stay the
	 * caller's, else 0 and files.c sets e's status flags
	 */
	int (*restore)(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err);
	/* in the restored task, once every fd is at its number (optional) */
	int (*restore_late)(const struct fd_entry *e, const struct files_rctx *rc, int fd,
			    ckpt_err_t *err);
	/*
	 * inspect: the kind's key state after the members every fd has, on
	 * the fd's line; called again with lines true after that line, for
	 * lines of its own (inotify's watches). files: files.json, NULL when
	 * the bundle has none. Never called for a "dup" (optional).
	 */
	int (*describe)(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
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
	fd_memfd_ops, fd_inet_ops, fd_pty_ops;

/*
 * tty-restore.c: in a new session leader sid, before it forks: the slave of every
 * pair that was its controlling terminal becomes it again.
 */
int pty_set_ctty(const struct files_rctx *rc, pid_t sid, ckpt_err_t *err);
/* tty-restore.c: what a pair needs once every task is in its process group. */
struct pty_late {
	int index;
	pid_t holder; /* a task holding the master, at fd */
	int fd;
	pid_t sid, fg; /* its session and foreground group (0: none) */
	bool lock;
};
/* Read from rc (before files_rctx_free); *out malloc'd. */
int pty_late_read(const struct files_rctx *rc, struct pty_late **out, int *n, ckpt_err_t *err);
/*
 * tty-restore.c: the pair of index made now in the devpts whose directory is dir
 * (a mount binds its slave, mnt-restore.c), its master kept for the fds.
 */
int pty_make_early(int dir, int index, ckpt_err_t *err);
/* tty-restore.c: an orphan's master the tree's root passed on console_sk, -1 when none. */
int pty_recv_master(int sk);
/* tty-restore.c: pass master to the unix socket at path, as runc's console socket wants. */
int pty_send_console(const char *path, int master, ckpt_err_t *err);

/* pipe.c: copy the queued bytes behind read end rfd without consuming them */
int pipe_peek(int rfd, int size, char **buf, ssize_t *len, ckpt_err_t *err);
/* pipe.c: write image `name` of the bundle into wfd */
int pipe_fill_image(int wfd, const char *name, struct ckpt_bundle *b, ckpt_err_t *err);
/* pipe.c: write buf as image name */
int files_put_image(struct ckpt_bundle *b, const char *name, const void *buf, size_t len,
		    ckpt_err_t *err);
/* files.c: a pidfd_getfd copy of the task's fd (for getsockopt, peeking...) */
int files_steal_fd(pid_t pid, int fd, ckpt_err_t *err);
/* getsockopt of an int option of sk; -1 when it fails. */
int files_sock_int(int sk, int level, int opt);

struct nlmsghdr;
/*
 * sock-diag.c: a sock_diag dump request (req: len bytes, the family's
 * *_diag_req) asked in sk's network namespace; cb sees each answer until
 * it returns 1 (found) or -1 (a bad answer). 1 found, 0 not, < 0 an error.
 */
int sock_diag_query(int sk, const void *req, size_t len,
		    int (*cb)(const struct nlmsghdr *h, void *arg), void *arg, ckpt_err_t *err);

/* The longest classic BPF socket filter saved (BPF_MAXINSNS). */
#define SOCK_FILTER_MAX 4096
/* sock-filter.c: sk's classic BPF filter and its lock into o; an eBPF one is
 * refused, naming fd fi as a `what` socket. */
int sock_filter_dump(int sk, struct json *o, const struct fd_info *fi, const char *what,
		     ckpt_err_t *err);
/* sock-filter.c: refuse fd fi if it has a filter or a lock (kinds that do not carry them). */
int sock_filter_refuse_fd(const struct fd_info *fi, const char *what, ckpt_err_t *err);
/* sock-filter.c: the filter and lock saved in o (at) on sk again. */
int sock_filter_restore(int sk, const struct doc_at *at, const struct json *o, ckpt_err_t *err);

/* Owner, group, mode and times of a file restore makes (attr.c, "attr"). */
struct file_attr {
	unsigned int mode;
	uint32_t uid, gid;
	int64_t atime, mtime;
	int64_t atime_ns, mtime_ns;
	bool present; /* "attr" was saved (older bundles: no) */
};

void attr_dump(const struct stat *st, struct json *obj);
int attr_read(const struct doc_at *at, const struct json *obj, struct file_attr *a, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* fd: the new file (O_PATH will do) */
int attr_apply(int fd, const struct file_attr *a, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/* The times of a directory restore is about to add an entry to, put back after. */
struct attr_dir {
	int fd;
	struct stat st;
};
int attr_dir_save(const char *path, struct attr_dir *d);
void attr_dir_put_back(struct attr_dir *d);
/* attr.c: link ends in " (deleted)": true, and path is link without it. */
bool files_link_deleted(const char *link, char *path, size_t len);
/*
 * attr.c: an fd (opened with oflags) on a directory, FIFO or device node
 * (fmt S_IFDIR, S_IFIFO, S_IFCHR with rdev) made at path and removed.
 */
int files_make_deleted(const char *path, mode_t fmt, dev_t rdev, int oflags, ckpt_err_t *err);
/*
 * attr.c: the saved root is a deleted directory and the cwd is elsewhere
 * (then the root is made again apart, files_root_make, and entered by
 * prctl's chroot through /proc/self/fd).
 */
bool files_root_apart(const char *cwd, const char *root);
/* attr.c: the deleted root made again, held at fd number at. */
int files_root_make(const char *root, int at, ckpt_err_t *err);
/* attr.c: chdir to a task's saved cwd, a deleted one (" (deleted)") made again first. */
int files_chdir(const char *cwd, ckpt_err_t *err);

/*
 * sparse.c: the data of fd (apparent size `size`, at most limit bytes of
 * data: EFBIG) as image name, its runs and size into obj; *bytes the data.
 */
int sparse_save(int fd, off_t size, uint64_t limit, struct ckpt_bundle *b, const char *name,
		struct json *obj, uint64_t *bytes, ckpt_err_t *err);
/* sparse.c: fd made size bytes long, image name written at obj's runs (holes kept). */
int sparse_fill(int fd, struct ckpt_bundle *b, const char *name, const struct doc_at *at,
		const struct json *obj, int64_t size, ckpt_err_t *err);

/*
 * reg.c: the inode st of an unlinked file (fd: open for reading, unused for
 * a directory) saved in files.json "ghosts" once; *id its id there.
 */
int ghost_save(struct files_dctx *dc, int fd, const struct stat *st, const char *link, uint64_t *id,
	       ckpt_err_t *err);
/* reg.c: ghost id is watched by inotify fd fd of pid (ghost_dump_check). */
void ghost_watched(struct files_dctx *dc, uint64_t id, pid_t pid, int fd);
/*
 * reg.c, once every fd is dumped: an unlinked file watched by inotify that
 * no fd of the tree holds is refused (the restored watch would end at once:
 * its holder outside the tree is not restored).
 */
int ghost_dump_check(struct files_dctx *dc, ckpt_err_t *err);
/* reg.c: ghost id made (at path, its old name) and parked, once; e names it in errors. */
int ghost_prepare(struct files_rctx *rc, uint64_t id, const char *path, const struct fd_entry *e,
		  ckpt_err_t *err);

/* owner.c: the O_ASYNC owner and signal of fd's description (into obj "owner") */
int owner_dump(const struct fd_info *fi, struct json *obj, ckpt_err_t *err);
int owner_restore(const struct fd_entry *e, int fd, ckpt_err_t *err);
/*
 * files.c: a new fd for e made by its kind, with e's status flags (O_APPEND,
 * O_NONBLOCK, O_ASYNC, O_DIRECT, O_NOATIME) unless the kind gave the
 * caller's own description (its restore returned 1).
 */
int files_open_desc(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		    ckpt_err_t *err);
/* locks.c: POSIX, OFD and flock locks held through this fd (into obj "locks") */
int locks_dump(const struct fd_info *fi, bool dup, struct json *obj, ckpt_err_t *err);
int locks_restore(const struct fd_entry *e, int fd, ckpt_err_t *err);

/* Dump every fd of a task into "fds" of its document. */
int files_dump_task(pid_t pid, int procfd, struct json *doc, struct files_dctx *dc,
		    ckpt_err_t *err);
/* unix-check.c: fds in flight, then every connected socket's peer is in the tree (end of dump) */
int unix_dump_check(struct files_dctx *dc, ckpt_err_t *err);
/* files.c: dump fd of pid (procfd /proc/PID) as one more entry of fds */
int files_dump_fd(pid_t pid, int procfd, int fd, struct json *fds, struct files_dctx *dc,
		  ckpt_err_t *err);
/*
 * files.c: the description id of the file (inode ino) that registration
 * tfd of epoll efd (ckpt-oci's fd: one in flight) watches, 0 when no fd
 * dumped so far is on it.
 */
int files_desc_epoll_target(const struct files_dctx *dc, int efd, int tfd, ino_t ino);
/*
 * unix-inflight.c: before the fork, a new fd on shared description id
 * (parked; made from its holder first when no fd needed it parked); e
 * names it in errors.
 */
int files_desc_open(struct files_rctx *rc, int id, const struct fd_entry *e, int *fd,
		    ckpt_err_t *err);
/*
 * epoll.c: the watches of epoll e in flight added to epfd (made by
 * unix_prepare_late), each on its saved target description.
 */
int epoll_inflight_restore(const struct fd_entry *e, int epfd, struct files_rctx *rc,
			   ckpt_err_t *err);
/* files.c: the fd_ops of a kind, NULL when no fd_ops has that name */
const struct fd_ops *files_kind_ops(const char *kind);
/*
 * files.c: kinds whose restore opens a path (or watches one): what that
 * path names depends on the mount namespace it is opened in.
 */
bool files_kind_by_path(const char *kind);
/* unix-inflight.c: after every shared object: fds in flight, unix queues refilled */
int unix_prepare_late(struct files_rctx *rc, ckpt_err_t *err);
/*
 * inet.c: once the dump is over (committed or not): close the copies of
 * repaired TCP sockets, silently (in repair mode) when the tree was killed.
 */
void inet_dump_release(struct files_dctx *dc, bool killed);
/* Write files.json (after every task). */
int files_dump_finish(struct files_dctx *dc, ckpt_err_t *err);
/* What the dump of the files kept across tasks, freed (by finish, or on failure). */
void files_dump_free(struct files_dctx *dc);

/*
 * Read the "fds" of a task's document (task-PID.json) into rc, checked;
 * *max_fd is raised to its largest fd number. doc must outlive rc.
 */
int files_task_load(struct files_rctx *rc, pid_t pid, const struct json *doc, int *max_fd,
		    ckpt_err_t *err);
/* files.json "inflight" into rc, and every description id checked (files_prepare). */
int files_inflight_load(struct files_rctx *rc, ckpt_err_t *err);
/* The fds files_task_load read for task pid, NULL if none. */
const struct files_task *files_task_of(const struct files_rctx *rc, pid_t pid);
/*
 * Make every shared object the tree's fds need (in ckpt-oci, before forking)
 * except the descriptions opened by path and the kinds prepare_in_tree:
 * files_prepare_paths makes those.
 */
int files_prepare(struct files_rctx *rc, ckpt_err_t *err);
/* inspect: one fd's line (its kind's describe included), files: files.json or NULL. */
int files_describe(const struct json *fd, const char *file, size_t idx, const struct json *files,
		   FILE *out, ckpt_err_t *err);
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
 * In the restored task pid: open every fd of it at its number and close all
 * others except keep_fd (the page image). Runs before the task is rewritten.
 */
int files_restore_task(pid_t pid, const struct files_rctx *rc, int keep_fd, ckpt_err_t *err);

#endif
