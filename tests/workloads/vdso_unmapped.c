/*
 * vdso_unmapped - a program that unmapped its vdso ([vdso] and the vvar
 * pages beside it), as some sandboxes and language runtimes do. ckpt-oci
 * runs its remote syscalls from the vdso when there is one: it must find a
 * `syscall` instruction elsewhere. After restore there is still no vdso,
 * and system calls work (time through the syscall, not the vdso).
 */
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>

#include "wl.h"
#include "wl_sys.h"

/* Unmap every VMA whose name starts with one of [vdso] [vvar]. */
static int unmap_vdso(void)
{
	unsigned long s[8], e[8];
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && n < 8 && fgets(line, sizeof(line), f))
		if ((strstr(line, "[vdso]") || strstr(line, "[vvar")) &&
		    sscanf(line, "%lx-%lx", &s[n], &e[n]) == 2)
			n++;
	if (f)
		fclose(f);
	for (int i = 0; i < n; i++)
		if (syscall(SYS_munmap, s[i], e[i] - s[i]))
			return -1;
	return n ? 0 : -1;
}

static int has_vdso(void)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, "[vdso]") != NULL;
	if (f)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	struct timespec ts;

	wl_init(argc, argv);
	if (unmap_vdso())
		return wl_fail("unmap the vdso: %m");
	if (has_vdso())
		return wl_fail("the vdso is still mapped");

	wl_ready();
	wl_wait_restored();

	if (has_vdso())
		return wl_fail("a vdso came back");
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) || syscall(SYS_getpid) <= 0)
		return wl_fail("syscalls fail: %m");
	return wl_pass();
}
