/*
 * lazy_mem - memory that changes under a lazy restore: right after the
 * go (while its pages are still coming), before reading anything, it
 * forks a child that checks a region, drops part of another
 * (MADV_DONTNEED: zeros, not the saved pages), moves a third (mremap),
 * unmaps half of a fourth, writes into a fifth; then every word of all of
 * them is checked, and a sparse region reads zero where it was never
 * written. argv[1]: MiB of the main region (default 64).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define MIB (1UL << 20)

static uint64_t *region(size_t len, uint64_t seed)
{
	uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 0; seed && i < len / 8; i++)
		p[i] = wl_pattern(seed, i);
	return p;
}

/* Words [from, to) of p hold seed's pattern (at their index plus shift), or zero. */
static long check(const uint64_t *p, size_t from, size_t to, uint64_t seed, size_t shift)
{
	for (size_t i = from; i < to; i++)
		if (p[i] != (seed ? wl_pattern(seed, i + shift) : 0))
			return (long)i;
	return -1;
}

int main(int argc, char **argv)
{
	size_t main_len = (argc > 1 ? strtoul(argv[1], NULL, 10) : 64) * MIB;
	size_t len = 16 * MIB, w = len / 8;
	uint64_t *a, *drop, *move, *cut, *wr, *sparse, *moved;
	int status;
	long bad;
	pid_t kid;

	wl_init(argc, argv);
	a = region(main_len, 11);
	drop = region(len, 12);
	move = region(len, 13);
	cut = region(len, 14);
	wr = region(len, 15);
	sparse = region(len, 0);
	/* where the moved region goes: a hole the size of it */
	moved = region(len, 0);
	if (!a || !drop || !move || !cut || !wr || !sparse || !moved)
		return wl_fail("mmap: %m");
	munmap(moved, len);
	for (size_t i = 0; i < w; i += 1024)
		sparse[i] = wl_pattern(16, i); /* every other page */

	wl_ready();
	wl_wait_restored();

	kid = fork();
	if (kid < 0)
		return wl_fail("fork: %m");
	if (kid == 0)
		_exit(check(a, 0, main_len / 8, 11, 0) >= 0 || check(drop, 0, w, 12, 0) >= 0 ? 1
											     : 0);
	if (madvise((char *)drop + 4 * MIB, 4 * MIB, MADV_DONTNEED) < 0)
		return wl_fail("madvise DONTNEED: %m");
	if (mremap(move, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, moved) != moved)
		return wl_fail("mremap: %m");
	if (munmap((char *)cut + 8 * MIB, 8 * MIB) < 0)
		return wl_fail("munmap: %m");
	for (size_t i = 0; i < w; i += 4096)
		wr[i] = ~wl_pattern(15, i);

	if ((bad = check(a, 0, main_len / 8, 11, 0)) >= 0)
		return wl_fail("main region: word %ld differs", bad);
	if ((bad = check(drop, 0, MIB / 2, 12, 0)) >= 0 || (bad = check(drop, MIB, w, 12, 0)) >= 0)
		return wl_fail("dropped region: word %ld differs", bad);
	if ((bad = check(drop, MIB / 2, MIB, 0, 0)) >= 0)
		return wl_fail("dropped pages: word %ld is not zero", bad);
	if ((bad = check(moved, 0, w, 13, 0)) >= 0)
		return wl_fail("moved region: word %ld differs", bad);
	if ((bad = check(cut, 0, MIB, 14, 0)) >= 0)
		return wl_fail("cut region: word %ld differs", bad);
	for (size_t i = 0; i < w; i++)
		if (wr[i] != (i % 4096 ? wl_pattern(15, i) : ~wl_pattern(15, i)))
			return wl_fail("written region: word %zu differs", i);
	for (size_t i = 0; i < w; i++)
		if (sparse[i] != (i % 1024 ? 0 : wl_pattern(16, i)))
			return wl_fail("sparse region: word %zu differs", i);
	if (waitpid(kid, &status, 0) != kid || !WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("the child forked after restore saw other memory (status %#x)",
			       status);
	return wl_pass();
}
