/*
 * libckpt/bundle/seal.c - compressing and encrypting one chunk at a time
 * (the record format is in seal.h). libzstd lives here only.
 */
#define LOG_PREFIX "seal: "
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "bundle/seal.h"
#include "util/util.h"

_Static_assert(SEAL_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(SEAL_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(SEAL_PREFIX_BYTES + 8 == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

void seal_init(struct seal *s, unsigned flags, int level, const uint8_t *key,
	       const uint8_t prefix[SEAL_PREFIX_BYTES], const char *name)
{
	memset(s, 0, sizeof(*s));
	s->flags = flags;
	s->level = level ? level : SEAL_ZSTD_LEVEL;
	if (flags & SEAL_ENCRYPT)
		memcpy(s->key, key, SEAL_KEY_BYTES);
	memcpy(s->prefix, prefix, SEAL_PREFIX_BYTES);
	snprintf(s->name, sizeof(s->name), "%s", name);
}

void seal_fini(struct seal *s)
{
	ZSTD_freeCCtx(s->zc);
	ZSTD_freeDCtx(s->zd);
	sodium_memzero(s->key, sizeof(s->key));
	s->zc = s->zd = NULL;
}

void seal_prefix_new(uint8_t prefix[SEAL_PREFIX_BYTES])
{
	randombytes_buf(prefix, SEAL_PREFIX_BYTES);
}

size_t seal_bound(size_t len)
{
	return SEAL_REC_HDR + MAX(ZSTD_compressBound(len), len) + SEAL_TAG_BYTES;
}

const char *seal_name(unsigned flags)
{
	switch (flags & (SEAL_ZSTD | SEAL_ENCRYPT)) {
	case SEAL_ZSTD:
		return "zstd";
	case SEAL_ENCRYPT:
		return "xchacha20poly1305";
	case SEAL_ZSTD | SEAL_ENCRYPT:
		return "zstd+xchacha20poly1305";
	}
	return "none";
}

/* Nonce: the stream's prefix, then the index. AD: header, index, name. */
static void aead_inputs(const struct seal *s, uint64_t idx, const uint8_t *hdr,
			uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES], uint8_t *ad,
			size_t *adlen)
{
	size_t nl = strlen(s->name);

	memcpy(nonce, s->prefix, SEAL_PREFIX_BYTES);
	put_le64(nonce + SEAL_PREFIX_BYTES, idx);
	memcpy(ad, hdr, SEAL_REC_HDR);
	put_le64(ad + SEAL_REC_HDR, idx);
	memcpy(ad + SEAL_REC_HDR + 8, s->name, nl);
	*adlen = SEAL_REC_HDR + 8 + nl;
}

int seal_chunk(struct seal *s, uint64_t idx, bool last, const void *in, size_t len, void *out,
	       size_t *outlen, ckpt_err_t *err)
{
	uint8_t *hdr = out, *payload = hdr + SEAL_REC_HDR;
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[SEAL_REC_HDR + 8 + sizeof(s->name)];
	unsigned long long clen;
	size_t plen = len, adlen;
	uint8_t flags = last ? SEAL_REC_LAST : 0;

	if (len > SEAL_CHUNK_MAX)
		return ckpt_error_msg(err, EINVAL, "%s: chunk of %zu bytes", s->name, len);
	if ((s->flags & SEAL_ZSTD) && len) {
		size_t n;

		if (!s->zc && !(s->zc = ZSTD_createCCtx()))
			return ckpt_error_msg(err, ENOMEM, "%s: no zstd context", s->name);
		n = ZSTD_compressCCtx(s->zc, payload, ZSTD_compressBound(len), in, len, s->level);
		if (ZSTD_isError(n))
			return ckpt_error_msg(err, EIO, "%s: zstd: %s", s->name,
					      ZSTD_getErrorName(n));
		/* incompressible chunks are kept as they are: cheaper to read back */
		if (n < len) {
			plen = n;
			flags |= SEAL_REC_ZSTD;
		}
	}
	if (!(flags & SEAL_REC_ZSTD))
		memcpy(payload, in, len);
	if (s->flags & SEAL_ENCRYPT)
		plen += SEAL_TAG_BYTES;
	put_le32(hdr, plen);
	put_le32(hdr + 4, len);
	hdr[8] = flags;
	hdr[9] = hdr[10] = hdr[11] = 0;
	if (s->flags & SEAL_ENCRYPT) {
		aead_inputs(s, idx, hdr, nonce, ad, &adlen);
		crypto_aead_xchacha20poly1305_ietf_encrypt(payload, &clen, payload,
							   plen - SEAL_TAG_BYTES, ad, adlen, NULL,
							   nonce, s->key);
	}
	*outlen = SEAL_REC_HDR + plen;
	return 0;
}

int seal_record_len(const void *hdr, size_t *reclen, size_t *plain, ckpt_err_t *err)
{
	const uint8_t *h = hdr;
	uint32_t plen = get_le32(h), len = get_le32(h + 4);

	if (len > SEAL_CHUNK_MAX || plen > seal_bound(len) || (h[8] & ~3u) || h[9] || h[10] ||
	    h[11])
		return ckpt_error_msg(err, EPROTO, "record header invalid");
	*reclen = SEAL_REC_HDR + plen;
	if (plain)
		*plain = len;
	return 0;
}

int seal_open_chunk(struct seal *s, uint64_t idx, void *rec, size_t reclen, void *out,
		    size_t outcap, size_t *plain, bool *last, ckpt_err_t *err)
{
	uint8_t *hdr = rec, *payload = hdr + SEAL_REC_HDR;
	uint8_t nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
	uint8_t ad[SEAL_REC_HDR + 8 + sizeof(s->name)];
	unsigned long long mlen;
	size_t want, len, plen, adlen;

	if (reclen < SEAL_REC_HDR || seal_record_len(hdr, &want, &len, err) < 0 || want != reclen)
		return ckpt_error_msg(err, EPROTO, "%s: chunk %llu: record header invalid", s->name,
				      (unsigned long long)idx);
	plen = reclen - SEAL_REC_HDR;
	if (len > outcap)
		return ckpt_error_msg(err, EPROTO, "%s: chunk %llu: %zu bytes, more than %zu",
				      s->name, (unsigned long long)idx, len, outcap);
	if (s->flags & SEAL_ENCRYPT) {
		if (plen < SEAL_TAG_BYTES)
			return ckpt_error_msg(err, EBADMSG, "%s: chunk %llu: too short", s->name,
					      (unsigned long long)idx);
		aead_inputs(s, idx, hdr, nonce, ad, &adlen);
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(payload, &mlen, NULL, payload, plen,
							       ad, adlen, nonce, s->key) != 0)
			return ckpt_error_msg(err, EBADMSG,
					      "%s: chunk %llu does not decrypt: altered, or "
					      "encrypted with another key",
					      s->name, (unsigned long long)idx);
		plen = mlen;
	}
	if (hdr[8] & SEAL_REC_ZSTD) {
		size_t n;

		if (!s->zd && !(s->zd = ZSTD_createDCtx()))
			return ckpt_error_msg(err, ENOMEM, "%s: no zstd context", s->name);
		n = ZSTD_decompressDCtx(s->zd, out, len, payload, plen);
		if (ZSTD_isError(n) || n != len)
			return ckpt_error_msg(err, EPROTO, "%s: chunk %llu: zstd: %s", s->name,
					      (unsigned long long)idx,
					      ZSTD_isError(n) ? ZSTD_getErrorName(n)
							      : "wrong length");
	} else {
		if (plen != len)
			return ckpt_error_msg(err, EPROTO, "%s: chunk %llu: wrong length", s->name,
					      (unsigned long long)idx);
		memcpy(out, payload, len);
	}
	*plain = len;
	*last = hdr[8] & SEAL_REC_LAST;
	return 0;
}
