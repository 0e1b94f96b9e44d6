/*
 * memfd_fd_map - a memfd held by an fd and mapped MAP_SHARED (read-write,
 * and a read-only view of its second half): after restore fd and mappings
 * are one object. The content is as saved, the mappings' inode is the
 * fd's, a pwrite through the fd shows in both mappings, and a store
 * through the mapping shows in a pread of the fd. A second fd opened
 * through /proc/self/map_files of the mapping, and a mapping of it, are
 * on the same memfd too.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "wl.h"
#include "wl_sys.h"

#define LEN (64UL << 10)

static ino_t map_ino(const void *p, size_t len)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)p,
		 (unsigned long)p + len);
	return stat(path, &st) ? 0 : st.st_ino;
}

int main(int argc, char **argv)
{
	uint64_t *a, *b, *c, v, w;
	char path[128];
	struct stat st, st2;
	int fd, fd2;

	wl_init(argc, argv);
	fd = memfd_create("wl-memfd-fd-map", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, LEN) < 0)
		return wl_fail("memfd_create: %m");
	a = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	b = mmap(NULL, LEN / 2, PROT_READ, MAP_SHARED, fd, LEN / 2);
	if (a == MAP_FAILED || b == MAP_FAILED)
		return wl_fail("mmap: %m");
	for (size_t i = 0; i < LEN / 8; i++)
		a[i] = wl_pattern(61, i);
	v = 7;
	if (pwrite(fd, &v, 8, 8) != 8)
		return wl_fail("pwrite: %m");
	if (a[1] != 7)
		return wl_fail("before the checkpoint: a pwrite does not show in the mapping");
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)a,
		 (unsigned long)a + LEN);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	if (fd2 < 0)
		return wl_fail("open %s: %m", path);
	c = mmap(NULL, LEN, PROT_READ, MAP_SHARED, fd2, 0);
	if (c == MAP_FAILED)
		return wl_fail("mmap through map_files: %m");

	wl_ready();
	wl_wait_restored();

	if (fstat(fd, &st) || map_ino(a, LEN) != st.st_ino || map_ino(b, LEN / 2) != st.st_ino)
		return wl_fail("after restore the mappings are not on the fd's memfd (inode %lu)",
			       (unsigned long)st.st_ino);
	if (fstat(fd2, &st2) || st2.st_ino != st.st_ino || map_ino(c, LEN) != st.st_ino)
		return wl_fail("after restore the map_files fd or its mapping is another object");
	if (a[1] != 7)
		return wl_fail("word 1 is %#llx, want 7", (unsigned long long)a[1]);
	for (size_t i = 2; i < LEN / 8; i++)
		if (a[i] != wl_pattern(61, i))
			return wl_fail("word %zu differs", i);
	for (size_t i = 0; i < LEN / 16; i++)
		if (b[i] != a[LEN / 16 + i])
			return wl_fail("the read-only view differs at word %zu", i);
	v = 0x1234;
	if (pwrite(fd, &v, 8, LEN - 8) != 8)
		return wl_fail("pwrite: %m");
	if (a[LEN / 8 - 1] != v || b[LEN / 16 - 1] != v || c[LEN / 8 - 1] != v)
		return wl_fail(
			"after restore a pwrite through the fd does not show in the mappings");
	a[3] = 0x5678;
	if (pread(fd, &w, 8, 24) != 8 || w != 0x5678 || pread(fd2, &w, 8, 24) != 8 || w != 0x5678)
		return wl_fail("after restore a store through the mapping does not show in the fd");
	return wl_pass();
}
