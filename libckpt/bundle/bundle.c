/*
 * libckpt/bundle/bundle.c - writing a bundle: NAME.tmp (0700) receives JSON
 * documents and streamed images (0600, bundle-image.c), each digested
 * (BLAKE2b, chunked: bundle-auth.c) as it is written; bundle_commit() adds
 * manifest.json and its keyed MAC (manifest.mac), makes everything durable
 * and renames NAME.tmp to NAME, so a bundle either exists complete or not
 * at all. Also the host facts (kernel, CPU, xcr0) recorded and checked.
 * Reading and verification live in bundle-read.c.
 */
#define LOG_PREFIX "bundle: "
#include <cpuid.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "bundle/bundle-priv.h"
#include "util/json.h"
#include "util/cpu.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

bool bundle_name_ok(const char *name)
{
	return name && *name && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

struct bundle_file *bundle_find(const struct ckpt_bundle *b, const char *name)
{
	for (size_t i = 0; i < b->nfiles; i++)
		if (!strcmp(b->files[i].name, name))
			return &b->files[i];
	return NULL;
}

int bundle_rmtree(int parentfd, const char *name)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) < 0 && errno == EISDIR)
			(void)bundle_rmtree(fd, de->d_name);
	}
	return unlinkat(parentfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

static void bundle_free(struct ckpt_bundle *b)
{
	bundle_verify_stop(b);
	for (size_t i = 0; i < b->nfiles; i++)
		free(b->files[i].name);
	free(b->files);
	json_free(b->manifest);
	sodium_memzero(b->key, sizeof(b->key));
	sodium_memzero(b->seal_key, sizeof(b->seal_key));
	if (b->dirfd >= 0)
		close(b->dirfd);
	free(b->path);
	free(b->tmp_path);
	free(b);
}

int bundle_create(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
		  ckpt_err_t *err)
{
	struct ckpt_bundle *b;
	struct stat st;

	if (!path || !*path)
		return ckpt_error_msg(err, EINVAL, "empty bundle path");
	if (lstat(path, &st) == 0)
		return ckpt_error_msg(err, EEXIST, "bundle `%s` already exists", path);
	if (errno != ENOENT)
		return ckpt_error(err, errno, "bundle `%s`", path);
	b = xzalloc(sizeof(*b));
	b->writing = true;
	b->dirfd = -1;
	/* the key first: a bundle nobody can authenticate is not worth writing */
	if (bundle_key_load(b, auth, true, err) < 0) {
		bundle_free(b);
		return -err->code;
	}
	b->path = xstrdup(path);
	b->tmp_path = xasprintf("%s.tmp", path);
	/* a stale NAME.tmp is a crashed earlier run: nothing in it is worth keeping */
	(void)bundle_rmtree(AT_FDCWD, b->tmp_path);
	if (mkdir(b->tmp_path, 0700) < 0) {
		ckpt_error(err, errno, "mkdir `%s`", b->tmp_path);
		bundle_free(b);
		return -err->code;
	}
	b->dirfd = open(b->tmp_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->dirfd < 0) {
		ckpt_error(err, errno, "open `%s`", b->tmp_path);
		bundle_close(b);
		return -err->code;
	}
	*out = b;
	return 0;
}

int bundle_new_file(struct ckpt_bundle *b, const char *name, ckpt_err_t *err)
{
	int fd;

	if (!b->writing || b->committed)
		return ckpt_error_msg(err, EINVAL, "bundle `%s` is not open for writing", b->path);
	if (!bundle_name_ok(name) || !strcmp(name, BUNDLE_MANIFEST))
		return ckpt_error_msg(err, EINVAL, "bad bundle file name `%s`", name ? name : "");
	if (bundle_find(b, name))
		return ckpt_error_msg(err, EEXIST, "%s: already in the bundle", name);
	fd = openat(b->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "create %s", name);
	return fd;
}

void bundle_add_file(struct ckpt_bundle *b, const char *name, uint64_t size,
		     const uint8_t sum[BUNDLE_SUM_BYTES], uint64_t plain_size, unsigned seal)
{
	struct bundle_file *f;

	b->files = xrealloc(b->files, (b->nfiles + 1) * sizeof(*b->files));
	f = &b->files[b->nfiles++];
	f->name = xstrdup(name);
	f->size = size;
	memcpy(f->sum, sum, BUNDLE_SUM_BYTES);
	f->plain_size = plain_size;
	f->seal = seal;
	f->deferred = f->remote = f->live = false;
}

int bundle_add_live(struct ckpt_bundle *b, const char *name, uint64_t size, ckpt_err_t *err)
{
	static const uint8_t none[BUNDLE_SUM_BYTES];

	if (!b->writing || b->seal || !bundle_name_ok(name) || strncmp(name, "pages-", 6))
		return ckpt_error_msg(err, EINVAL, "%s: cannot be a live page image", name);
	if (bundle_find(b, name))
		return ckpt_error_msg(err, EEXIST, "%s: already in the bundle", name);
	bundle_add_file(b, name, size, none, size, 0);
	b->files[b->nfiles - 1].live = true;
	return 0;
}

int bundle_seal(struct ckpt_bundle *b, const struct bundle_seal_opts *o, ckpt_err_t *err)
{
	if (!b->writing || b->nfiles || b->open_images)
		return ckpt_error_msg(err, EINVAL, "bundle `%s`: sealed from its first file only",
				      b->path);
	b->seal = (o->zstd ? SEAL_ZSTD : 0) | (o->key_file ? SEAL_ENCRYPT : 0);
	b->seal_level = o->level;
	if (o->key_file) {
		int ret = bundle_seal_key_load(o->key_file, b->seal_key, b->seal_key_id, err);

		if (ret < 0)
			return ret;
		b->have_seal_key = true;
	}
	return 0;
}

/* A document of a sealed bundle is a sealed image like any other. */
static int put_json_sealed(struct ckpt_bundle *b, const char *name, const struct json *doc,
			   ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct bundle_image *img = NULL;
	size_t len = 0;
	int ret;

	text = json_dump(doc, true, &len);
	if (!text)
		return ckpt_error_msg(err, EINVAL, "%s: cannot serialise JSON", name);
	text[len++] = '\n';
	ret = bundle_image_create(b, name, &img, err);
	if (ret < 0)
		return ret;
	ret = bundle_image_write(img, text, len, err);
	if (ret < 0) {
		bundle_image_abort(img);
		return ret;
	}
	return bundle_image_close(img, err);
}

int bundle_put_json(struct ckpt_bundle *b, const char *name, const struct json *doc,
		    ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	cleanup_close int fd = -1;
	uint8_t sum[BUNDLE_SUM_BYTES];
	size_t len = 0;
	int ret;

	if (b->seal)
		return put_json_sealed(b, name, doc, err);
	fd = bundle_new_file(b, name, err);
	if (fd < 0)
		return fd;
	text = json_dump(doc, true, &len);
	if (!text) {
		(void)unlinkat(b->dirfd, name, 0);
		return ckpt_error_msg(err, EINVAL, "%s: cannot serialise JSON", name);
	}
	text[len++] = '\n'; /* json_dump leaves room: its buffer is len + 1 */
	ret = write_all(fd, text, len);
	if (ret < 0) {
		(void)unlinkat(b->dirfd, name, 0);
		return ckpt_error(err, -ret, "write %s", name);
	}
	bundle_digest(text, len, sum);
	bundle_add_file(b, name, len, sum, len, 0);
	return 0;
}

/* XSAVE feature mask the OS enabled; 0 when the CPU or OS lacks XSAVE. */
static uint64_t host_xcr0(void)
{
	unsigned int a, b, c, d, lo, hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

void bundle_host_probe(struct bundle_host *h)
{
	struct utsname u;

	memset(h, 0, sizeof(*h));
	if (uname(&u) == 0)
		snprintf(h->kernel, sizeof(h->kernel), "%s", u.release);
	proc_cpu_model(h->cpu_model, sizeof(h->cpu_model));
	h->xcr0 = host_xcr0();
	h->page_size = sysconf(_SC_PAGESIZE);
}

static struct json *manifest_build(const struct ckpt_bundle *b)
{
	struct json *m = json_obj(), *fmt, *host, *files, *f;
	struct bundle_host h;
	char created[32];
	struct tm tm;
	time_t now = time(NULL);

	fmt = json_set(m, "format", json_obj());
	/* sealed files are not what a 2.x reader thinks they are: it must refuse */
	json_set(fmt, "major", json_int(b->seal ? BUNDLE_FORMAT_SEALED : BUNDLE_FORMAT_MAJOR));
	json_set(fmt, "minor", json_int(BUNDLE_FORMAT_MINOR));
	json_set(m, "tool", json_str("ckpt-oci " CKPT_VERSION));
	gmtime_r(&now, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_set(m, "created", json_str(created));
	bundle_host_probe(&h);
	host = json_set(m, "host", json_obj());
	json_set(host, "kernel", json_str(h.kernel));
	json_set(host, "cpu_model", json_str(h.cpu_model));
	json_set(host, "xcr0", json_hex(h.xcr0));
	json_set(host, "page_size", json_int(h.page_size));
	json_set(host, "cpu_features", cpu_features_probe());
	if (b->seal) {
		struct json *seal = json_set(m, "seal", json_obj());

		if (b->seal & SEAL_ZSTD)
			json_set(seal, "compress", json_str("zstd"));
		if (b->seal & SEAL_ENCRYPT) {
			json_set(seal, "encrypt", json_str(SEAL_AEAD_NAME));
			json_set(seal, "key_id", json_str(b->seal_key_id));
		}
	}
	files = json_set(m, "files", json_arr());
	for (size_t i = 0; i < b->nfiles; i++) {
		f = json_push(files, json_obj());
		json_set(f, "name", json_str(b->files[i].name));
		json_set(f, "size", json_int(b->files[i].size));
		json_set(f, BUNDLE_SUM_ALG, json_hexbuf(b->files[i].sum, BUNDLE_SUM_BYTES));
		if (b->files[i].live)
			json_set(f, "live", json_bool(true));
		if (b->files[i].seal) {
			json_set(f, "plain_size", json_int(b->files[i].plain_size));
			json_set(f, "seal", json_str(seal_name(b->files[i].seal)));
		}
	}
	return m;
}

/* Make every file's data durable before the rename publishes the bundle. */
static int sync_files(struct ckpt_bundle *b, ckpt_err_t *err)
{
	/*
	 * One syncfs() instead of an fsync() per file: a dump writes a few
	 * files per task and per-file fsync pays a journal commit for each.
	 * syncfs reports writeback errors of this filesystem (Linux >= 5.8).
	 */
	if (syncfs(b->dirfd) < 0)
		return ckpt_error(err, errno, "syncfs `%s`", b->tmp_path);
	if (fsync(b->dirfd) < 0)
		return ckpt_error(err, errno, "fsync `%s`", b->tmp_path);
	return 0;
}

static int fsync_parent(const char *path, ckpt_err_t *err)
{
	cleanup_free char *dir = xstrdup(path);
	cleanup_close int fd = -1;
	char *slash = strrchr(dir, '/');

	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return ckpt_error(err, errno, "fsync parent of `%s`", path);
	return 0;
}

static int commit_steps(struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_json struct json *m = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	int ret;

	if (b->open_images)
		return ckpt_error_msg(err, EBUSY, "%d image(s) still open", b->open_images);
	m = manifest_build(b);
	text = json_dump(m, true, &len);
	if (!text)
		return ckpt_error_msg(err, EINVAL, "cannot serialise the manifest");
	text[len++] = '\n';
	ret = write_file_at(b->dirfd, BUNDLE_MANIFEST, text, len, 0600, err);
	if (ret == 0)
		ret = bundle_mac_write(b, text, len, err);
	if (ret < 0)
		return ret;
	ret = b->no_sync ? 0 : sync_files(b, err);
	if (ret < 0)
		return ret;
	/* NOREPLACE: a directory created meanwhile at NAME must not be swallowed */
	if (renameat2(AT_FDCWD, b->tmp_path, AT_FDCWD, b->path, RENAME_NOREPLACE) < 0)
		return ckpt_error(err, errno, "rename `%s` to `%s`", b->tmp_path, b->path);
	b->committed = true;
	return b->no_sync ? 0 : fsync_parent(b->path, err);
}

void bundle_set_no_sync(struct ckpt_bundle *b)
{
	b->no_sync = true;
}

int bundle_commit(struct ckpt_bundle *b, ckpt_err_t *err)
{
	int ret;

	if (!b->writing || b->committed)
		return ckpt_error_msg(err, EINVAL, "bundle `%s` is not open for writing", b->path);
	ret = commit_steps(b, err);
	if (ret < 0) {
		/* a bundle exists complete or not at all */
		(void)bundle_rmtree(AT_FDCWD, b->committed ? b->path : b->tmp_path);
		b->committed = false;
		b->writing = false;
		return ckpt_error_wrap(err, "bundle `%s`", b->path);
	}
	return 0;
}

void bundle_close(struct ckpt_bundle *b)
{
	if (!b)
		return;
	if (b->writing && !b->committed)
		(void)bundle_rmtree(AT_FDCWD, b->tmp_path);
	bundle_free(b);
}

const struct json *bundle_manifest(const struct ckpt_bundle *b)
{
	return b->manifest;
}

const char *bundle_path(const struct ckpt_bundle *b)
{
	return b->path;
}

int bundle_dirfd(const struct ckpt_bundle *b)
{
	return b->dirfd;
}

/* Name the likely feature, so the message says more than a bit mask. */
static const char *xfeature_hint(uint64_t missing)
{
	if (missing & 0xe0)
		return " (AVX-512?)";
	if (missing & (3ULL << 17))
		return " (AMX?)";
	if (missing & 0x4)
		return " (AVX?)";
	if (missing & 0x200)
		return " (PKRU?)";
	return "";
}

int bundle_check_host(const struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct json *host = json_get(b->manifest, "host");
	struct bundle_host h;
	uint64_t xcr0 = 0, missing;
	int ret;

	if (!host)
		return ckpt_error_msg(err, EPROTO, "manifest.json: no `host`");
	ret = json_get_hex(host, "xcr0", &xcr0, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "manifest.json: host");
	bundle_host_probe(&h);
	missing = xcr0 & ~h.xcr0;
	if (missing)
		return ckpt_error_msg(err, ENOTSUP,
				      "bundle needs CPU state features 0x%" PRIx64
				      " that this CPU lacks%s",
				      missing, xfeature_hint(missing));
	return cpu_features_check(json_get(host, "cpu_features"), err);
}
