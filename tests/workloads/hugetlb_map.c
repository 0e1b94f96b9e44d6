/*
 * hugetlb_map - an anonymous hugetlb mapping (MAP_HUGETLB) and a hugetlbfs
 * memfd (MFD_HUGETLB) mapped shared, both written: the checkpoint is
 * refused with one line naming the hugetlb mapping, and the program goes
 * on untouched with its data. Needs two huge pages reserved
 * (vm.nr_hugepages); the test reserves them.
 */
#include <stdbool.h>
#include <sys/mman.h>

#include "wl.h"
#include "wl_sys.h"

#define HUGE (2UL << 20)

int main(int argc, char **argv)
{
	char *anon, *shared;
	int fd;

	wl_init(argc, argv);
	anon = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB,
		    -1, 0);
	fd = memfd_create("huge", MFD_CLOEXEC | MFD_HUGETLB);
	if (anon == MAP_FAILED || fd < 0 || ftruncate(fd, HUGE))
		return wl_fail("hugetlb mapping or memfd (are huge pages reserved?): %m");
	shared = mmap(NULL, HUGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (shared == MAP_FAILED)
		return wl_fail("mmap hugetlb memfd: %m");
	memset(anon, 0x11, HUGE);
	memset(shared, 0x22, HUGE);

	wl_ready();
	wl_wait_restored();

	if (anon[0] != 0x11 || anon[HUGE - 1] != 0x11 || shared[0] != 0x22 ||
	    shared[HUGE - 1] != 0x22)
		return wl_fail("hugetlb data differs");
	return wl_pass();
}
