/*
 * rseq - glibc's rseq registration survives: the area at
 * thread pointer + __rseq_offset still gets cpu_id updates from the kernel
 * (checked by pinning to each allowed CPU in turn), and registering it
 * again with the same arguments fails with EBUSY, i.e. it is registered.
 */
#include <linux/rseq.h>
#include <sched.h>
#include <sys/rseq.h>

#include "wl.h"
#include "wl_sys.h"

#define SIG 0x53053053 /* glibc's RSEQ_SIG on x86 */

static volatile struct rseq *area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

/* Pin to each allowed CPU: the kernel must write that cpu into the area. */
static const char *check_cpu_ids(void)
{
	cpu_set_t orig, one;
	const char *err = NULL;
	int tried = 0;

	if (sched_getaffinity(0, sizeof(orig), &orig))
		return "sched_getaffinity";
	for (int c = 0; c < CPU_SETSIZE && tried < 4 && !err; c++) {
		if (!CPU_ISSET(c, &orig))
			continue;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			return "sched_setaffinity";
		tried++;
		if (sched_getcpu() != c)
			err = "sched_getcpu disagrees with the affinity";
		else if ((int)area()->cpu_id != c || (int)area()->cpu_id_start != c)
			err = "rseq area cpu_id not updated by the kernel";
	}
	if (sched_setaffinity(0, sizeof(orig), &orig))
		return "sched_setaffinity restore";
	return err;
}

static const char *verify(void)
{
	const char *err;

	if (area()->cpu_id == (uint32_t)RSEQ_CPU_ID_UNINITIALIZED)
		return "rseq area says unregistered";
	err = check_cpu_ids();
	if (err)
		return err;
	/* glibc 2.35/2.36 export __rseq_size 20 but register 32 bytes, the
	 * minimum the kernel takes */
	if (syscall(SYS_rseq, area(), __rseq_size < 32 ? 32 : __rseq_size, 0, SIG) != -1 ||
	    errno != EBUSY)
		return "registering again did not fail with EBUSY";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *err;

	wl_init(argc, argv);
	if (__rseq_size == 0)
		return wl_fail("glibc did not register rseq (glibc.pthread.rseq=0?)");
	err = verify();
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = verify();
	return err ? wl_fail("after restore: %s", err) : wl_pass();
}
