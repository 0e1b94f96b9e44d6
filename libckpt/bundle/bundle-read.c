/*
 * libckpt/bundle/bundle-read.c - opening a bundle: nothing in it is trusted until
 * verified. bundle_open() checks the MAC over the manifest's bytes before
 * parsing them (bundle-auth.c), then the manifest (format version, file
 * names, sizes, BLAKE2b digests), that the directory holds exactly the
 * listed files, and only then hands out documents and images. The
 * contents are hashed in bundle-verify.c.
 */
#define LOG_PREFIX "bundle: "
#include <fcntl.h>
#include <inttypes.h>
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
int bundle_open_member(int dirfd, const char *name, struct stat *st, ckpt_err_t *err)
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

	fd = bundle_open_member(dirfd, name, &st, err);
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
	const char *seal = NULL;
	int64_t size, plain = 0;
	bool live = false;
	struct bundle_file *bf;
	uint8_t sum[BUNDLE_SUM_BYTES];

	if (doc_str(at, f, "name", 255, &name, err) < 0 ||
	    doc_int(at, f, "size", 0, INT64_MAX, &size, err) < 0 ||
	    doc_hexbuf(at, f, BUNDLE_SUM_ALG, sum, sizeof(sum), err) < 0 ||
	    doc_opt_str(at, f, "seal", 64, &seal, err) < 0 ||
	    doc_opt_int(at, f, "plain_size", 0, INT64_MAX, 0, &plain, err) < 0 ||
	    doc_opt_bool(at, f, "live", false, &live, err) < 0)
		return -EPROTO;
	if (live && (seal || strncmp(name, "pages-", 6)))
		return doc_error(err, at, "live: only a plain page image can be");
	/* a sealed bundle's files are all sealed, all alike */
	if (b->seal && (!seal || strcmp(seal, seal_name(b->seal))))
		return doc_error(err, at, "seal `%s`: the bundle is sealed with %s",
				 seal ? seal : "(none)", seal_name(b->seal));
	if (!b->seal && seal)
		return doc_error(err, at, "seal `%s`: the bundle is not sealed", seal);
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
	memset(bf, 0, sizeof(*bf));
	bf->name = xstrdup(name);
	bf->size = size;
	memcpy(bf->sum, sum, sizeof(sum));
	bf->plain_size = seal ? (uint64_t)plain : (uint64_t)size;
	bf->seal = b->seal;
	bf->live = live;
	return 0;
}

/*
 * How the files are sealed (the manifest's "seal", authenticated with it);
 * an encrypted bundle needs its key, and the right one, before anything is
 * read: a wrong key is refused here, by its id.
 */
static int manifest_seal(struct ckpt_bundle *b, const struct bundle_auth *auth,
			 const struct doc_at *top, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(top, "seal");
	const char *comp = NULL, *enc = NULL, *id = NULL;
	const struct json *seal;
	char ours[17];
	int ret;

	if (doc_opt_obj(top, b->manifest, "seal", &seal, err) < 0)
		return -EPROTO;
	if (!seal) {
		if (auth && auth->seal_key_file)
			return ckpt_error_msg(
				err, EPERM,
				"not encrypted, though a key to decrypt it was given: "
				"refusing a bundle that may have been swapped");
		return 0;
	}
	if (doc_opt_str(&at, seal, "compress", 16, &comp, err) < 0 ||
	    doc_opt_str(&at, seal, "encrypt", 32, &enc, err) < 0)
		return -EPROTO;
	if (comp && strcmp(comp, "zstd"))
		return doc_error(err, &at, "compress `%s` unknown (this ckpt-oci reads zstd)",
				 comp);
	if (enc && strcmp(enc, SEAL_AEAD_NAME))
		return doc_error(err, &at, "encrypt `%s` unknown (this ckpt-oci reads %s)", enc,
				 SEAL_AEAD_NAME);
	b->seal = (comp ? SEAL_ZSTD : 0) | (enc ? SEAL_ENCRYPT : 0);
	if (!enc)
		return 0;
	if (doc_str(&at, seal, "key_id", 16, &id, err) < 0)
		return -EPROTO;
	if (!auth || !auth->seal_key_file)
		return ckpt_error_msg(err, ENOKEY,
				      "encrypted (%s, key id %s): give --decrypt KEYFILE, the key "
				      "it was encrypted with",
				      enc, id);
	ret = bundle_seal_key_load(auth->seal_key_file, b->seal_key, ours, err);
	if (ret < 0)
		return ret;
	if (strcmp(id, ours))
		return ckpt_error_msg(err, EPERM,
				      "encrypted with another key (key id %s; `%s` is key id %s)",
				      id, auth->seal_key_file, ours);
	b->have_seal_key = true;
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
	bundle_digest(text, len, b->manifest_sum);
	ret = json_parse(text, len, &b->manifest, err);
	if (ret < 0)
		return ckpt_error_wrap(err, BUNDLE_MANIFEST);
	fat = DOC_KEY(&at, "format");
	if (doc_obj(&at, b->manifest, "format", &fmt, err) < 0 ||
	    doc_int(&fat, fmt, "major", 0, INT32_MAX, &major, err) < 0 ||
	    doc_int(&fat, fmt, "minor", 0, INT32_MAX, &minor, err) < 0)
		return -EPROTO;
	if (major != BUNDLE_FORMAT_MAJOR && major != BUNDLE_FORMAT_SEALED)
		return ckpt_error_msg(err, ENOTSUP,
				      "bundle format %" PRId64 ".%" PRId64
				      " is not supported (this ckpt-oci reads %d.x and %d.x)",
				      major, minor, BUNDLE_FORMAT_MAJOR, BUNDLE_FORMAT_SEALED);
	ret = manifest_seal(b, auth, &at, err);
	if (ret < 0)
		return ret;
	if ((major == BUNDLE_FORMAT_SEALED) != (b->seal != 0))
		return doc_error(err, &fat, "major %" PRId64 " %s a `seal`", major,
				 b->seal ? "without" : "with");
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
		int fd;

		if (b->files[i].remote)
			continue;
		if (b->files[i].live)
			return ckpt_error_msg(err, EPROTO,
					      "%s: served only from the stopped tree by the node "
					      "that made the bundle (restore it --lazy from there)",
					      b->files[i].name);
		fd = bundle_open_member(b->dirfd, b->files[i].name, &st, err);
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
 * Reading a file a chunk at a time: from its fd (pread) or from its bytes
 * already in memory (a document); sealed, through its index (bundle-priv.h).
 */
struct bundle_reader {
	const struct bundle_file *f;
	int fd;		 /* -1: from buf */
	const char *buf; /* the stored bytes, f->size of them */
	struct seal s;
	uint64_t *index; /* record i spans index[i] .. index[i + 1] */
	size_t nrec;
	char *rec;
};

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static int src_read(struct bundle_reader *r, void *dst, size_t len, uint64_t off, ckpt_err_t *err)
{
	ssize_t n;

	if (off > r->f->size || len > r->f->size - off)
		return ckpt_error_msg(err, EPROTO,
				      "%s: sealed file: offset %" PRIu64 " past its end",
				      r->f->name, off);
	if (!r->buf) {
		n = pread(r->fd, dst, len, off);
		if (n < 0)
			return ckpt_error(err, errno, "read %s", r->f->name);
		if ((size_t)n != len)
			return ckpt_error_msg(err, EPROTO, "%s: changed since it was verified",
					      r->f->name);
	} else {
		memcpy(dst, r->buf + off, len);
	}
	return 0;
}

/* Header, trailer and index of a sealed file, each checked against the manifest. */
static int reader_index(struct bundle_reader *r, const struct ckpt_bundle *b, ckpt_err_t *err)
{
	const struct bundle_file *f = r->f;
	uint8_t hdr[SEAL_FILE_HDR], tail[SEAL_FILE_TAIL];
	uint64_t nrec, plain, ix;
	cleanup_free uint8_t *raw = NULL;
	int ret;

	if (f->size < SEAL_FILE_HDR + SEAL_FILE_TAIL)
		return ckpt_error_msg(err, EPROTO, "%s: too short for a sealed file", f->name);
	ret = src_read(r, hdr, sizeof(hdr), 0, err);
	if (ret == 0)
		ret = src_read(r, tail, sizeof(tail), f->size - sizeof(tail), err);
	if (ret < 0)
		return ret;
	nrec = get_le(tail, 8);
	plain = get_le(tail + 8, 8);
	ix = get_le(tail + 16, 8);
	if (memcmp(hdr, SEAL_FILE_MAGIC, 8) || get_le(hdr + 8, 4) != SEAL_FILE_VERSION ||
	    get_le(hdr + 12, 4) != f->seal || get_le(hdr + 16, 4) != BUNDLE_CHUNK ||
	    memcmp(tail + 24, SEAL_INDEX_MAGIC, 8))
		return ckpt_error_msg(err, EPROTO, "%s: not a sealed file as the manifest says",
				      f->name);
	if (plain != f->plain_size || nrec != plain / BUNDLE_CHUNK + 1 || ix < SEAL_FILE_HDR ||
	    ix > f->size || (f->size - ix - SEAL_FILE_TAIL) / 8 != nrec ||
	    (f->size - ix - SEAL_FILE_TAIL) % 8)
		return ckpt_error_msg(err, EPROTO, "%s: sealed file's index does not fit it",
				      f->name);
	raw = xzalloc(nrec * 8);
	ret = src_read(r, raw, nrec * 8, ix, err);
	if (ret < 0)
		return ret;
	r->index = xzalloc((nrec + 1) * sizeof(*r->index));
	r->nrec = nrec;
	for (size_t i = 0; i < nrec; i++) {
		r->index[i] = get_le(raw + 8 * i, 8);
		if (r->index[i] < (i ? r->index[i - 1] + SEAL_REC_HDR : SEAL_FILE_HDR) ||
		    (i == 0 && r->index[i] != SEAL_FILE_HDR))
			return ckpt_error_msg(err, EPROTO,
					      "%s: sealed file's index is out of order", f->name);
	}
	r->index[nrec] = ix;
	if (r->index[nrec - 1] + SEAL_REC_HDR > ix)
		return ckpt_error_msg(err, EPROTO, "%s: sealed file's index does not fit it",
				      f->name);
	seal_init(&r->s, f->seal, 0, b->seal_key, hdr + 24, f->name);
	r->rec = malloc(seal_bound(BUNDLE_CHUNK));
	if (!r->rec)
		abort();
	return 0;
}

void bundle_reader_close(struct bundle_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	seal_fini(&r->s);
	free(r->index);
	free(r->rec);
	free(r);
}

static int reader_new(struct ckpt_bundle *b, const struct bundle_file *f, int fd, const char *buf,
		      struct bundle_reader **out, ckpt_err_t *err)
{
	struct bundle_reader *r = xzalloc(sizeof(*r));
	int ret;

	r->f = f;
	r->fd = fd;
	r->buf = buf;
	if (f->seal && b->seal & SEAL_ENCRYPT && !b->have_seal_key)
		ret = ckpt_error_msg(err, ENOKEY, "%s: encrypted, and no key to decrypt it",
				     f->name);
	else
		ret = f->seal ? reader_index(r, b, err) : 0;
	if (ret < 0) {
		r->fd = -1; /* the caller's still */
		bundle_reader_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

int bundle_reader_open(struct ckpt_bundle *b, const char *name, struct bundle_reader **out,
		       ckpt_err_t *err)
{
	const struct bundle_file *f = bundle_find(b, name);
	struct stat st;
	int fd, ret;

	if (!f)
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	if (b->lazy)
		return ckpt_error_msg(err, EPERM, "%s: contents not verified yet", name);
	fd = bundle_open_member(b->dirfd, name, &st, err);
	if (fd < 0)
		return fd;
	ret = reader_new(b, f, fd, NULL, out, err);
	if (ret < 0)
		close(fd);
	return ret;
}

uint64_t bundle_reader_size(const struct bundle_reader *r)
{
	return r->f->plain_size;
}

int bundle_reader_chunk(struct bundle_reader *r, uint64_t idx, void *buf, size_t *len,
			ckpt_err_t *err)
{
	const struct bundle_file *f = r->f;
	uint64_t want = f->plain_size - MIN(f->plain_size, idx * BUNDLE_CHUNK);
	size_t reclen, plain;
	bool last;
	int ret;

	want = MIN(want, (uint64_t)BUNDLE_CHUNK);
	if (!f->seal) {
		if (idx * BUNDLE_CHUNK >= f->plain_size && (idx || f->plain_size))
			return ckpt_error_msg(err, EINVAL, "%s: no chunk %" PRIu64, f->name, idx);
		*len = want;
		return src_read(r, buf, want, idx * BUNDLE_CHUNK, err);
	}
	if (idx >= r->nrec)
		return ckpt_error_msg(err, EINVAL, "%s: no chunk %" PRIu64, f->name, idx);
	reclen = r->index[idx + 1] - r->index[idx];
	if (reclen > seal_bound(BUNDLE_CHUNK))
		return ckpt_error_msg(err, EPROTO, "%s: chunk %" PRIu64 ": record too long",
				      f->name, idx);
	ret = src_read(r, r->rec, reclen, r->index[idx], err);
	if (ret == 0)
		ret = seal_open_chunk(&r->s, idx, r->rec, reclen, buf, BUNDLE_CHUNK, &plain, &last,
				      err);
	if (ret < 0)
		return ret;
	if (plain != want || last != (idx + 1 == r->nrec))
		return ckpt_error_msg(err, EPROTO, "%s: chunk %" PRIu64 " is not the one expected",
				      f->name, idx);
	*len = plain;
	return 0;
}

int bundle_unseal_buf(const struct ckpt_bundle *b, const struct bundle_file *f, char *buf,
		      size_t len, char **out, size_t *outlen, ckpt_err_t *err)
{
	struct bundle_reader *r = NULL;
	cleanup_free char *plain = NULL;
	size_t n;
	int ret;

	if (len != f->size)
		return ckpt_error_msg(err, EPROTO, "%s: changed since it was verified", f->name);
	if (f->plain_size > BUNDLE_JSON_MAX)
		return ckpt_error_msg(err, EFBIG, "%s: JSON larger than %u bytes", f->name,
				      BUNDLE_JSON_MAX);
	ret = reader_new((struct ckpt_bundle *)b, f, -1, buf, &r, err);
	if (ret < 0)
		return ret;
	/* room for whole chunks, and the NUL a parser may want */
	plain = xzalloc((f->plain_size / BUNDLE_CHUNK + 1) * BUNDLE_CHUNK + 1);
	for (uint64_t i = 0; ret == 0 && i < r->nrec; i++)
		ret = bundle_reader_chunk(r, i, plain + i * BUNDLE_CHUNK, &n, err);
	bundle_reader_close(r);
	if (ret < 0)
		return ret;
	*outlen = f->plain_size;
	*out = steal_pointer(&plain);
	return 0;
}

static int pwrite_all(int fd, const char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

/*
 * A sealed file decoded, every chunk checked, into a memfd sealed against
 * change: what it holds now is what the reader reads. Written, not mapped:
 * a fault per fresh shmem page costs three times what write() does here.
 * One thread: the caller may be a restored process still being made,
 * where a thread would take a pid or tid the tree needs.
 */
static int unseal_to_memfd(struct ckpt_bundle *b, const struct bundle_file *f, int fd,
			   ckpt_err_t *err)
{
	cleanup_free char *buf = malloc(BUNDLE_CHUNK);
	struct bundle_reader *r = NULL;
	cleanup_close int mfd = -1;
	size_t n;
	int ret;

	if (!buf)
		abort();
	ret = reader_new(b, f, fd, NULL, &r, err);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	mfd = memfd_create(f->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		ret = ckpt_error(err, errno, "%s: memfd for its plain bytes", f->name);
	for (uint64_t i = 0; ret == 0 && i < r->nrec; i++) {
		ret = bundle_reader_chunk(r, i, buf, &n, err);
		if (ret == 0 && n && (ret = pwrite_all(mfd, buf, n, i * BUNDLE_CHUNK)) < 0)
			ret = ckpt_error(err, -ret, "%s: write its memfd", f->name);
	}
	bundle_reader_close(r); /* and fd */
	if (ret == 0 &&
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		ret = ckpt_error(err, errno, "%s: seal its memfd", f->name);
	if (ret < 0)
		return ret;
	return steal_fd(&mfd);
}

/*
 * An encrypted bundle opened without a MAC that verifies (--insecure-
 * unauthenticated, inspect): the digests prove nothing then, the chunks'
 * tags still do. Every chunk is checked now, so that an altered one is
 * refused before anything is made rather than halfway through a restore.
 */
static int check_sealed(struct ckpt_bundle *b, ckpt_err_t *err)
{
	cleanup_free char *buf = malloc(BUNDLE_CHUNK);
	int ret = 0;

	if (!buf)
		abort();
	for (size_t i = 0; ret == 0 && i < b->nfiles; i++) {
		struct bundle_reader *r = NULL;
		struct stat st;
		size_t n;
		int fd = bundle_open_member(b->dirfd, b->files[i].name, &st, err);

		if (fd < 0)
			return fd;
		ret = reader_new(b, &b->files[i], fd, NULL, &r, err);
		if (ret < 0) {
			close(fd);
			return ret;
		}
		for (uint64_t c = 0; ret == 0 && c < r->nrec; c++)
			ret = bundle_reader_chunk(r, c, buf, &n, err);
		bundle_reader_close(r);
	}
	return ret;
}

/*
 * A page image whose chunk digests are listed beside it (NAME.sums) is
 * checked chunk by chunk by its reader; remote, it may be absent. Sealed
 * bundles have no such lists: their images are checked whole.
 */
static void defer_images(struct ckpt_bundle *b, bool remote)
{
	for (size_t i = 0; i < b->nfiles; i++) {
		struct bundle_file *f = &b->files[i];
		cleanup_free char *sums = xasprintf("%s" BUNDLE_SUMS_SUFFIX, f->name);
		struct stat st;

		if (strncmp(f->name, "pages-", 6) || f->seal || f->live || !bundle_find(b, sums))
			continue;
		f->deferred = true;
		if (remote && fstatat(b->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    errno == ENOENT)
			f->remote = true;
	}
}

/*
 * OPEN_RESTORE: the page images are hashed while the tree is made from
 * them (bundle_open_restore); OPEN_LAZY, OPEN_REMOTE: chunk by chunk as
 * they are read.
 */
enum open_mode { OPEN_FULL, OPEN_DOCUMENTS, OPEN_RESTORE, OPEN_LAZY, OPEN_REMOTE };

static int open_bundle(const char *path, const struct bundle_auth *auth, enum open_mode mode,
		       struct ckpt_bundle **out, ckpt_err_t *err)
{
	bool lazy = mode == OPEN_DOCUMENTS;
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
	if (ret == 0 && mode >= OPEN_RESTORE)
		defer_images(b, mode == OPEN_REMOTE);
	/* live images are never here: a reader that wants pages must be lazy */
	for (size_t i = 0; ret == 0 && i < b->nfiles; i++)
		if (b->files[i].live && (mode == OPEN_DOCUMENTS || mode >= OPEN_LAZY))
			b->files[i].deferred = b->files[i].remote = true;
	if (ret == 0)
		ret = check_listing(b, err);
	if (ret == 0)
		ret = check_sizes(b, err);
	if (ret == 0 && !lazy)
		ret = bundle_check_sums(b, err);
	if (ret == 0 && !lazy && (b->seal & SEAL_ENCRYPT) && b->mac != BUNDLE_MAC_VERIFIED)
		ret = check_sealed(b, err);
	if (ret == 0 && mode == OPEN_RESTORE)
		ret = bundle_verify_start(b, err);
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
	return open_bundle(path, auth, OPEN_FULL, out, err);
}

int bundle_open_lazy(const char *path, const struct bundle_auth *auth, bool remote,
		     struct ckpt_bundle **out, ckpt_err_t *err)
{
	return open_bundle(path, auth, remote ? OPEN_REMOTE : OPEN_LAZY, out, err);
}

int bundle_open_restore(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
			ckpt_err_t *err)
{
	return open_bundle(path, auth, OPEN_RESTORE, out, err);
}

int bundle_open_documents(const char *path, const struct bundle_auth *auth,
			  struct ckpt_bundle **out, ckpt_err_t *err)
{
	return open_bundle(path, auth, OPEN_DOCUMENTS, out, err);
}

const char *bundle_sealed_with(const struct ckpt_bundle *b)
{
	return b->seal ? seal_name(b->seal) : NULL;
}

int bundle_file_size(struct ckpt_bundle *b, const char *name, uint64_t *size, ckpt_err_t *err)
{
	const struct bundle_file *f = bundle_find(b, name);

	if (!f)
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	*size = f->plain_size;
	return 0;
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
	if (f->seal) {
		char *plain = NULL;

		ret = bundle_unseal_buf(b, f, text, len, &plain, &len, err);
		if (ret < 0)
			return ret;
		free(text);
		text = plain;
	}
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
	if (f->remote)
		return ckpt_error_msg(err, ENOENT, "%s: served by the page server, not here", name);
	r = bundle_open_member(b->dirfd, name, &st, err);
	if (r >= 0 && f->seal)
		r = unseal_to_memfd(b, f, r, err);
	if (r < 0)
		return r;
	*fd = r;
	if (size)
		*size = f->plain_size;
	return 0;
}

int bundle_has_file(struct ckpt_bundle *b, const char *name)
{
	return bundle_find(b, name) != NULL;
}

void bundle_manifest_sum(const struct ckpt_bundle *b, uint8_t out[32])
{
	memcpy(out, b->manifest_sum, BUNDLE_SUM_BYTES);
}

int bundle_image_sums(struct ckpt_bundle *b, const char *name, uint8_t **sums, size_t *n,
		      uint64_t *size, ckpt_err_t *err)
{
	cleanup_free char *sname = xasprintf("%s" BUNDLE_SUMS_SUFFIX, name);
	const struct bundle_file *f = bundle_find(b, name), *sf = bundle_find(b, sname);
	cleanup_free char *text = NULL;
	uint8_t sum[BUNDLE_SUM_BYTES];
	size_t len;
	int ret;

	if (!f)
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	if (!sf || f->seal || sf->seal)
		return -ENOENT;
	ret = read_member(b->dirfd, sname, &text, &len, err);
	if (ret < 0)
		return ret;
	bundle_digest(text, len, sum);
	if (len != sf->size || sodium_memcmp(sum, sf->sum, sizeof(sum)))
		return ckpt_error_msg(err, EPROTO, "%s: changed since the bundle was verified",
				      sname);
	if (len != bundle_nchunks(f->size) * BUNDLE_SUM_BYTES)
		return ckpt_error_msg(err, EPROTO, "%s: %zu bytes for %zu chunks", sname, len,
				      bundle_nchunks(f->size));
	/* the digests of the chunks make the image's digest: they are its own */
	bundle_sum_of_chunks((const uint8_t *)text, bundle_nchunks(f->size), sum);
	if (sodium_memcmp(sum, f->sum, sizeof(sum)))
		return ckpt_error_msg(err, EPROTO, "%s: not the digests of %s: corrupt bundle",
				      sname, name);
	*sums = (uint8_t *)steal_pointer(&text);
	*n = bundle_nchunks(f->size);
	*size = f->size;
	return 0;
}

bool bundle_chunk_ok(const uint8_t *sums, size_t idx, const void *buf, size_t len)
{
	uint8_t sum[BUNDLE_SUM_BYTES];

	bundle_chunk_sum(buf, len, sum);
	return !sodium_memcmp(sum, sums + idx * BUNDLE_SUM_BYTES, sizeof(sum));
}

int bundle_verify_file(struct ckpt_bundle *b, const char *name, ckpt_err_t *err)
{
	struct bundle_file *f = bundle_find(b, name);
	struct ckpt_bundle one;
	int ret;

	if (!f)
		return ckpt_error_msg(err, ENOENT, "%s: not in the bundle", name);
	if (!f->deferred)
		return 0;
	if (f->remote)
		return ckpt_error_msg(err, ENOENT, "%s: needed here, but only on the page server",
				      name);
	/* check_sums over a bundle of this one file */
	one = *b;
	one.files = f;
	one.nfiles = 1;
	f->deferred = false;
	ret = bundle_check_sums(&one, err);
	if (ret < 0)
		f->deferred = true;
	return ret;
}

bool bundle_file_remote(const struct ckpt_bundle *b, const char *name)
{
	const struct bundle_file *f = bundle_find(b, name);

	return f && f->remote;
}

bool bundle_file_live(const struct ckpt_bundle *b, const char *name)
{
	const struct bundle_file *f = bundle_find(b, name);

	return f && f->live;
}

int bundle_live_key(const struct ckpt_bundle *b, uint8_t out[BUNDLE_LIVE_KEY_BYTES],
		    ckpt_err_t *err)
{
	static const char label[] = "ckpt-oci live pages";
	crypto_generichash_state st;

	if (!b->have_key)
		return ckpt_error_msg(err, EACCES,
				      "live page images need the bundle's key to be checked");
	crypto_generichash_init(&st, b->key, BUNDLE_KEY_BYTES, BUNDLE_LIVE_KEY_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&st, b->manifest_sum, sizeof(b->manifest_sum));
	crypto_generichash_final(&st, out, BUNDLE_LIVE_KEY_BYTES);
	return 0;
}
