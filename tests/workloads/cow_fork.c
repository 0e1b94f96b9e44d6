/*
 * cow_fork [MiB [deep]] - copy-on-write sharing: the parent fills MiB (256 by
 * default) of private memory, then forks 8 children that share it
 * untouched, but for child 0, which wrote one page of it, and child 1,
 * which dropped one (MADV_DONTNEED); the parent wrote one page after the
 * forks. After restore every child checks every page it should see
 * (the parent's data, its own page, a zero page) and so does the parent;
 * the tree's memory use (Pss, measured from outside by the test) must be
 * what it was. The memory is MADV_NOHUGEPAGE: khugepaged would otherwise
 * collapse the parent's pages into new huge pages and end the sharing on
 * its own, before any checkpoint. With "deep", child 2 forks a grandchild
 * that shares the same pages with it (restore copies those from child 2).
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define PG	4096UL
#define NCHILD	8
#define P_OWN	3 /* the page the parent wrote after the forks */
#define C0_OWN	5 /* the page child 0 wrote */
#define C1_DROP 7 /* the page child 1 dropped */

static uint64_t *mem;
static size_t npages;
static int deep;

/* The first word of each page tells the page; the rest of it follows from it. */
static uint64_t want(int who, size_t page)
{
	if (who == 0 && page == C0_OWN)
		return 0xc0c0;
	if (who == 1 && page == C1_DROP)
		return 0;
	if (who < 0 && page == P_OWN)
		return 0xfefe;
	return wl_pattern(1, page);
}

static bool check(int who)
{
	for (size_t p = 0; p < npages; p++) {
		const uint64_t *w = mem + p * PG / 8;
		uint64_t v = want(who, p);

		if (w[0] != v || w[PG / 8 - 1] != v) {
			wl_log("%s %d: page %zu holds %#lx, want %#lx",
			       who < 0 ? "parent" : "child", who, p, (unsigned long)w[0],
			       (unsigned long)v);
			return false;
		}
	}
	return true;
}

static void set_page(size_t p, uint64_t v)
{
	for (size_t i = 0; i < PG / 8; i++)
		mem[p * PG / 8 + i] = v;
}

int main(int argc, char **argv)
{
	int ready[2], go[2], status, bad = 0;
	pid_t kids[NCHILD];
	char c;

	wl_init(argc, argv);
	deep = argc > 2 && !strcmp(argv[2], "deep");
	npages = (argc > 1 ? strtoul(argv[1], NULL, 0) : 256) * (1UL << 20) / PG;
	mem = mmap(NULL, npages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || madvise(mem, npages * PG, MADV_NOHUGEPAGE) || pipe(ready) ||
	    pipe(go))
		return wl_fail("mmap, madvise, pipe: %m");
	for (size_t p = 0; p < npages; p++)
		set_page(p, wl_pattern(1, p));
	for (int i = 0; i < NCHILD; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			return wl_fail("fork: %m");
		if (kids[i] == 0) {
			if (i == 0)
				set_page(C0_OWN, 0xc0c0);
			if (i == 1 && madvise(mem + C1_DROP * PG / 8, PG, MADV_DONTNEED))
				_exit(3);
			pid_t g = 0;

			if (i == 2 && deep) {
				g = fork();
				if (g == 0) {
					if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
						_exit(4);
					_exit(check(2) ? 0 : 1);
				}
				if (g < 0)
					_exit(4);
			}
			if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
				_exit(4);
			if (g > 0 && (waitpid(g, &status, 0) != g || !WIFEXITED(status) ||
				      WEXITSTATUS(status)))
				_exit(5);
			_exit(check(i) ? 0 : 1);
		}
	}
	for (int i = 0; i < NCHILD + deep; i++)
		if (read(ready[0], &c, 1) != 1)
			return wl_fail("children not ready");
	set_page(P_OWN, 0xfefe);

	wl_ready();
	wl_wait_restored();

	if (write(go[1], "ggggggggg", NCHILD + deep) != NCHILD + deep)
		return wl_fail("wake the children: %m");
	for (int i = 0; i < NCHILD; i++) {
		if (waitpid(kids[i], &status, 0) != kids[i])
			return wl_fail("waitpid child %d: %m", i);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	if (bad)
		return wl_fail("%d children saw wrong memory", bad);
	if (!check(-1))
		return wl_fail("the parent's memory differs");
	return wl_pass();
}
