/*
 * libckpt/util/hash.c - XXH64 (see hash.h): four independent 64-bit lanes
 * over 32-byte stripes, so the loop runs at memory speed at -O2.
 */
#include <string.h>

#include "util/hash.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* Unaligned little-endian loads; memcpy compiles to one mov on x86-64. */
static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t in)
{
	acc += in * P2;
	acc = rotl(acc, 31);
	return acc * P1;
}

static inline uint64_t merge(uint64_t acc, uint64_t v)
{
	acc ^= round64(0, v);
	return acc * P1 + P4;
}

void xxh64_init(struct xxh64_state *s, uint64_t seed)
{
	memset(s, 0, sizeof(*s));
	s->seed = seed;
	s->v[0] = seed + P1 + P2;
	s->v[1] = seed + P2;
	s->v[2] = seed;
	s->v[3] = seed - P1;
}

/* Consume whole stripes; returns the bytes used (a multiple of 32). */
static size_t stripes(uint64_t v[4], const uint8_t *p, size_t len)
{
	uint64_t a = v[0], b = v[1], c = v[2], d = v[3];
	const uint8_t *start = p, *end = p + (len & ~(size_t)31);

	while (p < end) {
		a = round64(a, rd64(p));
		b = round64(b, rd64(p + 8));
		c = round64(c, rd64(p + 16));
		d = round64(d, rd64(p + 24));
		p += 32;
	}
	v[0] = a;
	v[1] = b;
	v[2] = c;
	v[3] = d;
	return p - start;
}

void xxh64_update(struct xxh64_state *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n;

	s->total_len += len;
	if (s->memsize) {
		n = 32 - s->memsize;
		if (len < n) {
			memcpy(s->mem + s->memsize, p, len);
			s->memsize += len;
			return;
		}
		memcpy(s->mem + s->memsize, p, n);
		stripes(s->v, s->mem, 32);
		p += n;
		len -= n;
		s->memsize = 0;
	}
	n = stripes(s->v, p, len);
	p += n;
	len -= n;
	memcpy(s->mem, p, len);
	s->memsize = len;
}

uint64_t xxh64_digest(const struct xxh64_state *s)
{
	const uint8_t *p = s->mem, *end = s->mem + s->memsize;
	uint64_t h;

	if (s->total_len >= 32) {
		h = rotl(s->v[0], 1) + rotl(s->v[1], 7) + rotl(s->v[2], 12) + rotl(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = merge(h, s->v[i]);
	} else {
		h = s->seed + P5;
	}
	h += s->total_len;
	for (; p + 8 <= end; p += 8) {
		h ^= round64(0, rd64(p));
		h = rotl(h, 27) * P1 + P4;
	}
	if (p + 4 <= end) {
		h ^= (uint64_t)rd32(p) * P1;
		h = rotl(h, 23) * P2 + P3;
		p += 4;
	}
	for (; p < end; p++) {
		h ^= (*p) * P5;
		h = rotl(h, 11) * P1;
	}
	h ^= h >> 33;
	h *= P2;
	h ^= h >> 29;
	h *= P3;
	h ^= h >> 32;
	return h;
}

uint64_t xxh64(const void *buf, size_t len, uint64_t seed)
{
	struct xxh64_state s;

	xxh64_init(&s, seed);
	xxh64_update(&s, buf, len);
	return xxh64_digest(&s);
}
