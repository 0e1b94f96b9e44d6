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

	for (const char *p = strstr(fi->fdinfo, "tfd:"); p; p = strstr(p + 1, "tfd:")) {
		unsigned long long ev, data, ino;
		struct stat st;
		char path[64];
		int tfd;
		struct json *w;

		if (sscanf(p, "tfd: %d events: %llx data: %llx pos:%*d ino:%llx", &tfd, &ev, &data,
			   &ino) != 4)
			return ckpt_error_msg(err, EPROTO, "epoll fd %d of %d: bad fdinfo line",
					      fi->fd, fi->pid);
		snprintf(path, sizeof(path), "fd/%d", tfd);
		if (fstatat(fi->procfd, path, &st, 0) < 0 || st.st_ino != ino)
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported fd %d (epoll watching a closed fd %d) "
					      "in pid %d",
					      fi->fd, tfd, fi->pid);
		w = json_push(watches, json_obj());
		json_set(w, "fd", json_int(tfd));
		json_set(w, "events", json_hex(ev));
		json_set(w, "data", json_hex(data));
	}
	return 0;
}

static int epoll_restore(const struct json *o, const struct files_rctx *rc, int *fd,
			 ckpt_err_t *err)
{
	*fd = epoll_create1(EPOLL_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "epoll_create1");
	return 0;
}

static int epoll_restore_late(const struct json *o, const struct files_rctx *rc, int fd,
			      ckpt_err_t *err)
{
	struct json *watches = json_get(o, "watches");

	for (size_t i = 0; i < json_len(watches); i++) {
		struct json *w = json_at(watches, i);
		int tfd = json_as_int(json_get(w, "fd")), ret;
		uint64_t ev = 0, data = 0;
		struct epoll_event e;

		ret = json_get_hex(w, "events", &ev, err);
		if (ret == 0)
			ret = json_get_hex(w, "data", &data, err);
		if (ret < 0)
			return ret;
		e.events = ev;
		e.data.u64 = data;
		/* a description shared with another task may have it already */
		if (epoll_ctl(fd, EPOLL_CTL_ADD, tfd, &e) < 0 && errno != EEXIST)
			return ckpt_error(err, errno, "epoll: watch fd %d", tfd);
	}
	return 0;
}

const struct fd_ops fd_epoll_ops = {
	.kind = "epoll",
	.match = epoll_match,
	.dump = epoll_dump,
	.restore = epoll_restore,
	.restore_late = epoll_restore_late,
};
