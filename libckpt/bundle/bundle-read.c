/*
 * libckpt/bundle/bundle-read.c - opening a bundle: nothing in it is trusted until
 * verified. bundle_open() checks the manifest (format version, file names,
 * sizes, XXH64 checksums), that the directory holds exactly the listed
 * files, and only then hands out documents and images.
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "util/json.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

/* Below this much data a second hashing thread costs more than it saves. */
#define VERIFY_PARALLEL_MIN (64u << 20)
#define VERIFY_THREADS	    2

/* Open a bundle member: a regular file, never through a symlink. */
static int open_member(int dirfd, const char *name, struct stat *st, ckpt_err_t *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

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

static int parse_sum(const char *s, uint64_t *out)
{
	char *end;

	if (!s || strlen(s) != 16 || strspn(s, "0123456789abcdef") != 16)
		return -1;
	*out = strtoull(s, &end, 16);
	return 0;
}

static int manifest_file(struct ckpt_bundle *b, const struct json *f, ckpt_err_t *err)
{
	const char *name, *sum;
	int64_t size;
	uint64_t h;

	if (json_get_str(f, "name", &name, err) < 0 || json_get_int(f, "size", &size, err) < 0 ||
	    json_get_str(f, "xxh64", &sum, err) < 0)
		return -EPROTO;
	if (strchr(name, '/') || !strcmp(name, ".."))
		return ckpt_error_msg(err, EPERM, "file `%s`: path escapes the bundle", name);
	if (!bundle_name_ok(name) || !strcmp(name, BUNDLE_MANIFEST) ||
	    strlen(name) != strlen(json_as_str(json_get(f, "name"))))
		return ckpt_error_msg(err, EPROTO, "file `%s`: invalid file name", name);
	if (size < 0)
		return ckpt_error_msg(err, EPROTO, "%s: negative size", name);
	if (parse_sum(sum, &h) < 0)
		return ckpt_error_msg(err, EPROTO, "%s: bad xxh64 `%s`", name, sum);
	if (bundle_find(b, name))
		return ckpt_error_msg(err, EPROTO, "%s: listed twice", name);
	b->files = xrealloc(b->files, (b->nfiles + 1) * sizeof(*b->files));
	b->files[b->nfiles++] = (struct bundle_file){xstrdup(name), size, h};
	return 0;
}

static int manifest_load(struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct json *fmt, *files;
	int64_t major, minor;
	size_t len;
	int ret;

	ret = read_member(b->dirfd, BUNDLE_MANIFEST, &text, &len, err);
	if (ret < 0)
		return ret;
	ret = json_parse(text, len, &b->manifest, err);
	if (ret < 0)
		return ckpt_error_wrap(err, BUNDLE_MANIFEST);
	if (json_get_obj(b->manifest, "format", &fmt, err) < 0 ||
	    json_get_int(fmt, "major", &major, err) < 0 ||
	    json_get_int(fmt, "minor", &minor, err) < 0)
		return ckpt_error_wrap(err, BUNDLE_MANIFEST);
	if (major != BUNDLE_FORMAT_MAJOR)
		return ckpt_error_msg(err, ENOTSUP,
				      "bundle format %" PRId64 ".%" PRId64
				      " is not supported (this ckpt-oci reads %d.x)",
				      major, minor, BUNDLE_FORMAT_MAJOR);
	if (json_get_arr(b->manifest, "files", &files, err) < 0)
		return ckpt_error_wrap(err, BUNDLE_MANIFEST);
	for (size_t i = 0; i < json_len(files); i++) {
		ret = manifest_file(b, json_at(files, i), err);
		if (ret < 0)
			return ckpt_error_wrap(err, BUNDLE_MANIFEST);
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
		    !strcmp(de->d_name, BUNDLE_MANIFEST))
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
		if ((uint64_t)st.st_size != b->files[i].size)
			return ckpt_error_msg(err, EPROTO,
					      "%s: size %" PRIu64 ", manifest says %" PRIu64
					      ": truncated or corrupt",
					      b->files[i].name, (uint64_t)st.st_size,
					      b->files[i].size);
	}
	return 0;
}

static int hash_member(int dirfd, const struct bundle_file *f, char *buf, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	struct xxh64_state h;
	uint64_t total = 0;
	struct stat st;
	ssize_t n;

	fd = open_member(dirfd, f->name, &st, err);
	if (fd < 0)
		return fd;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	xxh64_init(&h, 0);
	while ((n = read_all(fd, buf, BUNDLE_IOBUF)) > 0) {
		xxh64_update(&h, buf, n);
		total += n;
		if (total > f->size)
			break;
	}
	if (n < 0)
		return ckpt_error(err, -n, "read %s", f->name);
	if (total != f->size)
		return ckpt_error_msg(err, EPROTO, "%s: size changed while verifying", f->name);
	if (xxh64_digest(&h) != f->xxh64)
		return ckpt_error_msg(err, EPROTO, "%s: checksum mismatch: corrupt bundle",
				      f->name);
	return 0;
}

struct verify_job {
	const struct ckpt_bundle *b;
	size_t *order; /* file indexes, largest first */
	atomic_size_t next;
	pthread_mutex_t lock;
	size_t bad;	/* lowest failing position in order; nfiles when none */
	ckpt_err_t err; /* the error for that position */
};

static void *verify_worker(void *arg)
{
	struct verify_job *job = arg;
	char *buf = malloc(BUNDLE_IOBUF);
	ckpt_err_t err = {0};
	size_t i;

	if (!buf)
		abort();
	while ((i = atomic_fetch_add(&job->next, 1)) < job->b->nfiles) {
		if (hash_member(job->b->dirfd, &job->b->files[job->order[i]], buf, &err) == 0)
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

static const struct ckpt_bundle *sort_bundle;

static int by_size_desc(const void *a, const void *b)
{
	uint64_t x = sort_bundle->files[*(const size_t *)a].size;
	uint64_t y = sort_bundle->files[*(const size_t *)b].size;

	return (x < y) - (x > y);
}

/* Hash every file; big bundles use a second thread (files are independent). */
static int check_sums(const struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct verify_job job = {.b = b, .bad = b->nfiles, .lock = PTHREAD_MUTEX_INITIALIZER};
	pthread_t tid;
	uint64_t total = 0;
	bool spawned = false;

	job.order = xzalloc((b->nfiles + 1) * sizeof(*job.order));
	for (size_t i = 0; i < b->nfiles; i++) {
		job.order[i] = i;
		total += b->files[i].size;
	}
	/* largest first keeps both threads busy to the end; ordering is stable enough */
	sort_bundle = b;
	qsort(job.order, b->nfiles, sizeof(*job.order), by_size_desc);
	atomic_init(&job.next, 0);
	if (total >= VERIFY_PARALLEL_MIN && b->nfiles > 1)
		spawned = pthread_create(&tid, NULL, verify_worker, &job) == 0;
	verify_worker(&job);
	if (spawned)
		pthread_join(tid, NULL);
	free(job.order);
	if (job.bad < b->nfiles) {
		*err = job.err;
		return -err->code;
	}
	return 0;
}

int bundle_open(const char *path, struct ckpt_bundle **out, ckpt_err_t *err)
{
	struct ckpt_bundle *b = xzalloc(sizeof(*b));
	int ret;

	b->path = xstrdup(path);
	b->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->dirfd < 0) {
		ret = ckpt_error(err, errno, "open bundle `%s`", path);
		bundle_close(b);
		return ret;
	}
	ret = manifest_load(b, err);
	if (ret == 0)
		ret = check_listing(b, err);
	if (ret == 0)
		ret = check_sizes(b, err);
	if (ret == 0)
		ret = check_sums(b, err);
	if (ret < 0) {
		bundle_close(b);
		return ckpt_error_wrap(err, "bundle `%s`", path);
	}
	*out = b;
	return 0;
}

int bundle_get_json(struct ckpt_bundle *b, const char *name, struct json **out, ckpt_err_t *err)
{
	const struct bundle_file *f = bundle_find(b, name);
	cleanup_free char *text = NULL;
	size_t len;
	int ret;

	if (!f || !strcmp(name, BUNDLE_MANIFEST))
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	ret = read_member(b->dirfd, name, &text, &len, err);
	if (ret < 0)
		return ret;
	/* verified at open, but re-checked: it is cheap and closes the window */
	if (len != f->size || xxh64(text, len, 0) != f->xxh64)
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
