/*
 * libckpt/files/files-restore.c - the fd table at restore (files.c says
 * how descriptions are shared): shared descriptions and objects made once
 * before the tree forks and parked above its fd numbers, by ckpt-oci or,
 * for those opened by a path of the tree, by its root
 * (files_prepare_paths); then, inside each restored task, every fd put
 * at its number, and the kinds that refer to other fds, locks and owners
 * finished once all are in place.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "util/util.h"

/*
 * Saved fd o is opened by a path of the tree's mount namespace: not a
 * caller's terminal or a file "outside" (below). An unlinked file counts:
 * its copy is made at its old path, in its old directory and filesystem
 * (reg.c), where the tree sees them.
 */
static bool opened_by_path(const struct fd_entry *e)
{
	return files_kind_by_path(e->kind) && !json_get(e->obj, "external") && !e->outside;
}

struct fd_shared *files_shared_find(const struct files_rctx *rc, const char *kind, uint64_t id,
				    int end)
{
	for (int i = 0; i < rc->nobjs; i++)
		if (rc->objs[i].id == id && rc->objs[i].end == end &&
		    !strcmp(rc->objs[i].kind, kind))
			return &rc->objs[i];
	return NULL;
}

int files_park(struct files_rctx *rc, const char *kind, uint64_t id, int end, int fd,
	       ckpt_err_t *err)
{
	int high = fcntl(fd, F_DUPFD_CLOEXEC, rc->min_fd);

	close(fd);
	if (high < 0)
		return ckpt_error(err, errno, "park %s %lu above fd %d", kind, (unsigned long)id,
				  rc->min_fd);
	rc->objs = xrealloc(rc->objs, (rc->nobjs + 1) * sizeof(*rc->objs));
	rc->objs[rc->nobjs++] = (struct fd_shared){kind, id, end, high};
	return 0;
}

/* How many fds use each description id (index: id, 0 for none). */
static int *desc_uses(const struct files_rctx *rc)
{
	int *uses = xzalloc((rc->ndescs + 1) * sizeof(*uses));

	for (int t = 0; t < rc->ntasks; t++)
		for (size_t i = 0; i < rc->tasks[t]->nfds; i++)
			uses[rc->tasks[t]->fds[i].desc]++;
	return uses;
}

/*
 * Descriptions used by more than one fd, and those of files "outside" the
 * tree's mounts (their paths are ckpt-oci's, not the restored task's):
 * made here, once, and parked. Only those opened by a path of the tree
 * when paths, only the others when not. One already parked (an fd in
 * flight needed it, unix-inflight.c) is not made again.
 */
static int prepare_descs(struct files_rctx *rc, bool paths, ckpt_err_t *err)
{
	cleanup_free int *uses = desc_uses(rc);
	int ret = 0;

	for (int t = 0; ret == 0 && t < rc->ntasks; t++) {
		for (size_t i = 0; ret == 0 && i < rc->tasks[t]->nfds; i++) {
			const struct fd_entry *e = &rc->tasks[t]->fds[i];
			int id = e->desc, fd;

			if (id <= 0 || e->dup || (uses[id] < 2 && !e->outside) ||
			    opened_by_path(e) != paths || files_shared_find(rc, "desc", id, 0))
				continue;
			ret = files_open_desc(e, rc, &fd, err);
			if (ret == 0)
				ret = files_park(rc, "desc", id, 0, fd, err);
			if (ret < 0)
				ckpt_error_wrap(err, "shared description of fd %d", e->fd);
		}
	}
	return ret;
}

/*
 * Fd o's kind prepares it where the tree's names mean what they meant
 * (files_prepare_paths): a unix socket, or a FIFO on one of the tree's
 * mounts; one "outside" is opened where its path was, by ckpt-oci.
 */
static bool prepared_in_tree(const struct fd_entry *e)
{
	return e->ops->prepare_in_tree && (!files_kind_by_path(e->kind) || opened_by_path(e));
}

/* Run the prepare of every fd whose kind has one, in the tree or not. */
static int prepare_kinds(struct files_rctx *rc, bool in_tree, ckpt_err_t *err)
{
	for (int t = 0; t < rc->ntasks; t++) {
		for (size_t i = 0; i < rc->tasks[t]->nfds; i++) {
			const struct fd_entry *e = &rc->tasks[t]->fds[i];
			int ret;

			if (!e->ops->prepare || e->dup || prepared_in_tree(e) != in_tree)
				continue;
			ret = e->ops->prepare(e, rc, err);
			if (ret < 0)
				return ckpt_error_wrap(err, "fd %d", e->fd);
		}
	}
	return 0;
}

int files_prepare(struct files_rctx *rc, ckpt_err_t *err)
{
	int ret = files_inflight_load(rc, err);

	if (ret == 0)
		ret = prepare_kinds(rc, false, err);
	return ret < 0 ? ret : prepare_descs(rc, false, err);
}

/*
 * Sockets and FIFOs first (a shared FIFO description opens the FIFO its
 * keeper holds), then descriptions by path, then the fds in flight and
 * unix queues: the files in flight may be any of those.
 */
int files_prepare_paths(struct files_rctx *rc, ckpt_err_t *err)
{
	int ret = prepare_kinds(rc, true, err);

	if (ret == 0)
		ret = prepare_descs(rc, true, err);
	return ret < 0 ? ret : unix_prepare_late(rc, err);
}

void files_rctx_free(struct files_rctx *rc)
{
	for (int i = 0; i < rc->nobjs; i++)
		close(rc->objs[i].fd);
	free(rc->objs);
	rc->objs = NULL;
	rc->nobjs = 0;
	for (int i = 0; i < rc->ntasks; i++) {
		free(rc->tasks[i]->fds);
		json_free(rc->tasks[i]->list);
		free(rc->tasks[i]);
	}
	free(rc->tasks);
	rc->tasks = NULL;
	rc->ntasks = 0;
	free(rc->inflight);
	rc->inflight = NULL;
	rc->ninflight = 0;
	json_free(rc->doc);
	rc->doc = NULL;
}

/* What F_SETFL can change of a description (fs/fcntl.c: SETFL_MASK). */
#define FILES_SETFL_MASK (O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME)

int files_open_desc(const struct fd_entry *e, const struct files_rctx *rc, int *fd, ckpt_err_t *err)
{
	unsigned int want = e->flags & FILES_SETFL_MASK;
	int ret = e->ops->restore(e, rc, fd, err), cur;

	if (ret != 0 || (e->flags & O_PATH))
		return ret < 0 ? ret : 0;
	/* each kind opens as it can (pipes, FIFOs non-blocking); the flags are set here */
	cur = fcntl(*fd, F_GETFL);
	if (cur >= 0 && ((unsigned int)cur & FILES_SETFL_MASK) == want)
		return 0;
	if (cur < 0 || fcntl(*fd, F_SETFL, (cur & ~FILES_SETFL_MASK) | want) < 0) {
		ret = ckpt_error(err, errno, "status flags %#o", want);
		close(*fd);
		*fd = -1;
	}
	return ret;
}

/* A new fd for o: the parked shared description, or one made by its kind. */
static int fd_open_one(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	int id = e->desc;
	struct fd_shared *sh = id > 0 ? files_shared_find(rc, "desc", id, 0) : NULL;

	if (!sh && e->dup)
		return ckpt_error_msg(err, EPROTO, "shared description %d was not prepared", id);
	if (!sh)
		return files_open_desc(e, rc, fd, err);
	*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 0);
	if (*fd < 0)
		return ckpt_error(err, errno, "dup shared description %d", id);
	return 0;
}

/*
 * Put every saved fd at its number, then let kinds that refer to other fds
 * (epoll) or hold locks finish once all are in place. Runs in the restored
 * task; the bundle must not be read here (its fd may be overwritten).
 */
int files_restore_task(pid_t pid, const struct files_rctx *rc, int keep_fd, ckpt_err_t *err)
{
	const struct files_task *t = files_task_of(rc, pid);
	size_t n = t ? t->nfds : 0;

	for (size_t i = 0; i < n; i++) {
		const struct fd_entry *e = &t->fds[i];
		int want = e->fd, fd, ret;

		if (want == keep_fd)
			return ckpt_error_msg(err, EBUSY, "fd %d collides with the image fd", want);
		ret = fd_open_one(e, rc, &fd, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "fd %d", want);
		if (fd != want) {
			if (dup3(fd, want, (e->flags & O_CLOEXEC) ? O_CLOEXEC : 0) < 0)
				return ckpt_error(err, errno, "dup fd %d", want);
			close(fd);
		} else if (!(e->flags & O_CLOEXEC)) {
			fcntl(fd, F_SETFD, 0);
		}
	}
	/*
	 * The parked shared objects are the task's to drop now, before any
	 * lock is set: closing any fd on a file drops the POSIX locks its
	 * process holds there, and a parked description may be of a locked
	 * file (one shared with a child). Their numbers stay taken in rc.
	 */
	for (int i = 0; i < rc->nobjs; i++)
		close(rc->objs[i].fd);
	/* every restore_late first: epoll's may close an fd (epoll.c), dropping POSIX locks */
	for (size_t i = 0; i < n; i++) {
		const struct fd_entry *e = &t->fds[i];
		int ret = 0;

		if (e->ops->restore_late && !e->dup)
			ret = e->ops->restore_late(e, rc, e->fd, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "fd %d", e->fd);
	}
	for (size_t i = 0; i < n; i++) {
		const struct fd_entry *e = &t->fds[i];
		int ret = locks_restore(e, e->fd, err);

		/* after the locks: a lease makes its setter the owner */
		if (ret == 0 && !e->dup)
			ret = owner_restore(e, e->fd, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "fd %d", e->fd);
	}
	return 0;
}
