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
#include <sys/stat.h>

#include "bundle/seal.h"
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
_Static_assert(BUNDLE_CHUNK == BUNDLE_CHUNK_BYTES, "one chunk size for digests and readers");
#define BUNDLE_SUM_ALG "blake2b"

struct bundle_file {
	char *name;
	uint64_t size; /* as stored: the digest is over the stored bytes */
	uint8_t sum[BUNDLE_SUM_BYTES];
	uint64_t plain_size; /* sealed: its contents' size */
	unsigned seal;	     /* SEAL_* the file was written with; 0: as it is */
	/*
	 * a page image with its NAME.sums, not hashed at open: bundle_open_lazy,
	 * its reader checks each chunk (bundle_image_sums); bundle_open_restore,
	 * threads hash it meanwhile (bundle_verify_wait). remote: not here at
	 * all, its chunks come from a page server. live: never written; listed
	 * with its size only, its chunks are read from the stopped tree by
	 * the page server of the node that made the bundle (bundle_add_live)
	 */
	bool deferred, remote, live;
};

/*
 * A sealed file (bundle_seal(): compressed, encrypted): a header, the
 * records of its chunks (seal.h) in order, an index of their offsets
 * (le64 each) and a trailer. Every chunk but the last holds BUNDLE_CHUNK
 * plain bytes; the last, which may be empty, says it is the last, so a
 * file of P plain bytes has P / BUNDLE_CHUNK + 1 records.
 *
 *	header:  "CKPTSEAL" le32 version le32 SEAL_* le32 chunk le32 0 prefix[16]
 *	trailer: le64 records le64 plain size le64 index offset "CKSEALIX"
 *
 * The manifest lists the stored size and the digest of the stored bytes:
 * bundle_open() verifies a sealed bundle as it does any other, every byte
 * before anything is decoded, without the encryption key; the MAC over the
 * manifest covers them all. The records' own tags make an encrypted file
 * safe also where no MAC is checked.
 */
#define SEAL_FILE_MAGIC	  "CKPTSEAL"
#define SEAL_INDEX_MAGIC  "CKSEALIX"
#define SEAL_FILE_HDR	  40
#define SEAL_FILE_TAIL	  32
#define SEAL_FILE_VERSION 1
#define SEAL_AEAD_NAME	  "xchacha20poly1305"

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
	bool no_sync;	 /* bundle_set_no_sync: commit without syncfs/fsync */
	int open_images; /* images created and not yet closed or aborted */
	struct bundle_file *files;
	size_t nfiles;
	struct json *manifest;			/* reading: parsed manifest.json */
	uint8_t manifest_sum[BUNDLE_SUM_BYTES]; /* reading: BLAKE2b of its bytes, as MACed */
	uint8_t key[BUNDLE_KEY_BYTES];
	bool have_key;
	enum bundle_mac mac; /* reading: what the MAC check found */
	bool lazy;	     /* reading: documents only, verified as they are read */
	bool strict;	     /* reading: authenticated, so its files must be ours alone */
	unsigned seal;	     /* writing: SEAL_* for every file; reading: the manifest's */
	int seal_level;
	uint8_t seal_key[SEAL_KEY_BYTES];
	char seal_key_id[17];
	bool have_seal_key;
	struct verify_job *bg; /* reading: the page images being hashed (bundle-verify.c) */
};

static inline size_t bundle_nchunks(uint64_t size)
{
	return (size + BUNDLE_CHUNK - 1) / BUNDLE_CHUNK;
}

/* Open a listed file (bundle-read.c): regular, not through a symlink, as ourselves. */
int bundle_open_member(int dirfd, const char *name, struct stat *st, ckpt_err_t *err);
/* bundle-verify.c: every listed file not deferred, hashed against its digest now. */
int bundle_check_sums(struct ckpt_bundle *b, ckpt_err_t *err) __attribute__((warn_unused_result));
/* The deferred ones: hashed by threads from now on; small ones at once. */
int bundle_verify_start(struct ckpt_bundle *b, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Stop and join those threads, whatever they found (bundle_close). */
void bundle_verify_stop(struct ckpt_bundle *b);

/* A plain file name: no '/', not "..", not starting with '.', not empty. */
bool bundle_name_ok(const char *name);
struct bundle_file *bundle_find(const struct ckpt_bundle *b, const char *name);
/* Create name (0600, O_EXCL) in a bundle being written; the fd or -errno. */
int bundle_new_file(struct ckpt_bundle *b, const char *name, ckpt_err_t *err);
/* List a finished file for the manifest: its stored size and digest, how sealed. */
void bundle_add_file(struct ckpt_bundle *b, const char *name, uint64_t size,
		     const uint8_t sum[BUNDLE_SUM_BYTES], uint64_t plain_size, unsigned seal);

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
/* A key file: regular, ours, 0600, SEAL_KEY_BYTES; -ENOKEY when absent. */
int bundle_key_read(const char *path, uint8_t key[BUNDLE_KEY_BYTES], ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* 16 hex digits naming a key without telling anything about it. */
void bundle_key_id(const uint8_t key[BUNDLE_KEY_BYTES], char out[17]);
/* The encryption key from a key file (derived from it) and the file key's id. */
int bundle_seal_key_load(const char *path, uint8_t key[SEAL_KEY_BYTES], char id[17],
			 ckpt_err_t *err) __attribute__((warn_unused_result));
/* Write manifest.mac for the manifest text (writing, before the sync). */
int bundle_mac_write(struct ckpt_bundle *b, const char *text, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Check manifest.mac against the manifest text; refuse unless auth->insecure. */
int bundle_mac_check(struct ckpt_bundle *b, const struct bundle_auth *auth, const char *text,
		     size_t len, ckpt_err_t *err) __attribute__((warn_unused_result));

/* bundle-read.c: a sealed file's contents, whole (documents). */
int bundle_unseal_buf(const struct ckpt_bundle *b, const struct bundle_file *f, char *buf,
		      size_t len, char **out, size_t *outlen, ckpt_err_t *err)
	__attribute__((warn_unused_result));

#endif
