/*
 * dirty_mem [MIB [PAGES_PER_MS [churn]]] - a thread keeps rewriting pages
 * of a large buffer (MIB MiB, default 64) at PAGES_PER_MS pages a
 * millisecond (default 4): each page holds its generation and a pattern
 * of its index and generation, and a separate table the generation every
 * page must have. That is what incremental checkpoints must get right:
 * pages written since a pre-dump, pages not, in the same VMA.
 *
 * With "churn" it also changes its VMAs as it goes: a region unmapped and
 * mapped again at the same address with new content, and one grown with
 * mremap, so a VMA tracked at a pre-dump is gone or different at the
 * final dump. With "dontneed" it also drops a page with MADV_DONTNEED
 * every millisecond (it must read back as zeros, as allocators rely on)
 * and writes some dropped pages again. With "forks" a second thread keeps
 * a child alive at all times, forking another when one dies: a
 * checkpoint that kills a child (CKPT_OCI_FAULT=predump-exit) sees the
 * tree change under it as when a shell's commands end.
 *
 * After restore the thread stops at the end of the page it was writing;
 * every page is checked.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"
#include "wl_sys.h"

#define PAGE	    4096UL
#define WORDS	    (PAGE / 8)
#define CHURN_PAGES 64
#define ZERO_GEN    UINT64_MAX /* dropped: all zeros */

static uint64_t *buf;
static uint64_t *gens; /* the generation each page must have */
static size_t npages;
static long rate;
static int churn, dontneed, forks;
static volatile int stop;
static volatile uint64_t writes;

/* churn: a region remade now and then, one that grows */
static uint64_t *remade;
static volatile uint64_t remade_gen;
static uint64_t *grown;
static volatile size_t grown_pages;

static void fill(uint64_t *p, uint64_t seed, uint64_t gen)
{
	p[0] = gen;
	for (size_t w = 1; w < WORDS; w++)
		p[w] = wl_pattern(seed * 1000003 + gen, w);
}

static int check(const uint64_t *p, uint64_t seed, uint64_t gen)
{
	if (gen == ZERO_GEN) {
		for (size_t w = 0; w < WORDS; w++)
			if (p[w])
				return 0;
		return 1;
	}
	if (p[0] != gen)
		return 0;
	for (size_t w = 1; w < WORDS; w++)
		if (p[w] != wl_pattern(seed * 1000003 + gen, w))
			return 0;
	return 1;
}

static void churn_step(uint64_t n)
{
	if (n % 512 == 0) {
		/* unmapped and mapped again: a new VMA at the old address */
		uint64_t g = remade_gen + 1;
		void *p;

		munmap(remade, CHURN_PAGES * PAGE);
		p = mmap(remade, CHURN_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != remade)
			abort();
		for (size_t i = 0; i < CHURN_PAGES; i++)
			fill(remade + i * WORDS, 1u << 30 | i, g);
		remade_gen = g;
	}
	if (n % 256 == 0 && grown_pages < 4 * CHURN_PAGES) {
		/* grown in place (room was reserved after it) */
		size_t old = grown_pages;

		if (mremap(grown, old * PAGE, (old + 8) * PAGE, 0) != grown)
			abort();
		for (size_t i = old; i < old + 8; i++)
			fill(grown + i * WORDS, 1u << 31 | i, 1);
		grown_pages = old + 8;
	}
}

static void *writer(void *arg __attribute__((unused)))
{
	uint64_t n = 0, x = 88172645463325252ULL;

	while (!stop) {
		for (long k = 0; k < rate && !stop; k++) {
			size_t i;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			i = x % npages;
			fill(buf + i * WORDS, i, gens[i] + 1);
			gens[i]++;
			writes++;
		}
		if (churn)
			churn_step(++n);
		if (dontneed && !stop) {
			size_t i;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			i = x % npages;
			if (madvise(buf + i * WORDS, PAGE, MADV_DONTNEED))
				abort();
			gens[i] = ZERO_GEN;
		}
		wl_msleep(1);
	}
	return NULL;
}

/*
 * forks: a child alive at all times, blocked on a pipe until the end;
 * one that dies (killed) is reaped and another forked in its place.
 */
static int forks_pipe[2];

static void *forker(void *arg __attribute__((unused)))
{
	while (!stop) {
		char c;
		pid_t pid = fork();

		if (pid < 0)
			abort();
		if (pid == 0) {
			close(forks_pipe[1]);
			*(volatile uint64_t *)buf = 1; /* a page of its own */
			while (read(forks_pipe[0], &c, 1) < 0)
				;
			_exit(0);
		}
		if (waitpid(pid, NULL, 0) != pid)
			abort();
	}
	return NULL;
}

static int verify(void)
{
	size_t bad = 0, first = 0;

	for (size_t i = 0; i < npages; i++)
		if (!check(buf + i * WORDS, i, gens[i]) && !bad++)
			first = i;
	if (bad)
		return wl_fail("%zu of %zu pages wrong, first %zu (gen %lu, page says %lu)", bad,
			       npages, first, (unsigned long)gens[first],
			       (unsigned long)buf[first * WORDS]);
	if (!churn)
		return 0;
	for (size_t i = 0; i < CHURN_PAGES; i++)
		if (!check(remade + i * WORDS, 1u << 30 | i, remade_gen))
			return wl_fail("remade page %zu wrong (gen %lu)", i,
				       (unsigned long)remade_gen);
	for (size_t i = 0; i < grown_pages; i++)
		if (!check(grown + i * WORDS, 1u << 31 | i, 1))
			return wl_fail("grown page %zu of %zu wrong", i, grown_pages);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	uint64_t before;
	pthread_t t, ft;
	double deadline;

	wl_init(argc, argv);
	rate = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
	churn = argc > 3 && !strcmp(argv[3], "churn");
	dontneed = argc > 3 && !strcmp(argv[3], "dontneed");
	forks = argc > 3 && !strcmp(argv[3], "forks");
	npages = mib * 256;
	buf = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gens = mmap(NULL, npages * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED || gens == MAP_FAILED)
		return wl_fail("mmap %zu MiB", mib);
	for (size_t i = 0; i < npages; i++)
		fill(buf + i * WORDS, i, 0);
	if (churn) {
		remade = mmap(NULL, CHURN_PAGES * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		/* room to grow into: reserved, then given back */
		grown = mmap(NULL, 8 * CHURN_PAGES * PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (remade == MAP_FAILED || grown == MAP_FAILED)
			return wl_fail("mmap churn regions");
		munmap(grown + 8 * WORDS, (8 * CHURN_PAGES - 8) * PAGE);
		grown_pages = 8;
		for (size_t i = 0; i < CHURN_PAGES; i++)
			fill(remade + i * WORDS, 1u << 30 | i, 0);
		for (size_t i = 0; i < grown_pages; i++)
			fill(grown + i * WORDS, 1u << 31 | i, 1);
	}
	if (pthread_create(&t, NULL, writer, NULL))
		return wl_fail("pthread_create");
	if (forks && (pipe(forks_pipe) || pthread_create(&ft, NULL, forker, NULL)))
		return wl_fail("forking thread");
	while (writes < 1000)
		wl_msleep(1);
	wl_ready();
	wl_wait_restored();
	before = writes;
	deadline = wl_now() + WL_TIMEOUT_SEC;
	while (writes < before + 1000 && wl_now() < deadline)
		wl_msleep(1);
	stop = 1;
	if (forks)
		close(forks_pipe[1]); /* the child reads EOF and exits */
	if (wl_join(t, NULL))
		return wl_fail("writer thread did not stop");
	if (forks && wl_join(ft, NULL))
		return wl_fail("forking thread did not stop");
	if (writes < before + 1000)
		return wl_fail("writer stuck after restore at %lu writes", (unsigned long)writes);
	if (verify())
		return 1;
	wl_log("%zu pages verified, %lu writes", npages, (unsigned long)writes);
	return wl_pass();
}
