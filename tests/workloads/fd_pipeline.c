/*
 * fd_pipeline - a shell-like pipeline `producer | filter | consumer`: the
 * root forks three children joined by pipes. The producer writes numbered
 * lines, the filter upper-cases them, the consumer checks that every line
 * arrives once and in order. The checkpoint is taken mid-flight (bytes in
 * both pipes); after restore the stream continues without loss or
 * duplication and the consumer reports through its exit status.
 */
#include <ctype.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define LINES 20000
#define LINE  "line %06d of the stream\n"

/* go: set after restore; parked: the consumer stopped part way */
static volatile int *go, *parked;

static void producer(int out)
{
	char buf[64];

	for (int i = 0; i < LINES; i++) {
		int n = snprintf(buf, sizeof(buf), LINE, i);

		if (write(out, buf, n) != n)
			_exit(1);
	}
	_exit(0);
}

static void filter(int in, int out)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			buf[i] = toupper((unsigned char)buf[i]);
		if (write(out, buf, n) != n)
			_exit(1);
	}
	_exit(n < 0);
}

static void consumer(int in)
{
	char want[64], line[64];
	FILE *f = fdopen(in, "r");
	int i = 0;

	while (f && fgets(line, sizeof(line), f)) {
		snprintf(want, sizeof(want), LINE, i);
		for (char *p = want; *p; p++)
			*p = toupper((unsigned char)*p);
		if (strcmp(line, want))
			_exit(2);
		if (++i == LINES / 10) { /* stop reading: the pipes fill up behind */
			__atomic_store_n(parked, 1, __ATOMIC_SEQ_CST);
			wl_futex_wake(parked);
			wl_futex_wait_change(go, 0, 3600);
		}
	}
	_exit(i == LINES ? 0 : 3);
}

int main(int argc, char **argv)
{
	int a[2], b[2], st, bad = 0;
	pid_t kids[3];

	wl_init(argc, argv);
	go = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	parked = go + 1;
	if (go == MAP_FAILED || pipe(a) < 0 || pipe(b) < 0)
		return wl_fail("setup: %m");
	if (!(kids[0] = fork())) {
		close(a[0]), close(b[0]), close(b[1]);
		producer(a[1]);
	}
	if (!(kids[1] = fork())) {
		close(a[1]), close(b[0]);
		filter(a[0], b[1]);
	}
	if (!(kids[2] = fork())) {
		close(a[0]), close(a[1]), close(b[1]);
		consumer(b[0]);
	}
	close(a[0]), close(a[1]), close(b[0]), close(b[1]);
	/* mid-flight: the consumer has read a tenth, the rest is in the pipes or to come */
	if (wl_wait_atleast(parked, 1, WL_TIMEOUT_SEC))
		return wl_fail("consumer never got going");
	wl_ready();
	wl_wait_restored();
	*go = 1;
	wl_futex_wake(go);
	for (int i = 0; i < 3; i++)
		if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			bad |= 1 << i;
	if (bad)
		return wl_fail("pipeline stages failed: %#x", bad);
	return wl_pass();
}
