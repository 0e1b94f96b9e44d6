/*
 * libckpt/bundle/bundle-read.c - opening a bundle: nothing in it is trusted until
 * verified. bundle_open() checks the MAC over the manifest's bytes before
 * parsing them (bundle-auth.c), then the manifest (format version, file
 * names, sizes, BLAKE2b digests), that the directory holds exactly the
 * listed files, and only then hands out documents and images.
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "util/confine.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"

/*
 * Open a bundle member: a regular file, never through a symlink; with
 * ckpt-oci's own credentials, also while a task's are taken on.
 */
static int open_member(int dirfd, const char *name, struct stat *st, ckpt_err_t *err)
{
	bool paused = confine_pause();
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	confine_resume(paused);

	if (fd < 0 && errno == ENOENT)
		return ckpt_error_msg(err, ENOENT, "%s: missing from the bundle", name);
	if (fd < 0 && errno == ELOOP)
		return ckpt_error_msg(err, EPERM, "%s: is a symlink: path escapes the bundle",
				      name);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s", name);
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return ckpt_error_msg(err, EPROTO, "%s: not a regular file", name);
	}
	return fd;
}

/*
 * Verified files must stay as verified: a bundle directory or a file in
 * it that someone else may write could be changed between the check and
 * the use. So all of it must be ours and writable by nobody else (as
 * ckpt-oci writes it: 0700 and 0600). An unauthenticated restore trusts
 * nothing of it anyway and skips this.
 */
static int check_owner(const struct ckpt_bundle *b, const struct stat *st, const char *what,
		       ckpt_err_t *err)
{
	if (!b->strict || (st->st_uid == geteuid() && !(st->st_mode & 022)))
		return 0;
	return ckpt_error_msg(err, EPERM,
			      "%s: owner %u, mode %04o: others could change it once verified "
			      "(it must be ours and writable by us alone)",
			      what, (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
}

/* The directory, the manifest and its MAC. */
static int check_owners(const struct ckpt_bundle *b, ckpt_err_t *err)
{
	static const char *const names[] = {BUNDLE_MANIFEST, BUNDLE_MAC_FILE};
	struct stat st;

	if (fstat(b->dirfd, &st) < 0)
		return ckpt_error(err, errno, "stat the bundle directory");
	if (check_owner(b, &st, "the bundle directory", err) < 0)
		return -EPERM;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (fstatat(b->dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    check_owner(b, &st, names[i], err) < 0)
			return -EPERM;
	return 0;
}

/* Read a whole JSON member, bounded by BUNDLE_JSON_MAX. */
static int read_member(int dirfd, const char *name, char **out, size_t *len, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	struct stat st;
	ssize_t n;

	fd = open_member(dirfd, name, &st, err);
	if (fd < 0)
		return fd;
	if ((uint64_t)st.st_size > BUNDLE_JSON_MAX)
		return ckpt_error_msg(err, EFBIG, "%s: JSON larger than %u bytes", name,
				      BUNDLE_JSON_MAX);
	buf = xzalloc(st.st_size + 1);
	n = read_all(fd, buf, st.st_size);
	if (n < 0)
		return ckpt_error(err, -n, "read %s", name);
	if (n != st.st_size)
		return ckpt_error_msg(err, EIO, "%s: changed while being read", name);
	*len = n;
	*out = steal_pointer(&buf);
	return 0;
}

/* One manifest entry: a plain name, listed once, a size, a digest. */
static int manifest_file(struct ckpt_bundle *b, const struct doc_at *at, const struct json *f,
			 ckpt_err_t *err)
{
	const char *name;
	int64_t size;
	struct bundle_file *bf;
	uint8_t sum[BUNDLE_SUM_BYTES];

	if (doc_str(at, f, "name", 255, &name, err) < 0 ||
	    doc_int(at, f, "size", 0, INT64_MAX, &size, err) < 0 ||
	    doc_hexbuf(at, f, BUNDLE_SUM_ALG, sum, sizeof(sum), err) < 0)
		return -EPROTO;
	if (strchr(name, '/') || !strcmp(name, ".."))
		return ckpt_error_msg(err, EPERM,
				      BUNDLE_MANIFEST ": file `%s`: path escapes the bundle", name);
	if (!bundle_name_ok(name) || !strcmp(name, BUNDLE_MANIFEST) ||
	    !strcmp(name, BUNDLE_MAC_FILE))
		return ckpt_error_msg(err, EPROTO, BUNDLE_MANIFEST ": file `%s`: invalid file name",
				      name);
	if (bundle_find(b, name))
		return ckpt_error_msg(err, EPROTO, BUNDLE_MANIFEST ": %s: listed twice", name);
	b->files = xrealloc(b->files, (b->nfiles + 1) * sizeof(*b->files));
	bf = &b->files[b->nfiles++];
	bf->name = xstrdup(name);
	bf->size = size;
	memcpy(bf->sum, sum, sizeof(sum));
	return 0;
}

/* The MAC over the manifest's bytes first; only then is the manifest parsed. */
static int manifest_load(struct ckpt_bundle *b, const struct bundle_auth *auth, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP(BUNDLE_MANIFEST), fat;
	cleanup_free char *text = NULL;
	const struct json *fmt, *files, *f;
	int64_t major, minor;
	size_t len, n;
	int ret;

	ret = read_member(b->dirfd, BUNDLE_MANIFEST, &text, &len, err);
	if (ret < 0)
		return ret;
	ret = bundle_mac_check(b, auth, text, len, err);
	if (ret < 0)
		return ret;
	ret = json_parse(text, len, &b->manifest, err);
	if (ret < 0)
		return ckpt_error_wrap(err, BUNDLE_MANIFEST);
	fat = DOC_KEY(&at, "format");
	if (doc_obj(&at, b->manifest, "format", &fmt, err) < 0 ||
	    doc_int(&fat, fmt, "major", 0, INT32_MAX, &major, err) < 0 ||
	    doc_int(&fat, fmt, "minor", 0, INT32_MAX, &minor, err) < 0)
		return -EPROTO;
	if (major != BUNDLE_FORMAT_MAJOR)
		return ckpt_error_msg(err, ENOTSUP,
				      "bundle format %" PRId64 ".%" PRId64
				      " is not supported (this ckpt-oci reads %d.x)",
				      major, minor, BUNDLE_FORMAT_MAJOR);
	if (doc_arr(&at, b->manifest, "files", 1u << 20, &files, &n, err) < 0)
		return -EPROTO;
	fat = DOC_KEY(&at, "files");
	for (size_t i = 0; i < n; i++) {
		struct doc_at el = DOC_IDX(&fat, i);

		ret = doc_elem_obj(&fat, files, i, &f, err);
		if (ret == 0)
			ret = manifest_file(b, &el, f, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The directory holds exactly the manifest and the files it lists. */
static int check_listing(struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(b->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return ckpt_error(err, errno, "list bundle");
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, BUNDLE_MANIFEST) || !strcmp(de->d_name, BUNDLE_MAC_FILE))
			continue;
		if (!bundle_find(b, de->d_name))
			return ckpt_error_msg(err, EPROTO,
					      "%s: extra file not listed in the manifest",
					      de->d_name);
	}
	if (errno)
		return ckpt_error(err, errno, "list bundle");
	return 0;
}

/* Sizes first: a truncated file is reported as such, not as a bad checksum. */
static int check_sizes(struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct stat st;

	for (size_t i = 0; i < b->nfiles; i++) {
		int fd = open_member(b->dirfd, b->files[i].name, &st, err);

		if (fd < 0)
			return fd;
		close(fd);
		if (check_owner(b, &st, b->files[i].name, err) < 0)
			return -EPERM;
		if ((uint64_t)st.st_size != b->files[i].size)
			return ckpt_error_msg(err, EPROTO,
					      "%s: size %" PRIu64 ", manifest says %" PRIu64
					      ": truncated or corrupt",
					      b->files[i].name, (uint64_t)st.st_size,
					      b->files[i].size);
	}
	return 0;
}

/*
 * The contents, hashed in segments of SEG_CHUNKS chunks so that threads
 * share one big image as well as many small files; each chunk's digest
 * goes to its file's array, and the files' digests are made from those
 * once all is read.
 */
#define SEG_CHUNKS 32

struct verify_seg {
	size_t file;
	uint64_t first, n; /* chunks */
};

struct verify_job {
	const struct ckpt_bundle *b;
	struct verify_seg *segs;
	size_t nsegs;
	uint8_t **sums; /* per file: its chunks' digests */
	atomic_size_t next;
	pthread_mutex_t lock;
	size_t bad;	/* lowest failing segment; nsegs when none */
	ckpt_err_t err; /* the error for that segment */
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
 * while verifying, as a short read would be.
 */
static __thread sigjmp_buf *bus_jmp;
static struct sigaction bus_old;

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

/* 1: hashed; 0: the file cannot be mapped (read it instead); < 0: error. */
static int hash_mapped(const struct bundle_file *f, int fd, uint64_t off, size_t len,
		       uint8_t *sums, ckpt_err_t *err)
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

static int hash_seg(const struct verify_job *job, const struct verify_seg *s, char *buf,
		    ckpt_err_t *err)
{
	const struct bundle_file *f = &job->b->files[s->file];
	uint64_t first = s->first * BUNDLE_CHUNK;
	size_t len = MIN(f->size - first, s->n * BUNDLE_CHUNK);
	cleanup_close int fd = -1;
	struct stat st;
	int ret;

	fd = open_member(job->b->dirfd, f->name, &st, err);
	if (fd < 0)
		return fd;
	ret = hash_mapped(f, fd, first, len, job->sums[s->file] + s->first * BUNDLE_SUM_BYTES,
			  err);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	(void)posix_fadvise(fd, first, len, POSIX_FADV_SEQUENTIAL);
	/* four chunks per read, hashed at once when all four are full */
	for (size_t done = 0; done < len;) {
		size_t want = MIN(len - done, (size_t)4 * BUNDLE_CHUNK);
		ssize_t n = pread(fd, buf, want, first + done);

		if (n < 0)
			return ckpt_error(err, errno, "read %s", f->name);
		if ((size_t)n != want)
			return ckpt_error_msg(err, EPROTO, "%s: size changed while verifying",
					      f->name);
		hash_chunks(buf, want,
			    job->sums[s->file] + (first + done) / BUNDLE_CHUNK * BUNDLE_SUM_BYTES);
		done += want;
	}
	return 0;
}

static void *verify_worker(void *arg)
{
	struct verify_job *job = arg;
	char *buf = malloc(4 * BUNDLE_CHUNK);
	ckpt_err_t err = {0};
	size_t i;

	if (!buf)
		abort();
	while ((i = atomic_fetch_add(&job->next, 1)) < job->nsegs) {
		if (hash_seg(job, &job->segs[i], buf, &err) == 0)
			continue;
		pthread_mutex_lock(&job->lock);
		/* report one deterministic error whatever the thread timing */
		if (i < job->bad) {
			job->bad = i;
			job->err = err;
		}
		pthread_mutex_unlock(&job->lock);
	}
	free(buf);
	return NULL;
}

static size_t nchunks(uint64_t size)
{
	return (size + BUNDLE_CHUNK - 1) / BUNDLE_CHUNK;
}

/* Below this much data a second hashing thread costs more than it saves. */
#define VERIFY_PARALLEL_MIN (16u << 20)
#define VERIFY_THREADS_MAX  8

static int check_sums(const struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct verify_job job = {.b = b, .lock = PTHREAD_MUTEX_INITIALIZER};
	struct sigaction bus = {.sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO};
	pthread_t tids[VERIFY_THREADS_MAX];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nthreads = 0, want = 1;
	uint64_t total = 0;
	int ret = 0;

	job.sums = xzalloc((b->nfiles + 1) * sizeof(*job.sums));
	for (size_t i = 0; i < b->nfiles; i++) {
		size_t n = nchunks(b->files[i].size);

		total += b->files[i].size;
		job.sums[i] = xzalloc(n * BUNDLE_SUM_BYTES + 1);
		for (uint64_t c = 0; c < n; c += SEG_CHUNKS) {
			job.segs = xrealloc(job.segs, (job.nsegs + 1) * sizeof(*job.segs));
			job.segs[job.nsegs++] =
				(struct verify_seg){i, c, n - c < SEG_CHUNKS ? n - c : SEG_CHUNKS};
		}
	}
	job.bad = job.nsegs;
	atomic_init(&job.next, 0);
	if (total >= VERIFY_PARALLEL_MIN && job.nsegs > 1 && cpus > 1)
		want = cpus < VERIFY_THREADS_MAX ? (size_t)cpus : VERIFY_THREADS_MAX;
	sigaction(SIGBUS, &bus, &bus_old);
	while (nthreads + 1 < want &&
	       pthread_create(&tids[nthreads], NULL, verify_worker, &job) == 0)
		nthreads++;
	verify_worker(&job);
	while (nthreads)
		pthread_join(tids[--nthreads], NULL);
	sigaction(SIGBUS, &bus_old, NULL);
	if (job.bad < job.nsegs) {
		*err = job.err;
		ret = -err->code;
	}
	for (size_t i = 0; i < b->nfiles; i++) {
		uint8_t sum[BUNDLE_SUM_BYTES];

		if (ret == 0) {
			bundle_sum_of_chunks(job.sums[i], nchunks(b->files[i].size), sum);
			if (sodium_memcmp(sum, b->files[i].sum, sizeof(sum)))
				ret = ckpt_error_msg(err, EPROTO,
						     "%s: checksum mismatch: corrupt bundle",
						     b->files[i].name);
		}
		free(job.sums[i]);
	}
	free(job.sums);
	free(job.segs);
	return ret;
}

static int open_bundle(const char *path, const struct bundle_auth *auth, bool lazy,
		       struct ckpt_bundle **out, ckpt_err_t *err)
{
	struct ckpt_bundle *b = xzalloc(sizeof(*b));
	int ret;

	b->path = xstrdup(path);
	b->lazy = lazy;
	b->strict = !auth || !auth->insecure;
	b->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->dirfd < 0) {
		ret = ckpt_error(err, errno, "open bundle `%s`", path);
		bundle_close(b);
		return ret;
	}
	ret = check_owners(b, err);
	if (ret == 0)
		ret = manifest_load(b, auth, err);
	if (ret == 0)
		ret = check_listing(b, err);
	if (ret == 0)
		ret = check_sizes(b, err);
	if (ret == 0 && !lazy)
		ret = check_sums(b, err);
	if (ret < 0) {
		bundle_close(b);
		return ckpt_error_wrap(err, "bundle `%s`", path);
	}
	*out = b;
	return 0;
}

int bundle_open(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
		ckpt_err_t *err)
{
	return open_bundle(path, auth, false, out, err);
}

int bundle_open_documents(const char *path, const struct bundle_auth *auth,
			  struct ckpt_bundle **out, ckpt_err_t *err)
{
	return open_bundle(path, auth, true, out, err);
}

int bundle_get_json(struct ckpt_bundle *b, const char *name, struct json **out, ckpt_err_t *err)
{
	const struct bundle_file *f = bundle_find(b, name);
	cleanup_free char *text = NULL;
	uint8_t sum[BUNDLE_SUM_BYTES];
	size_t len;
	int ret;

	if (!f || !strcmp(name, BUNDLE_MANIFEST))
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	ret = read_member(b->dirfd, name, &text, &len, err);
	if (ret < 0)
		return ret;
	/* verified at open, but re-checked: it is cheap and closes the window */
	bundle_digest(text, len, sum);
	if (len != f->size || sodium_memcmp(sum, f->sum, sizeof(sum)))
		return ckpt_error_msg(err, EPROTO, "%s: changed since the bundle was verified",
				      name);
	ret = json_parse(text, len, out, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", name);
	return 0;
}

int bundle_open_file(struct ckpt_bundle *b, const char *name, int *fd, uint64_t *size,
		     ckpt_err_t *err)
{
	const struct bundle_file *f = bundle_find(b, name);
	struct stat st;
	int r;

	if (!f)
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	if (b->lazy)
		return ckpt_error_msg(err, EPERM, "%s: contents not verified yet", name);
	r = open_member(b->dirfd, name, &st, err);
	if (r < 0)
		return r;
	*fd = r;
	if (size)
		*size = f->size;
	return 0;
}

int bundle_has_file(struct ckpt_bundle *b, const char *name)
{
	return bundle_find(b, name) != NULL;
}
