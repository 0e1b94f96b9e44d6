/*
 * memfd_map - a memfd with content, mapped MAP_SHARED twice, its fd closed:
 * only the mappings keep the object alive. After restore the content, the
 * name in /proc/self/maps and the sharing between the two mappings survive.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define LEN  (64UL << 10)
#define NAME "wl-memfd-test"

static int has_name(const void *p)
{
	char line[512];

	return wl_maps_line(p, line, sizeof(line)) == 0 &&
	       strstr(line, "/memfd:" NAME " (deleted)") != NULL;
}

int main(int argc, char **argv)
{
	uint64_t *a, *b;
	int fd;

	wl_init(argc, argv);
	fd = memfd_create(NAME, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, LEN) < 0)
		return wl_fail("memfd_create: %m");
	for (size_t i = 0; i < LEN / 8; i++) {
		uint64_t v = wl_pattern(51, i);

		if (pwrite(fd, &v, 8, i * 8) != 8)
			return wl_fail("pwrite: %m");
	}
	a = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED || b == MAP_FAILED)
		return wl_fail("mmap: %m");
	close(fd);
	if (!has_name(a) || !has_name(b))
		return wl_fail("memfd name not in /proc/self/maps before checkpoint");

	wl_ready();
	wl_wait_restored();

	for (size_t i = 0; i < LEN / 8; i++)
		if (a[i] != wl_pattern(51, i) || b[i] != wl_pattern(51, i))
			return wl_fail("content lost at word %zu", i);
	if (!has_name(a) || !has_name(b))
		return wl_fail("memfd name lost in /proc/self/maps");
	a[100] = 0x0123456789abcdefULL;
	if (b[100] != 0x0123456789abcdefULL)
		return wl_fail("the two mappings no longer share the memfd");
	return wl_pass();
}
