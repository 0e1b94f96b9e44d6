/*
 * file_mappings - file-backed mappings of two temp files (in argv[1],
 * $WL_TMPDIR or /tmp). A MAP_PRIVATE mapping modified in memory: the COW
 * pages survive and the file does not change. A MAP_SHARED mapping written
 * through memory: after restore file and memory agree, and writes through
 * either side still reach the other.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define PG  4096UL
#define LEN (4 * PG)

static int make_file(const char *dir, char *path, size_t len, uint64_t seed)
{
	uint64_t buf[LEN / 8];
	int fd;

	snprintf(path, len, "%s/wl-filemap-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t i = 0; i < LEN / 8; i++)
		buf[i] = wl_pattern(seed, i);
	if (write(fd, buf, LEN) != (ssize_t)LEN)
		return -1;
	return fd;
}

/* Does file @fd at offset @off hold the pattern @seed (word index from 0)? */
static int file_is(int fd, off_t off, size_t len, uint64_t seed)
{
	uint64_t buf[LEN / 8];

	if (pread(fd, buf, len, off) != (ssize_t)len)
		return 0;
	for (size_t i = 0; i < len / 8; i++)
		if (buf[i] != wl_pattern(seed, i))
			return 0;
	return 1;
}

static int mem_is(const char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		if (((const uint64_t *)p)[i] != wl_pattern(seed, i))
			return 0;
	return 1;
}

static void mem_fill(char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		((uint64_t *)p)[i] = wl_pattern(seed, i);
}

int main(int argc, char **argv)
{
	const char *dir;
	char ppath[4096], spath[4096];
	int pfd, sfd;
	char *priv, *shr;
	uint64_t fresh = 0x5eed5eed;

	wl_init(argc, argv);
	dir = wl_tmpdir(argc > 1 ? argv[1] : NULL);
	pfd = make_file(dir, ppath, sizeof(ppath), 21);
	sfd = make_file(dir, spath, sizeof(spath), 22);
	if (pfd < 0 || sfd < 0)
		return wl_fail("create temp files in %s: %m", dir);
	priv = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, pfd, 0);
	shr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	if (priv == MAP_FAILED || shr == MAP_FAILED)
		return wl_fail("mmap: %m");
	/* pages 1 and 3 become private copies; 0 and 2 stay file pages */
	mem_fill(priv + PG, PG, 31);
	mem_fill(priv + 3 * PG, PG, 33);
	mem_fill(shr, LEN, 41);

	wl_ready();
	wl_wait_restored();

	if (!mem_is(priv + PG, PG, 31) || !mem_is(priv + 3 * PG, PG, 33))
		return wl_fail("private mapping: COW pages lost");
	if (!file_is(pfd, 0, LEN, 21))
		return wl_fail("private mapping: file content changed");
	if (((uint64_t *)priv)[0] != wl_pattern(21, 0) ||
	    ((uint64_t *)(priv + 2 * PG))[0] != wl_pattern(21, 2 * PG / 8))
		return wl_fail("private mapping: unmodified pages differ from file");
	if (!mem_is(shr, LEN, 41) || !file_is(sfd, 0, LEN, 41))
		return wl_fail("shared mapping: memory and file disagree");
	/* still shared: memory -> file and file -> memory */
	mem_fill(shr + PG, PG, 42);
	if (!file_is(sfd, PG, PG, 42))
		return wl_fail("shared mapping: memory write did not reach the file");
	if (pwrite(sfd, &fresh, sizeof(fresh), 2 * PG) != sizeof(fresh) ||
	    *(uint64_t *)(shr + 2 * PG) != fresh)
		return wl_fail("shared mapping: file write not seen in memory");
	/* private mapping: file writes to a COW page must not show through */
	if (pwrite(pfd, &fresh, sizeof(fresh), PG) != sizeof(fresh) ||
	    *(uint64_t *)(priv + PG) != wl_pattern(31, 0))
		return wl_fail("private mapping: COW page follows the file");
	(void)unlink(ppath);
	(void)unlink(spath);
	return wl_pass();
}
