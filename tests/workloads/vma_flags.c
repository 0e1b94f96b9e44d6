/*
 * vma_flags - every madvise and mlock state that /proc/PID/smaps shows in
 * VmFlags comes back: MADV_HUGEPAGE (hg), MADV_NOHUGEPAGE (nh),
 * MADV_MERGEABLE (mg, where the kernel has KSM), MADV_DONTDUMP (dd),
 * MADV_DONTFORK (dc), MADV_WIPEONFORK (wf), MADV_SEQUENTIAL (sr),
 * MADV_RANDOM (rr), MAP_NORESERVE (nr), mlock (lo), mlock2 MLOCK_ONFAULT
 * (lo lf) and mseal (sl, where the kernel has it). Each region's VmFlags
 * after restore must equal those before, its data too, VmLck in
 * /proc/self/status as well, and the flags must still act: a forked child
 * loses a DONTFORK region and sees zeros in a WIPEONFORK one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define PG   4096UL
#define NPG  16 /* pages per region */
#define FLEN 256

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif

enum {
	R_HUGE,
	R_NOHUGE,
	R_MERGE,
	R_DONTDUMP,
	R_DONTFORK,
	R_WIPE,
	R_SEQ,
	R_RAND,
	R_NORESERVE,
	R_LOCK,
	R_ONFAULT,
	R_SEAL,
	R_N
};

static const char *const names[R_N] = {
	"hugepage",   "nohugepage", "mergeable", "dontdump", "dontfork",      "wipeonfork",
	"sequential", "random",	    "noreserve", "mlock",    "mlock-onfault", "mseal",
};

struct region {
	char *p;
	bool on; /* the kernel supports it */
	char flags[FLEN];
};

static struct region r[R_N];

/* The VmFlags line of the VMA at addr, without the "VmFlags:" prefix. */
static int vmflags(const void *addr, char *out)
{
	char line[FLEN], want[32];
	FILE *f = fopen("/proc/self/smaps", "re");
	bool in = false;

	if (!f)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, FLEN, "%s", line + 9);
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
	return out[0] ? 0 : -1;
}

static long status_kb(const char *key)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static void fill(char *p, uint64_t seed)
{
	for (size_t i = 0; i < NPG * PG / 8; i++)
		((uint64_t *)p)[i] = wl_pattern(seed, i);
}

static bool same(const char *p, uint64_t seed)
{
	for (size_t i = 0; i < NPG * PG / 8; i++)
		if (((const uint64_t *)p)[i] != wl_pattern(seed, i))
			return false;
	return true;
}

/* What a forked child sees at p: 0 data, 1 zeros, 2 fault. */
static int child_sees(const char *p, uint64_t seed)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(same(p, seed) ? 0 : ((const uint64_t *)p)[0] == 0 ? 1 : 3);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		return 2;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(int i)
{
	static const int advice[R_N] = {
		[R_HUGE] = MADV_HUGEPAGE,     [R_NOHUGE] = MADV_NOHUGEPAGE,
		[R_MERGE] = MADV_MERGEABLE,   [R_DONTDUMP] = MADV_DONTDUMP,
		[R_DONTFORK] = MADV_DONTFORK, [R_WIPE] = MADV_WIPEONFORK,
		[R_SEQ] = MADV_SEQUENTIAL,    [R_RAND] = MADV_RANDOM,
	};
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (i == R_NORESERVE ? MAP_NORESERVE : 0);
	char *p = mmap(NULL, NPG * PG, PROT_READ | PROT_WRITE, flags, -1, 0);

	if (p == MAP_FAILED)
		return wl_fail("mmap %s: %m", names[i]);
	r[i].p = p;
	r[i].on = true;
	fill(p, i + 1);
	if (advice[i] && madvise(p, NPG * PG, advice[i]) < 0) {
		if (i != R_MERGE || errno != EINVAL)
			return wl_fail("madvise %s: %m", names[i]);
		r[i].on = false; /* no KSM in this kernel */
	}
	if (i == R_LOCK && mlock(p, NPG * PG) < 0)
		return wl_fail("mlock: %m");
	if (i == R_ONFAULT && syscall(SYS_mlock2, p, NPG * PG, MLOCK_ONFAULT) < 0)
		return wl_fail("mlock2: %m");
	if (i == R_SEAL && syscall(__NR_mseal, p, NPG * PG, 0) < 0) {
		if (errno != ENOSYS && errno != EPERM && errno != EINVAL)
			return wl_fail("mseal: %m");
		r[i].on = false;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long locked;

	wl_init(argc, argv);
	/* a hole after each region: neighbours never merge into one VMA */
	for (int i = 0; i < R_N; i++) {
		/* setup says why it failed; a mapping there already keeps them apart too */
		if (setup(i))
			return 1;
		if (mmap(r[i].p + NPG * PG, PG, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED &&
		    errno != EEXIST)
			return wl_fail("hole: %m");
	}
	for (int i = 0; i < R_N; i++)
		if (vmflags(r[i].p, r[i].flags) < 0)
			return wl_fail("%s: no VmFlags", names[i]);
	locked = status_kb("VmLck:");
	wl_log("VmLck %ld kB", locked);

	wl_ready();
	wl_wait_restored();

	for (int i = 0; i < R_N; i++) {
		char now[FLEN];

		if (vmflags(r[i].p, now) < 0)
			return wl_fail("%s: VMA gone", names[i]);
		if (strcmp(now, r[i].flags))
			return wl_fail("%s: VmFlags `%s`, were `%s`", names[i], now, r[i].flags);
		if (!same(r[i].p, i + 1))
			return wl_fail("%s: data differs", names[i]);
	}
	if (status_kb("VmLck:") != locked)
		return wl_fail("VmLck %ld kB, was %ld kB", status_kb("VmLck:"), locked);
	if (child_sees(r[R_DONTFORK].p, R_DONTFORK + 1) != 2)
		return wl_fail("a forked child still sees the DONTFORK region");
	if (child_sees(r[R_WIPE].p, R_WIPE + 1) != 1)
		return wl_fail("a forked child does not see zeros in the WIPEONFORK region");
	if (child_sees(r[R_LOCK].p, R_LOCK + 1) != 0)
		return wl_fail("a forked child lost the locked region's data");
	if (r[R_SEAL].on && munmap(r[R_SEAL].p, PG) == 0)
		return wl_fail("the sealed region could be unmapped");
	return wl_pass();
}
