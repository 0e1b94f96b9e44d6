/*
 * include/ckpt/bundle.h - the bundle: a directory of JSON documents and raw
 * images, described by manifest.json (format version, tool version, source
 * host, and every file's size and checksum).
 *
 * Writing: bundle_create() makes NAME.tmp (0700); files are added (0600);
 * bundle_commit() writes the manifest and its keyed MAC (manifest.mac),
 * fsyncs, and renames NAME.tmp to NAME.
 * Reading: bundle_open() verifies the MAC first, then everything else,
 * before anyone trusts a byte.
 *
 * Checksums catch damage; only the MAC catches malice: anyone can write a
 * manifest whose sums match altered files, nobody without the key can
 * write its MAC. The key is this host's (BUNDLE_HOST_KEY, made by the
 * first checkpoint, readable by root only) or a file the operator shares
 * between nodes.
 */
#ifndef CKPT_BUNDLE_H
#define CKPT_BUNDLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ckpt/error.h"

struct json;
struct ckpt_bundle;
struct bundle_image;

/* 2: BLAKE2b sums and the keyed MAC (1 had XXH64 sums, no MAC). */
#define BUNDLE_FORMAT_MAJOR 2
/* 3: as 2, its files sealed (bundle_seal()); written only for such bundles. */
#define BUNDLE_FORMAT_SEALED 3
#define BUNDLE_FORMAT_MINOR  0
/* Largest JSON document a reader accepts. */
#define BUNDLE_JSON_MAX (64u << 20)

/* This host's key: 32 random bytes, root's, mode 0600, in a 0700 directory. */
#ifndef BUNDLE_HOST_KEY
#define BUNDLE_HOST_KEY "/etc/ckpt-oci/bundle.key"
#endif
#define BUNDLE_KEY_BYTES 32

/* Which key, and whether a bundle that it does not authenticate may be opened. */
struct bundle_auth {
	const char *key_file;	   /* NULL: BUNDLE_HOST_KEY */
	bool insecure;		   /* --insecure-unauthenticated: open it anyway (a warning) */
	bool quiet;		   /* no warning: the caller shows bundle_mac_status() */
	const char *seal_key_file; /* an encrypted bundle's key (--decrypt) */
};

/*
 * How a bundle's files are stored: each 1 MiB chunk compressed (zstd)
 * and/or encrypted and authenticated (XChaCha20-Poly1305, a key derived
 * from key_file, a key file as --key's). Readers see the plain bytes.
 */
struct bundle_seal_opts {
	bool zstd;
	int level;	      /* zstd's; 0: its fastest that compresses (SEAL_ZSTD_LEVEL) */
	const char *key_file; /* encrypt with this key; NULL: do not */
};

enum bundle_mac {
	BUNDLE_MAC_VERIFIED, /* written with our key, not altered since */
	BUNDLE_MAC_NONE,     /* no manifest.mac */
	BUNDLE_MAC_BAD,	     /* altered, or written with another key */
	BUNDLE_MAC_NO_KEY,   /* we hold no key to check it with */
};

/* --- writing --- */
/* auth NULL: the host key, created on first use. */
int bundle_create(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
		  ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Commit without flushing the bundle to stable storage first (a caller
 * that does not need it to survive a crash: CRIU's RPC, whose callers
 * expect CRIU, which never syncs its images). The rename still publishes
 * it whole.
 */
void bundle_set_no_sync(struct ckpt_bundle *b);
/* Seal every file of b (call before the first is added). */
int bundle_seal(struct ckpt_bundle *b, const struct bundle_seal_opts *o, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Add a JSON document (pretty-printed). */
int bundle_put_json(struct ckpt_bundle *b, const char *name, const struct json *doc,
		    ckpt_err_t *err) __attribute__((warn_unused_result));
/* Stream a raw image: checksum and size are computed as bytes are written. */
int bundle_image_create(struct ckpt_bundle *b, const char *name, struct bundle_image **out,
			ckpt_err_t *err) __attribute__((warn_unused_result));
int bundle_image_write(struct bundle_image *img, const void *buf, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));
uint64_t bundle_image_size(const struct bundle_image *img);
/*
 * Keep the digest of every chunk and write it beside the image, as
 * NAME.sums (a page image: lazy restore checks each chunk as it reads it).
 */
void bundle_image_keep_sums(struct bundle_image *img);
/*
 * Writing in place, without a copy: the free room of the image's current
 * buffer (*len > 0 bytes at the pointer returned), then how many bytes were
 * put there. Nothing else may write to the image in between.
 */
void *bundle_image_room(struct bundle_image *img, size_t *len);
int bundle_image_commit(struct bundle_image *img, size_t n, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Whether its chunks are sealed (no zero-copy path then: bytes go through the buffers). */
bool bundle_image_sealed(const struct bundle_image *img);
/*
 * Move up to len bytes from a pipe into the image (splice: the one copy is
 * the kernel's), as many as the pipe holds now: *moved. From the first
 * call on, the image's bytes are digested from the file itself (see
 * bundle-image.c); writes and room/commit still work. Not for a sealed
 * image (EINVAL).
 */
int bundle_image_splice(struct bundle_image *img, int pipefd, size_t len, size_t *moved,
			ckpt_err_t *err) __attribute__((warn_unused_result));
/* Finish an image: record its size and checksum for the manifest, close it. */
int bundle_image_close(struct bundle_image *img, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Drop an unfinished image (error paths); accepts NULL. */
void bundle_image_abort(struct bundle_image *img);
/* Write manifest.json, fsync every file and the directory, rename into place. */
int bundle_commit(struct ckpt_bundle *b, ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- reading --- */
/*
 * Verify the MAC (auth NULL: with the host key, strictly), then manifest,
 * versions, file list, sizes and checksums; then open.
 */
int bundle_open(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
		ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * The same checks but the contents: for reading a few JSON documents
 * (each verified against the manifest as it is read) before the full
 * open; bundle_open_file() refuses on it.
 */
int bundle_open_documents(const char *path, const struct bundle_auth *auth,
			  struct ckpt_bundle **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/*
 * Restore: as bundle_open, but a page image with its NAME.sums (of 16 MiB
 * and more in all) is hashed by threads started now, while the tree is
 * made from it. Nothing made from it may run before bundle_verify_wait()
 * returned 0; bundle_close() stops the threads.
 */
int bundle_open_restore(const char *path, const struct bundle_auth *auth, struct ckpt_bundle **out,
			ckpt_err_t *err) __attribute__((warn_unused_result));
/* Wait for those threads (helping them): 0 once every image verified. */
int bundle_verify_wait(struct ckpt_bundle *b, ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Lazy restore: as bundle_open, but a page image with its NAME.sums is
 * not hashed now: its reader checks each chunk against bundle_image_sums
 * as it reads it. remote: such an image may be missing (its chunks come
 * from a page server); bundle_file_remote says which are.
 */
int bundle_open_lazy(const char *path, const struct bundle_auth *auth, bool remote,
		     struct ckpt_bundle **out, ckpt_err_t *err) __attribute__((warn_unused_result));
#define BUNDLE_SUMS_SUFFIX ".sums"
#define BUNDLE_SUM_LEN	   32
/*
 * The chunk digests of image name (*n of them, BUNDLE_SUM_LEN bytes each,
 * malloc'd), checked against the manifest; *size is the image's. -ENOENT
 * when it has none (a bundle from before them, or a small image).
 */
int bundle_image_sums(struct ckpt_bundle *b, const char *name, uint8_t **sums, size_t *n,
		      uint64_t *size, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Whether buf (len bytes, chunk idx of its image) is what was written. */
bool bundle_chunk_ok(const uint8_t *sums, size_t idx, const void *buf, size_t len);
/* A deferred image hashed whole now (it is read other than chunk by chunk). */
int bundle_verify_file(struct ckpt_bundle *b, const char *name, ckpt_err_t *err)
	__attribute__((warn_unused_result));
bool bundle_file_remote(const struct ckpt_bundle *b, const char *name);
/*
 * Live page images (a lazy migration's final checkpoint): listed with
 * their size only, never written; the page server of the node that made
 * the bundle reads their chunks from the stopped tree and sends each with
 * a MAC under bundle_live_key: the bundle's key bound to this manifest,
 * so a chunk altered or taken from another bundle is refused. Only a
 * lazy open accepts such a bundle (remote: the image is not here).
 */
int bundle_add_live(struct ckpt_bundle *b, const char *name, uint64_t size, ckpt_err_t *err)
	__attribute__((warn_unused_result));
bool bundle_file_live(const struct ckpt_bundle *b, const char *name);
#define BUNDLE_LIVE_KEY_BYTES 32
int bundle_live_key(const struct ckpt_bundle *b, uint8_t out[BUNDLE_LIVE_KEY_BYTES],
		    ckpt_err_t *err) __attribute__((warn_unused_result));
/* The key b was opened or made with (BUNDLE_KEY_BYTES), NULL when it has none. */
const uint8_t *bundle_key_bytes(const struct ckpt_bundle *b);
/* The key in key_file (NULL: this host's), checked as a bundle's key is. */
int bundle_key_file(const char *key_file, uint8_t key[BUNDLE_KEY_BYTES], ckpt_err_t *err)
	__attribute__((warn_unused_result));
enum bundle_mac bundle_mac_status(const struct ckpt_bundle *b);
/* "verified", "none", "bad", "no key": inspect's words. */
const char *bundle_mac_name(enum bundle_mac m);
int bundle_get_json(struct ckpt_bundle *b, const char *name, struct json **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/*
 * Open a listed file read-only (O_CLOEXEC); *size from the manifest. A
 * sealed file is decoded, each chunk checked, into a sealed memfd whose
 * fd is returned: the reader sees the plain bytes either way.
 */
int bundle_open_file(struct ckpt_bundle *b, const char *name, int *fd, uint64_t *size,
		     ckpt_err_t *err) __attribute__((warn_unused_result));
/* A listed file's plain size, without opening it. */
int bundle_file_size(struct ckpt_bundle *b, const char *name, uint64_t *size, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/*
 * A listed file a chunk (BUNDLE_CHUNK_BYTES) at a time, in any order,
 * sealed or not: for readers that want one part of an image (lazy
 * restore, a page server) without decoding the rest.
 */
#define BUNDLE_CHUNK_BYTES (1u << 20)
struct bundle_reader;
int bundle_reader_open(struct ckpt_bundle *b, const char *name, struct bundle_reader **out,
		       ckpt_err_t *err) __attribute__((warn_unused_result));
uint64_t bundle_reader_size(const struct bundle_reader *r);
/* Chunk idx into buf (BUNDLE_CHUNK_BYTES), *len its bytes (less for the last). */
int bundle_reader_chunk(struct bundle_reader *r, uint64_t idx, void *buf, size_t *len,
			ckpt_err_t *err) __attribute__((warn_unused_result));
void bundle_reader_close(struct bundle_reader *r);
/* "zstd", "xchacha20poly1305", "zstd+xchacha20poly1305"; NULL: not sealed. */
const char *bundle_sealed_with(const struct ckpt_bundle *b);
/* true when the manifest lists name. */
int bundle_has_file(struct ckpt_bundle *b, const char *name);
const struct json *bundle_manifest(const struct ckpt_bundle *b);
/*
 * BLAKE2b-256 of manifest.json's bytes, the ones the MAC was checked on: a
 * child bundle records its parent's, so the child's MAC covers the link.
 */
void bundle_manifest_sum(const struct ckpt_bundle *b, uint8_t out[32]);
const char *bundle_path(const struct ckpt_bundle *b);
int bundle_dirfd(const struct ckpt_bundle *b);

/*
 * Close either kind. A bundle being written that was not committed is
 * removed (NAME.tmp and all in it): a failed checkpoint leaves nothing.
 */
void bundle_close(struct ckpt_bundle *b);

/*
 * Remove name (in parentfd) and everything below it, never following a
 * link (O_NOFOLLOW, unlinkat); 0 when gone or absent, else -errno.
 */
int bundle_rmtree(int parentfd, const char *name);

/* Host facts recorded in and checked against the manifest. */
struct bundle_host {
	char kernel[128];
	char cpu_model[128];
	uint64_t xcr0; /* XSAVE feature mask, 0 without XSAVE */
	long page_size;
};
void bundle_host_probe(struct bundle_host *h);
/* Refuse a bundle whose CPU state this host cannot hold (xcr0 not a subset). */
int bundle_check_host(const struct ckpt_bundle *b, ckpt_err_t *err)
	__attribute__((warn_unused_result));

#endif
