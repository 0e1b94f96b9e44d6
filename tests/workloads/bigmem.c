/*
 * bigmem - argv[1] MiB (default 1024) of anonymous memory filled with a
 * pattern; after restore every word is checked.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	size_t words = (mib << 20) / 8;
	uint64_t *p;

	wl_init(argc, argv);
	if (!mib)
		return wl_fail("usage: bigmem [MiB]");
	p = mmap(NULL, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return wl_fail("mmap %zu MiB: %m", mib);
	for (size_t i = 0; i < words; i++)
		p[i] = wl_pattern(61, i);

	wl_ready();
	wl_wait_restored();

	for (size_t i = 0; i < words; i++)
		if (p[i] != wl_pattern(61, i))
			return wl_fail("word %zu (offset 0x%zx) differs", i, i * 8);
	return wl_pass();
}
