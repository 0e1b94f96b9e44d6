/*
 * tests/unit/test_bundle.c - the bundle: write -> commit -> open -> read
 * round trip, permissions, atomicity, and every rejection bundle_open()
 * promises (corrupt, truncated, extra, missing, escaping names, unknown
 * format, oversized JSON, foreign CPU features), and the MAC: a manifest
 * edited, another key, no MAC, no key, a key file others can read.
 * Works in a mkdtemp dir, with a key file of its own.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "ckpt/bundle.h"
#include "util/json.h"
#include "tap.h"
#include "util/util.h"

#define IMG_SIZE ((3u << 20) + 12345)

static char base[] = "/tmp/ckpt-unit-XXXXXX";
static char keypath[64], key2path[64];
/* strict with our key; the same, opening what does not authenticate */
static struct bundle_auth auth = {.key_file = keypath};
static struct bundle_auth auth_insecure = {.key_file = keypath, .insecure = true, .quiet = true};

/* A key file: 32 bytes, mode given. */
static void make_key(const char *path, unsigned char fill, int mode)
{
	unsigned char key[BUNDLE_KEY_BYTES];
	ckpt_err_t err;

	memset(key, fill, sizeof(key));
	(void)unlink(path);
	if (write_file_at(AT_FDCWD, path, key, sizeof(key), mode, &err) < 0 ||
	    chmod(path, mode) < 0)
		abort();
}

static unsigned char pattern(size_t i)
{
	return (i * 2654435761u) >> 13;
}

/* make_bundle keeps the image's chunk digests (pages-12.img.sums), as a dump does */
static bool want_sums;

/* A bundle like a dump writes: two JSON documents and a streamed image. */
static int make_bundle(const char *path, ckpt_err_t *err)
{
	struct ckpt_bundle *b = NULL;
	struct bundle_image *img = NULL;
	cleanup_json struct json *tree = json_obj(), *task = json_obj();
	static unsigned char buf[2u << 20];
	size_t off = 0, chunks[] = {1, 4095, 2u << 20, 7, 100000};
	int ret;

	json_set(tree, "root", json_int(12));
	json_set(task, "pid", json_int(12));
	json_set(task, "comm", json_str("sleep"));
	ret = bundle_create(path, &auth, &b, err);
	if (ret < 0)
		return ret;
	if ((ret = bundle_put_json(b, "pstree.json", tree, err)) < 0 ||
	    (ret = bundle_put_json(b, "task-12.json", task, err)) < 0 ||
	    (ret = bundle_image_create(b, "pages-12.img", &img, err)) < 0)
		goto out;
	if (want_sums)
		bundle_image_keep_sums(img);
	for (size_t k = 0; off < IMG_SIZE; k++) {
		size_t n = MIN(chunks[k % ARRAY_SIZE(chunks)], IMG_SIZE - off);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		if ((ret = bundle_image_write(img, buf, n, err)) < 0)
			goto out;
		off += n;
	}
	ret = bundle_image_close(steal_pointer(&img), err);
	if (ret == 0)
		ret = bundle_commit(b, err);
out:
	bundle_image_abort(img);
	bundle_close(b);
	return ret;
}

static char *bpath(const char *name)
{
	return xasprintf("%s/%s", base, name);
}

/* Try to open; return the error message (or "" when it opened). */
static const char *open_msg_as(const char *path, const struct bundle_auth *a, ckpt_err_t *err)
{
	struct ckpt_bundle *b = NULL;

	ckpt_error_clear(err);
	if (bundle_open(path, a, &b, err) == 0) {
		bundle_close(b);
		return "";
	}
	return err->msg;
}

static const char *open_msg(const char *path, ckpt_err_t *err)
{
	return open_msg_as(path, &auth, err);
}

/* Past the MAC: the checks behind it, on a manifest edited without the key. */
static const char *open_msg_insecure(const char *path, ckpt_err_t *err)
{
	return open_msg_as(path, &auth_insecure, err);
}

static void flip_byte(const char *path, const char *file, off_t at)
{
	cleanup_free char *p = xasprintf("%s/%s", path, file);
	cleanup_close int fd = open(p, O_RDWR | O_CLOEXEC);
	unsigned char c;

	if (pread(fd, &c, 1, at) == 1) {
		c ^= 0x20;
		if (pwrite(fd, &c, 1, at) != 1)
			abort();
	}
}

/* Rewrite manifest.json after fn edits it: its MAC no longer verifies. */
static void edit_manifest(const char *path, void (*fn)(struct json *m))
{
	cleanup_free char *p = xasprintf("%s/manifest.json", path), *text = NULL;
	cleanup_json struct json *m = NULL;
	ckpt_err_t err;
	size_t len;

	if (read_file_at(AT_FDCWD, p, 1 << 20, &text, &len, &err) < 0 ||
	    json_parse(text, len, &m, &err) < 0)
		abort();
	fn(m);
	free(text);
	text = json_dump(m, true, &len);
	if (write_file_at(AT_FDCWD, p, text, len, 0600, &err) < 0)
		abort();
}

static void set_escape(struct json *m)
{
	json_set(json_at(json_get(m, "files"), 0), "name", json_str("../pstree.json"));
}

static void set_major99(struct json *m)
{
	json_set(json_get(m, "format"), "major", json_int(99));
}

static void set_xcr0(struct json *m)
{
	json_set(json_get(m, "host"), "xcr0", json_hex(~0ULL));
}

/* Every CPUID feature bit set: some extension this CPU lacks. */
static void set_cpu_features(struct json *m)
{
	struct json *f = json_get(json_get(m, "host"), "cpu_features");

	for (size_t i = 0; i < json_len(f); i++)
		json_set(f, json_key_at(f, i), json_hex(0xffffffffu));
}

/* Fresh valid bundle at base/name; path returned. */
static char *fresh(const char *name, ckpt_err_t *err)
{
	char *p = bpath(name);

	if (make_bundle(p, err) < 0) {
		printf("# make_bundle: %s\n", err->msg);
		abort();
	}
	return p;
}

static void test_round_trip(ckpt_err_t *err)
{
	cleanup_free char *p = bpath("good"), *tmp = xasprintf("%s.tmp", p);
	cleanup_free unsigned char *img = NULL;
	cleanup_json struct json *task = NULL;
	cleanup_close int fd = -1;
	struct ckpt_bundle *b = NULL;
	struct stat st;
	uint64_t size = 0;
	ssize_t n;
	size_t bad = 0;

	is_int(make_bundle(p, err), 0, "write and commit a bundle");
	ok(stat(tmp, &st) < 0 && errno == ENOENT, "no .tmp left after commit");
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0700, "bundle dir is 0700");
	free(tmp);
	tmp = xasprintf("%s/pages-12.img", p);
	ok(stat(tmp, &st) == 0 && (st.st_mode & 07777) == 0600, "files are 0600");
	is_int(bundle_open(p, &auth, &b, err), 0, "open verifies and succeeds");
	if (!b) {
		printf("# %s\n", err->msg);
		return;
	}
	ok(bundle_has_file(b, "pages-12.img") && !bundle_has_file(b, "nope"), "has_file");
	is_int(bundle_get_json(b, "task-12.json", &task, err), 0, "get_json");
	is_str(json_as_str(json_get(task, "comm")), "sleep", "JSON content survives");
	is_int(bundle_open_file(b, "pages-12.img", &fd, &size, err), 0, "open_file");
	is_int(size, IMG_SIZE, "image size from the manifest");
	img = xzalloc(IMG_SIZE);
	n = read_all(fd, img, IMG_SIZE);
	for (size_t i = 0; i < IMG_SIZE; i++)
		bad += img[i] != pattern(i);
	ok(n == IMG_SIZE && bad == 0, "image bytes survive mixed-size streaming writes");
	is_int(bundle_get_json(b, "manifest.json", &task, err), -ENOENT, "manifest not via get");
	is_int(bundle_get_json(b, "nope.json", &task, err), -ENOENT, "unlisted name refused");
	is_int(bundle_check_host(b, err), 0, "bundle from this host fits this host");
	is_int(json_as_int(json_get(json_get(bundle_manifest(b), "format"), "major")), 2,
	       "manifest format major 2");
	is_int(bundle_mac_status(b), BUNDLE_MAC_VERIFIED, "MAC verified");
	bundle_close(b);
}

static void test_writer(ckpt_err_t *err)
{
	cleanup_free char *p = bpath("good"), *q = bpath("w"), *tmp = xasprintf("%s.tmp", q);
	cleanup_json struct json *doc = json_obj();
	struct ckpt_bundle *b = NULL;
	struct bundle_image *img = NULL;
	struct stat st;

	is_int(bundle_create(p, &auth, &b, err), -EEXIST, "create over an existing bundle refused");
	like(err->msg, "already exists", "says it already exists");
	if (mkdir(tmp, 0755) == 0) /* stale .tmp from a crashed run */
		close(open(tmp, O_RDONLY));
	is_int(bundle_create(q, &auth, &b, err), 0, "create despite a stale .tmp");
	ok(stat(tmp, &st) == 0 && (st.st_mode & 07777) == 0700, "NAME.tmp is 0700 while writing");
	is_int(bundle_put_json(b, "../x.json", doc, err), -EINVAL, "'..' name refused");
	is_int(bundle_put_json(b, "a/b.json", doc, err), -EINVAL, "'/' name refused");
	is_int(bundle_put_json(b, ".hidden", doc, err), -EINVAL, "dot name refused");
	is_int(bundle_put_json(b, "manifest.json", doc, err), -EINVAL, "manifest name reserved");
	is_int(bundle_put_json(b, "a.json", doc, err), 0, "put_json");
	is_int(bundle_put_json(b, "a.json", doc, err), -EEXIST, "same name twice refused");
	is_int(bundle_image_create(b, "i.img", &img, err), 0, "image_create");
	is_int(bundle_image_write(img, "abc", 3, err), 0, "image_write");
	is_int(bundle_image_size(img), 3, "image_size counts bytes");
	is_int(bundle_commit(b, err), -EBUSY, "commit with an open image refused");
	ok(stat(q, &st) < 0 && stat(tmp, &st) < 0, "failed commit leaves nothing");
	bundle_image_abort(img);
	bundle_close(b);

	is_int(bundle_create(q, &auth, &b, err), 0, "create again");
	is_int(bundle_put_json(b, "a.json", doc, err), 0, "put_json again");
	bundle_close(b);
	ok(stat(q, &st) < 0 && stat(tmp, &st) < 0, "close without commit removes NAME.tmp");
}

static void test_rejections(ckpt_err_t *err)
{
	static const char *files[] = {"pstree.json", "task-12.json", "pages-12.img"};
	cleanup_free char *p = NULL;
	char fn[256];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(fn, sizeof(fn), "flip-%zu", i);
		p = fresh(fn, err);
		flip_byte(p, files[i], i == 2 ? IMG_SIZE - 5 : 3);
		snprintf(fn, sizeof(fn), "%s: checksum mismatch: corrupt bundle", files[i]);
		like(open_msg(p, err), fn, "flipped byte in %s", files[i]);
		free(steal_pointer(&p));
	}
	p = fresh("trunc", err);
	{
		cleanup_free char *f = xasprintf("%s/pages-12.img", p);

		if (truncate(f, 4096) < 0)
			abort();
	}
	like(open_msg(p, err),
	     "pages-12.img: size 4096, manifest says 3158073: truncated or corrupt",
	     "truncated image");
	free(steal_pointer(&p));

	p = fresh("extra", err);
	snprintf(fn, sizeof(fn), "%s/stray.json", p);
	close(open(fn, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	like(open_msg(p, err), "stray.json: extra file not listed", "extra file");
	free(steal_pointer(&p));

	p = fresh("missing", err);
	snprintf(fn, sizeof(fn), "%s/task-12.json", p);
	unlink(fn);
	like(open_msg(p, err), "task-12.json: missing from the bundle", "missing file");
	free(steal_pointer(&p));

	p = fresh("link", err);
	snprintf(fn, sizeof(fn), "%s/task-12.json", p);
	unlink(fn);
	if (symlink("/etc/passwd", fn) < 0)
		abort();
	like(open_msg(p, err), "path escapes the bundle", "symlinked member refused");
	free(steal_pointer(&p));

	p = fresh("escape", err);
	edit_manifest(p, set_escape);
	like(open_msg(p, err), "MAC does not verify: altered after it was written",
	     "'../' name: the MAC refuses the edited manifest");
	like(open_msg_insecure(p, err), "file `../pstree.json`: path escapes the bundle",
	     "'../' name, past the MAC");
	free(steal_pointer(&p));

	p = fresh("v99", err);
	edit_manifest(p, set_major99);
	like(open_msg_insecure(p, err),
	     "bundle format 99.0 is not supported (this ckpt-oci reads 2.x and 3.x)",
	     "format major 99");
	ok(strchr(err->msg, '\n') == NULL, "errors are one line");
	free(steal_pointer(&p));

	p = fresh("bigmanifest", err);
	snprintf(fn, sizeof(fn), "%s/manifest.json", p);
	if (truncate(fn, BUNDLE_JSON_MAX + 1ULL) < 0)
		abort();
	like(open_msg(p, err), "manifest.json: JSON larger than", "oversized manifest");
	free(steal_pointer(&p));

	p = fresh("cpu", err);
	edit_manifest(p, set_xcr0);
	{
		struct ckpt_bundle *b = NULL;

		is_int(bundle_open(p, &auth_insecure, &b, err), 0, "foreign xcr0 still opens");
		ok(b && bundle_check_host(b, err) < 0, "but check_host refuses it");
		like(err->msg, "that this CPU lacks", "names the missing features");
		bundle_close(b);
	}
	free(steal_pointer(&p));

	p = fresh("cpufeat", err);
	{
		struct ckpt_bundle *b = NULL;

		is_int(bundle_open(p, &auth, &b, err), 0, "this CPU's own bundle opens");
		is_int(b ? bundle_check_host(b, err) : -1, 0, "and passes check_host");
		bundle_close(b);
		b = NULL;
		edit_manifest(p, set_cpu_features);
		is_int(bundle_open(p, &auth_insecure, &b, err), 0,
		       "foreign CPU features still open");
		ok(b && bundle_check_host(b, err) < 0, "but check_host refuses them");
		like(err->msg, "instruction set extension", "saying why");
		ok(strchr(err->msg, '\n') == NULL, "in one line");
		bundle_close(b);
	}
}

/* A listed JSON document over BUNDLE_JSON_MAX: opens (it is checksummed) but get refuses. */
static void test_big_json(ckpt_err_t *err)
{
	cleanup_free char *p = bpath("bigjson");
	cleanup_free char *zero = xzalloc(1 << 20);
	cleanup_json struct json *j = NULL;
	struct ckpt_bundle *b = NULL;
	struct bundle_image *img = NULL;
	int ret = bundle_create(p, &auth, &b, err);

	for (unsigned i = 0; ret == 0 && i <= (BUNDLE_JSON_MAX >> 20) + 1; i++)
		ret = i == 0 ? bundle_image_create(b, "big.json", &img, err)
			     : bundle_image_write(img, zero, 1 << 20, err);
	if (ret == 0)
		ret = bundle_image_close(img, err);
	if (ret == 0)
		ret = bundle_commit(b, err);
	bundle_close(b);
	b = NULL;
	is_int(ret, 0, "write a 65 MiB image named .json");
	is_int(bundle_open(p, &auth, &b, err), 0, "it verifies");
	is_int(b ? bundle_get_json(b, "big.json", &j, err) : -1, -EFBIG, "get_json refuses it");
	like(err->msg, "big.json: JSON larger than", "says it is too large");
	bundle_close(b);
}

/*
 * Images of every shape the chunked digest and its hasher thread meet:
 * empty, one byte, a chunk less one, exactly one or several chunks, and
 * past; written in odd pieces. The reader recomputes each digest its own
 * way (chunks split among threads) and must agree.
 */
static void test_image_sizes(ckpt_err_t *err)
{
	static const size_t C = 1u << 20;
	const size_t sizes[] = {0, 1, C - 1, C, C + 1, 2 * C, 5 * C + 7};
	static unsigned char buf[3u << 20];
	size_t pieces[] = {1, C, 3 * C, 4093, 2 * C + 1};

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	for (size_t k = 0; k < ARRAY_SIZE(sizes); k++) {
		cleanup_free char *p = NULL;
		struct ckpt_bundle *b = NULL;
		struct bundle_image *img = NULL;
		size_t off = 0;
		int ret;

		p = xasprintf("%s/size-%zu", base, k);
		ret = bundle_create(p, &auth, &b, err);
		if (ret == 0)
			ret = bundle_image_create(b, "pages-1.img", &img, err);
		for (size_t j = 0; ret == 0 && off < sizes[k]; j++) {
			size_t n = MIN(MIN(pieces[j % ARRAY_SIZE(pieces)], sizes[k] - off),
				       sizeof(buf));

			ret = bundle_image_write(img, buf, n, err);
			off += n;
		}
		if (ret == 0)
			ret = bundle_image_close(steal_pointer(&img), err);
		if (ret == 0)
			ret = bundle_commit(b, err);
		bundle_image_abort(img);
		bundle_close(b);
		is_int(ret, 0, "write an image of %zu bytes", sizes[k]);
		is_str(open_msg(p, err), "", "its digest verifies");
	}
}

static void test_mac(ckpt_err_t *err)
{
	struct bundle_auth other = {.key_file = key2path}, nokey = {.key_file = "/nonexistent/key"};
	struct bundle_auth nokey_insecure = {
		.key_file = "/nonexistent/key", .insecure = true, .quiet = true};
	cleanup_free char *p = fresh("mac", err), *mac = xasprintf("%s/manifest.mac", p);
	cleanup_free char *nokey_path = bpath("nokey");
	struct ckpt_bundle *b = NULL;

	is_str(open_msg(p, err), "", "a fresh bundle authenticates");
	make_key(key2path, 0x5a, 0600);
	like(open_msg_as(p, &other, err),
	     "MAC does not verify: altered after it was written, or "
	     "written with another key (key id ",
	     "another key refused");
	like(open_msg_as(p, &nokey, err), "no key to check its MAC with", "no key refused");
	is_str(open_msg_as(p, &nokey_insecure, err), "", "no key, insecure: opens");
	is_int(bundle_open(p, &nokey_insecure, &b, err), 0, "and says so");
	is_int(b ? (int)bundle_mac_status(b) : -1, BUNDLE_MAC_NO_KEY, "status: no key");
	bundle_close(b);
	b = NULL;
	is_int(bundle_open_documents(p, &auth, &b, err), 0, "documents-only open");
	{
		cleanup_json struct json *j = NULL;
		int fd = -1;

		is_int(b ? bundle_get_json(b, "task-12.json", &j, err) : -1, 0, "reads a document");
		is_int(b ? bundle_open_file(b, "pages-12.img", &fd, NULL, err) : -1, -EPERM,
		       "but no image");
	}
	bundle_close(b);
	b = NULL;
	make_key(key2path, 0x5a, 0644);
	like(open_msg_as(p, &other, err), "mode 0644: must be ours and 0600", "key others read");
	make_key(key2path, 0x5a, 0600);
	if (truncate(key2path, 16) < 0)
		abort();
	like(open_msg_as(p, &other, err), "not a regular file of 32 bytes", "short key");
	{
		cleanup_free char *f = xasprintf("%s/task-12.json", p);

		if (chmod(f, 0620) < 0)
			abort();
		like(open_msg(p, err), "task-12.json: owner ", "a file others may write refused");
		like(err->msg, "mode 0620: others could change it once verified", "saying why");
		is_str(open_msg_insecure(p, err), "",
		       "unauthenticated: opens (nothing is trusted)");
		if (chmod(f, 0600) < 0 || chmod(p, 0707) < 0)
			abort();
		like(open_msg(p, err), "the bundle directory: owner ",
		     "a directory others may write");
		if (chmod(p, 0700) < 0)
			abort();
	}
	if (unlink(mac) < 0)
		abort();
	like(open_msg(p, err), "not authenticated: no manifest.mac", "MAC removed");
	is_str(open_msg_insecure(p, err), "", "MAC removed, insecure: opens");
	ok(strchr(err->msg, '\n') == NULL, "errors are one line");
	is_int(bundle_create(nokey_path, &nokey, &b, err), -ENOKEY,
	       "a --key that does not exist: nothing written");
}

/* Four chunks at once: each digest is libsodium's BLAKE2b-256 of that chunk. */
/* Lazy restore's reading: chunk digests beside the image, each chunk checked as read. */
static void test_lazy(ckpt_err_t *err)
{
	cleanup_free char *p = NULL, *img = NULL;
	cleanup_free uint8_t *sums = NULL, *buf = xzalloc(BUNDLE_CHUNK_BYTES);
	struct ckpt_bundle *b = NULL;
	size_t n = 0;
	uint64_t size = 0;
	int fd = -1;

	want_sums = true;
	p = fresh("lazy", err);
	want_sums = false;
	img = xasprintf("%s/pages-12.img", p);
	flip_byte(p, "pages-12.img", BUNDLE_CHUNK_BYTES + 7);
	like(open_msg(p, err), "pages-12.img: checksum mismatch", "a full open hashes the image");
	is_int(bundle_open_lazy(p, &auth, false, &b, err), 0, "a lazy open does not");
	is_int(b ? bundle_image_sums(b, "pages-12.img", &sums, &n, &size, err) : -1, 0,
	       "chunk digests, checked against the manifest");
	is_int((int)n, 4, "one per 1 MiB chunk");
	is_int(b ? bundle_open_file(b, "pages-12.img", &fd, NULL, err) : -1, 0, "image opens");
	ok(fd >= 0 && pread(fd, buf, BUNDLE_CHUNK_BYTES, 0) == BUNDLE_CHUNK_BYTES && sums &&
		   bundle_chunk_ok(sums, 0, buf, BUNDLE_CHUNK_BYTES),
	   "an intact chunk checks");
	ok(fd >= 0 &&
		   pread(fd, buf, BUNDLE_CHUNK_BYTES, BUNDLE_CHUNK_BYTES) == BUNDLE_CHUNK_BYTES &&
		   sums && !bundle_chunk_ok(sums, 1, buf, BUNDLE_CHUNK_BYTES),
	   "the altered chunk does not");
	like(b && bundle_verify_file(b, "pages-12.img", err) < 0 ? err->msg : "",
	     "pages-12.img: checksum mismatch", "hashed whole on demand, it is refused");
	if (fd >= 0)
		close(fd);
	bundle_close(b);
	b = NULL;
	/* the image elsewhere (a page server's): the documents alone open */
	if (unlink(img) < 0)
		abort();
	like(open_msg(p, err), "pages-12.img: missing", "a full open wants the image");
	is_int(bundle_open_lazy(p, &auth, true, &b, err), 0, "a remote lazy open does not");
	ok(b && bundle_file_remote(b, "pages-12.img"), "and says it is remote");
	like(b && bundle_open_file(b, "pages-12.img", &fd, NULL, err) < 0 ? err->msg : "",
	     "served by the page server", "opening it here is refused");
	bundle_close(b);
}

static void test_chunk_sum4(void)
{
	static const size_t lens[] = {0, 1, 127, 128, 129, 255, 256, 1000, 4096, 1u << 20};
	unsigned char *bufs[4];
	uint8_t got[4][BUNDLE_SUM_BYTES], want[BUNDLE_SUM_BYTES];

	for (int i = 0; i < 4; i++) {
		bufs[i] = malloc(1u << 20);
		if (!bufs[i])
			abort();
		for (size_t j = 0; j < (1u << 20); j++)
			bufs[i][j] = pattern(j * 7 + i * 131 + (j >> 9));
	}
	for (size_t k = 0; k < ARRAY_SIZE(lens); k++) {
		const void *p[4] = {bufs[0], bufs[1], bufs[2], bufs[3]};
		int same = 0;

		bundle_chunk_sum4(p, lens[k], got);
		for (int i = 0; i < 4; i++) {
			bundle_chunk_sum(bufs[i], lens[k], want);
			same += !memcmp(got[i], want, sizeof(want));
		}
		ok(same == 4, "four chunks of %zu bytes at once: libsodium's digests", lens[k]);
	}
	for (int i = 0; i < 4; i++)
		free(bufs[i]);
}

int main(void)
{
	ckpt_err_t err = {0};
	cleanup_free char *cmd = NULL;

	umask(022);
	if (!mkdtemp(base)) {
		skip(1, "mkdtemp failed");
		return done_testing();
	}
	snprintf(keypath, sizeof(keypath), "%s/key", base);
	snprintf(key2path, sizeof(key2path), "%s/key2", base);
	make_key(keypath, 0xa5, 0600);
	test_round_trip(&err);
	test_writer(&err);
	test_rejections(&err);
	test_big_json(&err);
	test_image_sizes(&err);
	test_mac(&err);
	test_lazy(&err);
	test_chunk_sum4();
	cmd = xasprintf("rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("cleanup failed");
	return done_testing();
}
