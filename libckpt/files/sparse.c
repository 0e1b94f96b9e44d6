/*
 * libckpt/files/sparse.c - the content of a file restore makes anew (an
 * unlinked file, a memfd), holes kept: only the runs of data
 * (SEEK_DATA / SEEK_HOLE) go into the image, listed as "runs" [[offset,
 * length], ...] beside the file's apparent "size"; restore sets the size
 * and writes each run at its offset, so the holes are holes again and a
 * large sparse file costs what it holds. The ghost limit applies to the
 * data, not to the apparent size.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "util/util.h"

#define SPARSE_CHUNK (1 << 20)

/* The runs of data of fd, up to size, into runs; *bytes their total. */
static int data_runs(int fd, off_t size, struct json *runs, uint64_t *bytes, ckpt_err_t *err)
{
	off_t off = 0;

	*bytes = 0;
	while (off < size) {
		off_t data = lseek(fd, off, SEEK_DATA), hole;
		struct json *r;

		if (data < 0 && errno == ENXIO)
			break; /* a hole up to the end */
		if (data < 0)
			return ckpt_error(err, errno, "SEEK_DATA");
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return ckpt_error(err, errno, "SEEK_HOLE");
		if (hole > size)
			hole = size;
		if (hole <= data)
			break;
		r = json_push(runs, json_arr());
		json_push(r, json_int(data));
		json_push(r, json_int(hole - data));
		*bytes += hole - data;
		off = hole;
	}
	return 0;
}

/* Copy the runs of fd into image img. */
static int copy_runs(int fd, const struct json *runs, struct bundle_image *img, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(SPARSE_CHUNK);

	for (size_t i = 0; i < json_len(runs); i++) {
		int64_t off = 0, len = 0;
		struct doc_at at = DOC_TOP("runs");
		int ret = doc_elem_int(&at, json_at(runs, i), 0, 0, INT64_MAX, &off, err);

		if (ret == 0)
			ret = doc_elem_int(&at, json_at(runs, i), 1, 0, INT64_MAX, &len, err);
		while (ret == 0 && len > 0) {
			ssize_t n = pread(fd, buf, len < SPARSE_CHUNK ? len : SPARSE_CHUNK, off);

			if (n <= 0)
				return ckpt_error(err, n < 0 ? errno : EIO, "read at %" PRId64,
						  off);
			ret = bundle_image_write(img, buf, n, err);
			off += n;
			len -= n;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int sparse_save(int fd, off_t size, uint64_t limit, struct ckpt_bundle *b, const char *name,
		struct json *obj, uint64_t *bytes, ckpt_err_t *err)
{
	struct json *runs = json_set(obj, "runs", json_arr());
	struct bundle_image *img = NULL;
	int ret = data_runs(fd, size, runs, bytes, err);

	json_set(obj, "size", json_int(size));
	if (ret < 0)
		return ret;
	if (*bytes > limit)
		return ckpt_error_msg(err, EFBIG, "%" PRIu64 " bytes of data, more than %" PRIu64,
				      *bytes, limit);
	if (!*bytes)
		return 0;
	json_set(obj, "image", json_str(name));
	ret = bundle_image_create(b, name, &img, err);
	if (ret == 0)
		ret = copy_runs(fd, runs, img, err);
	if (ret < 0) {
		bundle_image_abort(img);
		return ret;
	}
	return bundle_image_close(img, err);
}

/* Write image `name` (its runs one after the other) into fd at the runs' offsets. */
static int fill_runs(int fd, struct ckpt_bundle *b, const char *name, const struct doc_at *at,
		     const struct json *runs, size_t n, int64_t size, ckpt_err_t *err)
{
	struct doc_at rat = DOC_KEY(at, "runs");
	cleanup_free char *buf = xzalloc(SPARSE_CHUNK);
	cleanup_close int in = -1;
	uint64_t isize = 0, used = 0;
	int64_t end = 0;
	int ret = name ? bundle_open_file(b, name, &in, &isize, err) : 0;

	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at e = DOC_IDX(&rat, i);
		const struct json *r = json_at(runs, i);
		int64_t off, len;

		ret = doc_elem_int(&e, r, 0, 0, size, &off, err);
		if (ret == 0)
			ret = doc_elem_int(&e, r, 1, 1, size, &len, err);
		if (ret == 0 && (off < end || len > size - off || used + len > isize))
			ret = doc_error(err, &e,
					"run %" PRId64 "+%" PRId64 " overlaps, or is past "
					"the size or the image",
					off, len);
		if (ret < 0)
			return ret;
		end = off + len;
		used += len;
		while (len > 0) {
			ssize_t k = read(in, buf, len < SPARSE_CHUNK ? len : SPARSE_CHUNK);

			if (k <= 0)
				return ckpt_error(err, k < 0 ? errno : EIO, "read %s", name);
			if (pwrite(fd, buf, k, off) != k)
				return ckpt_error(err, errno, "write at %" PRId64, off);
			off += k;
			len -= k;
		}
	}
	if (ret == 0 && used != isize)
		ret = doc_error(err, &rat, "%" PRIu64 " bytes in runs, the image has %" PRIu64,
				used, isize);
	return ret;
}

int sparse_fill(int fd, struct ckpt_bundle *b, const char *name, const struct doc_at *at,
		const struct json *obj, int64_t size, ckpt_err_t *err)
{
	const struct json *runs;
	size_t n;
	int ret = doc_opt_arr(at, obj, "runs", FILES_LIST_MAX, &runs, &n, err);

	if (ret < 0)
		return ret;
	/* an older bundle: the whole content, from the start */
	if (!runs)
		return name ? pipe_fill_image(fd, name, b, err) : 0;
	if (ftruncate(fd, size) < 0)
		return ckpt_error(err, errno, "size %" PRId64, size);
	return fill_runs(fd, b, name, at, runs, n, size, err);
}
