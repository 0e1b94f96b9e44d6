/*
 * map_devzero - mappings of /dev/zero and shared anonymous memory cut in
 * pieces: a private and a shared mapping of /dev/zero (opened and mapped
 * by path), a shared anonymous mapping whose first page was unmapped and
 * whose middle is mprotect'ed read-only (three VMAs of one object, none at
 * offset 0), and a second view of that object mapped through
 * /proc/self/map_files. After restore each holds its data, the shared ones
 * are still shared (a write through one view shows in the other, and in a
 * forked child's writes), and the private one is still private.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define PG  4096UL
#define NPG 8

static void fill(void *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		((uint64_t *)p)[i] = wl_pattern(seed, i);
}

static bool is(const void *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len / 8; i++)
		if (((const uint64_t *)p)[i] != wl_pattern(seed, i))
			return false;
	return true;
}

/* A forked child writes word 0 of p; does the parent see it? */
static int child_write_seen(volatile uint64_t *p, uint64_t v)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		*p = v;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return *p == v;
}

int main(int argc, char **argv)
{
	char *zpriv, *zshared, *split, *view, path[96];
	int zfd, vfd;

	wl_init(argc, argv);
	zfd = open("/dev/zero", O_RDWR | O_CLOEXEC);
	if (zfd < 0)
		return wl_fail("open /dev/zero: %m");
	zpriv = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, zfd, 0);
	zshared = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED, zfd, 0);
	/* the view goes above the pieces: restore meets the object first at offset 1 */
	split = mmap(NULL, 3 * NPG * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (split != MAP_FAILED)
		split = mmap(split, NPG * PG, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	close(zfd);
	if (zpriv == MAP_FAILED || zshared == MAP_FAILED || split == MAP_FAILED)
		return wl_fail("mmap: %m");
	fill(zpriv, NPG * PG, 1);
	fill(zshared, NPG * PG, 2);
	fill(split, NPG * PG, 3);
	/* offsets 1..7 of the object stay mapped, in a read-write, a read-only and a read-write VMA
	 */
	if (munmap(split, PG) || mprotect(split + 3 * PG, 2 * PG, PROT_READ))
		return wl_fail("munmap/mprotect: %m");
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", (unsigned long)(split + PG),
		 (unsigned long)(split + 3 * PG));
	vfd = open(path, O_RDWR | O_CLOEXEC);
	if (vfd < 0)
		return wl_fail("open %s: %m", path);
	view = mmap(split + 2 * NPG * PG, NPG * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    vfd, 0);
	close(vfd);
	if (view == MAP_FAILED)
		return wl_fail("mmap map_files view: %m");

	wl_ready();
	wl_wait_restored();

	if (!is(zpriv, NPG * PG, 1))
		return wl_fail("private /dev/zero mapping: data differs");
	if (!is(zshared, NPG * PG, 2))
		return wl_fail("shared /dev/zero mapping: data differs");
	for (size_t i = 1; i < NPG; i++)
		if (((uint64_t *)(split + i * PG))[0] != wl_pattern(3, i * PG / 8))
			return wl_fail("split shared mapping: page %zu differs", i);
	if (!is(view, NPG * PG, 3))
		return wl_fail("map_files view: data differs");
	if (child_write_seen((uint64_t *)zshared, 0x1111) != 1)
		return wl_fail("shared /dev/zero mapping no longer shared with a child");
	if (child_write_seen((uint64_t *)zpriv, 0x2222) != 0)
		return wl_fail("private /dev/zero mapping shared with a child");
	((uint64_t *)(split + 6 * PG))[1] = 0x3333;
	if (((uint64_t *)(view + 6 * PG))[1] != 0x3333)
		return wl_fail("split mapping and map_files view are no longer one object");
	if (child_write_seen((uint64_t *)(view + PG), 0x5555) != 1 ||
	    ((uint64_t *)(split + PG))[0] != 0x5555)
		return wl_fail("a child's write through the view is not seen");
	return wl_pass();
}
