/*
 * tests/unit/test_hash.c - XXH64 against the published test vectors, the
 * streaming form against the one-shot form, and throughput.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/hash.h"
#include "util/util.h"

static const char spam[] = "Nobody inspects the spammish repetition";

int main(void)
{
	struct xxh64_state s;
	unsigned char *buf;
	size_t n = 64 << 20;
	uint64_t t0, t1, h;
	int bad = 0;

	is_int(xxh64("", 0, 0), 0xEF46DB3751D8E999ULL, "empty, seed 0");
	is_int(xxh64("a", 1, 0), 0xD24EC4F1A98C6E5BULL, "\"a\"");
	is_int(xxh64("abc", 3, 0), 0x44BC2CF5AD770999ULL, "\"abc\"");
	is_int(xxh64("xxhash", 6, 0), 0x32DD38952C4BC720ULL, "\"xxhash\"");
	is_int(xxh64("xxhash", 6, 20141025), 0xB559B98D844E0635ULL, "\"xxhash\" seed 20141025");
	is_int(xxh64(spam, strlen(spam), 0), 0xFBCEA83C8A378BF1ULL, "39 bytes: the stripe path");

	xxh64_init(&s, 0);
	xxh64_update(&s, "Nobody inspects", 15);
	xxh64_update(&s, " the spammish repetition", 24);
	is_int(xxh64_digest(&s), 0xFBCEA83C8A378BF1ULL, "streaming in two pieces");

	buf = malloc(n);
	srand(7);
	for (size_t i = 0; i < 1 << 16; i++)
		buf[i] = rand();
	for (size_t len = 0; len < 1 << 16; len += 997) {
		size_t off = 0;

		xxh64_init(&s, len);
		while (off < len) {
			size_t c = rand() % 77 + 1;

			c = MIN(c, len - off);

			xxh64_update(&s, buf + off, c);
			off += c;
		}
		bad += xxh64_digest(&s) != xxh64(buf, len, len);
	}
	is_int(bad, 0, "random chunking equals one shot for 66 lengths");

	memset(buf, 0x5a, n);
	t0 = now_ns();
	h = xxh64(buf, n, 0);
	t1 = now_ns();
	printf("# xxh64: %.1f GB/s (%016llx), measured, not asserted: speed is the bench's\n",
	       (double)n / (t1 - t0), (unsigned long long)h);
	free(buf);
	return done_testing();
}
