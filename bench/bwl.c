/*
 * bench/bwl.c - the benchmark workloads, one program with a mode each:
 *
 *     bwl mem     MIB  READY   fill MIB MiB with a pattern (every word)
 *     bwl text    MIB  READY   MIB MiB of log-like text (compresses as text does)
 *     bwl sparse  MIB  READY   a MIB MiB mapping, every tenth page filled
 *     bwl tree    P    READY   a root and P-1 children
 *     bwl threads T    READY   a main thread and T-1 others
 *     bwl fds     F    READY   F fds: a regular file at F offsets, /dev/null
 *     bwl vmas    V    READY   V one-page anonymous mappings, apart
 *
 * Protocol (no FIFO, no pipe across the checkpoint): the workload sets up
 * its state, writes its pid into READY (READY.tmp renamed, so a reader sees
 * all or nothing), then sleeps in sigsuspend() with SIGUSR1 blocked
 * otherwise. sigsuspend() is restarted by the kernel after a restore, and a
 * SIGUSR1 sent before it gets there stays pending. On SIGUSR1 it checks its
 * state from inside and prints one line "OK ..." or "FAIL ..." on stdout
 * (a regular file the harness opened O_APPEND), exit status 0 or 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096UL

static volatile sig_atomic_t go;
static const char *ready_path;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return 1;
}

static int ok(const char *fmt, ...)
{
	va_list ap;

	printf("OK ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return 0;
}

/* The word at index i of a pattern: never zero, differs per word. */
static inline uint64_t pat(uint64_t i)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL ^ 0x5bd1e995ULL;
}

static void fill_page(uint64_t *w, uint64_t first)
{
	for (size_t k = 0; k < PAGE / 8; k++)
		w[k] = pat(first + k);
}

static int check_page(const uint64_t *w, uint64_t first)
{
	for (size_t k = 0; k < PAGE / 8; k++)
		if (w[k] != pat(first + k))
			return -1;
	return 0;
}

/* SIGUSR1 blocked from the start, so children and threads inherit that. */
static void setup_signals(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

static void wait_go(void)
{
	sigset_t empty;

	sigemptyset(&empty);
	while (!go)
		sigsuspend(&empty);
}

static int say_ready(void)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", ready_path);
	f = fopen(tmp, "we");
	if (!f)
		return fail("open %s: %m", tmp);
	fprintf(f, "%d\n", getpid());
	if (fclose(f) != 0 || rename(tmp, ready_path) < 0)
		return fail("write %s: %m", ready_path);
	return 0;
}

static int run_mem(unsigned long mib)
{
	size_t len = mib << 20, pages = len / PAGE;
	uint64_t *p;

	/* MAP_POPULATE: a first touch per page costs ~12 us in these VMs. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	if (p == MAP_FAILED)
		return fail("mmap %lu MiB: %m", mib);
	for (size_t i = 0; i < pages; i++)
		fill_page(p + i * (PAGE / 8), i * (PAGE / 8));
	if (say_ready())
		return 1;
	wait_go();
	for (size_t i = 0; i < pages; i++)
		if (check_page(p + i * (PAGE / 8), i * (PAGE / 8)))
			return fail("mem: page %zu of %zu differs", i, pages);
	return ok("mem %lu MiB", mib);
}

/*
 * Every tenth page carries the pattern, the rest were never touched. The
 * check reads every filled page and one untouched page in sixteen (reading
 * them all would fault in the whole mapping just to see zeroes).
 */
static int run_sparse(unsigned long mib)
{
	size_t len = mib << 20, pages = len / PAGE, n = 0;
	uint64_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		 0);
	if (p == MAP_FAILED)
		return fail("mmap %lu MiB: %m", mib);
	for (size_t i = 0; i < pages; i += 10)
		fill_page(p + i * (PAGE / 8), i * (PAGE / 8));
	if (say_ready())
		return 1;
	wait_go();
	for (size_t i = 0; i < pages; i++) {
		const uint64_t *w = p + i * (PAGE / 8);

		if (i % 10 == 0) {
			if (check_page(w, i * (PAGE / 8)))
				return fail("sparse: page %zu differs", i);
			n++;
		} else if (i % 16 == 1 && (w[0] || w[PAGE / 8 - 1])) {
			return fail("sparse: untouched page %zu is not zero", i);
		}
	}
	return ok("sparse %lu MiB, %zu pages filled", mib, n);
}

/* A child of the tree: remembers who it is, checks that after restore. */
static int tree_child(unsigned long idx, int wfd)
{
	volatile unsigned long *mine = malloc(PAGE);
	pid_t me = getpid();

	if (!mine)
		_exit(2);
	for (size_t k = 0; k < PAGE / sizeof(*mine); k++)
		mine[k] = idx ^ k;
	if (write(wfd, "x", 1) != 1)
		_exit(2);
	close(wfd);
	wait_go();
	if (getpid() != me)
		_exit(3);
	for (size_t k = 0; k < PAGE / sizeof(*mine); k++)
		if (mine[k] != (idx ^ k))
			_exit(4);
	_exit(0);
}

/* The pipe only says "child set up"; every end is closed before ready. */
static int run_tree(unsigned long n)
{
	pid_t *kids = calloc(n, sizeof(*kids));
	unsigned long bad = 0;
	int p[2], st;
	char c;

	if (!kids || pipe2(p, O_CLOEXEC) < 0)
		return fail("tree: setup: %m");
	for (unsigned long i = 1; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			return fail("tree: fork %lu: %m", i);
		if (kids[i] == 0) {
			close(p[0]);
			tree_child(i, p[1]);
		}
	}
	close(p[1]);
	for (unsigned long i = 1; i < n; i++)
		if (read(p[0], &c, 1) != 1)
			return fail("tree: child %lu did not start", i);
	close(p[0]);
	if (say_ready())
		return 1;
	wait_go();
	for (unsigned long i = 1; i < n; i++)
		if (kill(kids[i], SIGUSR1) < 0)
			return fail("tree: kill child %d: %m", kids[i]);
	for (unsigned long i = 1; i < n; i++) {
		if (waitpid(kids[i], &st, 0) < 0)
			return fail("tree: waitpid %d: %m", kids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	if (bad)
		return fail("tree: %lu of %lu children failed their check", bad, n - 1);
	return ok("tree %lu processes", n);
}

static int thr_go;
static pthread_barrier_t thr_barrier;

struct thr {
	pthread_t th;
	unsigned long idx;
	pid_t tid;
	int ok;
};

static __thread unsigned long thr_idx;

static void *thr_main(void *arg)
{
	struct thr *t = arg;

	thr_idx = t->idx;
	t->tid = gettid();
	pthread_barrier_wait(&thr_barrier);
	while (!__atomic_load_n(&thr_go, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &thr_go, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	t->ok = thr_idx == t->idx && gettid() == t->tid;
	return NULL;
}

static int run_threads(unsigned long n)
{
	struct thr *t = calloc(n, sizeof(*t));
	unsigned long bad = 0;
	pthread_attr_t attr;

	if (!t || pthread_barrier_init(&thr_barrier, NULL, n) != 0)
		return fail("threads: setup");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (unsigned long i = 1; i < n; i++) {
		t[i].idx = i;
		if (pthread_create(&t[i].th, &attr, thr_main, &t[i]) != 0)
			return fail("threads: create %lu", i);
	}
	pthread_barrier_wait(&thr_barrier);
	if (say_ready())
		return 1;
	wait_go();
	__atomic_store_n(&thr_go, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &thr_go, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
	for (unsigned long i = 1; i < n; i++) {
		pthread_join(t[i].th, NULL);
		bad += !t[i].ok;
	}
	if (bad)
		return fail("threads: %lu of %lu threads lost their tid or TLS", bad, n - 1);
	return ok("threads %lu", n);
}

/*
 * Even fds: the same regular file (beside READY), each at its own offset;
 * odd fds: /dev/null. After restore each fd must be the same file at the
 * same offset.
 */
static int run_fds(unsigned long n)
{
	struct stat file_st, null_st, st;
	struct rlimit rl;
	char path[4096];
	int base = 3, fd;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
		rl.rlim_cur = n + 64 < rl.rlim_max ? n + 64 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return fail("fds: setrlimit: %m");
	}
	snprintf(path, sizeof(path), "%s.file", ready_path);
	for (unsigned long i = 0; i < n; i++) {
		if (i % 2 == 0)
			fd = open(path, O_RDWR | O_CREAT, 0600);
		else
			fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return fail("fds: open %lu: %m", i);
		if (fd != base + (int)i)
			return fail("fds: fd %d where %lu was expected", fd, base + i);
		if (i % 2 == 0 && lseek(fd, (off_t)i, SEEK_SET) < 0)
			return fail("fds: lseek: %m");
	}
	if (fstat(base, &file_st) < 0 || fstat(base + 1, &null_st) < 0)
		return fail("fds: fstat: %m");
	if (say_ready())
		return 1;
	wait_go();
	for (unsigned long i = 0; i < n; i++) {
		const struct stat *want = i % 2 == 0 ? &file_st : &null_st;

		fd = base + (int)i;
		if (fstat(fd, &st) < 0)
			return fail("fds: fd %d: %m", fd);
		if (st.st_dev != want->st_dev || st.st_ino != want->st_ino)
			return fail("fds: fd %d is another file", fd);
		if (i % 2 == 0 && lseek(fd, 0, SEEK_CUR) != (off_t)i)
			return fail("fds: fd %d lost its offset", fd);
	}
	return ok("fds %lu", n);
}

/* Map 2V pages, unmap every other one: V VMAs that cannot merge. */
/*
 * Log-like lines, their numbers from the pattern: 64 KiB blocks, each
 * made on its own from its index, so the check remakes one at a time.
 */
#define TEXT_BLOCK (64u << 10)

static void text_block(char *p, uint64_t blk)
{
	static const char *const verbs[] = {"GET", "PUT", "POST", "DELETE"};
	char line[160];
	size_t off = 0;

	for (uint64_t i = blk << 10; off < TEXT_BLOCK; i++) {
		uint64_t r = pat(i);
		int n = snprintf(line, sizeof(line),
				 "2026-12-07T15:%02u:%02u.%03uZ worker-%u %s /api/items/%u %u %u "
				 "bytes in %u us\n",
				 (unsigned)(r % 60), (unsigned)(r >> 8) % 60,
				 (unsigned)(r >> 16) % 1000, (unsigned)(r >> 26) % 32,
				 verbs[(r >> 31) % 4], (unsigned)(r >> 36) % 100000,
				 (r >> 53) % 8 ? 200 : 404, (unsigned)(r >> 40) % 65536,
				 (unsigned)(r >> 20) % 10000);
		size_t k = (size_t)n < TEXT_BLOCK - off ? (size_t)n : TEXT_BLOCK - off;

		memcpy(p + off, line, k);
		off += k;
	}
}

static int run_text(unsigned long mib)
{
	size_t len = mib << 20, blocks = len / TEXT_BLOCK;
	static char want[TEXT_BLOCK];
	char *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
		 0);
	if (p == MAP_FAILED)
		return fail("mmap %lu MiB: %m", mib);
	for (size_t b = 0; b < blocks; b++)
		text_block(p + b * TEXT_BLOCK, b);
	if (say_ready())
		return 1;
	wait_go();
	for (size_t b = 0; b < blocks; b++) {
		text_block(want, b);
		if (memcmp(p + b * TEXT_BLOCK, want, TEXT_BLOCK))
			return fail("text: block %zu of %zu differs", b, blocks);
	}
	return ok("text %lu MiB", mib);
}

static int run_vmas(unsigned long n)
{
	uint64_t *p;

	p = mmap(NULL, 2 * n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fail("vmas: mmap: %m");
	for (unsigned long i = 0; i < n; i++) {
		uint64_t *w = p + 2 * i * (PAGE / 8);

		if (munmap((char *)w + PAGE, PAGE) < 0)
			return fail("vmas: munmap: %m");
		fill_page(w, i * (PAGE / 8));
	}
	if (say_ready())
		return 1;
	wait_go();
	for (unsigned long i = 0; i < n; i++)
		if (check_page(p + 2 * i * (PAGE / 8), i * (PAGE / 8)))
			return fail("vmas: mapping %lu differs", i);
	return ok("vmas %lu", n);
}

int main(int argc, char **argv)
{
	unsigned long n;
	char *end;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: bwl mem|text|sparse|tree|threads|fds|vmas N READY\n");
		return 2;
	}
	n = strtoul(argv[2], &end, 10);
	if (*end || n == 0) {
		fprintf(stderr, "bwl: bad N `%s`\n", argv[2]);
		return 2;
	}
	ready_path = argv[3];
	setup_signals();
	if (!strcmp(argv[1], "mem"))
		return run_mem(n);
	if (!strcmp(argv[1], "text"))
		return run_text(n);
	if (!strcmp(argv[1], "sparse"))
		return run_sparse(n);
	if (!strcmp(argv[1], "tree"))
		return run_tree(n);
	if (!strcmp(argv[1], "threads"))
		return run_threads(n);
	if (!strcmp(argv[1], "fds"))
		return run_fds(n);
	if (!strcmp(argv[1], "vmas"))
		return run_vmas(n);
	fprintf(stderr, "bwl: unknown mode `%s`\n", argv[1]);
	return 2;
}
