/*
 * mm_opts - settings of the address space a program opts into:
 * PR_SET_THP_DISABLE, and membarrier registrations (private expedited,
 * private expedited sync-core, global expedited). After restore
 * PR_GET_THP_DISABLE still says disabled, /proc/self/status says
 * THP_enabled: 0, MEMBARRIER_CMD_GET_REGISTRATIONS lists the same
 * registrations, and the registered commands work (an unregistered one
 * fails with EPERM).
 */
#include <linux/membarrier.h>
#include <stdio.h>
#include <sys/prctl.h>

#include "wl.h"
#include "wl_sys.h"

#define GET_REGISTRATIONS (1 << 9)
#define REGISTERED                                                                                 \
	(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED |                                               \
	 MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE |                                     \
	 MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED)

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

static int thp_enabled_line(void)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		sscanf(line, "THP_enabled: %d", &v);
	if (f)
		fclose(f);
	return v;
}

static const char *check(char *why, size_t len)
{
	long r = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);

	if (r != 1) {
		snprintf(why, len, "PR_GET_THP_DISABLE %ld, want 1", r);
		return why;
	}
	if (thp_enabled_line() != 0)
		return "/proc/self/status: THP_enabled is not 0";
	r = membarrier(GET_REGISTRATIONS);
	if (r != REGISTERED) {
		snprintf(why, len, "membarrier registrations %#lx, want %#x", r, REGISTERED);
		return why;
	}
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
	    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE) ||
	    membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED))
		return "a registered membarrier command fails";
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ) != -1 || errno != EPERM)
		return "the unregistered rseq membarrier does not fail with EPERM";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *err;
	char why[128];

	wl_init(argc, argv);
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		return wl_fail("PR_SET_THP_DISABLE: %m");
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) ||
	    membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED))
		return wl_fail("membarrier register: %m");
	err = check(why, sizeof(why));
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = check(why, sizeof(why));
	return err ? wl_fail("after restore: %s", err) : wl_pass();
}
