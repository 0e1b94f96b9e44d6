/*
 * migrate_ts - a program that notices every pause: a thread takes a
 * timestamp (CLOCK_REALTIME, so it means the same on either node) every
 * millisecond into memory, rewriting argv[2] MiB/s of its argv[1] MiB
 * (default 64, 0) with the same pattern as it goes; after the go, every
 * word is checked, and the largest gap between two timestamps (what the
 * application saw of a checkpoint, a migration) is printed as
 * "max gap N.NNN ms" on stderr.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define MIB   (1UL << 20)
#define TICKS (1UL << 20) /* 17 minutes of milliseconds */
#define SEED  71

static uint64_t *mem;
static size_t words, rate_words; /* rewritten per tick */
static int64_t *ticks;
static atomic_size_t nticks;
static atomic_int stop;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void *ticker(void *arg)
{
	struct timespec next;
	size_t w = 0;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&stop)) {
		size_t n = atomic_load(&nticks);

		if (n < TICKS) {
			ticks[n] = now_us();
			atomic_store(&nticks, n + 1);
		}
		for (size_t i = 0; i < rate_words; i++, w = (w + 1) % words)
			mem[w] = wl_pattern(SEED, w); /* written again: dirty, same value */
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t rate = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	int64_t gap = 0, at = 0;
	pthread_t th;

	wl_init(argc, argv);
	words = mib * MIB / 8;
	rate_words = rate * MIB / 8 / 1000;
	mem = mmap(NULL, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ticks = mmap(NULL, TICKS * sizeof(*ticks), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!mib || mem == MAP_FAILED || ticks == MAP_FAILED)
		return wl_fail("mmap: %m");
	for (size_t i = 0; i < words; i++)
		mem[i] = wl_pattern(SEED, i);
	if (pthread_create(&th, NULL, ticker, NULL))
		return wl_fail("pthread_create");

	wl_ready();
	wl_wait_restored();

	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	for (size_t i = 0; i < words; i++)
		if (mem[i] != wl_pattern(SEED, i))
			return wl_fail("word %zu (offset 0x%zx) differs", i, i * 8);
	for (size_t i = 1; i < atomic_load(&nticks); i++)
		if (ticks[i] - ticks[i - 1] > gap) {
			gap = ticks[i] - ticks[i - 1];
			at = ticks[i - 1];
		}
	if (atomic_load(&nticks) < 2)
		return wl_fail("no timestamps");
	/* the first tick after the gap is the program running again */
	wl_log("max gap %.3f ms at %lld.%06lld, resumed at %lld.%06lld, over %zu ticks",
	       gap / 1000.0, (long long)(at / 1000000), (long long)(at % 1000000),
	       (long long)((at + gap) / 1000000), (long long)((at + gap) % 1000000),
	       atomic_load(&nticks));
	return wl_pass();
}
