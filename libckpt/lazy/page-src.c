/*
 * libckpt/lazy/page-src.c - verified chunks of page images for lazy restore.
 *
 * A lazy restore does not hash pages-PID.img at open (that is the time it
 * saves): each 1 MiB chunk is read whole, checked against its digest in
 * pages-PID.img.sums (whose own digest is the image's, in the MAC'd
 * manifest: bundle_image_sums), and only then copied out. The bytes come
 * from the bundle's directory, or, for an image the bundle lacks, from a
 * page server (page-server.c): the check is the same, so a page server
 * can neither alter nor swap a page. A bundle from before the .sums files
 * was hashed whole at open: its chunks are used as read. A live image
 * (bundle.h: read by the page server from the stopped tree) has no
 * digests: each reply comes with a MAC under bundle_live_key, checked
 * the same way before a byte of it is used, and a reply may be part of a
 * chunk (the bytes a fault or a fill needs, page-proto.h).
 */
#define LOG_PREFIX "lazy: "
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lazy/lazy.h"
#include "lazy/page-proto.h"
#include "util/log.h"
#include "util/util.h"

#define CACHE 4

struct src_image {
	pid_t pid;
	char name[PS_NAME_MAX];
	uint8_t *sums; /* NULL: verified whole at open */
	size_t nchunks;
	uint64_t size;
	int fd;	   /* local, else -1: remote */
	bool live; /* each chunk with a MAC (page-proto.h) */
};

struct cached {
	int img;
	uint64_t idx;
	size_t len;
	uint8_t *buf;
};

struct page_src {
	struct ckpt_bundle *b;
	const char *server;
	int sk; /* to the page server, once needed */
	struct src_image *imgs;
	size_t nimgs;
	struct cached cache[CACHE];
	int next; /* the cache entry replaced next */
	uint8_t live_key[BUNDLE_LIVE_KEY_BYTES];
	bool have_live_key;
	uint8_t *part;		  /* page_src_part's bytes of a live chunk */
	uint64_t nparts, nchunks; /* asked of the page server */
};

int page_src_open(struct ckpt_bundle *b, const char *server, struct page_src **out, ckpt_err_t *err)
{
	struct page_src *s = xzalloc(sizeof(*s));

	s->b = b;
	s->server = server;
	s->sk = -1;
	for (int i = 0; i < CACHE; i++) {
		s->cache[i].img = -1;
		s->cache[i].buf = malloc(BUNDLE_CHUNK_BYTES);
		if (!s->cache[i].buf)
			abort();
	}
	(void)err;
	*out = s;
	return 0;
}

void page_src_close(struct page_src *s)
{
	if (!s)
		return;
	if (s->sk >= 0) {
		struct ps_req bye = {.chunk = PS_BYE};

		pr_info("from page server %s: %llu chunks, %llu parts of live chunks", s->server,
			(unsigned long long)s->nchunks, (unsigned long long)s->nparts);

		if (write_all(s->sk, &bye, sizeof(bye)) < 0)
			pr_debug("page server gone before our bye, ignoring");
		close(s->sk);
	}
	for (size_t i = 0; i < s->nimgs; i++) {
		free(s->imgs[i].sums);
		if (s->imgs[i].fd >= 0)
			close(s->imgs[i].fd);
	}
	for (int i = 0; i < CACHE; i++)
		free(s->cache[i].buf);
	free(s->part);
	free(s->imgs);
	sodium_memzero(s->live_key, sizeof(s->live_key));
	free(s);
}

static int image_of(struct page_src *s, pid_t pid, ckpt_err_t *err)
{
	struct src_image *im;
	int ret;

	for (size_t i = 0; i < s->nimgs; i++)
		if (s->imgs[i].pid == pid)
			return (int)i;
	s->imgs = xrealloc(s->imgs, (s->nimgs + 1) * sizeof(*s->imgs));
	im = &s->imgs[s->nimgs];
	memset(im, 0, sizeof(*im));
	im->pid = pid;
	im->fd = -1;
	snprintf(im->name, sizeof(im->name), "pages-%d.img", pid);
	if (bundle_file_live(s->b, im->name)) {
		if (!s->server)
			return ckpt_error_msg(err, ENOENT,
					      "%s: live, served only by the node that made it, "
					      "and no page server",
					      im->name);
		if (!s->have_live_key && bundle_live_key(s->b, s->live_key, err) < 0)
			return -err->code;
		s->have_live_key = true;
		ret = bundle_file_size(s->b, im->name, &im->size, err);
		if (ret < 0)
			return ret;
		im->live = true;
		im->nchunks = (im->size + BUNDLE_CHUNK_BYTES - 1) / BUNDLE_CHUNK_BYTES;
		return (int)s->nimgs++;
	}
	ret = bundle_image_sums(s->b, im->name, &im->sums, &im->nchunks, &im->size, err);
	if (ret == -ENOENT && !bundle_file_remote(s->b, im->name)) {
		/* no digests: hashed whole when the bundle was opened */
		ckpt_error_clear(err);
		ret = 0;
	}
	if (ret < 0)
		return ret;
	if (!bundle_file_remote(s->b, im->name)) {
		ret = bundle_open_file(s->b, im->name, &im->fd, &im->size, err);
		if (ret < 0) {
			free(im->sums);
			return ret;
		}
		im->nchunks = (im->size + BUNDLE_CHUNK_BYTES - 1) / BUNDLE_CHUNK_BYTES;
	} else if (!s->server) {
		free(im->sums);
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle, and no page server",
				      im->name);
	}
	return (int)s->nimgs++;
}

static int server_connect(struct page_src *s, ckpt_err_t *err)
{
	int sk, ret;

	if (s->sk >= 0)
		return 0;
	sk = lazy_connect(s->server, err);
	if (sk < 0)
		return sk;
	ret = ps_auth_client(sk, bundle_key_bytes(s->b), err);
	if (ret < 0) {
		close(sk);
		return ckpt_error_wrap(err, "page server %s", s->server);
	}
	s->sk = sk;
	pr_debug("connected to page server %s", s->server);
	return 0;
}

/*
 * len bytes at off of chunk idx of an image into buf: from the file or the
 * page server; part: only those bytes are asked (a live image), else the
 * whole chunk (off 0).
 */
static int fetch(struct page_src *s, const struct src_image *im, uint64_t idx, size_t off,
		 size_t len, bool part, uint8_t *buf, ckpt_err_t *err)
{
	struct ps_req req = {.chunk = idx, .off = part ? off : 0, .len = part ? len : 0};
	struct ps_resp resp;
	ssize_t n;
	int ret;

	if (im->fd >= 0) {
		n = pread(im->fd, buf, len, (off_t)(idx * BUNDLE_CHUNK_BYTES + off));
		if (n < 0)
			return ckpt_error(err, errno, "read %s", im->name);
		if ((size_t)n != len)
			return ckpt_error_msg(err, EPROTO, "%s: cut short", im->name);
		return 0;
	}
	ret = server_connect(s, err);
	if (ret < 0)
		return ret;
	memcpy(req.name, im->name, sizeof(req.name));
	if (part)
		s->nparts++;
	else
		s->nchunks++;
	ret = write_all(s->sk, &req, sizeof(req));
	if (ret == 0 && read_all(s->sk, &resp, sizeof(resp)) != sizeof(resp))
		ret = -EPIPE;
	if (ret < 0)
		return ckpt_error(err, -ret, "page server %s", s->server);
	if (resp.status)
		return ckpt_error(err, resp.status, "page server %s: %s chunk %lu", s->server,
				  im->name, (unsigned long)idx);
	if (resp.len != len || read_all(s->sk, buf, len) != (ssize_t)len)
		return ckpt_error_msg(err, EPROTO, "page server %s: %s chunk %lu: short reply",
				      s->server, im->name, (unsigned long)idx);
	if (im->live) {
		uint8_t got[PS_MAC_BYTES], want[PS_MAC_BYTES];

		if (read_all(s->sk, got, sizeof(got)) != sizeof(got))
			return ckpt_error_msg(err, EPROTO, "page server %s: %s chunk %lu: no MAC",
					      s->server, im->name, (unsigned long)idx);
		ps_live_mac(s->live_key, im->name, idx, off, buf, len, want);
		/* checked before a byte of it reaches the task */
		if (sodium_memcmp(got, want, sizeof(got)))
			return ckpt_error_msg(err, EPROTO,
					      "%s: chunk %lu: MAC mismatch: altered on the way",
					      im->name, (unsigned long)idx);
	}
	return 0;
}

static struct cached *cache_find(struct page_src *s, int img, uint64_t idx)
{
	for (int k = 0; k < CACHE; k++)
		if (s->cache[k].img == img && s->cache[k].idx == idx)
			return &s->cache[k];
	return NULL;
}

/*
 * Whether len bytes at off of chunk idx of image i are better asked alone:
 * a live image (each reply its own MAC) whose chunk is not at hand, for
 * less than the whole chunk. *clen: the chunk's length.
 */
static int want_part(struct page_src *s, int i, uint64_t idx, size_t off, size_t len, size_t *clen,
		     ckpt_err_t *err)
{
	const struct src_image *im = &s->imgs[i];

	if (idx >= im->nchunks)
		return ckpt_error_msg(err, ERANGE, "%s: chunk %lu past its end", im->name,
				      (unsigned long)idx);
	*clen = MIN((uint64_t)BUNDLE_CHUNK_BYTES, im->size - idx * BUNDLE_CHUNK_BYTES);
	if (off > *clen || len > *clen - off)
		return ckpt_error_msg(err, ERANGE, "%s: chunk %lu: %zu bytes at %zu past its end",
				      im->name, (unsigned long)idx, len, off);
	return im->live && len < *clen && !cache_find(s, i, idx);
}

int page_src_part(struct page_src *s, pid_t pid, uint64_t idx, size_t off, size_t len,
		  const uint8_t **data, ckpt_err_t *err)
{
	int i = image_of(s, pid, err), ret;
	size_t clen;

	if (i < 0)
		return i;
	ret = want_part(s, i, idx, off, len, &clen, err);
	if (ret < 0)
		return ret;
	if (!ret) {
		ret = page_src_chunk(s, pid, idx, data, &clen, err);
		if (ret == 0)
			*data += off;
		return ret;
	}
	if (!s->part)
		s->part = xzalloc(BUNDLE_CHUNK_BYTES);
	ret = fetch(s, &s->imgs[i], idx, off, len, true, s->part, err);
	*data = s->part;
	return ret;
}

int page_src_chunk(struct page_src *s, pid_t pid, uint64_t idx, const uint8_t **data, size_t *len,
		   ckpt_err_t *err)
{
	int i = image_of(s, pid, err), ret;
	struct src_image *im;
	struct cached *c;

	if (i < 0)
		return i;
	im = &s->imgs[i];
	if (idx >= im->nchunks)
		return ckpt_error_msg(err, ERANGE, "%s: chunk %lu past its end", im->name,
				      (unsigned long)idx);
	c = cache_find(s, i, idx);
	if (c) {
		*data = c->buf;
		*len = c->len;
		return 0;
	}
	c = &s->cache[s->next];
	s->next = (s->next + 1) % CACHE;
	c->img = -1;
	c->len = MIN((uint64_t)BUNDLE_CHUNK_BYTES, im->size - idx * BUNDLE_CHUNK_BYTES);
	ret = fetch(s, im, idx, 0, c->len, false, c->buf, err);
	if (ret < 0)
		return ret;
	/* checked before a byte of it reaches the task: the file may have changed */
	if (im->sums && !bundle_chunk_ok(im->sums, idx, c->buf, c->len))
		return ckpt_error_msg(err, EPROTO,
				      "%s: chunk %lu: checksum mismatch: corrupt bundle", im->name,
				      (unsigned long)idx);
	c->img = i;
	c->idx = idx;
	*data = c->buf;
	*len = c->len;
	return 0;
}

int page_src_read(struct page_src *s, pid_t pid, uint64_t off, void *dst, size_t len,
		  ckpt_err_t *err)
{
	uint8_t *p = dst;
	int i = image_of(s, pid, err);

	if (i < 0)
		return i;
	while (len) {
		uint64_t idx = off / BUNDLE_CHUNK_BYTES, in = off % BUNDLE_CHUNK_BYTES;
		size_t n = MIN(len, BUNDLE_CHUNK_BYTES - in), clen;
		const uint8_t *data;
		int ret = want_part(s, i, idx, in, n, &clen, err);

		if (ret > 0) /* a live image: these bytes alone, their MAC checked */
			ret = fetch(s, &s->imgs[i], idx, in, n, true, p, err);
		else if (ret == 0 && (ret = page_src_chunk(s, pid, idx, &data, &clen, err)) == 0)
			memcpy(p, data + in, n);
		if (ret < 0)
			return ret;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}
