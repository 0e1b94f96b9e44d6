/*
 * libckpt/mem/mem-restore.c - the puppeteer's memory phase: the restored task
 * (still a fork of ckpt-oci) loses its whole address space but the scratch
 * area and the VMAs made before its children forked (mem-cow.c), gets the
 * vdso back at its old place, then every saved VMA mapped at its address,
 * its private pages read by the task itself with preadv() from its page
 * image (no copy through ckpt-oci), the pages shared with its parent
 * inherited by fork or copied, protections, madvise and mlock state
 * applied, and the mm fields set (PR_SET_MM_MAP) so that cmdline, environ,
 * exe, [heap] and [stack] read as before; sealed VMAs are sealed last.
 *
 * Order matters: rseq must be unregistered before its memory goes (the
 * kernel writes it on every return to user space); ARCH_MAP_VDSO_64 fails
 * while any vdso is mapped; PR_SET_MM_MAP refuses a new exe_fd while the
 * old executable is still mapped. The task runs no user code throughout.
 */
#define LOG_PREFIX "rmem: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/prctl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "mem/mem.h"
#include "mem/mem-restore.h"
#include "mem/mem-incr.h"
#include "restore/restore.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"
#include "mem/mem-cow.h"
#include "mem/vdso.h"
#include "lazy/lazy-restore.h"

#define TASK_SIZE MEM_TASK_SIZE

/*
 * The memory phase queues its mmap, madvise, preadv, mprotect and mlock
 * calls in a batch (rsys.h) run by the task in one stop: a VMA cost two
 * ptrace stop pairs or more, now a batch of 256 calls costs one. The
 * table lies in scratch above what synchronous calls use meanwhile (a
 * path at the start of the data area, rmem_open), its data after it.
 */
#define BATCH_TABLE (2 * PAGE_SIZE)
#define BATCH_DATA  (SCRATCH_SIZE - SCRATCH_DATA - BATCH_TABLE - RSYS_BATCH_MAX * 64)

static struct rsys_batch *batch_new(struct rctx *rc, struct rtask *t)
{
	return rsys_batch_new(&t->rs, rc->scratch + SCRATCH_BATCH, BATCH_TABLE, BATCH_DATA);
}

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef __NR_mseal
#define __NR_mseal 462
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA	     0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

static void vma_init(const struct mem_vma *m, struct rvma *v)
{
	*v = (struct rvma){
		.m = m,
		.start = m->start,
		.end = m->end,
		.pgoff = m->pgoff,
		.prot = m->prot,
		.shared = m->shared,
		.kind = m->kind,
		.path = m->path,
		.vmflags = m->vmflags,
	};
	v->tmp_prot = v->shared ? v->prot : v->prot | PROT_READ | PROT_WRITE;
}

static bool has_flag(const char *vmflags, const char *fl)
{
	return vmflags_has(vmflags, fl);
}

/* Open a file inside the task; returns the task's fd number. */
int rmem_open(struct rtask *t, uint64_t data, const char *path, int flags, long *fd,
	      ckpt_err_t *err)
{
	int ret = rsys_poke(t->host_pid, data, path, strlen(path) + 1, err);

	if (ret == 0)
		ret = RSYS(&t->rs, fd, err, SYS_openat, AT_FDCWD, data, flags | O_CLOEXEC, 0, 0, 0);
	if (ret == 0 && *fd < 0)
		ret = ckpt_error(err, -*fd, "open `%s` in the task", path);
	return ret;
}

/*
 * The files of the file mappings, opened in the task a group at a time:
 * the next FCACHE_MAX distinct files from the VMA about to be mapped on,
 * in one batch (their fd numbers are needed before their mmaps can be
 * queued), kept open while their VMAs are mapped (a library is five
 * mappings of one file), closed in the batch with the next group's opens.
 */
#define FCACHE_MAX 16

struct fcache {
	const struct rvma *vmas; /* every VMA of the task, to look ahead in */
	int nvmas;
	int n;
	struct {
		const char *path;
		int flags;
		long fd;
	} f[FCACHE_MAX];
};

static int vma_open_flags(const struct rvma *v)
{
	/* open for writing when the mapping was made from a writable file */
	return vma_writes_file(v) ? O_RDWR : O_RDONLY;
}

static long fcache_find(const struct fcache *fc, const char *path, int flags)
{
	for (int i = 0; i < fc->n; i++)
		if (fc->f[i].flags == flags && !strcmp(fc->f[i].path, path))
			return fc->f[i].fd;
	return -1;
}

/* Closed after the mappings queued before (its result, as ever, not a failure). */
static int fcache_close(struct rsys_batch *b, struct fcache *fc, ckpt_err_t *err)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < fc->n; i++)
		if (fc->f[i].fd >= 0)
			ret = rsys_batch_add(b, RSYS_BATCH_SOFT, 0, SYS_close,
					     (uint64_t[6]){(uint64_t)fc->f[i].fd}, err, "close %ld",
					     fc->f[i].fd);
	fc->n = 0;
	return ret;
}

/* The group of files from VMA first on, opened in one stop. */
static int fcache_fill(struct rsys_batch *b, struct fcache *fc, int first, ckpt_err_t *err)
{
	size_t bytes = 0;
	int base, ret = rsys_batch_flush(b, err); /* the group's indices start at 0 */

	if (ret == 0)
		ret = fcache_close(b, fc, err);
	base = b->n;
	for (int i = first; ret == 0 && i < fc->nvmas && fc->n < FCACHE_MAX; i++) {
		const struct rvma *v = &fc->vmas[i];
		int flags = vma_open_flags(v);
		size_t len = strlen(v->path) + 1;
		uint64_t at;

		if (v->keep || v->kind != VMA_FILE || fcache_find(fc, v->path, flags) >= 0)
			continue;
		/* the first always fits (a path is under PATH_MAX); the rest while there is room */
		if (fc->n && bytes + len + 8 > BATCH_DATA)
			break;
		bytes += len + 8;
		ret = rsys_batch_data(b, v->path, len, &at, err);
		if (ret == 0)
			ret = rsys_batch_add(b, 0, 0, SYS_openat,
					     (uint64_t[6]){(uint64_t)AT_FDCWD, at,
							   (uint64_t)(flags | O_CLOEXEC)},
					     err, "open `%s` in the task", v->path);
		fc->f[fc->n].path = v->path;
		fc->f[fc->n].flags = flags;
		fc->f[fc->n].fd = -1;
		fc->n++;
	}
	if (ret == 0)
		ret = rsys_batch_flush(b, err);
	for (int i = 0; ret == 0 && i < fc->n; i++)
		fc->f[i].fd = b->ent[base + i].ret;
	if (ret < 0)
		fc->n = 0; /* those opened go with the task: a failure kills it */
	return ret;
}

static int fcache_open(struct rsys_batch *b, struct fcache *fc, const struct rvma *v, long *fd,
		       ckpt_err_t *err)
{
	int flags = vma_open_flags(v), ret;

	*fd = fcache_find(fc, v->path, flags);
	if (*fd >= 0)
		return 0;
	ret = fcache_fill(b, fc, (int)(v - fc->vmas), err);
	*fd = ret < 0 ? -1 : fcache_find(fc, v->path, flags);
	return ret;
}

/* Where the mapping comes from. *fd is to be closed unless it is fc's. */
static int vma_source(struct rctx *rc, struct rtask *t, const struct rvma *v, int *flags, long *fd,
		      struct fcache *fc, struct rsys_batch *b, ckpt_err_t *err)
{
	int ret;

	*fd = -1;
	switch (v->kind) {
	case VMA_ANON:
		*flags |= MAP_ANONYMOUS;
		return 0;
	case VMA_FILE:
		return fcache_open(b, fc, v, fd, err);
	case VMA_SHMEM:
	case VMA_MEMFD:
	case VMA_GHOST:
		/* its calls use the scratch area as they please: run what is queued first */
		ret = rsys_batch_flush(b, err);
		return ret < 0 ? ret : rmem_object_source(rc, t, v, flags, fd, err);
	default:
		return ckpt_error_msg(err, EPROTO, "VMA %#lx: cannot map", (unsigned long)v->start);
	}
}

/*
 * A SysV segment is attached again with shmat() (the IPC namespace restore
 * made it with its old id), not mapped: otherwise the task's mapping and
 * the segment other tasks or shmctl() see would be different objects.
 * SHM_REMAP works like MAP_FIXED; a tail the task had unmapped is trimmed.
 */
#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif
static int vma_map_sysv(struct rtask *t, const struct rvma *v, ckpt_err_t *err)
{
	int64_t id = v->m->shmid;
	uint64_t end = v->start + PAGE_ALIGN((uint64_t)v->m->shm_size);
	int flags = SHM_REMAP;
	long r;
	int ret;

	if (v->pgoff || end < v->end)
		return ckpt_error_msg(err, ENOTSUP, "SysV segment %lld mapped from offset %#lx",
				      (long long)id, (unsigned long)v->pgoff * PAGE_SIZE);
	/* attach with what the mapping may become; vma_finish sets prot */
	if (!has_flag(v->vmflags, "mw"))
		flags |= SHM_RDONLY;
	if (has_flag(v->vmflags, "me"))
		flags |= SHM_EXEC;
	ret = RSYS(&t->rs, &r, err, SYS_shmat, id, v->start, flags, 0, 0, 0);
	ret = rsys_check(ret, r, err, "shmat SysV segment at %#lx", (unsigned long)(v->start));
	if (ret == 0 && (uint64_t)r != v->start)
		ret = ckpt_error_msg(err, EFAULT, "shmat at %#lx landed at %#lx",
				     (unsigned long)v->start, (unsigned long)r);
	if (ret == 0 && end > v->end) {
		ret = RSYS(&t->rs, &r, err, SYS_munmap, v->end, end - v->end, 0, 0, 0, 0);
		ret = rsys_check(ret, r, err, "trim SysV segment at %#lx", (unsigned long)(v->end));
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "SysV segment %lld", (long long)id);
	return 0;
}

static int vma_map(struct rctx *rc, struct rtask *t, const struct rvma *v, struct fcache *fc,
		   struct rsys_batch *b, ckpt_err_t *err)
{
	int flags = MAP_FIXED | (v->shared ? MAP_SHARED : MAP_PRIVATE);
	long fd;
	int ret;

	if (v->keep)
		return 0; /* made before the fork, pages and all */
	if (v->kind == VMA_SYSV) {
		ret = rsys_batch_flush(b, err);
		return ret < 0 ? ret : vma_map_sysv(t, v, err);
	}
	if (has_flag(v->vmflags, "gd"))
		flags |= MAP_GROWSDOWN;
	if (has_flag(v->vmflags, "nr"))
		flags |= MAP_NORESERVE;
	if (v->populate)
		flags |= MAP_POPULATE;
	ret = vma_source(rc, t, v, &flags, &fd, fc, b, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "VMA %#lx-%#lx", (unsigned long)v->start,
				       (unsigned long)v->end);
	/* the label names the VMA: the batch reports its failure later */
	ret = rsys_batch_add(b, RSYS_BATCH_EXPECT, (int64_t)v->start, SYS_mmap,
			     (uint64_t[6]){v->start, v->end - v->start, (uint64_t)v->tmp_prot,
					   (uint64_t)flags, (uint64_t)fd,
					   (flags & MAP_ANONYMOUS) ? 0 : v->pgoff},
			     err, "VMA `%.40s`: mmap %#lx", v->path, (unsigned long)v->start);
	if (ret == 0 && fd >= 0 && v->kind != VMA_FILE)
		ret = rsys_batch_add(b, RSYS_BATCH_SOFT, 0, SYS_close, (uint64_t[6]){(uint64_t)fd},
				     err, "close %ld", fd);
	return ret;
}

/* The task reads its own pages: preadv with as many runs as fit in scratch. */
/*
 * A page fault on fresh memory is expensive (about 12 us in these VMs, four
 * times the copy): dense VMAs are mapped with MAP_POPULATE, and long runs
 * elsewhere are populated with MADV_POPULATE_WRITE before the task reads
 * its pages into them.
 */
#define POPULATE_MIN_PAGES 16
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* The pages of [addr, end) counted in the VMAs they fall in, from *v on. */
static void vmas_count_run(struct rvma *vmas, int n, int *v, uint64_t addr, uint64_t end)
{
	while (*v < n && vmas[*v].end <= addr)
		(*v)++;
	for (int k = *v; k < n && vmas[k].start < end; k++) {
		uint64_t s = MAX(addr, vmas[k].start), e = MIN(end, vmas[k].end);

		if (e > s)
			vmas[k].npages += (e - s) / PAGE_SIZE;
	}
}

static void vmas_count_pages(struct rvma *vmas, int n, const struct mem_task *m)
{
	int v = 0;

	/* a run may cross VMA boundaries (PAGEMAP_SCAN merges alike pages) */
	for (size_t i = 0; i < m->nruns && v < n; i++)
		vmas_count_run(vmas, n, &v, m->runs[i].addr,
			       m->runs[i].addr + m->runs[i].npages * PAGE_SIZE);
	/* and those of an incremental bundle's parents (mem-chain.c, sorted too) */
	v = 0;
	for (size_t i = 0; i < m->nxruns && v < n; i++)
		vmas_count_run(vmas, n, &v, m->xruns[i].addr,
			       m->xruns[i].addr + m->xruns[i].npages * PAGE_SIZE);
	for (int i = 0; i < n; i++) {
		uint64_t total = (vmas[i].end - vmas[i].start) / PAGE_SIZE;

		vmas[i].populate = vmas[i].kind == VMA_ANON && !vmas[i].shared &&
				   vmas[i].npages * 2 >= total && vmas[i].npages;
		/* write access only where pages are to be read in: no mprotect after */
		if (!vmas[i].npages)
			vmas[i].tmp_prot = vmas[i].prot;
	}
}

/* A failure to populate is no failure: the reads fault the pages in. */
static int run_populate(struct rsys_batch *b, const struct rvma *vmas, int n, int *v, uint64_t addr,
			uint64_t len, ckpt_err_t *err)
{
	while (*v < n && vmas[*v].end <= addr)
		(*v)++;
	if (len < POPULATE_MIN_PAGES * PAGE_SIZE || (*v < n && vmas[*v].populate))
		return 0;
	return rsys_batch_add(b, RSYS_BATCH_SOFT, 0, SYS_madvise,
			      (uint64_t[6]){addr, len, MADV_POPULATE_WRITE}, err, "populate %#lx",
			      (unsigned long)addr);
}

/* One preadv() by the task of n runs that are consecutive in its image. */
static int fill_batch(struct rtask *t, struct rsys_batch *b, const struct iovec *iov, size_t n,
		      uint64_t file_off, uint64_t total, ckpt_err_t *err)
{
	uint64_t at;
	int ret = rsys_batch_data(b, iov, n * sizeof(*iov), &at, err);

	if (ret == 0)
		ret = rsys_batch_add(b, RSYS_BATCH_EXPECT, (int64_t)total, SYS_preadv,
				     (uint64_t[6]){(uint64_t)t->img_fd, at, n, file_off}, err,
				     "read %lu bytes of pages at offset %lu", (unsigned long)total,
				     (unsigned long)file_off);
	return ret;
}

/* One read stays well under the kernel's cap of 2 GiB - 4 KiB (MAX_RW_COUNT). */
#define FILL_MAX (1UL << 30)

static int pages_fill(struct rctx *rc, struct rtask *t, const struct rvma *vmas, int nvmas,
		      const struct mem_run *runs, size_t nruns, ckpt_err_t *err)
{
	size_t max_iov = MIN((size_t)IOV_MAX, BATCH_DATA / 2 / sizeof(struct iovec));
	cleanup_free struct iovec *iov = xzalloc(max_iov * sizeof(*iov));
	cleanup_free struct rsys_batch *b = batch_new(rc, t);
	uint64_t file_off = 0, next_off = 0, total = 0;
	size_t n = 0;
	int vi = 0, ret;

	if (rc->lazy)
		return lazy_fill(rc, t, runs, nruns, err);
	/* runs are checked at load: inside private VMAs and inside the image */
	for (size_t i = 0; i < nruns; i++) {
		uint64_t addr = runs[i].addr;
		uint64_t len = runs[i].npages * PAGE_SIZE;
		uint64_t off = runs[i].off * PAGE_SIZE;

		ret = run_populate(b, vmas, nvmas, &vi, addr, len, err);
		if (ret < 0)
			return ret;
		while (len) {
			uint64_t c;

			if (n && (n == max_iov || off != next_off || total == FILL_MAX)) {
				ret = fill_batch(t, b, iov, n, file_off, total, err);
				if (ret < 0)
					return ret;
				n = 0;
			}
			if (n == 0) {
				file_off = off;
				total = 0;
			}
			c = MIN(len, FILL_MAX - total);
			iov[n].iov_base = (void *)addr;
			iov[n].iov_len = c;
			n++;
			total += c;
			next_off = off + c;
			addr += c;
			off += c;
			len -= c;
		}
	}
	ret = n ? fill_batch(t, b, iov, n, file_off, total, err) : 0;
	return ret < 0 ? ret : rsys_batch_flush(b, err);
}

static int vma_finish(struct rsys_batch *b, const struct rvma *v, ckpt_err_t *err)
{
	static const struct {
		const char *flag;
		int advice;
	} advice[] = {
		{"dc", MADV_DONTFORK},	 {"wf", MADV_WIPEONFORK}, {"hg", MADV_HUGEPAGE},
		{"nh", MADV_NOHUGEPAGE}, {"dd", MADV_DONTDUMP},	  {"mg", MADV_MERGEABLE},
		{"sr", MADV_SEQUENTIAL}, {"rr", MADV_RANDOM},
	};
	uint64_t len = v->end - v->start;
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(advice); i++) {
		if (!has_flag(v->vmflags, advice[i].flag))
			continue;
		ret = rsys_batch_add(b, 0, 0, SYS_madvise,
				     (uint64_t[6]){v->start, len, (uint64_t)advice[i].advice}, err,
				     "madvise %#lx", (unsigned long)v->start);
		if (ret < 0)
			return ret;
	}
	if (!strncmp(v->path, "[anon:", 6) && strlen(v->path) > 7) {
		char name[256];
		uint64_t at;

		snprintf(name, sizeof(name), "%.*s", (int)strlen(v->path) - 7, v->path + 6);
		ret = rsys_batch_data(b, name, strlen(name) + 1, &at, err);
		if (ret == 0)
			ret = rsys_batch_add(
				b, 0, 0, SYS_prctl,
				(uint64_t[6]){PR_SET_VMA, PR_SET_VMA_ANON_NAME, v->start, len, at},
				err, "name VMA %#lx", (unsigned long)v->start);
		if (ret < 0)
			return ret;
	}
	if (v->tmp_prot != v->prot) {
		ret = rsys_batch_add(b, 0, 0, SYS_mprotect,
				     (uint64_t[6]){v->start, len, (uint64_t)v->prot}, err,
				     "mprotect %#lx", (unsigned long)v->start);
		if (ret < 0)
			return ret;
	}
	/*
	 * Locked last, once its pages are in: the task is still root here, so
	 * neither RLIMIT_MEMLOCK nor the uid it will have (set later, with the
	 * other credentials) stops a lock the task took before it dropped them.
	 */
	if (has_flag(v->vmflags, "lo"))
		return rsys_batch_add(b, 0, 0, SYS_mlock2,
				      (uint64_t[6]){v->start, len,
						    has_flag(v->vmflags, "lf") ? MLOCK_ONFAULT : 0},
				      err, "mlock %#lx", (unsigned long)v->start);
	return 0;
}

/* Sealed VMAs (mseal, 6.10+) are sealed when nothing is left to change in them. */
static int vmas_seal(struct rsys_batch *b, const struct rvma *vmas, int n, ckpt_err_t *err)
{
	for (int i = 0; i < n; i++) {
		int ret;

		if (vmas[i].kind == VMA_VDSO || !has_flag(vmas[i].vmflags, "sl"))
			continue;
		ret = rsys_batch_add(b, 0, 0, __NR_mseal,
				     (uint64_t[6]){vmas[i].start, vmas[i].end - vmas[i].start}, err,
				     "mseal %#lx", (unsigned long)vmas[i].start);
		if (ret < 0)
			return ret;
	}
	return rsys_batch_flush(b, err);
}

static int guards_restore(struct rtask *t, struct rsys_batch *b, ckpt_err_t *err)
{
	for (size_t i = 0; i < t->mem.nguards; i++) {
		uint64_t addr = t->mem.guards[i].addr, len = t->mem.guards[i].npages * PAGE_SIZE;
		int ret;

		ret = rsys_batch_add(b, 0, 0, SYS_madvise,
				     (uint64_t[6]){addr, len, MADV_GUARD_INSTALL}, err,
				     "install guard pages at %#lx", (unsigned long)addr);
		if (ret < 0)
			return ret;
	}
	return rsys_batch_flush(b, err);
}

/*
 * The saved vdso range: [vvar] and [vvar_vclock] first, [vdso] (the text)
 * after them. vdso.c decides whether the kernel's goes back there as it is
 * or, on a host with another vdso, a proxy does.
 */
static int vdso_restore(struct rctx *rc, struct rtask *t, struct rvma *vmas, int n, ckpt_err_t *err)
{
	uint64_t first = 0, text = 0, end = 0;

	for (int i = 0; i < n; i++) {
		if (vmas[i].kind != VMA_VDSO)
			continue;
		if (!first || vmas[i].start < first)
			first = vmas[i].start;
		if (!strcmp(vmas[i].path, "[vdso]"))
			text = vmas[i].start;
		end = MAX(end, vmas[i].end);
	}
	if (!first)
		return 0;
	return vdso_restore_task(rc, t, first, text, end, err);
}

static int mm_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	const struct mem_mm *mm = &t->mem.mm;
	uint64_t data = rc->scratch + SCRATCH_DATA, auxv_at = data + 1024;
	struct prctl_mm_map map = {
		.start_code = mm->start_code,
		.end_code = mm->end_code,
		.start_data = mm->start_data,
		.end_data = mm->end_data,
		.start_brk = mm->start_brk,
		.brk = mm->brk,
		.start_stack = mm->start_stack,
		.arg_start = mm->arg_start,
		.arg_end = mm->arg_end,
		.env_start = mm->env_start,
		.env_end = mm->env_end,
	};
	long fd, r;
	int ret;

	/* the auxv buffer ends before the exe path: 1024 + 4096 <= 2048 + 4096 */
	ret = rmem_open(t, data + 2048 + MEM_AUXV_MAX, mm->exe, O_RDONLY, &fd, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "executable");
	map.auxv = (__u64 *)(uintptr_t)auxv_at;
	map.auxv_size = mm->auxv_len;
	map.exe_fd = fd;
	ret = rsys_poke(t->host_pid, data, &map, sizeof(map), err);
	if (ret == 0 && mm->auxv_len)
		ret = rsys_poke(t->host_pid, auxv_at, mm->auxv, mm->auxv_len, err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, data, sizeof(map),
			   0, 0);
	ret = rsys_check(ret, r, err, "prctl PR_SET_MM_MAP %#lx", (unsigned long)(0));
	if (ret == 0) {
		long r2;

		ret = RSYS(&t->rs, &r2, err, SYS_close, fd, 0, 0, 0, 0, 0);
	}
	return ret;
}

/* Everything but the scratch area and the VMAs made before the fork goes. */
static int unmap_all(struct rctx *rc, struct rsys_batch *b, const struct rvma *vmas, int n,
		     ckpt_err_t *err)
{
	uint64_t from = 0;
	int ret = 0;

	for (int i = 0; ret == 0 && i <= n; i++) {
		uint64_t s = i < n ? vmas[i].start : TASK_SIZE, e = i < n ? vmas[i].end : TASK_SIZE;

		if (i < n && !vmas[i].keep)
			continue;
		/* the scratch area lies in a hole of every saved layout */
		if (rc->scratch >= from && rc->scratch < s) {
			if (rc->scratch > from)
				ret = rsys_batch_add(b, 0, 0, SYS_munmap,
						     (uint64_t[6]){from, rc->scratch - from}, err,
						     "unmap %#lx", (unsigned long)from);
			from = rc->scratch + SCRATCH_SIZE;
		}
		if (ret == 0 && s > from)
			ret = rsys_batch_add(b, 0, 0, SYS_munmap, (uint64_t[6]){from, s - from},
					     err, "unmap %#lx", (unsigned long)from);
		from = MAX(from, e);
	}
	return ret < 0 ? ret : rsys_batch_flush(b, err);
}

int rmem_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct fcache fc = {0};
	struct ckpt_rseq_config rseq = {0};
	cleanup_free struct rvma *vmas = NULL;
	cleanup_free uint8_t *keep = xzalloc(t->mem.nvmas + 1);
	cleanup_free struct mem_run *runs = NULL;
	cleanup_free struct rsys_batch *b = batch_new(rc, t);
	size_t nruns = t->mem.nruns;
	int n = t->mem.nvmas, ret;
	long r;

	vmas = xzalloc((n + 1) * sizeof(*vmas));
	for (int i = 0; i < n; i++)
		vma_init(&t->mem.vmas[i], &vmas[i]);
	vmas_count_pages(vmas, n, &t->mem);
	fc.vmas = vmas;
	fc.nvmas = n;
	if (t->mem.ninherited || t->nchildren) {
		cow_kept(rc, t, keep);
		for (int i = 0; i < n; i++) {
			vmas[i].keep = keep[i];
			if (keep[i])
				vmas[i].tmp_prot = PROT_READ | PROT_WRITE; /* as it was made */
		}
		runs = cow_runs_to_fill(t, keep, &nruns);
	}
	if (rc->lazy) {
		struct mem_run *eager;

		ret = lazy_split(rc, t, vmas, n, runs ? runs : t->mem.runs, nruns, &eager, &nruns,
				 err);
		if (ret < 0)
			return ret;
		free(runs);
		runs = eager;
	}
	/* glibc registered rseq in the fork of ckpt-oci: unregister before its memory goes */
	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t->host_pid, sizeof(rseq), &rseq) < 0)
		return ckpt_error(err, errno, "get rseq of %d", t->host_pid);
	if (rseq.rseq_abi_pointer) {
		ret = RSYS(&t->rs, &r, err, __NR_rseq, rseq.rseq_abi_pointer, rseq.rseq_abi_size,
			   RSEQ_FLAG_UNREGISTER, rseq.signature, 0, 0);
		ret = rsys_check(ret, r, err, "unregister rseq %#lx",
				 (unsigned long)(rseq.rseq_abi_pointer));
		if (ret < 0)
			return ret;
	}
	ret = unmap_all(rc, b, vmas, n, err);
	if (ret == 0)
		ret = vdso_restore(rc, t, vmas, n, err);
	for (int i = 0; ret == 0 && i < n; i++)
		if (vmas[i].kind != VMA_VDSO)
			ret = vma_map(rc, t, &vmas[i], &fc, b, err);
	if (ret == 0)
		ret = fcache_close(b, &fc, err);
	if (ret == 0)
		ret = rsys_batch_flush(b, err);
	if (ret == 0 && t->mem.ninherited)
		ret = cow_drop(t, keep, err);
	if (ret == 0)
		ret = pages_fill(rc, t, vmas, n, runs ? runs : t->mem.runs, nruns, err);
	if (ret == 0 && t->mem.ninherited)
		ret = cow_copy(t, keep, err);
	/* an incremental bundle: the pages its parents hold */
	if (ret == 0 && t->mem.nxruns && rc->lazy)
		ret = lazy_fill_chain(rc, t, err);
	else if (ret == 0 && t->mem.nxruns)
		ret = mem_chain_fill(rc->chain, t->pid, t->host_pid, &t->rs, &t->mem,
				     runs ? keep : NULL, err);
	for (int i = 0; ret == 0 && i < n; i++)
		if (vmas[i].kind != VMA_VDSO)
			ret = vma_finish(b, &vmas[i], err);
	if (ret == 0)
		ret = guards_restore(t, b, err);
	if (ret == 0)
		ret = mm_restore(rc, t, err);
	if (ret == 0)
		ret = vmas_seal(b, vmas, n, err);
	return ret;
}