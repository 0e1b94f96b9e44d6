/*
 * mlock_future - mlockall(MCL_CURRENT | MCL_FUTURE), and a child with
 * mlockall(MCL_FUTURE | MCL_ONFAULT): after restore a new mapping of the
 * process is locked and present at once (VmLck grows by its size, VmFlags
 * "lo" without "lf", every page resident); one of the child is locked on
 * fault ("lo lf", nothing resident until touched).
 */
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define LEN (256 * 1024UL)

static long vmlck_kb(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	long v = -1;

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmLck:", 6))
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

/* Whether the VMA at p has flag fl in its smaps VmFlags. */
static bool has_vmflag(const void *p, const char *fl)
{
	char line[256], want[32];
	FILE *f = fopen("/proc/self/smaps", "re");
	bool in = false, found = false;

	snprintf(want, sizeof(want), "%lx-", (unsigned long)p);
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, want, strlen(want)))
			in = true;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			char pat[8];

			snprintf(pat, sizeof(pat), " %s ", fl);
			found = strstr(line + 7, pat) != NULL;
			break;
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* Pages of [p, p + LEN) resident now. */
static size_t resident(void *p)
{
	unsigned char vec[LEN / 4096];
	size_t n = 0;

	if (mincore(p, LEN, vec))
		return (size_t)-1;
	for (size_t i = 0; i < LEN / 4096; i++)
		n += vec[i] & 1;
	return n;
}

/* A new mapping: locked, and present at once unless onfault. */
static const char *check_new(bool onfault)
{
	long before = vmlck_kb(), after;
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return "mmap failed";
	after = vmlck_kb();
	if (after - before != (long)(LEN / 1024))
		return "VmLck did not grow by the new mapping";
	if (!has_vmflag(p, "lo"))
		return "the new mapping is not locked";
	if (has_vmflag(p, "lf") != onfault)
		return onfault ? "the new mapping is not locked on fault"
			       : "the new mapping is locked on fault only";
	if (resident(p) != (onfault ? 0 : LEN / 4096))
		return onfault ? "the new mapping is resident before it is touched"
			       : "the new mapping is not resident";
	if (onfault) {
		p[0] = 1;
		if (resident(p) != 1)
			return "a touched page is not resident";
	}
	munmap(p, LEN);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *why;
	int go[2], status;
	pid_t child;
	char c;

	wl_init(argc, argv);
	if (pipe(go))
		return wl_fail("pipe: %m");
	child = fork();
	if (child < 0)
		return wl_fail("fork: %m");
	if (child == 0) {
		close(go[1]);
		if (mlockall(MCL_FUTURE | MCL_ONFAULT) || check_new(true))
			_exit(2);
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		why = check_new(true);
		if (why)
			fprintf(stderr, "child: %s\n", why);
		_exit(why ? 1 : 0);
	}
	close(go[0]);
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		return wl_fail("mlockall: %m");
	why = check_new(false);
	if (why)
		return wl_fail("before the checkpoint: %s", why);

	wl_ready();
	wl_wait_restored();

	why = check_new(false);
	if (why)
		return wl_fail("after restore: %s", why);
	if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) != child)
		return wl_fail("child: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("child (MCL_FUTURE | MCL_ONFAULT) failed: status %#x", status);
	return wl_pass();
}
