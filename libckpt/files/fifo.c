/*
 * libckpt/files/fifo.c - FIFOs opened on a path: the path, flags, and the
 * bytes queued in them (files.json "fifos", fifo-ID.img), read without
 * consuming like a pipe's.
 *
 * Restore opens the FIFO once read-write (a "keeper": the open cannot
 * block and the refilled bytes have somewhere to live), parks it, and
 * every fd opens the path non-blocking (never waiting for the other
 * side), then takes its saved flags. The keeper is opened where the
 * tasks' paths are (files_prepare_paths): by the root of a tree with its
 * own mount namespace once it built it, the FIFO being the one in the
 * tree's filesystem; by ckpt-oci otherwise, or when the FIFO is "outside"
 * the tree's mounts (passed in from the host).
 */
#define LOG_PREFIX "fifo: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static bool fifo_match(const struct fd_info *fi)
{
	return S_ISFIFO(fi->st.st_mode) && fi->link[0] == '/';
}

static int fifo_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		     ckpt_err_t *err)
{
	struct json *list = files_dlist(dc, "fifos"), *f;
	cleanup_free char *path = xasprintf("fd/%d", fi->fd), *buf = NULL, *name = NULL;
	cleanup_close int rfd = -1;
	uint64_t id = fi->st.st_ino;
	ssize_t len = 0;
	int size, ret;

	json_set(o, "fifo", json_int(id));
	if (files_list_find(list, id))
		return 0;
	rfd = openat(fi->procfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0)
		return ckpt_error(err, errno, "open fifo `%s` of %d", fi->link, fi->pid);
	size = fcntl(rfd, F_GETPIPE_SZ);
	if (size < 0)
		return ckpt_error(err, errno, "fifo size");
	ret = pipe_peek(rfd, size, &buf, &len, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "fifo `%s` of %d", fi->link, fi->pid);
	f = json_push(list, json_obj());
	json_set(f, "id", json_int(id));
	json_set(f, "size", json_int(size));
	json_set(f, "bytes", json_int(len));
	if (!len)
		return 0;
	name = xasprintf("fifo-%lu.img", (unsigned long)id);
	json_set(f, "image", json_str(name));
	return files_put_image(dc->bundle, name, buf, len, err);
}

/* A FIFO of files.json "fifos". */
struct fifo_saved {
	uint32_t size, bytes;
	const char *image;
};

static const struct doc_field fifo_fields[] = {
	DOC_INT(struct fifo_saved, size, "size", 0, FILES_PIPE_MAX - 1),
	DOC_INT(struct fifo_saved, bytes, "bytes", 0, FILES_PIPE_MAX - 1),
	DOC_OPT_STR(struct fifo_saved, image, "image", 255),
	DOC_END,
};

static int fifo_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	const char *path = e->path;
	struct fifo_saved f = {0};
	struct files_item it;
	char real[PATH_MAX];
	struct stat st;
	uint64_t id;
	int fd, ret, size;

	ret = doc_u64(&e->at, e->obj, "fifo", UINT64_MAX, &id, err);
	if (ret < 0 || files_shared_find(rc, "fifo", id, 0))
		return ret;
	ret = files_need(rc->doc, "fifos", id, e, &it, err);
	if (ret == 0)
		ret = doc_read(&it.at, it.obj, fifo_fields, &f, err);
	if (ret < 0)
		return ret;
	/* deleted while open: made again, kept open by the keeper only */
	if (files_link_deleted(e->path, real, sizeof(real)))
		fd = files_make_deleted(real, S_IFIFO, 0, O_RDWR | O_NONBLOCK, err);
	else
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && files_link_deleted(e->path, real, sizeof(real)))
		return fd;
	if (fd < 0)
		return ckpt_error(err, errno, "open fifo `%s`", path);
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return ckpt_error_msg(err, ENOENT, "`%s` is no longer a FIFO", path);
	}
	size = f.size;
	if (size > 0 && fcntl(fd, F_SETPIPE_SZ, size) < size)
		pr_warn("fifo `%s`: size %d not restored (%m), ignoring", path, size);
	ret = pipe_fill_image(fd, f.image, rc->bundle, err);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return files_park(rc, "fifo", id, 0, fd, err);
}

static int fifo_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			ckpt_err_t *err)
{
	const char *path = e->path;
	int flags = e->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC);
	struct fd_shared *sh;
	char real[PATH_MAX], keeper[64];
	uint64_t id;
	int ret = doc_u64(&e->at, e->obj, "fifo", UINT64_MAX, &id, err);

	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "fifo", id, 0);
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "fifo `%s` was not prepared", path);
	/* a deleted FIFO has no path any more: through its keeper */
	if (files_link_deleted(path, real, sizeof(real))) {
		snprintf(keeper, sizeof(keeper), "/proc/self/fd/%d", sh->fd);
		path = keeper;
	}
	*fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "open fifo `%s`", path);
	if (fcntl(*fd, F_SETFL, flags) < 0) {
		close(*fd);
		return ckpt_error(err, errno, "fifo `%s` flags", path);
	}
	return 0;
}

const struct fd_ops fd_fifo_ops = {
	.kind = "fifo",
	.match = fifo_match,
	.dump = fifo_dump,
	.prepare = fifo_prepare,
	.restore = fifo_restore,
	.prepare_in_tree = true,
};
