/*
 * map_deleted - a file mapped, then deleted: two shared mappings and one
 * private mapping (one page of it written) of a temp file (in argv[1],
 * $WL_TMPDIR or /tmp) unlinked after mapping. After restore each mapping
 * holds its data, the shared ones are still one file (a write through one
 * shows in the other and in the private mapping's unwritten pages), the
 * private copy stays private, and /proc/self/maps still says "(deleted)".
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define PG  4096UL
#define NPG 4

static bool page_is(const char *p, size_t page, uint64_t seed)
{
	for (size_t i = 0; i < PG / 8; i++)
		if (((const uint64_t *)(p + page * PG))[i] != wl_pattern(seed, page * PG / 8 + i))
			return false;
	return true;
}

/* The maps line of the VMA at p says "(deleted)". */
static bool maps_deleted(const void *p)
{
	char line[512], want[32];
	FILE *f = fopen("/proc/self/maps", "re");
	bool del = false;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)))
			del = strstr(line, "(deleted)") != NULL;
	if (f)
		fclose(f);
	return del;
}

int main(int argc, char **argv)
{
	uint64_t buf[NPG * PG / 8];
	char path[256], *s1, *s2, *pv;
	const char *dir;
	int fd;

	wl_init(argc, argv);
	dir = wl_tmpdir(argc > 1 ? argv[1] : NULL);
	snprintf(path, sizeof(path), "%s/wl-deleted-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	for (size_t i = 0; i < NPG * PG / 8; i++)
		buf[i] = wl_pattern(9, i);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return wl_fail("temp file in %s: %m", dir);
	s1 = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	s2 = mmap(NULL, NPG * PG, PROT_READ, MAP_SHARED, fd, 0);
	pv = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (s1 == MAP_FAILED || s2 == MAP_FAILED || pv == MAP_FAILED || unlink(path))
		return wl_fail("mmap, unlink: %m");
	memset(pv + PG, 0x77, PG);

	wl_ready();
	wl_wait_restored();

	if (!maps_deleted(s1) || !maps_deleted(s2) || !maps_deleted(pv))
		return wl_fail("a mapping no longer shows its file deleted");
	for (size_t i = 0; i < NPG; i++)
		if (!page_is(s1, i, 9) || !page_is(s2, i, 9) || (i != 1 && !page_is(pv, i, 9)))
			return wl_fail("page %zu differs", i);
	if (pv[PG] != 0x77 || pv[2 * PG - 1] != 0x77)
		return wl_fail("the private copy of page 1 is lost");
	((volatile uint64_t *)s1)[5] = 0xabcd;
	((volatile uint64_t *)s1)[PG / 8 + 5] = 0xabcd;
	if (((uint64_t *)s2)[5] != 0xabcd || ((uint64_t *)pv)[5] != 0xabcd)
		return wl_fail("the shared mappings are no longer one file");
	if (((uint64_t *)pv)[PG / 8 + 5] == 0xabcd)
		return wl_fail("the private copy is no longer private");
	return wl_pass();
}
