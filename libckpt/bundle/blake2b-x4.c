/*
 * libckpt/bundle/blake2b-x4.c - BLAKE2b-256 (RFC 7693, unkeyed) of four
 * messages of one length at once, one message per 64-bit lane of AVX2
 * registers. The digests are BLAKE2b's own, bit for bit (test_bundle
 * compares them with libsodium's): a bundle's chunks are hashed four at a
 * time, which costs about what one costs in libsodium's single-message
 * code, whose vector instructions work across one message's columns and
 * must shuffle them between half-rounds.
 *
 * Without AVX2 (or on another architecture) the four go through libsodium
 * one after the other.
 */
#include <string.h>

#include "bundle/bundle-priv.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2")))

static const uint64_t iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
	0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t sigma[12][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define BLOCK 128

AVX2 static inline __m256i rotr32(__m256i x)
{
	return _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1));
}

AVX2 static inline __m256i rotr24(__m256i x)
{
	const __m256i m = _mm256_broadcastsi128_si256(
		_mm_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10));

	return _mm256_shuffle_epi8(x, m);
}

AVX2 static inline __m256i rotr16(__m256i x)
{
	const __m256i m = _mm256_broadcastsi128_si256(
		_mm_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9));

	return _mm256_shuffle_epi8(x, m);
}

AVX2 static inline __m256i rotr63(__m256i x)
{
	return _mm256_or_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x));
}

#define G(a, b, c, d, x, y)                                                                        \
	do {                                                                                       \
		a = _mm256_add_epi64(_mm256_add_epi64(a, b), x);                                   \
		d = rotr32(_mm256_xor_si256(d, a));                                                \
		c = _mm256_add_epi64(c, d);                                                        \
		b = rotr24(_mm256_xor_si256(b, c));                                                \
		a = _mm256_add_epi64(_mm256_add_epi64(a, b), y);                                   \
		d = rotr16(_mm256_xor_si256(d, a));                                                \
		c = _mm256_add_epi64(c, d);                                                        \
		b = rotr63(_mm256_xor_si256(b, c));                                                \
	} while (0)

/* Words 4g..4g+3 of the four blocks, one register per word, lane i from block i. */
AVX2 static inline void load_words(__m256i *m, const uint8_t *const p[4], size_t off)
{
	__m256i r0 = _mm256_loadu_si256((const __m256i *)(p[0] + off));
	__m256i r1 = _mm256_loadu_si256((const __m256i *)(p[1] + off));
	__m256i r2 = _mm256_loadu_si256((const __m256i *)(p[2] + off));
	__m256i r3 = _mm256_loadu_si256((const __m256i *)(p[3] + off));
	__m256i t0 = _mm256_unpacklo_epi64(r0, r1), t1 = _mm256_unpackhi_epi64(r0, r1);
	__m256i t2 = _mm256_unpacklo_epi64(r2, r3), t3 = _mm256_unpackhi_epi64(r2, r3);

	m[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
	m[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
	m[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
	m[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
}

/* One block of each message; t is the byte count so far, last marks the final block. */
AVX2 static void compress4(__m256i h[8], const uint8_t *const p[4], uint64_t t, bool last)
{
	__m256i m[16], v[16];

	for (int g = 0; g < 4; g++)
		load_words(&m[4 * g], p, 32 * g);
	for (int i = 0; i < 8; i++) {
		v[i] = h[i];
		v[i + 8] = _mm256_set1_epi64x((long long)iv[i]);
	}
	v[12] = _mm256_xor_si256(v[12], _mm256_set1_epi64x((long long)t));
	if (last)
		v[14] = _mm256_xor_si256(v[14], _mm256_set1_epi64x(-1));
#pragma GCC unroll 12
	for (int r = 0; r < 12; r++) {
		const uint8_t *s = sigma[r];

		G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
		G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
		G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
		G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
		G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
		G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
		G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
		G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
	}
	for (int i = 0; i < 8; i++)
		h[i] = _mm256_xor_si256(h[i], _mm256_xor_si256(v[i], v[i + 8]));
}

AVX2 static void sum4_avx2(const void *const buf[4], size_t len, uint8_t out[4][BUNDLE_SUM_BYTES])
{
	const uint8_t *p[4];
	uint8_t tail[4][BLOCK];
	uint64_t words[4][4];
	__m256i h[8];
	size_t done = 0;

	for (int i = 0; i < 8; i++)
		h[i] = _mm256_set1_epi64x((long long)iv[i]);
	/* parameter block: digest length, no key, fanout 1, depth 1 */
	h[0] = _mm256_xor_si256(h[0], _mm256_set1_epi64x(0x01010000 | BUNDLE_SUM_BYTES));
	for (int i = 0; i < 4; i++)
		p[i] = buf[i];
	/* every block but the last, which may be partial (or empty) */
	while (len - done > BLOCK) {
		const uint8_t *q[4] = {p[0] + done, p[1] + done, p[2] + done, p[3] + done};

		done += BLOCK;
		compress4(h, q, done, false);
	}
	{
		const uint8_t *q[4];

		for (int i = 0; i < 4; i++) {
			memset(tail[i], 0, BLOCK);
			memcpy(tail[i], p[i] + done, len - done);
			q[i] = tail[i];
		}
		compress4(h, q, len, true);
	}
	/* h[0..3] lane i are message i's first 32 bytes, little endian */
	for (int w = 0; w < 4; w++)
		_mm256_storeu_si256((__m256i *)words[w], h[w]);
	for (int i = 0; i < 4; i++)
		for (int w = 0; w < 4; w++)
			memcpy(out[i] + 8 * w, &words[w][i], 8);
}

void bundle_chunk_sum4(const void *const buf[4], size_t len, uint8_t out[4][BUNDLE_SUM_BYTES])
{
	if (__builtin_cpu_supports("avx2")) {
		sum4_avx2(buf, len, out);
		return;
	}
	for (int i = 0; i < 4; i++)
		bundle_chunk_sum(buf[i], len, out[i]);
}

#else

void bundle_chunk_sum4(const void *const buf[4], size_t len, uint8_t out[4][BUNDLE_SUM_BYTES])
{
	for (int i = 0; i < 4; i++)
		bundle_chunk_sum(buf[i], len, out[i]);
}

#endif
