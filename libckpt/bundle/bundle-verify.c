/*
 * libckpt/bundle/bundle-verify.c - the bundle's contents hashed against the
 * manifest's digests. bundle_open() hashes every file before it returns;
 * a restore (bundle_open_restore) hashes its page images in threads of
 * their own instead, while the tree is made from them, and waits for them
 * (bundle_verify_wait) before the tree may run: the documents, which say
 * what is made, are still verified first.
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "util/log.h"
#include "util/util.h"

/*
 * The contents, hashed in segments of SEG_CHUNKS chunks so that threads
 * share one big image as well as many small files; each chunk's digest
 * goes to its file's array, and the files' digests are made from those
 * once all is read. A segment is mapped and populated whole while it is
 * hashed (hash_mapped), and counts in the restore's resident size: 8 MiB
 * a thread keeps it flat whatever the image's size (32 MiB made a 1 GiB
 * restore peak at 71 MiB with two threads).
 */
#define SEG_CHUNKS 8
/* Below this much data a second hashing thread costs more than it saves. */
#define VERIFY_PARALLEL_MIN (16u << 20)
#define VERIFY_THREADS_MAX  8

struct verify_seg {
	size_t file;
	uint64_t first, n; /* chunks */
};

struct verify_job {
	struct ckpt_bundle *b;
	bool deferred; /* which files: the deferred ones, or the others */
	struct verify_seg *segs;
	size_t nsegs;
	uint64_t bytes;
	uint8_t **sums; /* per file: its chunks' digests */
	atomic_size_t next;
	atomic_bool stop; /* bundle_close: the rest is not wanted */
	pthread_mutex_t lock;
	size_t bad;	/* lowest failing segment; nsegs when none */
	ckpt_err_t err; /* the error for that segment */
	pthread_t tids[VERIFY_THREADS_MAX];
	size_t nthreads;
};

/* The digests of the chunks in buf[0, len): four at once while four are full. */
static void hash_chunks(const char *buf, size_t len, uint8_t *sums)
{
	while (len >= 4 * BUNDLE_CHUNK) {
		const void *p[4] = {buf, buf + BUNDLE_CHUNK, buf + 2 * BUNDLE_CHUNK,
				    buf + 3 * BUNDLE_CHUNK};

		bundle_chunk_sum4(p, BUNDLE_CHUNK, (uint8_t(*)[BUNDLE_SUM_BYTES])sums);
		buf += 4 * BUNDLE_CHUNK;
		len -= 4 * BUNDLE_CHUNK;
		sums += 4 * BUNDLE_SUM_BYTES;
	}
	while (len) {
		size_t n = MIN(len, (size_t)BUNDLE_CHUNK);

		bundle_chunk_sum(buf, n, sums);
		buf += n;
		len -= n;
		sums += BUNDLE_SUM_BYTES;
	}
}

/*
 * A segment is hashed where it lies, in a read-only shared mapping of the
 * file: no copy into a buffer of ours, which cost as much CPU as the hash
 * itself (tmpfs, 0.5 s per GiB). A file cut short after its size was
 * checked faults (SIGBUS) instead of reading short: the handler below
 * jumps back to the thread that mapped it, which reports it as a change
 * while verifying, as a short read would be. The handler stays while any
 * job runs: a restore's runs beside the synchronous ones of the bundles
 * an incremental one builds on.
 */
static __thread sigjmp_buf *bus_jmp;
static struct sigaction bus_old;
static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static int bus_users;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	if (bus_jmp)
		siglongjmp(*bus_jmp, 1);
	/* not ours: the fault comes again, with what was there before */
	sigaction(SIGBUS, &bus_old, NULL);
}

static void bus_hold(void)
{
	struct sigaction bus = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};

	pthread_mutex_lock(&bus_lock);
	if (bus_users++ == 0)
		sigaction(SIGBUS, &bus, &bus_old);
	pthread_mutex_unlock(&bus_lock);
}

static void bus_release(void)
{
	pthread_mutex_lock(&bus_lock);
	if (--bus_users == 0)
		sigaction(SIGBUS, &bus_old, NULL);
	pthread_mutex_unlock(&bus_lock);
}

/* 1: hashed; 0: the file cannot be mapped (read it instead); < 0: error. */
static int hash_mapped(const struct bundle_file *f, int fd, uint64_t off, size_t len, uint8_t *sums,
		       ckpt_err_t *err)
{
	char *m = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, (off_t)off);
	sigjmp_buf jb;
	volatile int cut = 0;

	if (m == MAP_FAILED)
		return 0;
	if (sigsetjmp(jb, 1) == 0) {
		bus_jmp = &jb;
		hash_chunks(m, len, sums);
	} else {
		cut = 1;
	}
	bus_jmp = NULL;
	munmap(m, len);
	if (cut)
		return ckpt_error_msg(err, EPROTO, "%s: size changed while verifying", f->name);
	return 1;
}

/* A file that cannot be mapped, read: four chunks a read, hashed at once when all are full. */
static int hash_read(const struct bundle_file *f, int fd, uint64_t first, size_t len, uint8_t *sums,
		     ckpt_err_t *err)
{
	/* mapped, not malloc'd: a restore forks its tree while this runs (clone3, no atfork) */
	size_t cap = 4 * BUNDLE_CHUNK;
	char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret = 0;

	if (buf == MAP_FAILED)
		return ckpt_error(err, errno, "%s: a buffer to verify it", f->name);
	(void)posix_fadvise(fd, first, len, POSIX_FADV_SEQUENTIAL);
	for (size_t done = 0; ret == 0 && done < len;) {
		size_t want = MIN(len - done, cap);
		ssize_t n = pread(fd, buf, want, first + done);

		if (n < 0)
			ret = ckpt_error(err, errno, "read %s", f->name);
		else if ((size_t)n != want)
			ret = ckpt_error_msg(err, EPROTO, "%s: size changed while verifying",
					     f->name);
		else
			hash_chunks(buf, want, sums + done / BUNDLE_CHUNK * BUNDLE_SUM_BYTES);
		done += want;
	}
	munmap(buf, cap);
	return ret;
}

static int hash_seg(const struct verify_job *job, const struct verify_seg *s, ckpt_err_t *err)
{
	const struct bundle_file *f = &job->b->files[s->file];
	uint64_t first = s->first * BUNDLE_CHUNK;
	size_t len = MIN(f->size - first, s->n * BUNDLE_CHUNK);
	uint8_t *sums = job->sums[s->file] + s->first * BUNDLE_SUM_BYTES;
	cleanup_close int fd = -1;
	struct stat st;
	int ret;

	fd = bundle_open_member(job->b->dirfd, f->name, &st, err);
	if (fd < 0)
		return fd;
	ret = hash_mapped(f, fd, first, len, sums, err);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	return hash_read(f, fd, first, len, sums, err);
}

/* No malloc here: see hash_read. */
static void *verify_worker(void *arg)
{
	struct verify_job *job = arg;
	ckpt_err_t err = {0};
	size_t i;

	while (!atomic_load(&job->stop) && (i = atomic_fetch_add(&job->next, 1)) < job->nsegs) {
		if (hash_seg(job, &job->segs[i], &err) == 0)
			continue;
		pthread_mutex_lock(&job->lock);
		/* report one deterministic error whatever the thread timing */
		if (i < job->bad) {
			job->bad = i;
			job->err = err;
		}
		pthread_mutex_unlock(&job->lock);
	}
	return NULL;
}

static bool job_file(const struct verify_job *job, const struct bundle_file *f)
{
	return f->deferred == job->deferred && !f->remote;
}

static struct verify_job *job_new(struct ckpt_bundle *b, bool deferred)
{
	struct verify_job *job = xzalloc(sizeof(*job));

	job->b = b;
	job->deferred = deferred;
	pthread_mutex_init(&job->lock, NULL);
	job->sums = xzalloc((b->nfiles + 1) * sizeof(*job->sums));
	for (size_t i = 0; i < b->nfiles; i++) {
		size_t n = job_file(job, &b->files[i]) ? bundle_nchunks(b->files[i].size) : 0;

		if (n)
			job->bytes += b->files[i].size;
		job->sums[i] = xzalloc(n * BUNDLE_SUM_BYTES + 1);
		for (uint64_t c = 0; c < n; c += SEG_CHUNKS) {
			job->segs = xrealloc(job->segs, (job->nsegs + 1) * sizeof(*job->segs));
			job->segs[job->nsegs++] =
				(struct verify_seg){i, c, n - c < SEG_CHUNKS ? n - c : SEG_CHUNKS};
		}
	}
	job->bad = job->nsegs;
	atomic_init(&job->next, 0);
	atomic_init(&job->stop, false);
	return job;
}

/* As many threads as CPUs for a big job, none for a small one. */
static size_t job_threads(const struct verify_job *job)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (job->bytes < VERIFY_PARALLEL_MIN || job->nsegs < 2 || cpus < 2)
		return 1;
	return cpus < VERIFY_THREADS_MAX ? (size_t)cpus : VERIFY_THREADS_MAX;
}

/*
 * Start n threads; each blocks the signals a restore's caller may send
 * (SIGINT, SIGTERM: the rollback), which go to the thread that handles
 * them. Fewer or none when threads cannot be had: the caller's
 * verify_worker() does the rest.
 */
static void job_start(struct verify_job *job, size_t n)
{
	sigset_t all, old;

	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	while (job->nthreads < n &&
	       pthread_create(&job->tids[job->nthreads], NULL, verify_worker, job) == 0)
		job->nthreads++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Join every thread, then each file's digest from its chunks'; the job freed. */
static int job_finish(struct verify_job *job, ckpt_err_t *err)
{
	struct ckpt_bundle *b = job->b;
	int ret = 0;

	while (job->nthreads)
		pthread_join(job->tids[--job->nthreads], NULL);
	if (job->bad < job->nsegs) {
		*err = job->err;
		ret = -err->code;
	}
	for (size_t i = 0; i < b->nfiles; i++) {
		struct bundle_file *f = &b->files[i];
		uint8_t sum[BUNDLE_SUM_BYTES];

		if (ret == 0 && job_file(job, f)) {
			bundle_sum_of_chunks(job->sums[i], bundle_nchunks(f->size), sum);
			if (sodium_memcmp(sum, f->sum, sizeof(sum)))
				ret = ckpt_error_msg(err, EPROTO,
						     "%s: checksum mismatch: corrupt bundle",
						     f->name);
		}
		free(job->sums[i]);
	}
	for (size_t i = 0; ret == 0 && job->deferred && i < b->nfiles; i++)
		if (job_file(job, &b->files[i]))
			b->files[i].deferred = false;
	free(job->sums);
	free(job->segs);
	pthread_mutex_destroy(&job->lock);
	free(job);
	return ret;
}

int bundle_check_sums(struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct verify_job *job = job_new(b, false);
	int ret;

	bus_hold();
	job_start(job, job_threads(job) - 1);
	verify_worker(job);
	ret = job_finish(job, err);
	bus_release();
	return ret;
}

int bundle_verify_start(struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct verify_job *job = job_new(b, true);
	int ret;

	bus_hold();
	if (job->bytes < VERIFY_PARALLEL_MIN) {
		/* not worth a thread: hashed now, as bundle_open() would */
		verify_worker(job);
		ret = job_finish(job, err);
		bus_release();
		return ret;
	}
	job_start(job, job_threads(job));
	pr_debug("%zu threads verify %.1f MiB of page images meanwhile", job->nthreads,
		 job->bytes / 1048576.0);
	b->bg = job;
	return 0;
}

int bundle_verify_wait(struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct verify_job *job = b->bg;
	uint64_t t0 = now_ns(), bytes;
	int ret;

	if (!job)
		return 0;
	b->bg = NULL;
	bytes = job->bytes;
	/* what no thread has taken yet, this one hashes too */
	verify_worker(job);
	ret = job_finish(job, err);
	bus_release();
	if (ret == 0)
		pr_info("page images verified (%.1f MiB), waited %.3f s for them",
			bytes / 1048576.0, (now_ns() - t0) / 1e9);
	return ret;
}

void bundle_verify_stop(struct ckpt_bundle *b)
{
	struct verify_job *job = b->bg;

	if (!job)
		return;
	b->bg = NULL;
	atomic_store(&job->stop, true);
	(void)job_finish(job, &(ckpt_err_t){0});
	bus_release();
}
