/*
 * tests/unit/test_seal.c - sealed chunks and sealed bundles: a record
 * round trip (compressible, incompressible, empty; compressed, encrypted,
 * both), a record altered, moved or given to another stream refused;
 * bundles sealed each way read back byte for byte through bundle_open_file,
 * bundle_reader_chunk and bundle_get_json at every size around the chunk;
 * the wrong key, no key, and a key for a bundle that is not encrypted
 * refused at open; an altered chunk whose digest was made to match
 * refused by its tag when no MAC is checked.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "bundle/seal.h"
#include "ckpt/bundle.h"
#include "tap.h"
#include "util/json.h"
#include "util/util.h"

static char base[] = "/tmp/ckpt-unit-seal-XXXXXX";
static char keypath[80], ekpath[80], ek2path[80];

static void make_key(const char *path, unsigned char fill)
{
	unsigned char key[BUNDLE_KEY_BYTES];
	ckpt_err_t err;

	memset(key, fill, sizeof(key));
	if (write_file_at(AT_FDCWD, path, key, sizeof(key), 0600, &err) < 0 ||
	    chmod(path, 0600) < 0)
		abort();
}

/* Text-like bytes (compress) or noise (do not). */
static void fill(unsigned char *p, size_t len, uint64_t at, bool text)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t k = at + i;

		p[i] = text ? "the quick brown fox 0123456789\n"[k % 31] ^ (k / 4096 % 3)
			    : (unsigned char)((k * 2654435761u) >> 13 ^ (k * k) >> 7);
	}
}

static void test_records(void)
{
	static unsigned char in[1 << 20], out[(1 << 20) + 65536];
	static unsigned char rec[(1 << 20) + 65536];
	uint8_t key[SEAL_KEY_BYTES], prefix[SEAL_PREFIX_BYTES];
	const unsigned modes[] = {SEAL_ZSTD, SEAL_ENCRYPT, SEAL_ZSTD | SEAL_ENCRYPT};
	ckpt_err_t err = {0};

	memset(key, 7, sizeof(key));
	seal_prefix_new(prefix);
	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (int kind = 0; kind < 3; kind++) {
			size_t len = kind == 2 ? 0 : sizeof(in), n = 0, plain = 9;
			bool last = false;
			struct seal s;

			fill(in, len, 0, kind == 0);
			seal_init(&s, modes[m], 0, key, prefix, "pages-1.img");
			is_int(seal_chunk(&s, 5, kind == 2, in, len, rec, &n, &err), 0,
			       "%s kind %d: sealed", seal_name(modes[m]), kind);
			if (kind == 0 && (modes[m] & SEAL_ZSTD))
				ok(n < len / 3, "text compresses to %zu of %zu", n, len);
			if (kind == 1)
				ok(n <= SEAL_REC_HDR + len + SEAL_TAG_BYTES,
				   "noise is stored as it is (%zu)", n);
			is_int(seal_open_chunk(&s, 5, rec, n, out, sizeof(out), &plain, &last,
					       &err),
			       0, "opens");
			ok(plain == len && !memcmp(in, out, len) && last == (kind == 2),
			   "same bytes back, last %d", last);
			seal_fini(&s);
			if (!(modes[m] & SEAL_ENCRYPT) || kind == 2)
				continue;
			seal_init(&s, modes[m], 0, key, prefix, "pages-1.img");
			is_int(seal_chunk(&s, 5, false, in, len, rec, &n, &err), 0, "again");
			memcpy(out, rec, n);
			is_int(seal_open_chunk(&s, 6, out, n, in, sizeof(in), &plain, &last, &err),
			       -EBADMSG, "moved to another index: refused");
			memcpy(out, rec, n);
			out[n / 2] ^= 1;
			is_int(seal_open_chunk(&s, 5, out, n, in, sizeof(in), &plain, &last, &err),
			       -EBADMSG, "a byte altered: refused");
			memcpy(out, rec, n);
			out[8] |= SEAL_REC_LAST;
			is_int(seal_open_chunk(&s, 5, out, n, in, sizeof(in), &plain, &last, &err),
			       -EBADMSG, "marked last: refused");
			snprintf(s.name, sizeof(s.name), "pages-2.img");
			memcpy(out, rec, n);
			is_int(seal_open_chunk(&s, 5, out, n, in, sizeof(in), &plain, &last, &err),
			       -EBADMSG, "another stream's: refused");
			like(err.msg, "does not decrypt", "says why");
			seal_fini(&s);
		}
	}
}

static char *bpath(const char *name)
{
	return xasprintf("%s/%s", base, name);
}

/* A bundle: a document and an image of size bytes, sealed as o says. */
static int make_sealed(const char *path, const struct bundle_seal_opts *o, size_t size,
		       ckpt_err_t *err)
{
	struct bundle_auth auth = {.key_file = keypath};
	cleanup_json struct json *doc = json_obj();
	struct ckpt_bundle *b = NULL;
	struct bundle_image *img = NULL;
	static unsigned char buf[300000];
	int ret;

	json_set(doc, "root", json_int(12));
	ret = bundle_create(path, &auth, &b, err);
	if (ret == 0 && o)
		ret = bundle_seal(b, o, err);
	if (ret == 0)
		ret = bundle_put_json(b, "pstree.json", doc, err);
	if (ret == 0)
		ret = bundle_image_create(b, "pages-12.img", &img, err);
	for (size_t off = 0; ret == 0 && off < size;) {
		size_t n = MIN(sizeof(buf), size - off);

		fill(buf, n, off, off < size / 2);
		ret = bundle_image_write(img, buf, n, err);
		off += n;
	}
	if (ret == 0)
		ret = bundle_image_close(steal_pointer(&img), err);
	if (ret == 0)
		ret = bundle_commit(b, err);
	bundle_image_abort(img);
	bundle_close(b);
	return ret;
}

/* What make_sealed wrote. */
static unsigned char *expected(size_t size)
{
	unsigned char *p = xzalloc(size + 1);

	for (size_t off = 0; off < size; off += 300000)
		fill(p + off, MIN((size_t)300000, size - off), off, off < size / 2);
	return p;
}

/* Every byte of the image through both read paths. */
static bool image_same(struct ckpt_bundle *b, size_t size, ckpt_err_t *err)
{
	cleanup_free unsigned char *want = expected(size), *got = xzalloc(size + BUNDLE_CHUNK);
	struct bundle_reader *r = NULL;
	cleanup_close int fd = -1;
	uint64_t fsize = 0;
	bool same = true;
	size_t n;

	if (bundle_open_file(b, "pages-12.img", &fd, &fsize, err) < 0 || fsize != size)
		return false;
	/* its own offset, from 0, and nothing past the end */
	if (read_all(fd, got, size + 1) != (ssize_t)size || memcmp(want, got, size))
		same = false;
	if (bundle_reader_open(b, "pages-12.img", &r, err) < 0)
		return false;
	/* the last chunk first: any order */
	for (uint64_t c = size / BUNDLE_CHUNK + 1; same && c-- > 0;) {
		if (bundle_reader_chunk(r, c, got, &n, err) < 0)
			same = false;
		else if (n != MIN((size_t)BUNDLE_CHUNK, size - c * BUNDLE_CHUNK))
			same = false;
		else if (memcmp(want + c * BUNDLE_CHUNK, got, n))
			same = false;
	}
	bundle_reader_close(r);
	return same;
}

static void test_bundles(void)
{
	const size_t sizes[] = {
		0, 1, BUNDLE_CHUNK - 1, BUNDLE_CHUNK, BUNDLE_CHUNK + 1, 3 * BUNDLE_CHUNK + 12345};
	struct bundle_seal_opts modes[] = {
		{.zstd = true}, {.key_file = ekpath}, {.zstd = true, .key_file = ekpath}};
	struct bundle_auth auth = {.key_file = keypath, .seal_key_file = ekpath};
	ckpt_err_t err = {0};

	for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			cleanup_free char *p = bpath("s");
			cleanup_json struct json *doc = NULL;
			struct ckpt_bundle *b = NULL;
			struct bundle_auth *a =
				modes[m].key_file ? &auth
						  : &(struct bundle_auth){.key_file = keypath};
			int64_t root = 0;

			(void)bundle_rmtree(AT_FDCWD, p);
			is_int(make_sealed(p, &modes[m], sizes[i], &err), 0,
			       "mode %zu size %zu: written", m, sizes[i]);
			is_int(bundle_open(p, a, &b, &err), 0, "opens: %s", err.msg);
			if (!b)
				continue;
			ok(image_same(b, sizes[i], &err), "image reads back the same");
			is_int(bundle_get_json(b, "pstree.json", &doc, &err), 0, "document reads");
			if (doc)
				(void)json_get_int(doc, "root", &root, &err);
			is_int(root, 12, "its contents");
			bundle_close(b);
		}
	}
}

static void set_sum(struct ckpt_bundle *unused, const char *path, const char *file)
{
	(void)unused;
	cleanup_free char *mp = xasprintf("%s/manifest.json", path),
			  *fp = xasprintf("%s/%s", path, file);
	cleanup_free char *text = NULL, *data = NULL;
	cleanup_json struct json *m = NULL;
	struct json *files;
	uint8_t sum[BUNDLE_SUM_BYTES];
	ckpt_err_t err;
	size_t len, dlen;

	if (read_file_at(AT_FDCWD, mp, 1 << 20, &text, &len, &err) < 0 ||
	    json_parse(text, len, &m, &err) < 0 ||
	    read_file_at(AT_FDCWD, fp, 64 << 20, &data, &dlen, &err) < 0)
		abort();
	bundle_digest(data, dlen, sum);
	files = json_get(m, "files");
	for (size_t i = 0; i < json_len(files); i++)
		if (!strcmp(json_as_str(json_get(json_at(files, i), "name")), file))
			json_set(json_at(files, i), BUNDLE_SUM_ALG, json_hexbuf(sum, sizeof(sum)));
	free(text);
	text = json_dump(m, true, &len);
	if (write_file_at(AT_FDCWD, mp, text, len, 0600, &err) < 0)
		abort();
}

static void flip(const char *path, const char *file, off_t at)
{
	cleanup_free char *p = xasprintf("%s/%s", path, file);
	cleanup_close int fd = open(p, O_RDWR | O_CLOEXEC);
	unsigned char c;

	if (fd < 0 || pread(fd, &c, 1, at) != 1)
		abort();
	c ^= 0x20;
	if (pwrite(fd, &c, 1, at) != 1)
		abort();
}

static const char *open_msg(const char *p, const struct bundle_auth *a, ckpt_err_t *err)
{
	struct ckpt_bundle *b = NULL;

	ckpt_error_clear(err);
	if (bundle_open(p, a, &b, err) == 0) {
		bundle_close(b);
		return "";
	}
	return err->msg;
}

static void test_refusals(void)
{
	struct bundle_seal_opts enc = {.zstd = true, .key_file = ekpath};
	struct bundle_auth right = {.key_file = keypath, .seal_key_file = ekpath};
	struct bundle_auth wrong = {.key_file = keypath, .seal_key_file = ek2path};
	struct bundle_auth none = {.key_file = keypath};
	struct bundle_auth insecure = {
		.key_file = keypath, .seal_key_file = ekpath, .insecure = true, .quiet = true};
	cleanup_free char *p = bpath("r"), *q = bpath("plain");
	ckpt_err_t err = {0};

	(void)bundle_rmtree(AT_FDCWD, p);
	is_int(make_sealed(p, &enc, 2 * BUNDLE_CHUNK + 5, &err), 0, "encrypted bundle written");
	is_str(open_msg(p, &right, &err), "", "opens with its key");
	like(open_msg(p, &wrong, &err), "encrypted with another key", "wrong key refused");
	like(open_msg(p, &none, &err), "give --decrypt KEYFILE", "no key refused, says why");
	(void)bundle_rmtree(AT_FDCWD, q);
	is_int(make_sealed(q, NULL, 5, &err), 0, "plain bundle written");
	like(open_msg(q, &right, &err), "not encrypted", "a key for a plain bundle: refused");
	/* a chunk altered, its digest made to match: the MAC no longer verifies */
	flip(p, "pages-12.img", SEAL_FILE_HDR + 100);
	set_sum(NULL, p, "pages-12.img");
	like(open_msg(p, &right, &err), "MAC does not verify", "strict: the MAC refuses it");
	like(open_msg(p, &insecure, &err), "does not decrypt", "insecure: its tag refuses it");
	(void)bundle_rmtree(AT_FDCWD, p);
	is_int(make_sealed(p, &enc, 10, &err), 0, "again");
	flip(p, "pstree.json", SEAL_FILE_HDR + SEAL_REC_HDR + 2);
	set_sum(NULL, p, "pstree.json");
	like(open_msg(p, &insecure, &err), "pstree.json: chunk 0 does not decrypt",
	     "a document altered: refused by its tag");
}

int main(void)
{
	cleanup_free char *cmd = NULL;

	umask(022);
	if (!mkdtemp(base)) {
		skip(1, "mkdtemp failed");
		return done_testing();
	}
	snprintf(keypath, sizeof(keypath), "%s/key", base);
	snprintf(ekpath, sizeof(ekpath), "%s/ekey", base);
	snprintf(ek2path, sizeof(ek2path), "%s/ekey2", base);
	make_key(keypath, 0xa5);
	make_key(ekpath, 0x5a);
	make_key(ek2path, 0x33);
	test_records();
	test_bundles();
	test_refusals();
	cmd = xasprintf("rm -rf '%s'", base);
	if (system(cmd) != 0)
		diag("cleanup failed");
	return done_testing();
}
