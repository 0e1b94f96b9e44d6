/*
 * libckpt/bundle/bundle-image.c - streamed images (pages, pipe data, the
 * rootfs tar): bytes are gathered into 1 MiB buffers, one per digest chunk
 * (BUNDLE_CHUNK); each full buffer is written out and its chunk hashed.
 *
 * BLAKE2b costs about a second of CPU per GiB one chunk at a time, paid
 * while the tree is frozen. So from an image's second chunk on, a hasher
 * thread of its own digests the chunks, in order, while the caller goes on
 * reading the tree's memory: the ring below holds the buffers written and
 * not yet hashed; the caller waits only when all are. The hasher takes
 * full chunks four at a time (bundle_chunk_sum4: a third of the CPU of
 * four single ones). A small image never starts the thread.
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bundle/bundle-priv.h"
#include "util/log.h"
#include "util/util.h"

#define RING 8 /* twice the hasher's four */

struct bundle_image {
	crypto_generichash_state outer; /* over the chunks' digests: the hasher's */
	struct ckpt_bundle *b;
	char *name;
	int fd;
	uint64_t size;
	size_t used; /* bytes in buf[fill], the buffer being filled */
	/*
	 * The ring: buffers tail .. tail+queued-1 wait for the hasher, and
	 * fill == tail+queued is free while queued < RING. fill is the
	 * caller's; tail, queued and stop change under the lock.
	 */
	char *buf[RING];
	int fill, tail, queued;
	bool threaded, stop;
	bool partial; /* the newest queued chunk is the last and holds used bytes */
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void hash_chunk(struct bundle_image *img, const char *buf, size_t len)
{
	uint8_t sum[BUNDLE_SUM_BYTES];

	bundle_chunk_sum(buf, len, sum);
	crypto_generichash_update(&img->outer, sum, sizeof(sum));
}

/* Four full chunks from the ring's tail, in order. */
static void hash_four(struct bundle_image *img, int tail)
{
	const void *p[4];
	uint8_t sums[4][BUNDLE_SUM_BYTES];

	for (int k = 0; k < 4; k++)
		p[k] = img->buf[(tail + k) % RING];
	bundle_chunk_sum4(p, BUNDLE_CHUNK, sums);
	crypto_generichash_update(&img->outer, &sums[0][0], sizeof(sums));
}

static void *hasher(void *arg)
{
	struct bundle_image *img = arg;

	pthread_mutex_lock(&img->lock);
	for (;;) {
		size_t len;
		int i, n;

		while (img->queued < 4 && !img->stop)
			pthread_cond_wait(&img->cond, &img->lock);
		if (!img->queued)
			break;
		i = img->tail;
		/* every chunk is full but a partial last one */
		n = img->queued > 4 || (img->queued == 4 && !img->partial) ? 4 : 1;
		len = img->partial && img->queued == 1 ? img->used : BUNDLE_CHUNK;
		pthread_mutex_unlock(&img->lock);
		if (n == 4)
			hash_four(img, i);
		else
			hash_chunk(img, img->buf[i], len);
		pthread_mutex_lock(&img->lock);
		img->tail = (img->tail + n) % RING;
		img->queued -= n;
		pthread_cond_broadcast(&img->cond);
	}
	pthread_mutex_unlock(&img->lock);
	return NULL;
}

static char *xmalloc_buf(void)
{
	char *p = malloc(BUNDLE_CHUNK);

	if (!p)
		abort();
	return p;
}

/* A second chunk: worth a thread. Without one, chunks are hashed inline. */
static void start_hasher(struct bundle_image *img)
{
	for (int i = 1; i < RING; i++)
		img->buf[i] = xmalloc_buf();
	pthread_mutex_init(&img->lock, NULL);
	pthread_cond_init(&img->cond, NULL);
	img->threaded = pthread_create(&img->th, NULL, hasher, img) == 0;
	if (!img->threaded)
		pr_debug("%s: no hasher thread, hashing inline", img->name);
}

/* Stop the hasher once it has hashed everything queued. */
static void stop_hasher(struct bundle_image *img)
{
	if (!img->threaded)
		return;
	pthread_mutex_lock(&img->lock);
	img->stop = true;
	pthread_cond_broadcast(&img->cond);
	pthread_mutex_unlock(&img->lock);
	pthread_join(img->th, NULL);
	img->threaded = false;
}

int bundle_image_create(struct ckpt_bundle *b, const char *name, struct bundle_image **out,
			ckpt_err_t *err)
{
	struct bundle_image *img;
	int fd = bundle_new_file(b, name, err);

	if (fd < 0)
		return fd;
	/* the hash state wants 64-byte alignment, more than malloc promises */
	if (posix_memalign((void **)&img, 64, sizeof(*img)))
		abort();
	memset(img, 0, sizeof(*img));
	img->b = b;
	img->name = xstrdup(name);
	img->fd = fd;
	img->buf[0] = xmalloc_buf();
	crypto_generichash_init(&img->outer, NULL, 0, BUNDLE_SUM_BYTES);
	b->open_images++;
	*out = img;
	return 0;
}

/* The buffer being filled is written out and handed to the hasher. */
static int chunk_done(struct bundle_image *img, bool last, ckpt_err_t *err)
{
	int ret;

	ret = write_all(img->fd, img->buf[img->fill], img->used);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", img->name);
	if (!last && !img->threaded && !img->buf[1])
		start_hasher(img);
	if (!img->threaded) {
		hash_chunk(img, img->buf[img->fill], img->used);
		img->used = 0;
		return 0;
	}
	pthread_mutex_lock(&img->lock);
	img->stop = img->partial = last; /* the hasher reads used for the last chunk only */
	img->queued++;
	pthread_cond_broadcast(&img->cond);
	while (img->queued == RING)
		pthread_cond_wait(&img->cond, &img->lock);
	pthread_mutex_unlock(&img->lock);
	if (!last) {
		img->fill = (img->fill + 1) % RING;
		img->used = 0;
	}
	return 0;
}

int bundle_image_write(struct bundle_image *img, const void *buf, size_t len, ckpt_err_t *err)
{
	const char *p = buf;

	img->size += len;
	while (len) {
		size_t n = MIN(len, BUNDLE_CHUNK - img->used);
		int ret;

		memcpy(img->buf[img->fill] + img->used, p, n);
		img->used += n;
		p += n;
		len -= n;
		if (img->used == BUNDLE_CHUNK && (ret = chunk_done(img, false, err)) < 0)
			return ret;
	}
	return 0;
}

void *bundle_image_room(struct bundle_image *img, size_t *len)
{
	*len = BUNDLE_CHUNK - img->used;
	return img->buf[img->fill] + img->used;
}

int bundle_image_commit(struct bundle_image *img, size_t n, ckpt_err_t *err)
{
	img->size += n;
	img->used += n;
	return img->used == BUNDLE_CHUNK ? chunk_done(img, false, err) : 0;
}

uint64_t bundle_image_size(const struct bundle_image *img)
{
	return img->size;
}

static void image_free(struct bundle_image *img)
{
	stop_hasher(img);
	img->b->open_images--;
	if (img->fd >= 0)
		close(img->fd);
	for (int i = 0; i < RING; i++)
		free(img->buf[i]);
	free(img->name);
	free(img);
}

int bundle_image_close(struct bundle_image *img, ckpt_err_t *err)
{
	uint8_t sum[BUNDLE_SUM_BYTES];
	int ret = img->used ? chunk_done(img, true, err) : 0;

	stop_hasher(img);
	if (ret == 0) {
		crypto_generichash_final(&img->outer, sum, sizeof(sum));
		bundle_add_file(img->b, img->name, img->size, sum);
	} else {
		(void)unlinkat(img->b->dirfd, img->name, 0);
	}
	image_free(img);
	return ret;
}

void bundle_image_abort(struct bundle_image *img)
{
	if (!img)
		return;
	(void)unlinkat(img->b->dirfd, img->name, 0);
	image_free(img);
}
