/*
 * libckpt/files/epoll.c - epoll: every watched fd with its events and data
 * (fdinfo "tfd:" lines). Restore makes an empty epoll; the registrations
 * are added once every fd of the task is at its number (restore_late).
 * A registration must name an fd the task still has open: a watched file
 * whose fd was closed (but kept alive by a dup elsewhere) is refused.
 */
#define LOG_PREFIX "epoll: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>

#include "files/files.h"
#include "util/util.h"

static bool epoll_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[eventpoll]");
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
		int tfd = tfds[i].tfd;
		struct stat st;
		char path[64];
		struct json *w;

		snprintf(path, sizeof(path), "fd/%d", tfd);
		if (fstatat(fi->procfd, path, &st, 0) < 0 || st.st_ino != tfds[i].ino)
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported fd %d (epoll watching a closed fd %d) "
					      "in pid %d",
					      fi->fd, tfd, fi->pid);
		w = json_push(watches, json_obj());
		json_set(w, "fd", json_int(tfd));
		json_set(w, "events", json_hex(tfds[i].events));
		json_set(w, "data", json_hex(tfds[i].data));
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
};

static const struct doc_field watch_fields[] = {
	DOC_INT(struct epoll_watch, fd, "fd", 0, FILES_FD_MAX),
	DOC_HEX(struct epoll_watch, events, "events", UINT32_MAX),
	DOC_HEX(struct epoll_watch, data, "data", UINT64_MAX),
	DOC_END,
};

static int epoll_watches(const struct fd_entry *e, const struct json **list, size_t *n,
			 ckpt_err_t *err)
{
	return doc_opt_arr(&e->at, e->obj, "watches", FILES_LIST_MAX, list, n, err);
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

		ret = doc_elem_obj(&at, watches, i, &w, err);
		if (ret == 0)
			ret = doc_read(&wat, w, watch_fields, &ew, err);
		if (ret < 0)
			return ret;
		ev.events = ew.events;
		ev.data.u64 = ew.data;
		/* a description shared with another task may have it already */
		if (epoll_ctl(fd, EPOLL_CTL_ADD, ew.fd, &ev) < 0 && errno != EEXIST)
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
