/*
 * libckpt/bundle/bundle-auth.c - what makes a bundle trustworthy rather than
 * merely undamaged: each file's digest (BLAKE2b-256, collision resistant, so
 * the manifest that lists the digests stands for the contents) and the
 * keyed MAC over manifest.json's exact bytes, kept in manifest.mac:
 *
 *	{ "algorithm": "blake2b-256-keyed", "key_id": "9f2c...", "mac": "..." }
 *
 * The key is 32 random bytes: this host's (BUNDLE_HOST_KEY, made by the
 * first checkpoint: root's, 0600, in a 0700 directory) or a file the
 * operator shares between nodes (--key FILE). key_id names the key in
 * messages only; nothing is decided on it.
 */
#define LOG_PREFIX "bundle: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle-priv.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"

#define MAC_ALG	     "blake2b-256-keyed"
#define MAC_FILE_MAX 4096

void bundle_digest_init(struct bundle_digest *d)
{
	crypto_generichash_init(&d->outer, NULL, 0, BUNDLE_SUM_BYTES);
	crypto_generichash_init(&d->chunk, NULL, 0, BUNDLE_SUM_BYTES);
	d->in_chunk = 0;
}

static void digest_end_chunk(struct bundle_digest *d)
{
	uint8_t sum[BUNDLE_SUM_BYTES];

	crypto_generichash_final(&d->chunk, sum, sizeof(sum));
	crypto_generichash_update(&d->outer, sum, sizeof(sum));
	crypto_generichash_init(&d->chunk, NULL, 0, BUNDLE_SUM_BYTES);
	d->in_chunk = 0;
}

void bundle_digest_update(struct bundle_digest *d, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t n = BUNDLE_CHUNK - d->in_chunk;

		if (n > len)
			n = len;
		crypto_generichash_update(&d->chunk, p, n);
		d->in_chunk += n;
		p += n;
		len -= n;
		if (d->in_chunk == BUNDLE_CHUNK)
			digest_end_chunk(d);
	}
}

void bundle_digest_final(struct bundle_digest *d, uint8_t out[BUNDLE_SUM_BYTES])
{
	if (d->in_chunk)
		digest_end_chunk(d);
	crypto_generichash_final(&d->outer, out, BUNDLE_SUM_BYTES);
}

void bundle_digest(const void *buf, size_t len, uint8_t out[BUNDLE_SUM_BYTES])
{
	struct bundle_digest d;

	bundle_digest_init(&d);
	bundle_digest_update(&d, buf, len);
	bundle_digest_final(&d, out);
}

void bundle_chunk_sum(const void *buf, size_t len, uint8_t out[BUNDLE_SUM_BYTES])
{
	crypto_generichash(out, BUNDLE_SUM_BYTES, buf, len, NULL, 0);
}

void bundle_sum_of_chunks(const uint8_t *sums, size_t n, uint8_t out[BUNDLE_SUM_BYTES])
{
	crypto_generichash(out, BUNDLE_SUM_BYTES, sums, n * BUNDLE_SUM_BYTES, NULL, 0);
}

/* A key file must be a regular file of exactly the key's size that only we can read. */
int bundle_key_read(const char *path, uint8_t key[BUNDLE_KEY_BYTES], ckpt_err_t *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0 && errno == ENOENT)
		return -ENOKEY;
	if (fd < 0)
		return ckpt_error(err, errno, "key file `%s`", path);
	if (fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "key file `%s`", path);
	if (!S_ISREG(st.st_mode) || st.st_size != BUNDLE_KEY_BYTES)
		return ckpt_error_msg(err, EINVAL,
				      "key file `%s`: not a regular file of %d bytes (make one "
				      "with: head -c %d /dev/urandom >FILE; chmod 600 FILE)",
				      path, BUNDLE_KEY_BYTES, BUNDLE_KEY_BYTES);
	if (st.st_uid != geteuid() || (st.st_mode & 077))
		return ckpt_error_msg(err, EPERM,
				      "key file `%s`: owner %u, mode %04o: must be ours and "
				      "0600 (a key others can read authenticates nothing)",
				      path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	n = read_all(fd, key, BUNDLE_KEY_BYTES);
	if (n < 0)
		return ckpt_error(err, -n, "read key file `%s`", path);
	if (n != BUNDLE_KEY_BYTES)
		return ckpt_error_msg(err, EIO, "key file `%s`: short read", path);
	return 0;
}

/*
 * First use: 32 random bytes under a temporary name, made durable, then
 * linked into place; a concurrent first use that linked first wins and
 * both read its key.
 */
static int key_create(const char *path, ckpt_err_t *err)
{
	cleanup_free char *dir = xstrdup(path), *tmp = xasprintf("%s.%d.tmp", path, getpid());
	uint8_t key[BUNDLE_KEY_BYTES];
	char *slash = strrchr(dir, '/');
	int fd, ret = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return ckpt_error(err, errno, "mkdir `%s` for the host key", dir);
	}
	randombytes_buf(key, sizeof(key));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "create host key `%s`", tmp);
	ret = write_all(fd, key, sizeof(key));
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	sodium_memzero(key, sizeof(key));
	if (ret == 0 && link(tmp, path) < 0 && errno != EEXIST)
		ret = -errno;
	(void)unlink(tmp);
	if (ret < 0)
		return ckpt_error(err, -ret, "create host key `%s`", path);
	pr_info("made this host's bundle key %s", path);
	return 0;
}

int bundle_key_load(struct ckpt_bundle *b, const struct bundle_auth *auth, bool create,
		    ckpt_err_t *err)
{
	const char *path = auth && auth->key_file ? auth->key_file : BUNDLE_HOST_KEY;
	int ret;

	if (sodium_init() < 0)
		return ckpt_error_msg(err, EIO, "libsodium does not initialise");
	ret = bundle_key_read(path, b->key, err);
	if (ret == -ENOKEY && create && !(auth && auth->key_file)) {
		ret = key_create(path, err);
		if (ret == 0)
			ret = bundle_key_read(path, b->key, err);
	}
	if (ret == -ENOKEY && (create || (auth && auth->key_file)))
		return ckpt_error_msg(err, ENOKEY, "key file `%s` does not exist", path);
	if (ret < 0)
		return ret;
	b->have_key = true;
	return 0;
}

void bundle_key_id(const uint8_t key[BUNDLE_KEY_BYTES], char out[17])
{
	static const char label[] = "ckpt-oci key id";
	uint8_t h[16];

	crypto_generichash(h, sizeof(h), (const uint8_t *)label, sizeof(label) - 1, key,
			   BUNDLE_KEY_BYTES);
	sodium_bin2hex(out, 17, h, 8);
}

static void manifest_mac(const struct ckpt_bundle *b, const char *text, size_t len,
			 uint8_t out[crypto_generichash_BYTES])
{
	crypto_generichash(out, crypto_generichash_BYTES, (const uint8_t *)text, len, b->key,
			   BUNDLE_KEY_BYTES);
}

int bundle_mac_write(struct ckpt_bundle *b, const char *text, size_t len, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	cleanup_free char *out = NULL;
	uint8_t mac[crypto_generichash_BYTES];
	char id[17];
	size_t n = 0;

	manifest_mac(b, text, len, mac);
	bundle_key_id(b->key, id);
	json_set(doc, "algorithm", json_str(MAC_ALG));
	json_set(doc, "key_id", json_str(id));
	json_set(doc, "mac", json_hexbuf(mac, sizeof(mac)));
	out = json_dump(doc, true, &n);
	if (!out)
		return ckpt_error_msg(err, EINVAL, "cannot serialise %s", BUNDLE_MAC_FILE);
	out[n++] = '\n';
	return write_file_at(b->dirfd, BUNDLE_MAC_FILE, out, n, 0600, err);
}

/*
 * What manifest.mac says, read as the untrusted document it is: a wrong
 * shape counts as a MAC that does not verify.
 */
static int mac_read(struct ckpt_bundle *b, uint8_t mac[crypto_generichash_BYTES], const char **id,
		    struct json **doc, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP(BUNDLE_MAC_FILE);
	cleanup_free char *text = NULL;
	const char *alg;
	size_t len = 0;
	int fd, ret;

	fd = openat(b->dirfd, BUNDLE_MAC_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (fd >= 0)
		close(fd);
	ret = read_file_at(b->dirfd, BUNDLE_MAC_FILE, MAC_FILE_MAX, &text, &len, err);
	if (ret == 0)
		ret = json_parse(text, len, doc, err);
	if (ret == 0)
		ret = doc_str(&at, *doc, "algorithm", 64, &alg, err);
	if (ret == 0 && strcmp(alg, MAC_ALG))
		ret = doc_error(err, &at, "algorithm `%s` unknown (this ckpt-oci uses " MAC_ALG ")",
				alg);
	if (ret == 0)
		ret = doc_str(&at, *doc, "key_id", 16, id, err);
	if (ret == 0)
		ret = doc_hexbuf(&at, *doc, "mac", mac, crypto_generichash_BYTES, err);
	return ret < 0 ? -EPROTO : 0;
}

int bundle_mac_check(struct ckpt_bundle *b, const struct bundle_auth *auth, const char *text,
		     size_t len, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	uint8_t want[crypto_generichash_BYTES], have[crypto_generichash_BYTES];
	const char *their_id = "?";
	char our_id[17] = "none";
	ckpt_err_t e = {0};
	int ret;

	ret = mac_read(b, want, &their_id, &doc, &e);
	ret = ret == -ENOENT ? 0 : ret;
	b->mac = ret == 0 && !doc ? BUNDLE_MAC_NONE : BUNDLE_MAC_BAD;
	if (b->mac == BUNDLE_MAC_BAD && ret == 0 && bundle_key_load(b, auth, false, err) < 0) {
		/* a key file that exists but cannot be used is an error in any mode */
		if (err->code != ENOKEY)
			return -err->code;
		ckpt_error_clear(err);
		b->mac = BUNDLE_MAC_NO_KEY;
	}
	if (b->have_key) {
		bundle_key_id(b->key, our_id);
		manifest_mac(b, text, len, have);
		if (!sodium_memcmp(have, want, sizeof(have)))
			b->mac = BUNDLE_MAC_VERIFIED;
	}
	if (b->mac == BUNDLE_MAC_VERIFIED)
		return 0;
	if (b->mac == BUNDLE_MAC_NONE)
		ckpt_error_msg(err, EPERM,
			       "not authenticated: no %s (written by ckpt-oci before 0.2, or the "
			       "MAC was removed)",
			       BUNDLE_MAC_FILE);
	else if (b->mac == BUNDLE_MAC_NO_KEY)
		ckpt_error_msg(err, EPERM,
			       "no key to check its MAC with (`%s` does not exist): give --key "
			       "FILE, the key it was written with",
			       auth && auth->key_file ? auth->key_file : BUNDLE_HOST_KEY);
	else if (ret < 0)
		ckpt_error_msg(err, EPERM, "MAC unreadable: %s", e.msg);
	else
		ckpt_error_msg(err, EPERM,
			       "MAC does not verify: altered after it was written, or written "
			       "with another key (key id %s, ours %s)",
			       their_id, our_id);
	if (!auth || !auth->insecure)
		return -EPERM;
	if (!auth->quiet)
		pr_warn("%s; opened anyway, unauthenticated, as --insecure-unauthenticated asks",
			err->msg);
	ckpt_error_clear(err);
	return 0;
}

enum bundle_mac bundle_mac_status(const struct ckpt_bundle *b)
{
	return b->mac;
}

const char *bundle_mac_name(enum bundle_mac m)
{
	switch (m) {
	case BUNDLE_MAC_VERIFIED:
		return "verified";
	case BUNDLE_MAC_NONE:
		return "none";
	case BUNDLE_MAC_BAD:
		return "bad";
	case BUNDLE_MAC_NO_KEY:
		return "no key";
	}
	return "?";
}

int bundle_seal_key_load(const char *path, uint8_t key[SEAL_KEY_BYTES], char id[17],
			 ckpt_err_t *err)
{
	static const char label[] = "ckpt-oci bundle encryption";
	uint8_t file_key[BUNDLE_KEY_BYTES];
	int ret;

	if (sodium_init() < 0)
		return ckpt_error_msg(err, EIO, "libsodium does not initialise");
	ret = bundle_key_read(path, file_key, err);
	if (ret == -ENOKEY)
		return ckpt_error_msg(err, ENOKEY, "encryption key file `%s` does not exist", path);
	if (ret < 0)
		return ret;
	/* its own key, so a file that is also the MAC key serves two unrelated keys */
	crypto_generichash(key, SEAL_KEY_BYTES, (const uint8_t *)label, sizeof(label) - 1, file_key,
			   sizeof(file_key));
	bundle_key_id(file_key, id);
	sodium_memzero(file_key, sizeof(file_key));
	return 0;
}

const uint8_t *bundle_key_bytes(const struct ckpt_bundle *b)
{
	return b->have_key ? b->key : NULL;
}

int bundle_key_file(const char *key_file, uint8_t key[BUNDLE_KEY_BYTES], ckpt_err_t *err)
{
	const char *path = key_file ? key_file : BUNDLE_HOST_KEY;
	int ret = bundle_key_read(path, key, err);

	if (ret == -ENOKEY)
		return ckpt_error_msg(err, ENOKEY, "key file `%s` does not exist", path);
	return ret;
}
