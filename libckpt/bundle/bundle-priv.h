/*
 * libckpt/bundle/bundle-priv.h - what bundle.c (writing, host facts) and
 * bundle-read.c (verifying, reading) share.
 *
 * Folder libckpt/bundle/: the bundle as files. Writing (NAME.tmp, each file
 * digested as it streams, the manifest, a keyed MAC over it, fsync and
 * rename), reading (the MAC first, then every size and digest, the host's
 * CPU features) and `ckpt-oci inspect`. The documents' contents belong to
 * the rooms that write them (task/, mem/, files/, namespaces/), each read
 * back through util/doc.h; this folder only guarantees they are the bytes
 * that were written, by a holder of the key.
 */
#ifndef CKPT_BUNDLE_PRIV_H
#define CKPT_BUNDLE_PRIV_H

#include <sodium.h>
#include <stdbool.h>

#include "ckpt/bundle.h"

#define BUNDLE_MANIFEST "manifest.json"
/* The keyed MAC over manifest.json's bytes (bundle-auth.c). */
#define BUNDLE_MAC_FILE "manifest.mac"
/* Streaming I/O buffer: large enough that syscalls cost nothing, small enough for L2. */
#define BUNDLE_IOBUF (1u << 20)
/*
 * A file's digest is BLAKE2b-256 over the BLAKE2b-256 of each 1 MiB chunk:
 * chunks hash independently, so one big image verifies on every core.
 */
#define BUNDLE_CHUNK	 BUNDLE_IOBUF
#define BUNDLE_SUM_BYTES 32
#define BUNDLE_SUM_ALG	 "blake2b"

struct bundle_file {
	char *name;
	uint64_t size;
	uint8_t sum[BUNDLE_SUM_BYTES];
};

/* Streaming digest of one file (see BUNDLE_CHUNK). */
struct bundle_digest {
	crypto_generichash_state outer, chunk;
	size_t in_chunk; /* bytes of the current chunk hashed so far */
};

struct ckpt_bundle {
	char *path;	/* final name */
	char *tmp_path; /* NAME.tmp while writing, NULL when reading */
	int dirfd;
	bool writing, committed;
	bool no_sync; /* bundle_set_no_sync: commit without syncfs/fsync */
	int open_images; /* images created and not yet closed or aborted */
	struct bundle_file *files;
	size_t nfiles;
	struct json *manifest; /* reading: parsed manifest.json */
	uint8_t key[BUNDLE_KEY_BYTES];
	bool have_key;
	enum bundle_mac mac; /* reading: what the MAC check found */
	bool lazy;	     /* reading: documents only, verified as they are read */
	bool strict;	     /* reading: authenticated, so its files must be ours alone */
};

/* A plain file name: no '/', not "..", not starting with '.', not empty. */
bool bundle_name_ok(const char *name);
struct bundle_file *bundle_find(const struct ckpt_bundle *b, const char *name);
/* Create name (0600, O_EXCL) in a bundle being written; the fd or -errno. */
int bundle_new_file(struct ckpt_bundle *b, const char *name, ckpt_err_t *err);
/* List a finished file for the manifest. */
void bundle_add_file(struct ckpt_bundle *b, const char *name, uint64_t size,
		     const uint8_t sum[BUNDLE_SUM_BYTES]);

/* bundle-auth.c: digests, the key, the MAC. */
void bundle_digest_init(struct bundle_digest *d);
void bundle_digest_update(struct bundle_digest *d, const void *buf, size_t len);
void bundle_digest_final(struct bundle_digest *d, uint8_t out[BUNDLE_SUM_BYTES]);
void bundle_digest(const void *buf, size_t len, uint8_t out[BUNDLE_SUM_BYTES]);
/* One chunk's digest, and the file's from its chunks' (n of them, in order). */
void bundle_chunk_sum(const void *buf, size_t len, uint8_t out[BUNDLE_SUM_BYTES]);
void bundle_sum_of_chunks(const uint8_t *sums, size_t n, uint8_t out[BUNDLE_SUM_BYTES]);
/* Four chunks of one length at once (blake2b-x4.c): bundle_chunk_sum of each. */
void bundle_chunk_sum4(const void *const buf[4], size_t len, uint8_t out[4][BUNDLE_SUM_BYTES]);
/*
 * The key into b->key: auth->key_file, else the host key, created when
 * create is set and it does not exist yet. -ENOKEY when there is none.
 */
int bundle_key_load(struct ckpt_bundle *b, const struct bundle_auth *auth, bool create,
		    ckpt_err_t *err) __attribute__((warn_unused_result));
/* Write manifest.mac for the manifest text (writing, before the sync). */
int bundle_mac_write(struct ckpt_bundle *b, const char *text, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Check manifest.mac against the manifest text; refuse unless auth->insecure. */
int bundle_mac_check(struct ckpt_bundle *b, const struct bundle_auth *auth, const char *text,
		     size_t len, ckpt_err_t *err) __attribute__((warn_unused_result));

#endif
