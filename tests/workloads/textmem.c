/*
 * textmem - argv[1] MiB (default 64) of anonymous memory holding text as
 * a program's heap would: log lines whose numbers vary, so it compresses
 * as real text does, not as a run of one byte. argv[2] MiB (default 0) more
 * of incompressible words. After restore every byte is checked.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

static const char *const verbs[] = {"GET", "PUT", "POST", "DELETE"};
static const char *const paths[] = {"/api/items", "/api/users", "/static/app.js", "/healthz",
				    "/api/orders"};

/* The text, deterministic: line after line until len bytes. */
static void fill_text(char *p, size_t len)
{
	char line[160];
	size_t off = 0;

	for (uint64_t i = 0; off < len; i++) {
		uint64_t r = wl_pattern(7, i);
		int n = snprintf(line, sizeof(line),
				 "2026-12-07T15:%02u:%02u.%03uZ worker-%u %s %s/%u %u %u bytes "
				 "in %u us\n",
				 (unsigned)(r % 60), (unsigned)(r >> 8) % 60,
				 (unsigned)(r >> 16) % 1000, (unsigned)(r >> 26) % 32,
				 verbs[(r >> 31) % 4], paths[(r >> 33) % 5],
				 (unsigned)(r >> 36) % 100000, (r >> 53) % 8 ? 200 : 404,
				 (unsigned)(r >> 40) % 65536, (unsigned)(r >> 20) % 10000);
		size_t k = (size_t)n < len - off ? (size_t)n : len - off;

		memcpy(p + off, line, k);
		off += k;
	}
}

static char *map(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	size_t text = (argc > 1 ? strtoul(argv[1], NULL, 10) : 64) << 20;
	size_t rnd = (argc > 2 ? strtoul(argv[2], NULL, 10) : 0) << 20;
	char *t, *want;
	uint64_t *r = NULL;

	wl_init(argc, argv);
	if (!text)
		return wl_fail("usage: textmem [TEXT-MiB [RANDOM-MiB]]");
	t = map(text);
	want = map(text);
	if (!t || !want || (rnd && !(r = (uint64_t *)map(rnd))))
		return wl_fail("mmap: %m");
	fill_text(t, text);
	for (size_t i = 0; i < rnd / 8; i++)
		r[i] = wl_pattern(11, i);
	munmap(want, text); /* made again after restore, to compare */

	wl_ready();
	wl_wait_restored();

	want = map(text);
	if (!want)
		return wl_fail("mmap: %m");
	fill_text(want, text);
	for (size_t i = 0; i < text; i++)
		if (t[i] != want[i])
			return wl_fail("text byte %zu differs", i);
	for (size_t i = 0; i < rnd / 8; i++)
		if (r[i] != wl_pattern(11, i))
			return wl_fail("random word %zu differs", i);
	return wl_pass();
}
