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
 *
 * A sealed image (bundle_seal(): compressed, encrypted) has sealing
 * workers instead, one per core: each turns a chunk into its record
 * (seal.h), and the records are written and digested as stored, in order.
 * The caller only fills buffers, as it did for the hasher.
 *
 * Spliced images (bundle_image_splice, the pages of a large task; never
 * sealed) do not pass through these buffers: the kernel moves the bytes
 * from a pipe into the file, and the hasher digests the chunks from a
 * read-only mapping of the file's own page cache (image_to_file below), a
 * window of four at a time, then hands the window to writeback
 * (sync_file_range), so that the commit's flush finds less left to write.
 * Measured on 1 GiB (tmpfs, 2 cores): process_vm_readv into a buffer then
 * write() cost 1.8-2.9 s of CPU, vmsplice + splice + hashing from the
 * mapping 0.9-1.0 s; the pipe path is the one copy CRIU makes too.
 * Hashing from the mapping reads each byte once more, but on the hasher's
 * core and without a copy (read() into a buffer would be one). On disk,
 * splicing into an O_DIRECT file measured slower than the page cache plus
 * early writeback (5.0-6.1 s against 2.6-3.8 s for 1 GiB made durable).
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>

#include "bundle/bundle-priv.h"
#include "util/log.h"
#include "util/util.h"

#define RING	    8			/* twice the hasher's four */
#define HASH_WINDOW (16 * BUNDLE_CHUNK) /* file mode: mapped and hashed at once */

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
	bool failed;  /* sealed: a chunk failed (seal->err), under the lock */
	bool partial; /* the newest queued chunk is the last and holds used bytes */
	/* bundle_image_keep_sums: every chunk's digest, in order (the hasher's) */
	bool keep_sums;
	uint8_t *sums;
	size_t nsums;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct image_seal *seal; /* NULL: stored as it is */
	/*
	 * File mode (image_to_file): every byte goes straight to the file;
	 * the hasher maps the file through rfd and digests [hashed, avail),
	 * four chunks at a time, the partial last one once stopped. avail is
	 * the caller's, published under the lock; hashed the hasher's.
	 */
	bool from_file;
	int rfd;
	uint64_t avail, hashed;
	int hash_errno; /* the hasher could not read the file back */
	bool drop;	/* aborted: hash nothing more */
	bool lock_ready;
};

static void *xmalloc_buf_n(size_t n)
{
	char *p = malloc(n);

	if (!p)
		abort();
	return p;
}

static char *xmalloc_buf(void)
{
	return xmalloc_buf_n(BUNDLE_CHUNK);
}

/*
 * A sealed image's writer: sealing workers (SEAL_WORKERS, one per core)
 * each take the oldest chunk of the ring no one has taken, seal it into
 * that slot's record buffer, and whoever finds the ring's tail sealed
 * writes the records out, in order. Inline (no thread), the caller seals.
 */
#define SEAL_WORKERS_MAX 4

enum { SLOT_QUEUED, SLOT_SEALED };

struct image_seal {
	struct bundle_digest stored;	 /* over the bytes as stored */
	struct seal s[SEAL_WORKERS_MAX]; /* one per worker: zstd contexts are not shared */
	char *rec[RING];		 /* each slot's record: seal_bound(BUNDLE_CHUNK) */
	size_t reclen[RING];
	size_t len[RING]; /* the slot's chunk: its bytes, index, whether the last */
	uint64_t idx[RING];
	bool last[RING];
	uint8_t state[RING];
	int taken;	  /* slots from the tail that a worker took */
	bool writing;	  /* a worker is writing the tail out */
	uint64_t nqueued; /* chunks queued: the next one's index */
	pthread_t th[SEAL_WORKERS_MAX];
	int nworkers;
	uint64_t off;	 /* stored bytes written */
	uint64_t *index; /* each record's offset */
	size_t nrec;
	ckpt_err_t err;	 /* the first sealing failure, under the lock */
	ckpt_err_t werr; /* the writer's first failure: nothing is written after it */
};

/* The first failure, once the workers are done (or inline); NULL if none. */
static const ckpt_err_t *seal_failure(const struct image_seal *is)
{
	return is->err.code ? &is->err : is->werr.code ? &is->werr : NULL;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

/* Stored bytes out: written and digested in file order (one writer at a time). */
static int seal_out(struct bundle_image *img, const void *buf, size_t len)
{
	struct image_seal *is = img->seal;
	int ret;

	if (is->werr.code)
		return -is->werr.code;
	ret = write_all(img->fd, buf, len);
	if (ret < 0)
		return ckpt_error(&is->werr, -ret, "write %s", img->name);
	bundle_digest_update(&is->stored, buf, len);
	is->off += len;
	return 0;
}

/* A sealed record out, its offset into the index. */
static void seal_write(struct bundle_image *img, const char *rec, size_t len)
{
	struct image_seal *is = img->seal;

	if (!len) /* its sealing failed: that error is kept */
		return;
	is->index = xrealloc(is->index, (is->nrec + 1) * sizeof(*is->index));
	is->index[is->nrec++] = is->off;
	(void)seal_out(img, rec, len);
}

/*
 * Slot i's chunk into its record, with worker w's contexts. A failure
 * leaves an empty record: the first error is kept (under the lock, or
 * inline) and nothing more is written.
 */
static void seal_slot(struct bundle_image *img, int w, int i, ckpt_err_t *err)
{
	struct image_seal *is = img->seal;

	is->reclen[i] = 0;
	if (seal_chunk(&is->s[w], is->idx[i], is->last[i], img->buf[i], is->len[i], is->rec[i],
		       &is->reclen[i], err) < 0)
		is->reclen[i] = 0;
}

static void *sealer(void *arg)
{
	struct bundle_image *img = arg;
	struct image_seal *is = img->seal;
	ckpt_err_t err = {0};
	int w;

	pthread_mutex_lock(&img->lock);
	w = is->nworkers++;
	pthread_cond_broadcast(&img->cond);
	for (;;) {
		int i;

		if (is->taken == img->queued) {
			if (img->stop)
				break;
			pthread_cond_wait(&img->cond, &img->lock);
			continue;
		}
		i = (img->tail + is->taken++) % RING;
		pthread_mutex_unlock(&img->lock);
		seal_slot(img, w, i, &err);
		pthread_mutex_lock(&img->lock);
		is->state[i] = SLOT_SEALED;
		if (err.code && !is->err.code)
			is->err = err;
		if (is->writing)
			continue;
		is->writing = true;
		while (img->queued && is->state[img->tail] == SLOT_SEALED) {
			int t = img->tail;

			pthread_mutex_unlock(&img->lock);
			seal_write(img, is->rec[t], is->reclen[t]);
			pthread_mutex_lock(&img->lock);
			is->state[t] = SLOT_QUEUED;
			img->tail = (t + 1) % RING;
			img->queued--;
			is->taken--;
			img->failed = is->err.code || is->werr.code;
			pthread_cond_broadcast(&img->cond);
		}
		is->writing = false;
	}
	pthread_mutex_unlock(&img->lock);
	return NULL;
}

/* The caller's chunk in buf[fill] (len bytes) handed on: its index, whether the last. */
static void seal_queue(struct bundle_image *img, size_t len, bool last)
{
	struct image_seal *is = img->seal;

	is->len[img->fill] = len;
	is->last[img->fill] = last;
	is->idx[img->fill] = is->nqueued++;
}

/* No thread: seal and write at once, with worker 0's contexts. */
static int seal_inline(struct bundle_image *img, size_t len, bool last, ckpt_err_t *err)
{
	struct image_seal *is = img->seal;
	int i = img->fill;

	seal_queue(img, len, last);
	seal_slot(img, 0, i, &is->err);
	seal_write(img, is->rec[i], is->reclen[i]);
	if (seal_failure(is)) {
		*err = *seal_failure(is);
		return -err->code;
	}
	return 0;
}

static int seal_start(struct bundle_image *img, ckpt_err_t *err)
{
	const struct ckpt_bundle *b = img->b;
	struct image_seal *is;
	uint8_t hdr[SEAL_FILE_HDR] = SEAL_FILE_MAGIC, prefix[SEAL_PREFIX_BYTES];

	/* the hash state wants 64-byte alignment, more than malloc promises */
	if (posix_memalign((void **)&is, 64, sizeof(*is)))
		abort();
	memset(is, 0, sizeof(*is));
	img->seal = is;
	seal_prefix_new(prefix);
	for (int w = 0; w < SEAL_WORKERS_MAX; w++)
		seal_init(&is->s[w], b->seal, b->seal_level, b->seal_key, prefix, img->name);
	bundle_digest_init(&is->stored);
	is->rec[0] = xmalloc_buf_n(seal_bound(BUNDLE_CHUNK));
	put_le(hdr + 8, SEAL_FILE_VERSION, 4);
	put_le(hdr + 12, b->seal, 4);
	put_le(hdr + 16, BUNDLE_CHUNK, 4);
	memcpy(hdr + 24, prefix, SEAL_PREFIX_BYTES);
	if (seal_out(img, hdr, sizeof(hdr)) < 0) {
		*err = is->werr;
		return -err->code;
	}
	return 0;
}

/* A second chunk: the ring and the workers, one per core. */
static bool seal_start_workers(struct bundle_image *img)
{
	struct image_seal *is = img->seal;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cpus < 1 ? 1 : cpus > SEAL_WORKERS_MAX ? SEAL_WORKERS_MAX : (int)cpus, started = 0;

	for (int i = 1; i < RING; i++)
		is->rec[i] = xmalloc_buf_n(seal_bound(BUNDLE_CHUNK));
	for (int k = 0; k < n; k++)
		if (pthread_create(&is->th[started], NULL, sealer, img) == 0)
			started++;
	/* the threads count themselves in (their worker numbers): wait for all */
	pthread_mutex_lock(&img->lock);
	while (is->nworkers < started)
		pthread_cond_wait(&img->cond, &img->lock);
	pthread_mutex_unlock(&img->lock);
	return started > 0;
}

static void seal_join_workers(struct bundle_image *img)
{
	struct image_seal *is = img->seal;

	for (int k = 0; k < is->nworkers; k++)
		pthread_join(is->th[k], NULL);
	is->nworkers = 0;
}

/* The index and the trailer, once the last record is out. */
static int seal_finish(struct bundle_image *img, ckpt_err_t *err)
{
	struct image_seal *is = img->seal;
	uint64_t index_off = is->off;
	cleanup_free uint8_t *ix = xzalloc(is->nrec * 8 + SEAL_FILE_TAIL);
	uint8_t *tail = ix + is->nrec * 8;

	for (size_t i = 0; i < is->nrec; i++)
		put_le(ix + 8 * i, is->index[i], 8);
	put_le(tail, is->nrec, 8);
	put_le(tail + 8, img->size, 8);
	put_le(tail + 16, index_off, 8);
	memcpy(tail + 24, SEAL_INDEX_MAGIC, 8);
	if (!seal_failure(is))
		(void)seal_out(img, ix, is->nrec * 8 + SEAL_FILE_TAIL);
	if (seal_failure(is)) {
		*err = *seal_failure(is);
		return -err->code;
	}
	return 0;
}

static void seal_free(struct image_seal *is)
{
	if (!is)
		return;
	for (int w = 0; w < SEAL_WORKERS_MAX; w++)
		seal_fini(&is->s[w]);
	for (int i = 0; i < RING; i++)
		free(is->rec[i]);
	free(is->index);
	free(is);
}

static void keep_sums(struct bundle_image *img, const uint8_t *sums, size_t n)
{
	if (!img->keep_sums)
		return;
	img->sums = xrealloc(img->sums, (img->nsums + n) * BUNDLE_SUM_BYTES);
	memcpy(img->sums + img->nsums * BUNDLE_SUM_BYTES, sums, n * BUNDLE_SUM_BYTES);
	img->nsums += n;
}

static void hash_chunk(struct bundle_image *img, const char *buf, size_t len)
{
	uint8_t sum[BUNDLE_SUM_BYTES];

	bundle_chunk_sum(buf, len, sum);
	crypto_generichash_update(&img->outer, sum, sizeof(sum));
	keep_sums(img, sum, 1);
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
	keep_sums(img, &sums[0][0], 4);
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

/*
 * Digest len bytes of the file at off (a chunk boundary): full chunks four
 * at a time, a partial last one alone. One mapping per window: each unmap
 * costs a TLB shootdown on the core the caller runs on.
 */
static void hash_file_window(struct bundle_image *img, uint64_t off, size_t len)
{
	uint8_t sums[4][BUNDLE_SUM_BYTES];
	const void *p[4];
	char *map = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, img->rfd, (off_t)off);
	size_t at = 0;

	if (map == MAP_FAILED) {
		img->hash_errno = errno;
		return;
	}
	for (; len - at >= 4 * BUNDLE_CHUNK; at += 4 * BUNDLE_CHUNK) {
		for (int k = 0; k < 4; k++)
			p[k] = map + at + k * BUNDLE_CHUNK;
		bundle_chunk_sum4(p, BUNDLE_CHUNK, sums);
		crypto_generichash_update(&img->outer, &sums[0][0], sizeof(sums));
		keep_sums(img, &sums[0][0], 4);
	}
	for (; at < len; at += BUNDLE_CHUNK)
		hash_chunk(img, map + at, MIN(BUNDLE_CHUNK, len - at));
	munmap(map, len);
	/* start writing it out now: the commit's flush then waits for less */
	if (!img->b->no_sync)
		(void)sync_file_range(img->fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
}

/* File mode: the next window's length, 0 when none is ready (all is, once stopping). */
static size_t file_window(const struct bundle_image *img)
{
	uint64_t left = img->avail - img->hashed;

	if (img->drop)
		return 0;
	if (left >= HASH_WINDOW)
		return HASH_WINDOW;
	if (left >= 4 * BUNDLE_CHUNK)
		return left / (4 * BUNDLE_CHUNK) * (4 * BUNDLE_CHUNK);
	return img->stop ? left : 0;
}

static void *file_hasher(void *arg)
{
	struct bundle_image *img = arg;

	pthread_mutex_lock(&img->lock);
	for (;;) {
		uint64_t off = img->hashed;
		size_t len;

		while (!(len = file_window(img)) && !img->stop)
			pthread_cond_wait(&img->cond, &img->lock);
		if (!len)
			break;
		pthread_mutex_unlock(&img->lock);
		hash_file_window(img, off, len);
		pthread_mutex_lock(&img->lock);
		img->hashed += len;
		pthread_cond_broadcast(&img->cond);
	}
	pthread_mutex_unlock(&img->lock);
	return NULL;
}

/*
 * A second chunk: worth a thread (sealed: the sealing workers). Without
 * one, chunks are hashed (sealed) inline.
 */
static void start_hasher(struct bundle_image *img)
{
	for (int i = 1; i < RING; i++)
		img->buf[i] = xmalloc_buf();
	pthread_mutex_init(&img->lock, NULL);
	pthread_cond_init(&img->cond, NULL);
	img->lock_ready = true;
	if (img->seal)
		img->threaded = seal_start_workers(img);
	else
		img->threaded = pthread_create(&img->th, NULL, hasher, img) == 0;
	if (!img->threaded)
		pr_debug("%s: no hasher thread, hashing inline", img->name);
}

/* Stop the hasher once it has hashed everything queued. */
static void stop_hasher(struct bundle_image *img)
{
	if (!img->threaded && img->from_file) {
		img->stop = true;
		(void)file_hasher(img); /* no thread: all of it hashed here */
		return;
	}
	if (!img->threaded)
		return;
	pthread_mutex_lock(&img->lock);
	img->stop = true;
	pthread_cond_broadcast(&img->cond);
	pthread_mutex_unlock(&img->lock);
	if (img->seal)
		seal_join_workers(img);
	else
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
	img->rfd = -1;
	img->buf[0] = xmalloc_buf();
	crypto_generichash_init(&img->outer, NULL, 0, BUNDLE_SUM_BYTES);
	b->open_images++;
	if (b->seal && seal_start(img, err) < 0) {
		bundle_image_abort(img);
		return -err->code;
	}
	*out = img;
	return 0;
}

bool bundle_image_sealed(const struct bundle_image *img)
{
	return img->seal != NULL;
}

/*
 * The buffer being filled is written out and handed to the hasher; sealed,
 * to the sealing workers, which write it.
 */
static int chunk_done(struct bundle_image *img, bool last, ckpt_err_t *err)
{
	bool failed;
	int ret;

	ret = img->seal ? 0 : write_all(img->fd, img->buf[img->fill], img->used);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", img->name);
	if (!last && !img->threaded && !img->buf[1])
		start_hasher(img);
	if (!img->threaded && img->seal) {
		ret = seal_inline(img, img->used, last, err);
		img->used = 0;
		return ret;
	}
	if (!img->threaded) {
		hash_chunk(img, img->buf[img->fill], img->used);
		img->used = 0;
		return 0;
	}
	pthread_mutex_lock(&img->lock);
	if (img->seal)
		seal_queue(img, img->used, last);
	img->stop = img->partial = last; /* the hasher reads used for the last chunk only */
	img->queued++;
	pthread_cond_broadcast(&img->cond);
	while (img->queued == RING)
		pthread_cond_wait(&img->cond, &img->lock);
	failed = img->failed;
	pthread_mutex_unlock(&img->lock);
	if (failed) {
		stop_hasher(img);
		*err = *seal_failure(img->seal);
		return -err->code;
	}
	if (!last) {
		img->fill = (img->fill + 1) % RING;
		img->used = 0;
	}
	return 0;
}

/* File mode: len more bytes are in the file; the hasher may take them. */
static void file_advance(struct bundle_image *img, size_t len)
{
	img->size += len;
	if (!img->threaded) {
		img->avail = img->size;
		return;
	}
	pthread_mutex_lock(&img->lock);
	img->avail = img->size;
	pthread_cond_broadcast(&img->cond);
	pthread_mutex_unlock(&img->lock);
}

static int file_write(struct bundle_image *img, const void *buf, size_t len, ckpt_err_t *err)
{
	int ret = write_all(img->fd, buf, len);

	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", img->name);
	file_advance(img, len);
	return 0;
}

/*
 * Switch img to file mode: the chunks queued so far hashed from the ring
 * (its hasher stopped), the partial buffer written out and left for the
 * file hasher, which starts at the chunk boundary that buffer began at.
 */
static int image_to_file(struct bundle_image *img, ckpt_err_t *err)
{
	uint64_t start = img->size - img->used;
	int ret;

	if (img->from_file)
		return 0;
	if (img->seal)
		return ckpt_error_msg(err, EINVAL, "%s: a sealed image takes no splice", img->name);
	img->rfd = openat(img->b->dirfd, img->name, O_RDONLY | O_CLOEXEC);
	if (img->rfd < 0)
		return ckpt_error(err, errno, "open %s to hash it", img->name);
	stop_hasher(img); /* the ring: every queued chunk hashed */
	ret = write_all(img->fd, img->buf[img->fill], img->used);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", img->name);
	img->used = 0;
	img->from_file = true;
	img->stop = false;
	img->hashed = start;
	img->avail = img->size;
	if (!img->lock_ready) {
		pthread_mutex_init(&img->lock, NULL);
		pthread_cond_init(&img->cond, NULL);
		img->lock_ready = true;
	}
	img->threaded = pthread_create(&img->th, NULL, file_hasher, img) == 0;
	return 0;
}

int bundle_image_splice(struct bundle_image *img, int pipefd, size_t len, size_t *moved,
			ckpt_err_t *err)
{
	int ret = image_to_file(img, err);

	*moved = 0;
	while (ret == 0 && len) {
		ssize_t n =
			splice(pipefd, NULL, img->fd, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return ckpt_error(err, n < 0 ? errno : EIO, "splice into %s", img->name);
		file_advance(img, n);
		*moved += n;
		len -= n;
		/* no thread: hash what is complete as it comes */
		if (!img->threaded && img->avail - img->hashed >= 4 * BUNDLE_CHUNK) {
			hash_file_window(img, img->hashed, 4 * BUNDLE_CHUNK);
			img->hashed += 4 * BUNDLE_CHUNK;
		}
	}
	return ret;
}

int bundle_image_write(struct bundle_image *img, const void *buf, size_t len, ckpt_err_t *err)
{
	const char *p = buf;

	if (img->from_file)
		return file_write(img, buf, len, err);
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
	if (img->from_file)
		return file_write(img, img->buf[img->fill], n, err);
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
	if (img->rfd >= 0)
		close(img->rfd);
	for (int i = 0; i < RING; i++)
		free(img->buf[i]);
	seal_free(img->seal);
	free(img->sums);
	free(img->name);
	free(img);
}

void bundle_image_keep_sums(struct bundle_image *img)
{
	/* a sealed image's digest is over its stored bytes: checked whole */
	img->keep_sums = !img->seal && !img->b->seal;
}

/*
 * NAME.sums: the digests of NAME's chunks, in order. Their digest is
 * NAME's own (bundle_sum_of_chunks), so a reader holding the manifest can
 * check them without reading NAME, then each chunk as it reads it.
 */
static int write_sums(struct bundle_image *img, ckpt_err_t *err)
{
	cleanup_free char *name = xasprintf("%s" BUNDLE_SUMS_SUFFIX, img->name);
	size_t len = img->nsums * BUNDLE_SUM_BYTES;
	uint8_t sum[BUNDLE_SUM_BYTES];
	int fd = bundle_new_file(img->b, name, err), ret;

	if (fd < 0)
		return fd;
	ret = write_all(fd, img->sums, len);
	close(fd);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", name);
	bundle_digest(img->sums, len, sum);
	bundle_add_file(img->b, name, len, sum, len, 0);
	return 0;
}

int bundle_image_close(struct bundle_image *img, ckpt_err_t *err)
{
	uint8_t sum[BUNDLE_SUM_BYTES];
	/* sealed: an empty last chunk too, which says it is the last */
	int ret = (img->used || img->seal) && !img->from_file ? chunk_done(img, true, err) : 0;

	stop_hasher(img);
	if (ret == 0 && img->hash_errno)
		ret = ckpt_error(err, img->hash_errno, "read %s back to hash it", img->name);
	if (ret == 0 && img->seal)
		ret = seal_finish(img, err);
	if (ret == 0 && img->seal) {
		bundle_digest_final(&img->seal->stored, sum);
		bundle_add_file(img->b, img->name, img->seal->off, sum, img->size, img->b->seal);
	} else if (ret == 0) {
		crypto_generichash_final(&img->outer, sum, sizeof(sum));
		bundle_add_file(img->b, img->name, img->size, sum, img->size, 0);
		if (img->keep_sums && img->nsums)
			ret = write_sums(img, err);
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
	if (img->threaded && img->from_file) {
		pthread_mutex_lock(&img->lock);
		img->drop = true;
		pthread_mutex_unlock(&img->lock);
	}
	img->drop = true;
	(void)unlinkat(img->b->dirfd, img->name, 0);
	image_free(img);
}
