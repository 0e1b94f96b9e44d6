/*
 * libckpt/bundle/seal.h - the per-chunk transform of a byte stream:
 * compression (zstd) and authenticated encryption (XChaCha20-Poly1305),
 * one chunk at a time, each chunk a record that decodes on its own.
 *
 * A record: a 12-byte header, then the payload.
 *
 *	le32 payload length    le32 plain length    u8 flags (SEAL_REC_*)    3 zero
 *
 * The payload is the plain bytes, or their zstd frame when that is shorter
 * (SEAL_REC_ZSTD); encrypted, that followed by a 16-byte tag. The AEAD's
 * nonce is the stream's 16 random bytes and the record's index (le64); its
 * associated data the header, the index and the stream's name: a record
 * cannot be altered, moved to another place or stream, or the stream cut
 * short (the last record says so) without the key noticing.
 *
 * Bundle images (bundle-image.c) store records between a file header and
 * an index of their offsets; a transfer of chunks over a socket sends the
 * records as they are, in order.
 */
#ifndef CKPT_BUNDLE_SEAL_H
#define CKPT_BUNDLE_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"

#define SEAL_ZSTD    1u /* compress each chunk */
#define SEAL_ENCRYPT 2u /* encrypt and authenticate each chunk */

#define SEAL_KEY_BYTES	  32
#define SEAL_PREFIX_BYTES 16
#define SEAL_REC_HDR	  12
#define SEAL_TAG_BYTES	  16
#define SEAL_CHUNK_MAX	  (1u << 24) /* a record's plain length at most */

#define SEAL_REC_ZSTD 1u /* the payload is a zstd frame */
#define SEAL_REC_LAST 2u /* no record follows */

/* zstd's fastest level that still compresses text-like memory well */
#define SEAL_ZSTD_LEVEL 1

/* One stream's transform. One thread at a time. */
struct seal {
	unsigned flags;
	int level;
	uint8_t key[SEAL_KEY_BYTES];
	uint8_t prefix[SEAL_PREFIX_BYTES];
	char name[256];
	void *zc, *zd; /* zstd contexts, made on first use */
};

/*
 * flags SEAL_*; key (SEAL_KEY_BYTES) with SEAL_ENCRYPT; prefix: the
 * stream's random bytes (seal_prefix_new() when writing, the stored ones
 * when reading); name: the stream's, bound into every record.
 */
void seal_init(struct seal *s, unsigned flags, int level, const uint8_t *key,
	       const uint8_t prefix[SEAL_PREFIX_BYTES], const char *name);
void seal_fini(struct seal *s);
void seal_prefix_new(uint8_t prefix[SEAL_PREFIX_BYTES]);
/* The largest record len plain bytes can make. */
size_t seal_bound(size_t len);
/* Chunk index idx of the stream into a record at out (seal_bound(len) bytes). */
int seal_chunk(struct seal *s, uint64_t idx, bool last, const void *in, size_t len, void *out,
	       size_t *outlen, ckpt_err_t *err) __attribute__((warn_unused_result));
/* A record's whole length from its header; -EPROTO if the header is impossible. */
int seal_record_len(const void *hdr, size_t *reclen, size_t *plain, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/*
 * Record idx (rec, reclen bytes: altered in place when encrypted) into
 * out (outcap bytes); *plain its plain length, *last whether it ends the
 * stream. -EBADMSG when it does not authenticate.
 */
int seal_open_chunk(struct seal *s, uint64_t idx, void *rec, size_t reclen, void *out,
		    size_t outcap, size_t *plain, bool *last, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* "zstd", "xchacha20poly1305", "zstd+xchacha20poly1305", "none". */
const char *seal_name(unsigned flags);

#endif
