/*
 * mem_patterns - memory of every common kind survives: heap, a deep stack
 * frame, anonymous mappings with different protections (read-only, a
 * PROT_NONE guard between two), MAP_GROWSDOWN, MADV_DONTFORK and
 * MADV_WIPEONFORK (which must still act on a fork after restore), and
 * untouched anonymous pages that must still read as zero.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define PG	    4096UL
#define HEAP_WORDS  (8UL << 20) / 8
#define STACK_WORDS 8192

static void fill(void *p, size_t bytes, uint64_t seed)
{
	for (size_t i = 0; i < bytes / 8; i++)
		((uint64_t *)p)[i] = wl_pattern(seed, i);
}

static int check(const void *p, size_t bytes, uint64_t seed)
{
	for (size_t i = 0; i < bytes / 8; i++)
		if (((const uint64_t *)p)[i] != wl_pattern(seed, i))
			return -1;
	return 0;
}

static char *map(size_t len, int prot, int flags)
{
	char *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* "r--p"-style permissions of the mapping at @p, from /proc/self/maps. */
static int perms_are(const void *p, const char *want)
{
	char line[512], perms[8];

	if (wl_maps_line(p, line, sizeof(line)) < 0 || sscanf(line, "%*x-%*x %7s", perms) != 1)
		return 0;
	return !strcmp(perms, want);
}

static char *heap, *ro, *guard, *gd, *dontfork, *wipe, *zero;

/* After restore: a child must not see DONTFORK pages and sees WIPEONFORK zeroed. */
static const char *check_fork(void)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return "fork failed";
	if (pid == 0) {
		if (msync(dontfork, 4 * PG, MS_ASYNC) == 0 || errno != ENOMEM)
			_exit(2);
		for (size_t i = 0; i < 4 * PG; i++)
			if (wipe[i])
				_exit(3);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return "child did not exit";
	if (WEXITSTATUS(st) == 2)
		return "MADV_DONTFORK region is present in the child";
	if (WEXITSTATUS(st) == 3)
		return "MADV_WIPEONFORK region not wiped in the child";
	return WEXITSTATUS(st) ? "child failed" : NULL;
}

static const char *verify(void)
{
	if (check(heap, HEAP_WORDS * 8, 1))
		return "heap pattern";
	if (check(ro, 4 * PG, 2) || !perms_are(ro, "r--p"))
		return "read-only region";
	if (check(guard, PG, 3) || check(guard + 2 * PG, PG, 4))
		return "pages around the guard";
	if (!perms_are(guard + PG, "---p") || !perms_are(guard, "rw-p"))
		return "guard page protections";
	if (check(gd, 4 * PG, 5))
		return "MAP_GROWSDOWN region";
	if (check(dontfork, 4 * PG, 6) || check(wipe, 4 * PG, 7))
		return "DONTFORK/WIPEONFORK contents in the parent";
	for (size_t i = 0; i < 16 * PG; i++)
		if (zero[i])
			return "untouched anonymous pages are not zero";
	return check_fork();
}

/* Recurse so the checked array sits deep below main's frame. */
static const char *deep(int depth)
{
	volatile uint64_t frame[STACK_WORDS];
	const char *err;

	for (size_t i = 0; i < STACK_WORDS; i++)
		frame[i] = wl_pattern(100 + depth, i);
	if (depth > 0) {
		err = deep(depth - 1);
	} else {
		wl_ready();
		wl_wait_restored();
		err = verify();
	}
	for (size_t i = 0; i < STACK_WORDS && !err; i++)
		if (frame[i] != wl_pattern(100 + depth, i))
			err = "stack frame pattern";
	return err;
}

int main(int argc, char **argv)
{
	const char *err;

	wl_init(argc, argv);
	heap = malloc(HEAP_WORDS * 8);
	ro = map(4 * PG, PROT_READ | PROT_WRITE, 0);
	guard = map(3 * PG, PROT_READ | PROT_WRITE, 0);
	gd = map(4 * PG, PROT_READ | PROT_WRITE, MAP_GROWSDOWN);
	dontfork = map(4 * PG, PROT_READ | PROT_WRITE, 0);
	wipe = map(4 * PG, PROT_READ | PROT_WRITE, 0);
	zero = map(16 * PG, PROT_READ | PROT_WRITE, 0);
	if (!heap || !ro || !guard || !gd || !dontfork || !wipe || !zero)
		return wl_fail("allocation: %m");
	fill(heap, HEAP_WORDS * 8, 1);
	fill(ro, 4 * PG, 2);
	fill(guard, PG, 3);
	fill(guard + 2 * PG, PG, 4);
	fill(gd, 4 * PG, 5);
	fill(dontfork, 4 * PG, 6);
	fill(wipe, 4 * PG, 7);
	if (mprotect(ro, 4 * PG, PROT_READ) || mprotect(guard + PG, PG, PROT_NONE) ||
	    madvise(dontfork, 4 * PG, MADV_DONTFORK) || madvise(wipe, 4 * PG, MADV_WIPEONFORK))
		return wl_fail("mprotect/madvise: %m");
	err = deep(16);
	return err ? wl_fail("%s", err) : wl_pass();
}
