/*
 * libckpt/util/hash.h - XXH64, the streaming checksum of every bundle file.
 * Implemented from the public XXH64 specification; output is identical to
 * the reference xxHash library (XXH64 with the same seed).
 */
#ifndef CKPT_HASH_H
#define CKPT_HASH_H

#include <stddef.h>
#include <stdint.h>

struct xxh64_state {
	uint64_t total_len;
	uint64_t v[4];
	uint8_t mem[32]; /* bytes not yet forming a full 32-byte stripe */
	uint32_t memsize;
	uint64_t seed;
};

void xxh64_init(struct xxh64_state *s, uint64_t seed);
void xxh64_update(struct xxh64_state *s, const void *buf, size_t len);
uint64_t xxh64_digest(const struct xxh64_state *s);
/* One shot: xxh64(buf, len, seed) == init + update + digest. */
uint64_t xxh64(const void *buf, size_t len, uint64_t seed);

#endif
