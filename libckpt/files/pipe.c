/*
 * libckpt/files/pipe.c - pipes: both ends, their capacity and the bytes
 * sitting in them (files.json "pipes", data in pipe-ID.img).
 *
 * The bytes are read without consuming them: tee() from a new read end
 * (opened through /proc/PID/fd/N) into a private pipe, then read that.
 * At restore ckpt-oci makes each pipe once, refills it, and parks both
 * ends above every fd number of the tree before forking it. Each open
 * description of an end (usually one; one more for every open of
 * /proc/PID/fd/N) is opened again through the parked end, so each keeps
 * its own status flags (O_NONBLOCK, O_DIRECT packet mode, O_ASYNC); those
 * shared by several fds are made once and inherited like other shared
 * descriptions (files.c). A pipe that leads outside the tree at its stdio
 * is the restore's stdio instead, with the caller's flags.
 */
#define LOG_PREFIX "pipe: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static bool pipe_match(const struct fd_info *fi)
{
	return S_ISFIFO(fi->st.st_mode) && !strncmp(fi->link, "pipe:[", 6);
}

/* Copy the queued bytes of the pipe behind fd without consuming them. */
int pipe_peek(int rfd, int size, char **buf, ssize_t *len, ckpt_err_t *err)
{
	cleanup_close int p0 = -1, p1 = -1;
	int p[2];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return ckpt_error(err, errno, "pipe");
	p0 = p[0];
	p1 = p[1];
	if (fcntl(p1, F_SETPIPE_SZ, size) < size)
		return ckpt_error(err, errno, "private pipe of %d bytes", size);
	n = tee(rfd, p1, size, SPLICE_F_NONBLOCK);
	if (n < 0 && errno == EAGAIN)
		n = 0; /* empty */
	if (n < 0)
		return ckpt_error(err, errno, "tee");
	*buf = xzalloc(n + 1);
	*len = n ? read_all(p0, *buf, n) : 0;
	if (*len != n)
		return ckpt_error(err, EIO, "read %zd queued bytes", n);
	return 0;
}

static int pipe_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		     ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("fd/%d", fi->fd), *buf = NULL, *name = NULL;
	cleanup_close int rfd = -1;
	struct json *pipes, *p;
	uint64_t id = fi->st.st_ino;
	ssize_t len = 0;
	int size, ret;

	int end = (fi->flags & O_ACCMODE) == O_RDONLY ? 0 : 1;

	json_set(o, "id", json_int(id));
	json_set(o, "end", json_int(end));
	pipes = files_dlist(dc, "pipes");
	/* "held": the ends the tree holds (bit 0 read, bit 1 write) */
	if ((p = files_list_find(pipes, id))) {
		int64_t held = 0;

		(void)json_get_int(p, "held", &held, NULL);
		json_set(p, "held", json_int(held | 1 << end));
		return 0;
	}
	rfd = openat(fi->procfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (rfd < 0)
		return ckpt_error(err, errno, "open pipe %lu of %d", (unsigned long)id, fi->pid);
	size = fcntl(rfd, F_GETPIPE_SZ);
	if (size < 0)
		return ckpt_error(err, errno, "pipe size");
	ret = pipe_peek(rfd, size, &buf, &len, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "pipe %lu of %d", (unsigned long)id, fi->pid);
	p = json_push(pipes, json_obj());
	json_set(p, "id", json_int(id));
	json_set(p, "held", json_int(1 << end));
	json_set(p, "size", json_int(size));
	json_set(p, "bytes", json_int(len));
	if (!len)
		return 0;
	name = xasprintf("pipe-%lu.img", (unsigned long)id);
	json_set(p, "image", json_str(name));
	return files_put_image(dc->bundle, name, buf, len, err);
}

int files_put_image(struct ckpt_bundle *b, const char *name, const void *buf, size_t len,
		    ckpt_err_t *err)
{
	struct bundle_image *img = NULL;
	int ret;

	ret = bundle_image_create(b, name, &img, err);
	if (ret == 0)
		ret = bundle_image_write(img, buf, len, err);
	if (ret < 0) {
		bundle_image_abort(img);
		return ret;
	}
	return bundle_image_close(img, err);
}

int pipe_fill_image(int wfd, const char *name, struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	cleanup_close int in = -1;
	uint64_t size;
	int ret;

	if (!name)
		return 0;
	ret = bundle_open_file(b, name, &in, &size, err);
	if (ret < 0)
		return ret;
	buf = xzalloc(size + 1);
	if (read_all(in, buf, size) != (ssize_t)size)
		return ckpt_error(err, EIO, "read %s", name);
	ret = write_all(wfd, buf, size);
	if (ret < 0)
		return ckpt_error(err, -ret, "refill pipe from %s", name);
	return 0;
}

/* A pipe of files.json "pipes". */
struct pipe_saved {
	int held; /* bit 0 read end, bit 1 write end; 0: not said (an older bundle) */
	uint32_t size, bytes;
	const char *image;
};

static const struct doc_field pipe_fields[] = {
	DOC_OPT_INT(struct pipe_saved, held, "held", 0, 3),
	DOC_INT(struct pipe_saved, size, "size", 0, FILES_PIPE_MAX - 1),
	DOC_INT(struct pipe_saved, bytes, "bytes", 0, FILES_PIPE_MAX - 1),
	DOC_OPT_STR(struct pipe_saved, image, "image", 255),
	DOC_END,
};

/* The pipe an fd is an end of (pipe id, end 0 or 1) and what files.json says of it. */
static int pipe_read(const struct fd_entry *e, const struct json *files, uint64_t *id, int *end,
		     struct pipe_saved *p, ckpt_err_t *err)
{
	struct files_item it;
	int64_t v = 0;
	int ret;

	*p = (struct pipe_saved){0};
	ret = doc_u64(&e->at, e->obj, "id", UINT64_MAX, id, err);
	if (ret == 0)
		ret = doc_int(&e->at, e->obj, "end", 0, 1, &v, err);
	if (ret == 0)
		ret = files_need(files, "pipes", *id, e, &it, err);
	if (ret == 0)
		ret = doc_read(&it.at, it.obj, pipe_fields, p, err);
	if (ret == 0 && p->bytes > p->size)
		ret = doc_error(err, &it.at, "%u bytes queued in a pipe of %u", p->bytes, p->size);
	*end = v;
	return ret;
}

/*
 * A pipe of which the tree holds one end only, at fd 0, 1 or 2, leads
 * outside: the caller's stdio (a runtime's, a shell's pipeline). It is
 * connected to ckpt-oci's own fd of that number, as a terminal is (dev.c),
 * so the restored tree writes to (reads from) whoever runs the restore,
 * when ours goes the same way. A read end with bytes the tree has not read
 * yet (`producer | tree`, the producer done) is made anew with them, its
 * writer gone, as before. An older bundle has no "held": every pipe is made
 * anew.
 */
static int pipe_external(const struct fd_entry *e, uint64_t id, int end, const struct pipe_saved *p,
			 struct files_rctx *rc, bool *done, ckpt_err_t *err)
{
	int held = p->held, want = e->fd, fd, acc;

	*done = false;
	if (!held || held == 3 || want > 2 || (acc = fcntl(want, F_GETFL)) < 0)
		return 0;
	acc &= O_ACCMODE;
	/* ours must go the same way; a read end with bytes left keeps them (a new pipe) */
	if (end == 0 ? acc == O_WRONLY : acc == O_RDONLY)
		return 0;
	if (end == 0 && p->bytes)
		return 0;
	fd = fcntl(want, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return ckpt_error(err, errno, "dup our fd %d", want);
	pr_info("pipe %lu: outside the tree, connected to our fd %d", (unsigned long)id, want);
	*done = true;
	return files_park(rc, "pipe", id, end, fd, err);
}

static int pipe_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	struct pipe_saved p;
	struct fd_shared *sh;
	uint64_t id;
	bool ext = false;
	int fds[2], size, ret, end;

	ret = pipe_read(e, rc->doc, &id, &end, &p, err);
	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "pipe", id, end);
	if (!sh) {
		ret = pipe_external(e, id, end, &p, rc, &ext, err);
		if (ret < 0)
			return ret;
		sh = files_shared_find(rc, "pipe", id, end);
		if (sh)
			sh->external = ext;
	}
	if (!sh) {
		if (pipe2(fds, O_CLOEXEC) < 0)
			return ckpt_error(err, errno, "pipe");
		size = p.size;
		if (size > 0 && fcntl(fds[1], F_SETPIPE_SZ, size) < size)
			pr_warn("pipe %lu: size %d not restored (%m), ignoring", (unsigned long)id,
				size);
		ret = pipe_fill_image(fds[1], p.image, rc->bundle, err);
		if (ret < 0) {
			close(fds[0]);
			close(fds[1]);
			return ret;
		}
		ret = files_park(rc, "pipe", id, 0, fds[0], err);
		if (ret == 0)
			ret = files_park(rc, "pipe", id, 1, fds[1], err);
		else
			close(fds[1]);
		if (ret < 0)
			return ret;
		sh = files_shared_find(rc, "pipe", id, end);
	}
	return 0;
}

static int pipe_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			ckpt_err_t *err)
{
	struct fd_shared *sh;
	char path[64];
	int64_t end;
	uint64_t id;
	int ret;

	ret = doc_u64(&e->at, e->obj, "id", UINT64_MAX, &id, err);
	if (ret == 0)
		ret = doc_int(&e->at, e->obj, "end", 0, 1, &end, err);
	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "pipe", id, end);
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "pipe was not prepared");
	/*
	 * The end pipe() made, or the caller's own description (its flags
	 * stay the caller's). pipe() never sets O_LARGEFILE, open() always
	 * does (64-bit): that tells the two apart.
	 */
	if (sh->external || !(e->flags & FILES_O_LARGEFILE)) {
		*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 0);
		if (*fd < 0)
			return ckpt_error(err, errno, "dup pipe");
		return sh->external ? 1 : 0;
	}
	/*
	 * Another description of that end (an open of /proc/PID/fd/N), with
	 * flags of its own. Non-blocking, never waiting for a partner (both
	 * ends are parked); the flags are set by files.c.
	 */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sh->fd);
	*fd = open(path, (end ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "open %s end of pipe %" PRIu64,
				  end ? "write" : "read", id);
	return 0;
}

/*
 * A pipe end; "held" says which ends the tree holds (bit 0 read, bit 1
 * write): with one only, the other leads outside (a runtime's stdio).
 */
static int pipe_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			 ckpt_err_t *err)
{
	struct pipe_saved p;
	uint64_t id;
	int end, ret;

	if (lines)
		return 0;
	ret = pipe_read(e, files, &id, &end, &p, err);
	if (ret < 0)
		return ret;
	fprintf(out, " pipe %" PRIu64 " %s end", id, end ? "write" : "read");
	if (p.bytes)
		fprintf(out, " %u bytes queued", p.bytes);
	if (p.held && p.held != 3)
		fprintf(out, " (other end outside)");
	return 0;
}

const struct fd_ops fd_pipe_ops = {
	.kind = "pipe",
	.match = pipe_match,
	.dump = pipe_dump,
	.prepare = pipe_prepare,
	.restore = pipe_restore,
	.describe = pipe_describe,
};
