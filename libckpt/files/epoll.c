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
 */
#define LOG_PREFIX "epoll: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <dirent.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files/files.h"
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

static int epoll_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	struct json *watches = json_set(o, "watches", json_arr());
	cleanup_free struct proc_epoll_tfd *tfds = NULL;
	int n = 0, ret;

	ret = proc_parse_epoll(fi->fdinfo, &tfds, &n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "epoll fd %d of %d", fi->fd, fi->pid);
	for (int i = 0; i < n; i++) {
		int tfd = tfds[i].tfd, via = -1;
		struct stat st;
		char path[64];
		struct json *w;

		snprintf(path, sizeof(path), "fd/%d", tfd);
		if (fstatat(fi->procfd, path, &st, 0) == 0) {
			if (st.st_ino != tfds[i].ino || !same_desc(fi->pid, tfd, fi->fd, tfd))
				return ckpt_error_msg(err, ENOTSUP,
						      "unsupported fd %d (epoll watching a closed fd "
						      "%d whose number another file took) in pid %d",
						      fi->fd, tfd, fi->pid);
		} else {
			/* closed: the description lives on at another fd */
			via = find_via(fi, tfd);
			if (via < 0)
				return ckpt_error_msg(err, ENOTSUP,
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
	int via; /* fd was closed: an fd on its description, -1 none */
};

static const struct doc_field watch_fields[] = {
	DOC_INT(struct epoll_watch, fd, "fd", 0, FILES_FD_MAX),
	DOC_OPT_INT(struct epoll_watch, via, "via", 0, FILES_FD_MAX),
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
