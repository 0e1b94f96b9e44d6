/*
 * libckpt/files/epoll.c - epoll: every watched fd with its events and data
 * (fdinfo "tfd:" lines). Restore makes an empty epoll; the registrations
 * are added once every fd of the task is at its number (restore_late).
 * A registration is the pair (open description, fd number) it was added
 * with, and outlives the fd when the description lives on (a dup): such a
 * watch is saved with "via", another fd of the task on the same
 * description (kcmp KCMP_EPOLL_TFD), and restore puts that description at
 * the closed number for the while of the EPOLL_CTL_ADD. Refused: a closed
 * fd whose description no fd of the task holds, or whose number another
 * file took since.
 *
 * An epoll in flight (SCM_RIGHTS, not received yet) is peeked into
 * ckpt-oci, where its watch numbers mean nothing: each watch names the
 * description it is on, "desc" (kcmp against every fd dumped, the tree's
 * and those in flight) or "unix" (a unix socket, one description each).
 * Restore, before the fork, opens each target, and a helper child puts
 * each at its watch number for the EPOLL_CTL_ADD (its own fd table: the
 * closes drop nothing of ckpt-oci's). One watching a file nothing else
 * holds is refused.
 */
#define LOG_PREFIX "epoll: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <dirent.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "files/files.h"
#include "util/spawn.h"
#include "util/util.h"

static bool epoll_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[eventpoll]");
}

/* Is registration (tfd) of epoll efd in pid on the description of pid's fd? */
static bool same_desc(pid_t pid, int fd, int efd, int tfd)
{
	struct kcmp_epoll_slot slot = {.efd = efd, .tfd = tfd, .toff = 0};

	return syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, (unsigned long)&slot) == 0;
}

/* An fd of the task on the description of registration tfd, else -1. */
static int find_via(const struct fd_info *fi, int tfd)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int dfd = openat(fi->procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && same_desc(fi->pid, atoi(de->d_name), fi->fd, tfd))
			return atoi(de->d_name);
	return -1;
}

/* Watch t of an epoll in flight (fi: ckpt-oci's copy): its target into w. */
static int inflight_target(const struct fd_info *fi, const struct proc_epoll_tfd *t,
			   struct files_dctx *dc, struct json *w, ckpt_err_t *err)
{
	int id = files_desc_epoll_target(dc, fi->fd, t->tfd, t->ino);

	if (id > 0) {
		json_set(w, "desc", json_int(id));
		return 0;
	}
	if (files_list_find(files_dlist(dc, "unix"), t->ino)) {
		json_set(w, "unix", json_int(t->ino));
		return 0;
	}
	return ckpt_error_msg(err, ENOTSUP,
			      "unsupported epoll in flight watching fd %d (inode %lu), neither "
			      "a unix socket nor a description saved before it (a file in "
			      "flight after it, a socket of another kind)",
			      t->tfd, (unsigned long)t->ino);
}

static int epoll_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	struct json *watches = json_set(o, "watches", json_arr());
	cleanup_free struct proc_epoll_tfd *tfds = NULL;
	int n = 0, ret;

	ret = proc_parse_epoll(fi->fdinfo, &tfds, &n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "epoll fd %d of %d", fi->fd, fi->pid);
	/* in flight: peeked into ckpt-oci, its numbers are no table's */
	for (int i = 0; fi->pid == getpid() && i < n; i++) {
		struct json *w = json_push(watches, json_obj());

		json_set(w, "fd", json_int(tfds[i].tfd));
		json_set(w, "events", json_hex(tfds[i].events));
		json_set(w, "data", json_hex(tfds[i].data));
		ret = inflight_target(fi, &tfds[i], dc, w, err);
		if (ret < 0)
			return ret;
	}
	for (int i = 0; fi->pid != getpid() && i < n; i++) {
		int tfd = tfds[i].tfd, via = -1;
		struct stat st;
		char path[64];
		struct json *w;

		snprintf(path, sizeof(path), "fd/%d", tfd);
		if (fstatat(fi->procfd, path, &st, 0) == 0) {
			if (st.st_ino != tfds[i].ino || !same_desc(fi->pid, tfd, fi->fd, tfd))
				return ckpt_error_msg(
					err, ENOTSUP,
					"unsupported fd %d (epoll watching a closed fd "
					"%d whose number another file took) in pid %d",
					fi->fd, tfd, fi->pid);
		} else {
			/* closed: the description lives on at another fd */
			via = find_via(fi, tfd);
			if (via < 0)
				return ckpt_error_msg(
					err, ENOTSUP,
					"unsupported fd %d (epoll watching a closed fd "
					"%d whose description no fd of the task holds) "
					"in pid %d",
					fi->fd, tfd, fi->pid);
		}
		w = json_push(watches, json_obj());
		json_set(w, "fd", json_int(tfd));
		json_set(w, "events", json_hex(tfds[i].events));
		json_set(w, "data", json_hex(tfds[i].data));
		if (via >= 0)
			json_set(w, "via", json_int(via));
	}
	return 0;
}

static int epoll_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			 ckpt_err_t *err)
{
	*fd = epoll_create1(EPOLL_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "epoll_create1");
	return 0;
}

/* One registration of "watches". */
struct epoll_watch {
	int fd;
	uint32_t events;
	uint64_t data;
	int via;     /* fd was closed: an fd on its description, -1 none */
	int desc;    /* in flight: the shared description watched, 0 none */
	uint64_t sk; /* in flight: the unix socket watched, 0 none */
};

static const struct doc_field watch_fields[] = {
	DOC_INT(struct epoll_watch, fd, "fd", 0, FILES_FD_MAX),
	DOC_OPT_INT(struct epoll_watch, via, "via", 0, FILES_FD_MAX),
	DOC_OPT_INT(struct epoll_watch, desc, "desc", 1, INT32_MAX),
	DOC_OPT_INT(struct epoll_watch, sk, "unix", 1, INT64_MAX),
	DOC_HEX(struct epoll_watch, events, "events", UINT32_MAX),
	DOC_HEX(struct epoll_watch, data, "data", UINT64_MAX),
	DOC_END,
};

static int epoll_watches(const struct fd_entry *e, const struct json **list, size_t *n,
			 ckpt_err_t *err)
{
	return doc_opt_arr(&e->at, e->obj, "watches", FILES_LIST_MAX, list, n, err);
}

/*
 * A watch whose fd was closed: the description of fd via put at the number
 * for the while of the EPOLL_CTL_ADD. (Closing it again would drop POSIX
 * locks of the file: files_restore_task sets locks after every restore_late.)
 */
static int watch_closed(int efd, const struct epoll_watch *ew, struct epoll_event *ev,
			ckpt_err_t *err)
{
	int ret = 0;

	if (fcntl(ew->fd, F_GETFD) >= 0 || errno != EBADF)
		return ckpt_error_msg(err, EBUSY, "epoll: closed fd %d is taken", ew->fd);
	if (dup3(ew->via, ew->fd, O_CLOEXEC) < 0)
		return ckpt_error(err, errno, "epoll: fd %d at %d", ew->via, ew->fd);
	if (epoll_ctl(efd, EPOLL_CTL_ADD, ew->fd, ev) < 0 && errno != EEXIST)
		ret = ckpt_error(err, errno, "epoll: watch closed fd %d", ew->fd);
	close(ew->fd);
	return ret;
}

static int epoll_restore_late(const struct fd_entry *e, const struct files_rctx *rc, int fd,
			      ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "watches");
	const struct json *watches;
	size_t n;
	int ret = epoll_watches(e, &watches, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at wat = DOC_IDX(&at, i);
		const struct json *w;
		struct epoll_watch ew;
		struct epoll_event ev;

		ew.via = -1;
		ret = doc_elem_obj(&at, watches, i, &w, err);
		if (ret == 0)
			ret = doc_read(&wat, w, watch_fields, &ew, err);
		if (ret < 0)
			return ret;
		ev.events = ew.events;
		ev.data.u64 = ew.data;
		if (ew.via >= 0)
			ret = watch_closed(fd, &ew, &ev, err);
		/* a description shared with another task may have it already */
		else if (epoll_ctl(fd, EPOLL_CTL_ADD, ew.fd, &ev) < 0 && errno != EEXIST)
			return ckpt_error(err, errno, "epoll: watch fd %d", ew.fd);
	}
	return ret;
}

/* Watch i of e, checked, into *ew. */
static int watch_read(const struct fd_entry *e, const struct json *watches, size_t i,
		      struct epoll_watch *ew, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "watches"), wat = DOC_IDX(&at, i);
	const struct json *w;
	int ret = doc_elem_obj(&at, watches, i, &w, err);

	*ew = (struct epoll_watch){.via = -1};
	return ret < 0 ? ret : doc_read(&wat, w, watch_fields, ew, err);
}

/* What the helper child of epoll_inflight_restore does. */
struct inflight_add {
	int epfd;
	struct epoll_watch *w;
	int *targets;
	size_t n;
};

/*
 * In the child: every fd it needs moved above every watch number, then
 * each target put at its watch's number and added. Exit code: an errno.
 */
static int inflight_add_child(void *arg)
{
	struct inflight_add *a = arg;
	int base = 3;

	for (size_t i = 0; i < a->n; i++)
		if (a->w[i].fd >= base)
			base = a->w[i].fd + 1;
	a->epfd = fcntl(a->epfd, F_DUPFD, base);
	for (size_t i = 0; a->epfd >= 0 && i < a->n; i++)
		if ((a->targets[i] = fcntl(a->targets[i], F_DUPFD, base)) < 0)
			return errno;
	if (a->epfd < 0)
		return errno;
	for (size_t i = 0; i < a->n; i++) {
		struct epoll_event ev = {.events = a->w[i].events, .data.u64 = a->w[i].data};

		if (dup2(a->targets[i], a->w[i].fd) < 0 ||
		    (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->w[i].fd, &ev) < 0 && errno != EEXIST))
			return errno;
		close(a->w[i].fd);
	}
	return 0;
}

int epoll_inflight_restore(const struct fd_entry *e, int epfd, struct files_rctx *rc,
			   ckpt_err_t *err)
{
	const struct json *watches;
	struct inflight_add a = {.epfd = epfd};
	struct spawn s = {.name = "epoll watches", .child = inflight_add_child, .arg = &a};
	size_t n;
	int ret = epoll_watches(e, &watches, &n, err);

	if (ret < 0 || n == 0)
		return ret;
	a.w = xzalloc(n * sizeof(*a.w));
	a.targets = xzalloc(n * sizeof(*a.targets));
	for (size_t i = 0; i < n; i++)
		a.targets[i] = -1;
	for (a.n = 0; ret == 0 && a.n < n; a.n++) {
		struct epoll_watch *w = &a.w[a.n];
		struct fd_shared *sh;

		ret = watch_read(e, watches, a.n, w, err);
		if (ret == 0 && w->desc)
			ret = files_desc_open(rc, w->desc, e, &a.targets[a.n], err);
		else if (ret == 0 && w->sk && (sh = files_shared_find(rc, "unix", w->sk, 0)))
			a.targets[a.n] = fcntl(sh->fd, F_DUPFD_CLOEXEC, 3);
		else if (ret == 0)
			ret = doc_error(err, &e->at, "watch of fd %d: no target", w->fd);
		if (ret == 0 && a.targets[a.n] < 0)
			ret = ckpt_error(err, errno, "target of watch of fd %d", w->fd);
	}
	if (ret == 0)
		ret = spawn_run(&s, err);
	if (ret == 0 && (!WIFEXITED(s.status) || WEXITSTATUS(s.status)))
		ret = ckpt_error_msg(err, WIFEXITED(s.status) ? WEXITSTATUS(s.status) : EINTR,
				     "epoll in flight: adding its watches: %s",
				     WIFEXITED(s.status) ? strerror(WEXITSTATUS(s.status))
							 : "killed");
	spawn_free(&s);
	for (size_t i = 0; i < n; i++)
		if (a.targets[i] >= 0)
			close(a.targets[i]);
	free(a.targets);
	free(a.w);
	return ret;
}

static int epoll_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			  ckpt_err_t *err)
{
	const struct json *watches;
	size_t n;
	int ret = lines ? 0 : epoll_watches(e, &watches, &n, err);

	if (ret == 0 && !lines)
		fprintf(out, " %zu watches", n);
	return ret;
}

const struct fd_ops fd_epoll_ops = {
	.kind = "epoll",
	.match = epoll_match,
	.dump = epoll_dump,
	.restore = epoll_restore,
	.restore_late = epoll_restore_late,
	.describe = epoll_describe,
};
