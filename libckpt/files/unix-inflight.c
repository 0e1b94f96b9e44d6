/*
 * libckpt/files/unix-inflight.c - fds in flight: sent over a unix socket
 * (SCM_RIGHTS) and not received yet (files.json "inflight", and "msgs" /
 * "rights" of the queue that carries them).
 *
 * Dump, once every task's fds are dumped (so kcmp finds a description the
 * tree also holds): each queue marked "held_by" [pid, fd] (where it was
 * read from; ckpt-oci's own pid for a socket itself in flight) is peeked
 * again; every fd
 * the peek installs in ckpt-oci is dumped like a task's fd (same fd_ops,
 * "desc"/"dup" sharing through kcmp, pipes and sockets by inode) into
 * "inflight", and held open until the end so later kcmp compare against a
 * live file. A socket in flight is dumped like any other, its own queue
 * included (the list grows while it is walked).
 *
 * Restore, where the sockets are made (files_prepare_paths: ckpt-oci, or
 * the root of a tree with its own namespaces) after every other shared
 * object and before the first fork: each in-flight file is opened (the
 * tree's parked description when it shares one, else made by its kind),
 * then every queue is refilled with the fds attached to the same
 * messages, then the fds are closed: only the queue holds them, as
 * before. An epoll in flight gets its watches once every in-flight file
 * is open (epoll.c: epoll_inflight_restore). Cycles (a socket in flight
 * in its own queue, or two in each other's) need nothing special: every
 * socket exists before any queue is filled.
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/util.h"

int unix_inflight_add(struct unix_inflight *inf, const int *fds, int n, struct json *refs,
		      ckpt_err_t *err)
{
	struct json *list = files_dlist(inf->dc, "inflight");
	int ret = 0;

	/* held first: on error they are closed with the rest */
	inf->held = xrealloc(inf->held, (inf->nheld + n) * sizeof(*inf->held));
	memcpy(inf->held + inf->nheld, fds, n * sizeof(*fds));
	inf->nheld += n;
	for (int i = 0; ret == 0 && i < n; i++) {
		size_t ref = json_len(list);
		const struct fd_ops *ops;
		const char *kind;

		ret = files_dump_fd(getpid(), inf->procfd, fds[i], list, inf->dc, err);
		if (ret < 0)
			break;
		ops = NULL;
		if (json_get_str(json_at(list, ref), "kind", &kind, NULL) == 0)
			ops = files_kind_ops(kind);
		/*
		 * restore_late needs the task's fd numbers: none here (an epoll's
		 * watches are added by unix_prepare_late instead)
		 */
		if (ops && ops->restore_late && ops != &fd_epoll_ops)
			return ckpt_error_msg(err, ENOTSUP, "unsupported %s in flight", ops->kind);
		json_set(json_at(list, ref), "fd", json_int(-1));
		json_push(refs, json_int(ref));
	}
	return ret;
}

static int dump_queue_again(struct unix_inflight *inf, struct json *e, ckpt_err_t *err)
{
	const struct json *h = json_get(e, "held_by");
	struct fd_info *fi = xzalloc(sizeof(*fi));
	struct doc_at at = DOC_TOP("files.json");
	int64_t id = 0, pid = 0, fd = 0, type = 0;
	int sk, ret;

	/* written by this dump a moment ago */
	ret = doc_int(&at, e, "id", 0, INT64_MAX, &id, err);
	if (ret == 0)
		ret = doc_int(&at, e, "type", 0, INT32_MAX, &type, err);
	if (ret == 0)
		ret = doc_elem_int(&at, h, 0, 1, DOC_PID_MAX, &pid, err);
	if (ret == 0)
		ret = doc_elem_int(&at, h, 1, 0, FILES_FD_MAX, &fd, err);
	if (ret < 0) {
		free(fi);
		return ret;
	}
	fi->pid = pid;
	fi->fd = fd;
	sk = files_steal_fd(fi->pid, fi->fd, err);
	ret = sk;
	if (sk >= 0) {
		ret = unix_dump_queue(fi, sk, id, type, e, inf->dc, inf, err);
		close(sk);
	}
	if (ret < 0)
		ckpt_error_wrap(err, "fds in flight in unix socket %lu", (unsigned long)id);
	free(fi);
	return ret;
}

int unix_dump_inflight(struct files_dctx *dc, ckpt_err_t *err)
{
	struct json *list = dc->doc ? json_get(dc->doc, "unix") : NULL;
	struct unix_inflight inf = {.dc = dc, .procfd = -1};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < json_len(list); i++) {
		struct json *e = json_at(list, i);

		if (!json_get(e, "held_by"))
			continue;
		if (inf.procfd < 0) {
			inf.procfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (inf.procfd < 0) {
				ret = ckpt_error(err, errno, "open /proc/self");
				break;
			}
		}
		ret = dump_queue_again(&inf, e, err);
	}
	for (int i = 0; i < inf.nheld; i++)
		close(inf.held[i]);
	free(inf.held);
	if (inf.procfd >= 0)
		close(inf.procfd);
	return ret;
}

/* The fd (holder) that carries the state of description id: the tree's first. */
static const struct fd_entry *desc_holder(const struct files_rctx *rc, int id, bool *in_tree)
{
	for (int t = 0; t < rc->ntasks; t++) {
		for (size_t i = 0; i < rc->tasks[t]->nfds; i++) {
			const struct fd_entry *e = &rc->tasks[t]->fds[i];

			if (e->desc == id && !e->dup) {
				*in_tree = true;
				return e;
			}
		}
	}
	*in_tree = false;
	for (size_t i = 0; i < rc->ninflight; i++)
		if (rc->inflight[i].desc == id && !rc->inflight[i].dup)
			return &rc->inflight[i];
	return NULL;
}

/* Open e by its kind (its shared object made first when it has one). */
static int open_by_kind(const struct fd_entry *e, bool prepared, struct files_rctx *rc, int *fd,
			ckpt_err_t *err)
{
	int ret;

	if (!prepared && e->ops->prepare) {
		ret = e->ops->prepare(e, rc, err);
		if (ret < 0)
			return ret;
	}
	return files_open_desc(e, rc, fd, err);
}

int files_desc_open(struct files_rctx *rc, int id, const struct fd_entry *e, int *fd,
		    ckpt_err_t *err)
{
	struct fd_shared *sh = files_shared_find(rc, "desc", id, 0);
	const struct fd_entry *h;
	bool in_tree;
	int ret;

	if (!sh) {
		h = desc_holder(rc, id, &in_tree);
		if (!h)
			return doc_error(err, &e->at, "no holder of description %d", id);
		ret = open_by_kind(h, in_tree, rc, fd, err);
		if (ret == 0)
			ret = files_park(rc, "desc", id, 0, *fd, err);
		if (ret < 0)
			return ret;
		sh = files_shared_find(rc, "desc", id, 0);
	}
	*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 3);
	if (*fd < 0)
		return ckpt_error(err, errno, "dup description %d", id);
	return 0;
}

/*
 * A new fd for in-flight file e. One that shares a description with other
 * fds gets the description parked under "desc": made here from its holder
 * when no task needed it parked, so the tree's fds dup it as well.
 */
static int inflight_open(struct files_rctx *rc, const struct fd_entry *e, int *fd, ckpt_err_t *err)
{
	if (e->desc <= 0)
		return open_by_kind(e, false, rc, fd, err);
	return files_desc_open(rc, e->desc, e, fd, err);
}

int unix_prepare_late(struct files_rctx *rc, ckpt_err_t *err)
{
	size_t n = rc->ninflight;
	int *fds, ret = 0;

	if (!rc->unix_made)
		return 0;
	fds = xzalloc((n + 1) * sizeof(*fds));
	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = inflight_open(rc, &rc->inflight[i], &fds[i], err);
		if (ret < 0)
			ckpt_error_wrap(err, "fd %zu in flight", i);
	}
	/* an epoll in flight (its state held here, not by a task): its watches */
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct fd_entry *e = &rc->inflight[i];

		if (e->ops == &fd_epoll_ops && !e->dup)
			ret = epoll_inflight_restore(e, fds[i], rc, err);
		if (ret < 0)
			ckpt_error_wrap(err, "fd %zu in flight", i);
	}
	if (ret == 0)
		ret = unix_fill_all(rc, fds, n, err);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return ret;
}
