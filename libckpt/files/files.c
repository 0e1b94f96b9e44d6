/*
 * libckpt/files/files.c - the fd table of a task ("fds" in task-PID.json):
 * dispatch to one fd_ops per kind, common state (number, flags, offset);
 * its restore side is files-restore.c.
 * An fd of a kind no fd_ops handles fails the checkpoint, never a silent drop.
 *
 * Sharing: fds (in one task or several) on the same open file description
 * are found with kcmp(KCMP_FILE) and get one "desc" id; only the first
 * holds the state, the others say "dup". At restore such a description is
 * made once before the tree's tasks are forked and parked above every fd
 * number of the tree, so every task inherits the same description: by
 * ckpt-oci, except the kinds opened by path (files, directories, FIFOs,
 * devices, inotify and fanotify watches) and unix sockets in a tree with
 * its own mount or network namespace, which its root makes once it has
 * built those namespaces and before it forks (files_prepare_paths):
 * ckpt-oci's paths are another filesystem, where the path may be missing
 * or, worse, another file, and abstract socket names are per network
 * namespace.
 *
 * Not supported yet; the checkpoint fails with "unsupported fd N (...) in
 * pid P" (or names the socket) and the tree runs on: sockets of other
 * families (inet.c, sock-netlink.c and sock-packet.c list their own
 * gaps), io_uring, bpf, perf;
 * a not yet accepted unix connection holding bytes its client sent, or
 * whose client is closed, or whose client is outside the tree; an epoll
 * in flight (SCM_RIGHTS); inotify and fanotify events queued but
 * unread; fanotify permission classes; an O_ASYNC owner that is a thread
 * other than its process's first (owner.c); a lease being broken
 * (locks.c); a deleted symlink held with O_PATH. SysV IPC objects and the contents of
 * POSIX message queues belong to the IPC namespace (namespaces/); an open
 * queue's fd is mqueue.c's.
 * Restored differently (no error): getsockname of connected stream
 * sockets; datagram senders' addresses and SCM credentials; a memfd both
 * mapped and open is two objects after restore; two separate opens of one
 * unlinked file become one file.
 */
#define LOG_PREFIX "files: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "ckpt/bundle.h"

#include "files/files.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

extern const struct fd_ops fd_mqueue_ops, fd_fanotify_ops, fd_nsfd_ops, fd_netlink_ops,
	fd_packet_ops;

/* Order matters: the first kind whose match() is true takes the fd. */
static const struct fd_ops *const fd_kinds[] = {
	&fd_memfd_ops,	 &fd_mqueue_ops,  &fd_reg_ops,	    &fd_pty_ops,
	&fd_dev_ops,	 &fd_pipe_ops,	  &fd_fifo_ops,	    &fd_inet_ops,
	&fd_netlink_ops, &fd_packet_ops, /* before unix, which takes every other socket */
	&fd_unix_ops,	 &fd_eventfd_ops, &fd_signalfd_ops, &fd_timerfd_ops,
	&fd_epoll_ops,	 &fd_inotify_ops, &fd_pidfd_ops,    &fd_fanotify_ops,
	&fd_nsfd_ops,
};

struct files_desc {
	pid_t pid;
	int fd;
	dev_t dev;
	ino_t ino;
	long long pos;
	unsigned int flags; /* without O_CLOEXEC, which is the fd's */
	int id;
};

int files_desc_epoll_target(const struct files_dctx *dc, int efd, int tfd, ino_t ino)
{
	struct kcmp_epoll_slot slot = {.efd = efd, .tfd = tfd, .toff = 0};

	for (int i = 0; i < dc->ndescs; i++) {
		const struct files_desc *d = &dc->descs[i];

		if (d->ino == ino && syscall(SYS_kcmp, d->pid, getpid(), KCMP_EPOLL_TFD, d->fd,
					     (unsigned long)&slot) == 0)
			return d->id;
	}
	return 0;
}

struct json *files_dlist(struct files_dctx *dc, const char *key)
{
	if (!dc->doc)
		dc->doc = json_obj();
	return json_get(dc->doc, key) ?: json_set(dc->doc, key, json_arr());
}

struct json *files_list_find(const struct json *list, uint64_t id)
{
	uint64_t v;

	for (size_t i = 0; i < json_len(list); i++)
		if (json_hex_value(json_get(json_at(list, i), "id"), &v) && v == id)
			return json_at(list, i);
	return NULL;
}

int files_steal_fd(pid_t pid, int fd, ckpt_err_t *err)
{
	int pfd = syscall(__NR_pidfd_open, pid, 0), copy;

	if (pfd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", pid);
	copy = syscall(__NR_pidfd_getfd, pfd, fd, 0);
	close(pfd);
	if (copy < 0)
		return ckpt_error(err, errno, "pidfd_getfd fd %d of %d", fd, pid);
	return copy;
}

int files_sock_int(int sk, int level, int opt)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	if (getsockopt(sk, level, opt, &v, &sl) < 0)
		return -1;
	return v;
}

/* A socket's family, asked once: the socket kinds' matches compare it. */
static int sock_family(const struct fd_info *fi)
{
	cleanup_close int sk = -1;
	ckpt_err_t e = {0};

	if (!S_ISSOCK(fi->st.st_mode))
		return -1;
	sk = files_steal_fd(fi->pid, fi->fd, &e);
	return sk < 0 ? -1 : files_sock_int(sk, SOL_SOCKET, SO_DOMAIN);
}

/*
 * Order of two open files: by device and inode, then by offset and status
 * flags (one description has one of each, and the tree is frozen), then by
 * kcmp(KCMP_FILE), which orders the kernel's file pointers consistently (1:
 * less, 2: greater). The descriptions seen so far are kept sorted that way,
 * so a lookup costs log n kcmp calls instead of one per description with
 * the same inode (a thousand opens of one file would cost half a million),
 * and none among opens of one file at different offsets.
 */
static int desc_cmp(const struct files_desc *d, const struct fd_info *fi)
{
	unsigned int flags = fi->flags & ~O_CLOEXEC;
	long r;

	if (d->dev != fi->st.st_dev)
		return d->dev < fi->st.st_dev ? -1 : 1;
	if (d->ino != fi->st.st_ino)
		return d->ino < fi->st.st_ino ? -1 : 1;
	if (d->pos != fi->pos)
		return d->pos < fi->pos ? -1 : 1;
	if (d->flags != flags)
		return d->flags < flags ? -1 : 1;
	r = syscall(SYS_kcmp, d->pid, fi->pid, KCMP_FILE, d->fd, fi->fd);
	if (r == 0)
		return 0;
	return r == 1 ? -1 : 1;
}

/* The description id of fi: an earlier one kcmp calls equal, or a new one. */
static int desc_find(struct files_dctx *dc, const struct fd_info *fi, bool *dup)
{
	int lo = 0, hi = dc->ndescs;
	struct files_desc *d;

	while (lo < hi) {
		int mid = (lo + hi) / 2, c = desc_cmp(&dc->descs[mid], fi);

		if (c == 0) {
			*dup = true;
			return dc->descs[mid].id;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	dc->descs = xrealloc(dc->descs, (dc->ndescs + 1) * sizeof(*dc->descs));
	memmove(&dc->descs[lo + 1], &dc->descs[lo], (dc->ndescs - lo) * sizeof(*dc->descs));
	d = &dc->descs[lo];
	*d = (struct files_desc){.pid = fi->pid,
				 .fd = fi->fd,
				 .dev = fi->st.st_dev,
				 .ino = fi->st.st_ino,
				 .pos = fi->pos,
				 .flags = fi->flags & ~O_CLOEXEC,
				 .id = dc->ndescs + 1};
	*dup = false;
	return ++dc->ndescs;
}

static int fdinfo_read(struct fd_info *fi, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct proc_fdinfo pf;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "fdinfo/%d", fi->fd);
	ret = read_file_at(fi->procfd, path, 1 << 20, &text, NULL, err);
	if (ret == 0)
		ret = proc_parse_fdinfo(text, &pf, err);
	if (ret < 0)
		return ret;
	fi->pos = pf.pos;
	fi->flags = pf.flags;
	fi->mnt_id = pf.mnt_id;
	fi->fdinfo = steal_pointer(&text);
	return 0;
}

bool files_kind_by_path(const char *kind)
{
	static const char *const kinds[] = {"reg", "chr", "pty", "fifo", "inotify", "fanotify"};

	for (size_t i = 0; kind && i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kind, kinds[i]))
			return true;
	return false;
}

static int id_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The mount ids of pid's mount namespace (mountinfo), kept sorted in dc. */
static int mnt_ids_read(struct files_dctx *dc, const struct fd_info *fi, ckpt_err_t *err)
{
	struct proc_mount *m = NULL;
	int n = 0, ret = proc_read_mountinfo(fi->procfd, "mountinfo", &m, &n, err);

	if (ret < 0)
		return ckpt_error_wrap(err, "mounts of pid %d", fi->pid);
	dc->mnt_ids = xrealloc(dc->mnt_ids, (n + 1) * sizeof(*dc->mnt_ids));
	dc->nmnt_ids = n;
	for (int i = 0; i < n; i++)
		dc->mnt_ids[i] = m[i].id;
	proc_mounts_free(m, n);
	qsort(dc->mnt_ids, dc->nmnt_ids, sizeof(*dc->mnt_ids), id_cmp);
	return 0;
}

/*
 * A file on a mount its task's mount namespace does not have was opened
 * elsewhere and passed in, like a file a container runtime gave as stdio
 * ("outside"): its path is one of ckpt-oci's world, not the tree's.
 */
static int mark_outside(const struct fd_info *fi, struct fd_entry *e, struct files_dctx *dc,
			ckpt_err_t *err)
{
	int id = fi->mnt_id, ret;
	struct stat ns;
	char fdpath[32];

	if (id < 0)
		return 0;
	if (fstatat(fi->procfd, "ns/mnt", &ns, 0) < 0)
		return ckpt_error(err, errno, "mount namespace of pid %d", fi->pid);
	if (!dc->mnt_ids || dc->mnt_ns != ns.st_ino) {
		ret = mnt_ids_read(dc, fi, err);
		if (ret < 0)
			return ret;
		dc->mnt_ns = ns.st_ino;
	}
	if (!bsearch(&id, dc->mnt_ids, dc->nmnt_ids, sizeof(*dc->mnt_ids), id_cmp)) {
		e->outside = true;
		/* its path is the kernel's, but the tree may have shaped it: restore checks */
		e->outside_dev = fi->st.st_dev;
		e->outside_ino = fi->st.st_ino;
		/* ext4 hands a freed inode number to the next file made */
		snprintf(fdpath, sizeof(fdpath), "fd/%d", fi->fd);
		e->outside_btime = btime_at(fi->procfd, fdpath, 0);
	}
	return 0;
}

/* Fd fi of kind k: its entry in fds, then (not for a dup) its kind's state and owner; locks. */
static int fd_dump_kind(const struct fd_ops *k, struct fd_info *fi, struct json *fds,
			struct files_dctx *dc, ckpt_err_t *err)
{
	struct fd_entry e = {.fd = fi->fd,
			     .kind = k->kind,
			     .flags = fi->flags,
			     .pos = fi->pos,
			     .path = fi->link};
	struct json *o;
	int ret;

	/* the file's own mount: not an anon inode's (inotify, fanotify) */
	if (files_kind_by_path(k->kind) && fi->link[0] == '/') {
		ret = mark_outside(fi, &e, dc, err);
		if (ret < 0)
			return ret;
	}
	o = json_push(fds, json_obj());
	if (!k->own_sharing)
		e.desc = desc_find(dc, fi, &e.dup);
	doc_write(o, fd_entry_fields, &e);
	if (e.desc)
		doc_write(o, fd_entry_desc_fields, &e);
	if (e.outside)
		doc_write(o, fd_entry_outside_fields, &e);
	/* a dup: the first fd on it holds the state; POSIX locks are per task */
	ret = e.dup ? 0 : k->dump(fi, o, dc, err);
	/* (not for a file in flight, which ckpt-oci holds now) */
	if (ret == 0 && !e.dup && !(fi->flags & O_PATH) &&
	    (fi->pid == dc->task_pid || fi->pid != getpid()))
		ret = owner_dump(fi, o, err);
	if (ret == 0)
		ret = locks_dump(fi, e.dup, o, err);
	return ret;
}

int files_dump_fd(pid_t pid, int procfd, int fd, struct json *fds, struct files_dctx *dc,
		  ckpt_err_t *err)
{
	struct fd_info *fi = xzalloc(sizeof(*fi));
	char path[64];
	ssize_t n;
	int ret = 0;

	fi->pid = pid;
	fi->fd = fd;
	fi->procfd = procfd;
	fi->pidfd = dc->task_pid == pid && dc->task_pid ? dc->task_pidfd : -1;
	fi->dc = dc;
	snprintf(path, sizeof(path), "fd/%d", fd);
	n = readlinkat(procfd, path, fi->link, sizeof(fi->link) - 1);
	if (n < 0 || fstatat(procfd, path, &fi->st, 0) < 0) {
		ret = ckpt_error(err, errno, "fd %d of %d", fd, pid);
		goto out;
	}
	fi->link[n] = '\0';
	fi->sk_family = sock_family(fi);
	ret = fdinfo_read(fi, err);
	/* the unix kind does not carry a socket filter yet: refused (sock-filter.c) */
	if (ret == 0 && fi->sk_family == AF_UNIX)
		ret = sock_filter_refuse_fd(fi, "unix", err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++) {
		if (!fd_kinds[i]->match(fi))
			continue;
		ret = fd_dump_kind(fd_kinds[i], fi, fds, dc, err);
		goto out;
	}
	ret = ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (%s) in pid %d", fd, fi->link, pid);
out:
	free(fi->fdinfo);
	free(fi);
	return ret;
}

int files_dump_task(pid_t pid, int procfd, struct json *doc, struct files_dctx *dc, ckpt_err_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct json *fds = json_set(doc, "fds", json_arr());
	struct dirent *de;
	int dfd, pidfd, ret;

	if (!dc->ghost_limit)
		dc->ghost_limit = FILES_GHOST_LIMIT_DEFAULT;
	dfd = openat(procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return ckpt_error(err, errno, "open /proc/%d/fd", pid);
	}
	/* one pidfd for every copy of the task's fds (owner.c) */
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	if (pidfd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", pid);
	dc->task_pidfd = pidfd;
	dc->task_pid = pid;
	ret = 0;
	while (ret == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ret = files_dump_fd(pid, procfd, atoi(de->d_name), fds, dc, err);
	}
	dc->task_pid = 0;
	dc->task_pidfd = -1;
	close(pidfd);
	return ret;
}

const struct fd_ops *files_kind_ops(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (kind && !strcmp(kind, fd_kinds[i]->kind))
			return fd_kinds[i];
	return NULL;
}

void files_dump_free(struct files_dctx *dc)
{
	free(dc->descs);
	dc->descs = NULL;
	dc->ndescs = 0;
	free(dc->ghost_uses);
	dc->ghost_uses = NULL;
	dc->nghost_uses = 0;
	free(dc->mnt_ids);
	dc->mnt_ids = NULL;
	dc->nmnt_ids = 0;
	free(dc->pty_masters);
	dc->pty_masters = NULL;
	dc->npty_masters = 0;
	free(dc->tree_pids);
	dc->tree_pids = NULL;
	dc->ntree_pids = 0;
}

int files_dump_finish(struct files_dctx *dc, ckpt_err_t *err)
{
	int ret = unix_dump_check(dc, err);

	if (ret == 0)
		ret = ghost_dump_check(dc, err);
	unix_diag_close_all(dc);
	files_dump_free(dc);
	if (ret < 0)
		return ret;
	if (!dc->doc)
		dc->doc = json_obj();
	return bundle_put_json(dc->bundle, "files.json", dc->doc, err);
}
