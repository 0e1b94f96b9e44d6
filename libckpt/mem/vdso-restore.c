/*
 * libckpt/mem/vdso-restore.c - the vdso put back into a restored task, in the
 * puppeteer's memory phase (mem-restore.c calls it once the old address
 * space is gone and before any saved VMA is mapped): the kernel's at the
 * saved place when this host's vdso is the same as the task's was, else
 * this host's in a hole of the saved layout with a proxy at the old place
 * (vdso.c says why, and builds the proxy's code).
 */
#define LOG_PREFIX "vdso: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "mem/mem.h"
#include "restore/restore.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"
#include "mem/vdso.h"

#define TASK_SIZE     MEM_TASK_SIZE
#define STACK_RESERVE (16UL << 20) /* kept free below a stack, for it to grow */

#ifndef PR_SET_VMA
#define PR_SET_VMA	     0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

struct range {
	uint64_t start, end;
};

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The lowest c >= from with [c - page, c + size + page) clear of r (sorted). */
static uint64_t hole_above(const struct range *r, size_t n, uint64_t from, uint64_t size)
{
	uint64_t c = from;

	for (size_t i = 0; i < n; i++) {
		if (r[i].start >= c + size + PAGE_SIZE)
			break;
		if (r[i].end + PAGE_SIZE > c)
			c = r[i].end + PAGE_SIZE;
	}
	return c + size + PAGE_SIZE <= TASK_SIZE ? c : 0;
}

/*
 * Where this host's vdso goes: a hole of the saved layout (the task's
 * address space is empty but for the scratch area at this point), above
 * the old vdso where it usually fits, never just below a stack, whose
 * growth the kernel would otherwise block.
 */
static uint64_t choose_place(struct rctx *rc, struct rtask *t, uint64_t from, uint64_t size)
{
	const struct mem_task *m = &t->mem;
	size_t n = m->nvmas, nr = 0;
	cleanup_free struct range *r = xzalloc((n + 1) * sizeof(*r));
	uint64_t c;

	for (size_t i = 0; i < n; i++) {
		r[nr].start = m->vmas[i].start;
		r[nr].end = m->vmas[i].end;
		if (vmflags_has(m->vmas[i].vmflags, "gd"))
			r[nr].start = r[nr].start > STACK_RESERVE ? r[nr].start - STACK_RESERVE : 0;
		nr++;
	}
	r[nr++] = (struct range){rc->scratch, rc->scratch + SCRATCH_SIZE};
	qsort(r, nr, sizeof(*r), range_cmp);
	c = hole_above(r, nr, from, size);
	return c ? c : hole_above(r, nr, 1ULL << 32, size);
}

/* Start of the task's [vdso] now; 0 when it has none. */
static uint64_t task_vdso_text(pid_t pid)
{
	cleanup_free struct proc_vma *v = xzalloc(sizeof(*v));
	ckpt_err_t e = {0};
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	return proc_maps_find(AT_FDCWD, path, "[vdso]", v, &e) > 0 ? v->start : 0;
}

/*
 * The kernel's vdso with its vvar at `at`. ARCH_MAP_VDSO_64 takes `at` as a
 * hint only: where the text landed is checked against `text` (0: unknown),
 * since a vdso anywhere else could be overmapped silently by the saved
 * VMAs that come next.
 */
static int map_kernel_vdso(struct rtask *t, uint64_t at, uint64_t text, ckpt_err_t *err)
{
	uint64_t got;
	long r;
	int ret;

	ret = RSYS(&t->rs, &r, err, SYS_arch_prctl, ARCH_MAP_VDSO_64, at, 0, 0, 0, 0);
	ret = rsys_check(ret, r, err, "map vdso at %#lx", (unsigned long)at);
	if (ret < 0)
		return ret;
	got = task_vdso_text(t->host_pid);
	if (text && got != text)
		return ckpt_error_msg(err, EFAULT, "vdso text landed at %#lx, not %#lx",
				      (unsigned long)got, (unsigned long)text);
	return 0;
}

/* A private anonymous mapping at a fixed place, named for /proc/PID/maps. */
static int map_anon(struct rctx *rc, struct rtask *t, uint64_t at, uint64_t len, int prot,
		    const char *name, ckpt_err_t *err)
{
	uint64_t data = rc->scratch + SCRATCH_DATA;
	long r;
	int ret;

	ret = RSYS(&t->rs, &r, err, SYS_mmap, at, len, prot,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	ret = rsys_check(ret, r, err, "map %s at %#lx", name, (unsigned long)at);
	if (ret < 0)
		return ret;
	if ((uint64_t)r != at)
		return ckpt_error_msg(err, EFAULT, "%s landed at %#lx", name, (unsigned long)r);
	/* the name only helps a reader of maps: a kernel without it is fine */
	ret = rsys_poke(t->host_pid, data, name, strlen(name) + 1, err);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_prctl, PR_SET_VMA, PR_SET_VMA_ANON_NAME, at, len,
			   data, 0);
	if (ret == 0 && r < 0)
		pr_debug("name %s: %ld, ignoring", name, r);
	return ret;
}

/* This host's vdso elsewhere, the proxy at the old text, a placeholder at the old vvar. */
static int vdso_proxy_map(struct rctx *rc, struct rtask *t, const struct vdso_info *old,
			  const struct vdso_info *cur, uint64_t first, uint64_t text,
			  ckpt_err_t *err)
{
	cleanup_free uint8_t *buf = xzalloc(old->text_size);
	uint64_t at, end = text + old->text_size;
	long r;
	int ret;

	at = choose_place(rc, t, end + PAGE_SIZE, cur->vvar_size + cur->text_size);
	if (!at)
		return ckpt_error_msg(err, ENOMEM, "no hole of %lu bytes for this host's vdso",
				      (unsigned long)(cur->vvar_size + cur->text_size));
	/* build before anything is mapped: a refusal leaves nothing half done */
	ret = vdso_proxy_build(old, cur, at + cur->vvar_size, buf, err);
	if (ret == 0)
		ret = map_kernel_vdso(t, at, at + cur->vvar_size, err);
	if (ret == 0 && text > first)
		ret = map_anon(rc, t, first, text - first, PROT_NONE, "vvar-placeholder", err);
	if (ret == 0)
		ret = map_anon(rc, t, text, old->text_size, PROT_READ | PROT_WRITE, "vdso-proxy",
			       err);
	if (ret == 0)
		ret = rsys_poke(t->host_pid, text, buf, old->text_size, err);
	if (ret == 0) {
		ret = RSYS(&t->rs, &r, err, SYS_mprotect, text, old->text_size,
			   PROT_READ | PROT_EXEC, 0, 0, 0);
		ret = rsys_check(ret, r, err, "mprotect vdso proxy at %#lx", (unsigned long)text);
	}
	if (ret == 0)
		pr_info("task %d: vdso moved %#lx -> %#lx, proxy at %#lx", t->pid,
			(unsigned long)text, (unsigned long)(at + cur->vvar_size),
			(unsigned long)text);
	return ret;
}

int vdso_restore_task(struct rctx *rc, struct rtask *t, uint64_t first, uint64_t text, uint64_t end,
		      ckpt_err_t *err)
{
	const struct vdso_info *old = t->mem.vdso; /* checked at load */
	cleanup_free struct vdso_info *cur = xzalloc(sizeof(*cur));
	bool forced = vdso_proxy_forced();
	int ret = 0;

	if (!old || !text) {
		/* a bundle from before the vdso was recorded: as it always was */
		if (forced)
			pr_warn("task %d: no vdso record, CKPT_OCI_VDSO_PROXY ignored", t->pid);
		return map_kernel_vdso(t, first, text, err);
	}
	if (old->vvar_size != text - first || old->text_size != end - text)
		ret = ckpt_error_msg(err, EPROTO, "sizes disagree with the vdso VMAs");
	if (ret == 0)
		ret = vdso_host(cur, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d: vdso", t->pid);
	if (vdso_same(old, cur) && !forced)
		return map_kernel_vdso(t, first, text, err);
	pr_info("task %d: vdso %s (hash %#lx, here %#lx): proxy", t->pid,
		forced ? "proxy forced" : "differs", (unsigned long)old->hash,
		(unsigned long)cur->hash);
	ret = vdso_proxy_map(rc, t, old, cur, first, text, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "task %d: vdso proxy", t->pid);
	return 0;
}
