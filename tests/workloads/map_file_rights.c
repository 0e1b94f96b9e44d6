/*
 * map_file_rights - a file mapping keeps the rights of the file it was
 * mapped from. A MAP_SHARED PROT_READ mapping of a file opened O_RDWR may
 * still be mprotect'ed to PROT_WRITE after restore, and its writes reach
 * the file; one of a file opened O_RDONLY still may not (EACCES). A private
 * mapping of mixed protections (read-write, none, read-only pieces, some
 * pages written) keeps each page's data. Temp files in argv[1], $WL_TMPDIR
 * or /tmp.
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define PG  4096UL
#define NPG 4

static int make_file(const char *dir, char *path, size_t len, uint64_t seed)
{
	uint64_t buf[NPG * PG / 8];
	int fd;

	snprintf(path, len, "%s/wl-rights-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < NPG * PG / 8; i++)
		buf[i] = wl_pattern(seed, i);
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -1;
	return fd;
}

static bool page_is(const char *p, size_t page, uint64_t seed)
{
	for (size_t i = 0; i < PG / 8; i++)
		if (((const uint64_t *)(p + page * PG))[i] != wl_pattern(seed, page * PG / 8 + i))
			return false;
	return true;
}

int main(int argc, char **argv)
{
	char rw_path[256], ro_path[256], pv_path[256];
	char *rw, *ro, *pv;
	const char *dir;
	int fd, ret = 0;
	uint64_t word;

	wl_init(argc, argv);
	dir = wl_tmpdir(argc > 1 ? argv[1] : NULL);
	fd = make_file(dir, rw_path, sizeof(rw_path), 1);
	rw = fd < 0 ? MAP_FAILED : mmap(NULL, NPG * PG, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	fd = make_file(dir, ro_path, sizeof(ro_path), 2);
	close(fd);
	fd = open(ro_path, O_RDONLY | O_CLOEXEC);
	ro = fd < 0 ? MAP_FAILED : mmap(NULL, NPG * PG, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	fd = make_file(dir, pv_path, sizeof(pv_path), 3);
	pv = fd < 0 ? MAP_FAILED : mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (rw == MAP_FAILED || ro == MAP_FAILED || pv == MAP_FAILED)
		return wl_fail("temp files and mappings in %s: %m", dir);
	/* pages 0 and 2 written (copied on write), 1 made PROT_NONE, 3 read-only */
	memset(pv, 0xa5, PG);
	memset(pv + 2 * PG, 0x5a, PG);
	if (mprotect(pv + PG, PG, PROT_NONE) || mprotect(pv + 3 * PG, PG, PROT_READ))
		return wl_fail("mprotect: %m");
	if (mprotect(ro, NPG * PG, PROT_READ | PROT_WRITE) == 0 || errno != EACCES)
		return wl_fail("a read-only file's mapping could be made writable");

	wl_ready();
	wl_wait_restored();

	if (!page_is(rw, 0, 1) || !page_is(ro, 0, 2))
		return wl_fail("shared file mappings: data differs");
	if (mprotect(rw, NPG * PG, PROT_READ | PROT_WRITE))
		ret = wl_fail("mprotect PROT_WRITE of a file opened O_RDWR: %m");
	else {
		((volatile uint64_t *)rw)[3] = 0x1234;
		fd = open(rw_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || pread(fd, &word, 8, 24) != 8 || word != 0x1234)
			ret = wl_fail("a write through the mapping did not reach the file");
		close(fd);
	}
	if (!ret && (mprotect(ro, NPG * PG, PROT_READ | PROT_WRITE) == 0 || errno != EACCES))
		ret = wl_fail("a read-only file's mapping became writable after restore");
	if (!ret && mprotect(pv, NPG * PG, PROT_READ))
		ret = wl_fail("mprotect private mapping: %m");
	if (!ret &&
	    (pv[0] != (char)0xa5 || pv[PG - 1] != (char)0xa5 || !page_is(pv, 1, 3) ||
	     pv[2 * PG] != (char)0x5a || pv[3 * PG - 1] != (char)0x5a || !page_is(pv, 3, 3)))
		ret = wl_fail("mixed-protection private mapping: data differs");
	unlink(rw_path);
	unlink(ro_path);
	unlink(pv_path);
	return ret ? ret : wl_pass();
}
