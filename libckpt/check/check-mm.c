/*
 * libckpt/check/check-mm.c - probes for the memory side: PR_SET_MM_MAP,
 * ARCH_MAP_VDSO_64, userfaultfd write-protect, PAGEMAP_SCAN, soft-dirty,
 * guard regions, and POSIX timer id restore. Each runs on the probe
 * child's own address space, which check.c throws away afterwards.
 */
#define LOG_PREFIX "check: "
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>

#include "check/check.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define NPAGES	   16
#define MAPS_MAX   (256 << 10)
#define VDSO_PARTS 3

void probe_pr_set_mm_map(struct probe_out *o)
{
	cleanup_free char *auxv = NULL;
	struct prctl_mm_map map = {0};
	unsigned int size = 0;
	struct proc_stat st;
	cleanup_close int self = -1;
	size_t auxv_len = 0;
	ckpt_err_t err;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) < 0)
		return (void)probe_errno(o, "PR_SET_MM_MAP_SIZE");
	if (size != sizeof(map))
		return (void)probe_fail(o, "kernel wants %u bytes, we have %zu", size, sizeof(map));
	self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (self < 0)
		return (void)probe_errno(o, "open /proc/self");
	if (proc_read_stat(self, &st, &err) < 0)
		return (void)probe_fail(o, "/proc/self/stat: %s", err.msg);
	if (read_file_at(AT_FDCWD, "/proc/self/auxv", 4096, &auxv, &auxv_len, &err) < 0)
		return (void)probe_fail(o, "%s", err.msg);
	map = (struct prctl_mm_map){
		.start_code = st.start_code,
		.end_code = st.end_code,
		.start_data = st.start_data,
		.end_data = st.end_data,
		.start_brk = st.start_brk,
		.brk = syscall(SYS_brk, 0),
		.start_stack = st.start_stack,
		.arg_start = st.arg_start,
		.arg_end = st.arg_end,
		.env_start = st.env_start,
		.env_end = st.env_end,
		.auxv = (__u64 *)auxv,
		.auxv_size = auxv_len,
		.exe_fd = (__u32)-1, /* keep the exe link */
	};
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof(map), 0) < 0)
		return (void)probe_errno(o, "PR_SET_MM_MAP with the current values");
	probe_detail(o, "map size %u, current values accepted", size);
}

struct vdso_parts {
	uint64_t start[VDSO_PARTS], end[VDSO_PARTS]; /* [vvar], [vvar_vclock], [vdso] */
	int n;
};

static int vdso_part(const struct proc_vma *vma, void *arg, ckpt_err_t *err)
{
	static const char *const names[VDSO_PARTS] = {"[vvar]", "[vvar_vclock]", "[vdso]"};
	struct vdso_parts *v = arg;

	for (int i = 0; i < VDSO_PARTS; i++) {
		if (strcmp(vma->path, names[i]))
			continue;
		v->start[i] = vma->start;
		v->end[i] = vma->end;
		v->n++;
		break;
	}
	return 0;
}

/*
 * Find the vdso mappings with nothing but open/read and the buffer parser:
 * once the vdso is unmapped, nothing that goes through it (time functions)
 * may run.
 */
static int vdso_find(char *buf, struct vdso_parts *v)
{
	ckpt_err_t err;
	ssize_t n;
	int fd;

	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read_all(fd, buf, MAPS_MAX - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	memset(v, 0, sizeof(*v));
	return proc_parse_maps(buf, false, vdso_part, v, &err) < 0 ? -1 : 0;
}

void probe_arch_map_vdso(struct probe_out *o)
{
	static char buf[MAPS_MAX];
	struct vdso_parts before, after;
	uint64_t base = UINT64_MAX;
	long ret;

	if (vdso_find(buf, &before) < 0)
		return (void)probe_errno(o, "read /proc/self/maps");
	if (!before.start[2])
		return (void)probe_fail(o, "no [vdso] in /proc/self/maps");
	for (int i = 0; i < VDSO_PARTS; i++)
		if (before.start[i])
			base = MIN(base, before.start[i]);
	/* raw syscalls only from here until the vdso is back */
	for (int i = 0; i < VDSO_PARTS; i++)
		if (before.start[i] &&
		    syscall(SYS_munmap, before.start[i], before.end[i] - before.start[i]) < 0)
			return (void)probe_errno(o, "munmap vdso part %d", i);
	ret = syscall(SYS_arch_prctl, ARCH_MAP_VDSO_64, base);
	if (ret < 0)
		return (void)probe_errno(o, "arch_prctl(ARCH_MAP_VDSO_64, 0x%llx)",
					 (unsigned long long)base);
	if (vdso_find(buf, &after) < 0)
		return (void)probe_errno(o, "read /proc/self/maps");
	if (after.start[2] != before.start[2] || after.n != before.n)
		return (void)probe_fail(o, "vdso landed at 0x%llx (%d mappings), was 0x%llx (%d)",
					(unsigned long long)after.start[2], after.n,
					(unsigned long long)before.start[2], before.n);
	probe_detail(o, "%d mappings moved, returned %ld, vdso back at 0x%llx", after.n, ret,
		     (unsigned long long)after.start[2]);
}

static int uffd_open(void)
{
	int fd, dev;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || errno != EPERM)
		return fd;
	/* the syscall may be restricted by vm.unprivileged_userfaultfd; the device is not */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd;
}

/* Pages of [p, p + NPAGES) the scan puts in the categories asked for. */
static long pagemap_count(char *p, uint64_t categories, uint64_t flags, struct probe_out *o)
{
	struct page_region vec[NPAGES];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = flags,
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + NPAGES * PAGE_SIZE,
		.vec = (uintptr_t)vec,
		.vec_len = NPAGES,
		.category_mask = categories,
		.return_mask = categories,
	};
	cleanup_close int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long n, pages = 0;

	if (fd < 0)
		return probe_errno(o, "open /proc/self/pagemap"), -1;
	n = ioctl(fd, PAGEMAP_SCAN, &arg);
	if (n < 0)
		return probe_errno(o, "ioctl(PAGEMAP_SCAN)"), -1;
	for (long i = 0; i < n; i++)
		pages += (vec[i].end - vec[i].start) / PAGE_SIZE;
	return pages;
}

static char *map_pages(struct probe_out *o)
{
	char *p = mmap(NULL, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return probe_errno(o, "mmap"), NULL;
	/* large folios would make one touch populate several pages */
	(void)madvise(p, NPAGES * PAGE_SIZE, MADV_NOHUGEPAGE);
	return p;
}

void probe_uffd_wp_async(struct probe_out *o)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct uffdio_register reg = {.mode = UFFDIO_REGISTER_MODE_WP};
	struct uffdio_writeprotect wp = {.mode = UFFDIO_WRITEPROTECT_MODE_WP};
	cleanup_close int fd = -1;
	long written;
	char *p;

	fd = uffd_open();
	if (fd < 0)
		return (void)probe_errno(o, "userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return (void)probe_errno(o, "UFFDIO_API with WP_ASYNC|WP_UNPOPULATED");
	p = map_pages(o);
	if (!p)
		return;
	reg.range = (struct uffdio_range){.start = (uintptr_t)p, .len = NPAGES * PAGE_SIZE};
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		return (void)probe_errno(o, "UFFDIO_REGISTER_MODE_WP");
	wp.range = reg.range;
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) < 0)
		return (void)probe_errno(o, "UFFDIO_WRITEPROTECT");
	/* async mode: the write resolves in the kernel and marks the page written */
	p[3 * PAGE_SIZE] = 1;
	written = pagemap_count(p, PAGE_IS_WRITTEN, PM_SCAN_CHECK_WPASYNC, o);
	if (written < 0)
		return;
	if (written != 1)
		return (void)probe_fail(o, "PAGEMAP_SCAN sees %ld written pages, 1 was written",
					written);
	probe_detail(o, "write tracking works with PAGEMAP_SCAN (1 of %d pages written)", NPAGES);
}

void probe_pagemap_scan(struct probe_out *o)
{
	static const int touch[] = {0, 2, 3, 7, 15};
	long present;
	char *p;

	p = map_pages(o);
	if (!p)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(touch); i++)
		p[touch[i] * PAGE_SIZE] = 1;
	present = pagemap_count(p, PAGE_IS_PRESENT, 0, o);
	if (present < 0)
		return;
	if (present != (long)ARRAY_SIZE(touch))
		return (void)probe_fail(o, "%ld pages present, %zu touched", present,
					ARRAY_SIZE(touch));
	probe_detail(o, "%ld of %d pages present, as touched", present, NPAGES);
}

static int pagemap_entry(void *addr, uint64_t *ent, struct probe_out *o)
{
	cleanup_close int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (uintptr_t)addr / PAGE_SIZE * sizeof(*ent);

	if (fd < 0)
		return probe_errno(o, "open /proc/self/pagemap"), -1;
	if (pread(fd, ent, sizeof(*ent), off) != sizeof(*ent))
		return probe_errno(o, "read /proc/self/pagemap"), -1;
	return 0;
}

void probe_soft_dirty(struct probe_out *o)
{
	uint64_t ent;
	char *p;
	int fd;

	p = map_pages(o);
	if (!p)
		return;
	p[0] = 1;
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return (void)probe_errno(o, "open /proc/self/clear_refs");
	if (write(fd, "4", 1) != 1) {
		probe_errno(o, "write 4 to /proc/self/clear_refs");
		close(fd);
		return;
	}
	close(fd);
	p[0] = 2;
	if (pagemap_entry(p, &ent, o) < 0)
		return;
	if (!(ent & PM_PRESENT))
		return (void)probe_fail(o, "written page not present in pagemap");
	if (!(ent & PM_SOFT_DIRTY))
		return (void)probe_fail(o, "CONFIG_MEM_SOFT_DIRTY off (bit 55 never set)");
	probe_detail(o, "bit 55 set after clear_refs and a write");
}

void probe_madv_guard(struct probe_out *o)
{
	uint64_t ent;
	char *p;

	p = map_pages(o);
	if (!p)
		return;
	if (madvise(p + PAGE_SIZE, PAGE_SIZE, MADV_GUARD_INSTALL) < 0)
		return (void)probe_errno(o, "madvise(MADV_GUARD_INSTALL)");
	if (pagemap_entry(p + PAGE_SIZE, &ent, o) < 0)
		return;
	if (!(ent & PM_GUARD_REGION))
		return (void)probe_fail(o, "installed, but pagemap does not show the guard page");
	probe_detail(o, "installed, pagemap shows it (bit 58)");
}

void probe_timer_restore_ids(struct probe_out *o)
{
	struct sigevent sev = {.sigev_notify = SIGEV_NONE};
	int id = 42;

	if (prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON, 0, 0, 0) < 0)
		return (void)probe_errno(o, "prctl(PR_TIMER_CREATE_RESTORE_IDS) (kernel 6.17+)");
	/* raw syscall: glibc does not pass a preset id through */
	if (syscall(SYS_timer_create, CLOCK_MONOTONIC, &sev, &id) < 0)
		return (void)probe_errno(o, "timer_create with id 42");
	if (id != 42)
		return (void)probe_fail(o, "asked for timer id 42, got %d", id);
	(void)syscall(SYS_timer_delete, id);
	probe_detail(o, "timer_create gave the requested id 42");
}
