/*
 * killsafe_tree - a tree that notices any harm done to it while it runs:
 * three processes (root, A, B), two threads each, a pipe from A to B
 * carrying a counter, and checksummed memory in every process. Each
 * thread beats a heartbeat in MAP_SHARED memory and checks, every round,
 * its own signal mask (a thread left with every signal blocked fails) and
 * its process's memory (a fixed region against its checksum, and a region
 * rewritten each round); B checks that the counter it reads never skips.
 *
 * Usage: killsafe_tree ASK ANSWER [MIB] (two FIFOs; MIB of fixed memory per
 * process, default 2: 64 makes the page copy long, its vmsplice path
 * taken; a round then checks one 2 MiB slice of it, in turn). A and B
 * also check each round that their lowest free fd has not moved: an fd
 * left behind in them (the dump's pipe) fails. It stays running; each
 * line written to ASK makes the root check that every thread of the tree
 * still beats and nothing failed, and answer "ok" or "FAIL: why" on
 * ANSWER. After the harness's go (WL_GO) it checks once more, stops the
 * tree and prints PASS. A crash anywhere stops a heartbeat: FAIL.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

enum { ROOT, A, B, NPROC };
enum { MAIN, MEM, NTHR };
#define SLICE_WORDS (256 * 1024) /* 2 MiB, written once: the default size */
#define ROUND_WORDS (64 * 1024)	 /* 512 KiB, rewritten every round */

struct shared {
	volatile uint64_t beat[NPROC][NTHR];
	volatile int failed, stop;
	volatile int writer_done; /* A is out of its pipe loop: B may close its end */
	char why[256];
};

static struct shared *sh;
static int me = ROOT;
static uint64_t *fixed, *slice_sums;
static size_t fixed_words = SLICE_WORDS, nslices;
static int free_fd; /* A and B: the lowest free fd, which must not move */
static const char *ask_path, *answer_path;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_exchange_n(&sh->failed, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
	va_end(ap);
}

static uint64_t sum_words(const uint64_t *w, size_t n)
{
	uint64_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (s ^ w[i]) * 0x100000001B3ULL;
	return s;
}

/* What every thread checks each round; then it beats. */
static void round_checks(int thr)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP && sigismember(&cur, s) == 1) {
			fail("process %d thread %d: signal %d blocked", me, thr, s);
			break;
		}
	__atomic_fetch_add(&sh->beat[me][thr], 1, __ATOMIC_SEQ_CST);
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void *mem_thread(void *arg)
{
	uint64_t *w = malloc(ROUND_WORDS * sizeof(*w));

	(void)arg;
	for (uint64_t r = 0; w && !sh->stop; r++) {
		uint64_t seed = ((uint64_t)me << 32) | r, want = 0;

		for (size_t i = 0; i < ROUND_WORDS; i++)
			w[i] = wl_pattern(seed, i);
		want = sum_words(w, ROUND_WORDS);
		wl_msleep(1); /* a thread often inside nanosleep */
		for (size_t i = 0; i < ROUND_WORDS; i++)
			if (w[i] != wl_pattern(seed, i)) {
				fail("process %d: round memory word %zu changed", me, i);
				break;
			}
		if (sum_words(w, ROUND_WORDS) != want ||
		    sum_words(fixed + r % nslices * SLICE_WORDS, SLICE_WORDS) !=
			    slice_sums[r % nslices])
			fail("process %d: memory checksum differs", me);
		if (me != ROOT && lowest_free_fd() != free_fd)
			fail("process %d: an fd was left open (lowest free %d, was %d)", me,
			     lowest_free_fd(), free_fd);
		round_checks(MEM);
	}
	return NULL;
}

/* A writes 0, 1, 2... into the pipe; B reads them and checks each. */
static void pipe_loop(int fd, bool writer)
{
	uint64_t n = 0, got;

	while (!sh->stop) {
		ssize_t r = writer ? write(fd, &n, sizeof(n)) : read(fd, &got, sizeof(got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r != sizeof(n)) {
			if (!sh->stop)
				fail("process %d: pipe %s: %zd (%m)", me, writer ? "write" : "read",
				     r);
			return;
		}
		if (!writer && got != n)
			fail("B: pipe gave %llu, want %llu", (unsigned long long)got,
			     (unsigned long long)n);
		n++;
		round_checks(MAIN);
	}
}

static void process_setup(void)
{
	pthread_t th;

	nslices = fixed_words / SLICE_WORDS;
	fixed = malloc(fixed_words * sizeof(*fixed));
	slice_sums = malloc(nslices * sizeof(*slice_sums));
	if (!fixed || !slice_sums)
		exit(2);
	for (size_t i = 0; i < fixed_words; i++)
		fixed[i] = wl_pattern(0xF1 + me, i);
	for (size_t k = 0; k < nslices; k++)
		slice_sums[k] = sum_words(fixed + k * SLICE_WORDS, SLICE_WORDS);
	free_fd = lowest_free_fd();
	if (pthread_create(&th, NULL, mem_thread, NULL))
		exit(2);
}

static pid_t spawn(int who, int fd, bool writer, int close_fd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	me = who;
	close(close_fd);
	process_setup();
	pipe_loop(fd, writer);
	if (writer)
		sh->writer_done = 1;
	/*
	 * The reader keeps its end, and drains it, until the writer is done
	 * (10 s at most): the writer may be blocked in a write into a full
	 * pipe when the stop comes, and a write into a pipe without a reader
	 * is a SIGPIPE, which would look like one the checkpoint left pending.
	 */
	if (!writer)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	for (double end = wl_now() + 10; !sh->stop || (!writer && !sh->writer_done);) {
		char drain[4096];

		if (wl_now() > end)
			break;
		if (writer || read(fd, drain, sizeof(drain)) <= 0)
			wl_msleep(1);
	}
	_exit(0);
}

/* Every heartbeat moves within 10 s and nothing failed: "" or the reason. */
static void tree_check(pid_t a, pid_t b, char *why, size_t len)
{
	uint64_t before[NPROC][NTHR];
	double end = wl_now() + 10;
	int st;

	*why = '\0';
	if (waitpid(a, &st, WNOHANG) != 0 || waitpid(b, &st, WNOHANG) != 0) {
		snprintf(why, len, "a child ended (status 0x%x)", st);
		return;
	}
	memcpy(before, (const void *)sh->beat, sizeof(before));
	for (int p = 0; p < NPROC; p++)
		for (int t = 0; t < NTHR; t++) {
			if (p == ROOT && t == MAIN)
				continue; /* that is us */
			while (sh->beat[p][t] == before[p][t] && wl_now() < end)
				wl_msleep(1);
			if (sh->beat[p][t] == before[p][t]) {
				snprintf(why, len, "process %d thread %d stopped beating", p, t);
				return;
			}
		}
	if (sh->failed)
		snprintf(why, len, "%s", sh->why);
}

struct checker {
	pid_t a, b;
};

static void *checker_thread(void *arg)
{
	struct checker *c = arg;
	char line[64], why[300], out[320];

	for (;;) {
		int fd = open(ask_path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, line, sizeof(line)) < 0) {
			fail("root: ask FIFO: %m");
			return NULL;
		}
		close(fd);
		tree_check(c->a, c->b, why, sizeof(why));
		snprintf(out, sizeof(out), *why ? "FAIL: %s\n" : "ok\n", why);
		fd = open(answer_path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, out, strlen(out)) < 0)
			fail("root: answer FIFO: %m");
		close(fd);
	}
}

int main(int argc, char **argv)
{
	static struct checker c;
	pthread_t th;
	char why[300];
	int p[2], sa, sb;

	wl_init(argc, argv);
	if (argc != 3 && argc != 4)
		return wl_fail("usage: killsafe_tree ASK ANSWER [MIB]");
	if (argc == 4 && (atoi(argv[3]) < 2 || atoi(argv[3]) > 1024 || atoi(argv[3]) % 2))
		return wl_fail("MIB: an even number from 2 to 1024");
	if (argc == 4)
		fixed_words = (size_t)atoi(argv[3]) / 2 * SLICE_WORDS;
	ask_path = argv[1];
	answer_path = argv[2];
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || pipe(p) < 0)
		return wl_fail("setup: %m");
	c.a = spawn(A, p[1], true, p[0]);
	c.b = spawn(B, p[0], false, p[1]);
	if (c.a < 0 || c.b < 0)
		return wl_fail("fork: %m");
	close(p[0]);
	close(p[1]);
	process_setup();
	if (pthread_create(&th, NULL, checker_thread, &c))
		return wl_fail("pthread_create");
	/* ready once every thread beat */
	tree_check(c.a, c.b, why, sizeof(why));
	if (*why)
		return wl_fail("at start: %s", why);

	wl_ready();
	wl_wait_restored();

	tree_check(c.a, c.b, why, sizeof(why));
	sh->stop = 1;
	if (waitpid(c.a, &sa, 0) != c.a || waitpid(c.b, &sb, 0) != c.b)
		return wl_fail("waitpid: %m");
	if (*why)
		return wl_fail("%s", why);
	if (!WIFEXITED(sa) || WEXITSTATUS(sa) || !WIFEXITED(sb) || WEXITSTATUS(sb))
		return wl_fail("children exit statuses 0x%x 0x%x", sa, sb);
	return wl_pass();
}
