/*
 * mlock_uid (root) - memory locked by root stays locked after the task gave
 * up root: 64 KiB mlock'd, then RLIMIT_MEMLOCK set to 0 and the uid changed
 * to 1001 (keeping only CAP_DAC_OVERRIDE, for the harness FIFOs). The task
 * itself could not lock a byte now; after restore VmLck, the "lo" flag and
 * the data must be as before.
 */
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "wl.h"
#include "wl_sys.h"

#define LEN (64 * 1024UL)

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

static int drop_root(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};
	struct rlimit rl = {0, 0};

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) ||
	    setresgid(1001, 1001, 1001) || setresuid(1001, 1001, 1001))
		return -1;
	d[0].effective = d[0].permitted = 1U << CAP_DAC_OVERRIDE;
	return syscall(SYS_capset, &h, d);
}

int main(int argc, char **argv)
{
	uint64_t *p;
	void *q;
	long locked;

	wl_init(argc, argv);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return wl_fail("mmap: %m");
	for (size_t i = 0; i < LEN / 8; i++)
		p[i] = wl_pattern(7, i);
	if (mlock(p, LEN))
		return wl_fail("mlock: %m");
	if (drop_root())
		return wl_fail("drop root: %m");
	/* the task alone could not take this lock again */
	q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED || mlock(q, 4096) == 0)
		return wl_fail("uid 1001 with RLIMIT_MEMLOCK 0 could lock memory");
	locked = vmlck_kb();
	if (locked < (long)(LEN / 1024) || !has_vmflag(p, "lo"))
		return wl_fail("not locked before the checkpoint: VmLck %ld kB", locked);

	wl_ready();
	wl_wait_restored();

	if (getuid() != 1001)
		return wl_fail("uid %d after restore", getuid());
	if (vmlck_kb() != locked)
		return wl_fail("VmLck %ld kB after restore, was %ld kB", vmlck_kb(), locked);
	if (!has_vmflag(p, "lo"))
		return wl_fail("the range lost its lock");
	for (size_t i = 0; i < LEN / 8; i++)
		if (p[i] != wl_pattern(7, i))
			return wl_fail("word %zu differs", i);
	return wl_pass();
}
