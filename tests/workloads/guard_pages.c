/*
 * guard_pages - guard regions installed with MADV_GUARD_INSTALL inside an
 * ordinary mapping survive: after restore the guard page still faults
 * (a forked child touching it dies with SIGSEGV), pagemap still reports it
 * (bit 58), and the pages around it keep their data.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#define PG 4096UL

static int is_guard(const char *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	if (fd < 0)
		return -1;
	if (pread(fd, &e, sizeof(e), (uintptr_t)p / PG * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return !!(e & (1ULL << 58));
}

/* 1 when touching p kills a child with SIGSEGV. */
static int faults(volatile char *p)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		(void)p[0];
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

int main(int argc, char **argv)
{
	char *m;

	wl_init(argc, argv);
	m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return wl_fail("mmap: %m");
	memset(m, 0x5a, 3 * PG);
	if (madvise(m + PG, PG, MADV_GUARD_INSTALL))
		return wl_fail("MADV_GUARD_INSTALL: %m");
	if (is_guard(m + PG) != 1 || faults(m + PG) != 1)
		return wl_fail("guard page not effective before checkpoint");
	wl_ready();
	wl_wait_restored();
	if (is_guard(m + PG) != 1)
		return wl_fail("pagemap does not report the guard page after restore");
	if (faults(m + PG) != 1)
		return wl_fail("guard page does not fault after restore");
	if (m[0] != 0x5a || m[2 * PG] != 0x5a || is_guard(m) || is_guard(m + 2 * PG))
		return wl_fail("pages around the guard changed");
	return wl_pass();
}
