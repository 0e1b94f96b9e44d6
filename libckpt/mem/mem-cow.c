/*
 * libckpt/mem/mem-cow.c - copy-on-write sharing between a parent and its
 * children comes back as the kernel made it: by fork.
 *
 * At dump a child's private page that is the same physical page as its
 * parent's at the same address was inherited and never written since; it
 * is listed in task-PID.json "inherited" and not saved again (mem-dump.c).
 *
 * At restore each process is still a fork of ckpt-oci when it makes its
 * children (restore-child.c). Before it does, it maps each of its private
 * anonymous VMAs that a child shares pages of at the VMA's own address,
 * reads its own pages into it, and marks it made in memory shared with
 * ckpt-oci (cow_premake); the children fork with it. In the memory phase
 * (mem-restore.c) a task keeps such a VMA instead of mapping it anew
 * (cow_kept): the parent, whose pages are already in, and each child that
 * shares it, which drops the pages it does not have (cow_drop) and writes
 * its own over the rest as usual. Where the VMA could not be made (its
 * place was taken in ckpt-oci's own layout) or the child's VMA differs, the
 * inherited pages are copied from the parent's restored memory instead
 * (cow_copy): the same data, without the sharing.
 */
#define LOG_PREFIX "cow: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem/mem-cow.h"
#include "mem/mem-incr.h"
#include "restore/restore.h"
#include "util/log.h"
#include "util/util.h"

static uint64_t run_end(const struct mem_run *r)
{
	return r->addr + r->npages * PAGE_SIZE;
}

/* The first run of a sorted list that ends above addr. */
static size_t runs_from(const struct mem_run *runs, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (run_end(&runs[mid]) <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool runs_touch(const struct mem_run *runs, size_t n, uint64_t s, uint64_t e)
{
	size_t i = runs_from(runs, n, s);

	return i < n && runs[i].addr < e;
}

/* The VMA of m that is exactly [s, e), or NULL. */
static const struct mem_vma *vma_exact(const struct mem_task *m, uint64_t s, uint64_t e)
{
	size_t lo = 0, hi = m->nvmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->vmas[mid].start < s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->nvmas && m->vmas[lo].start == s && m->vmas[lo].end == e ? &m->vmas[lo]
									       : NULL;
}

/* A VMA a fork hands down as it is: private anonymous, not wiped, not withheld, not a stack. */
static bool forkable(const struct mem_vma *v)
{
	return v->kind == VMA_ANON && !v->shared && !vmflags_has(v->vmflags, "gd") &&
	       !vmflags_has(v->vmflags, "dc") && !vmflags_has(v->vmflags, "wf");
}

/* The parent's VMA v is worth making before the fork: a child shares pages of it. */
static bool wanted(const struct rtask *t, const struct mem_vma *v)
{
	if (!forkable(v) || runs_touch(t->mem.inherited, t->mem.ninherited, v->start, v->end))
		return false;
	for (int i = 0; i < t->nchildren; i++) {
		const struct rtask *c = t->children[i];
		const struct mem_vma *cv = c->zombie ? NULL : vma_exact(&c->mem, v->start, v->end);

		if (cv && forkable(cv) &&
		    runs_touch(c->mem.inherited, c->mem.ninherited, v->start, v->end))
			return true;
	}
	return false;
}

/* Read the task's own pages of [s, e) from its image into place. */
static int premake_fill(const struct rtask *t, int img, uint64_t s, uint64_t e, ckpt_err_t *err)
{
	const struct mem_task *m = &t->mem;

	for (size_t i = runs_from(m->runs, m->nruns, s); i < m->nruns && m->runs[i].addr < e; i++) {
		uint64_t a = MAX(s, m->runs[i].addr), end = MIN(e, run_end(&m->runs[i]));
		uint64_t off = m->runs[i].off * PAGE_SIZE + (a - m->runs[i].addr);

		while (a < end) {
			ssize_t n = pread(img, (void *)a, MIN(end - a, 1UL << 30), off);

			if (n <= 0)
				return ckpt_error(err, n < 0 ? errno : EIO,
						  "read pages at %#lx for the children",
						  (unsigned long)a);
			a += n;
			off += n;
		}
	}
	return 0;
}

/* Make VMA k; 0 also when its place is taken here (the children copy instead). */
static int premake_one(struct rctx *rc, const struct rtask *t, size_t k, int *img, ckpt_err_t *err)
{
	const struct mem_vma *v = &t->mem.vmas[k];
	uint64_t len = v->end - v->start;
	void *p;
	int ret;

	p = mmap((void *)v->start, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED || (uint64_t)p != v->start) {
		if (p != MAP_FAILED)
			munmap(p, len);
		pr_debug("task %d: %#lx-%#lx is taken, its children copy it", t->pid,
			 (unsigned long)v->start, (unsigned long)v->end);
		return 0;
	}
	if (*img < 0) {
		uint64_t size;
		char file[64];

		snprintf(file, sizeof(file), "pages-%d.img", t->pid);
		ret = bundle_open_file(rc->bundle, file, img, &size, err);
		if (ret < 0)
			return ret;
	}
	ret = premake_fill(t, *img, v->start, v->end, err);
	/* an incremental bundle's pages its parents hold (mem-chain.c) */
	if (ret == 0)
		ret = mem_chain_premake(rc->chain, t->pid, &t->mem, v->start, v->end, err);
	if (ret == 0)
		rc->cow_made[t->cow_off + k] = 1; /* the puppeteer reads it */
	return ret;
}

int cow_premake(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	int img = -1, ret = 0;

	for (size_t i = 0; ret == 0 && i < t->mem.nvmas; i++)
		if (wanted(t, &t->mem.vmas[i]))
			ret = premake_one(rc, t, i, &img, err);
	if (img >= 0)
		close(img);
	return ret;
}

void cow_kept(const struct rctx *rc, const struct rtask *t, uint8_t *keep)
{
	const struct rtask *p = t->parent;

	for (size_t k = 0; k < t->mem.nvmas; k++) {
		const struct mem_vma *v = &t->mem.vmas[k], *pv;

		keep[k] = COW_NONE;
		if (rc->cow_made[t->cow_off + k]) {
			keep[k] = COW_OWN;
			continue;
		}
		/* made by the parent before it forked this task, which kept it */
		pv = p && !p->zombie ? vma_exact(&p->mem, v->start, v->end) : NULL;
		if (pv && rc->cow_made[p->cow_off + (size_t)(pv - p->mem.vmas)] && forkable(v) &&
		    runs_touch(t->mem.inherited, t->mem.ninherited, v->start, v->end))
			keep[k] = COW_INHERITED;
	}
}

/*
 * [s, e) minus the runs of a sorted list, one stretch at a time:
 * fn(s', e') for each gap. Returns fn's first failure.
 */
static int minus_runs(const struct mem_run *runs, size_t n, uint64_t s, uint64_t e,
		      int (*fn)(void *, uint64_t, uint64_t, ckpt_err_t *), void *arg,
		      ckpt_err_t *err)
{
	for (size_t i = runs_from(runs, n, s); s < e; i++) {
		uint64_t next = i < n ? MIN(e, runs[i].addr) : e;
		int ret = 0;

		if (next > s)
			ret = fn(arg, s, next, err);
		if (ret < 0)
			return ret;
		if (i >= n)
			break;
		s = MAX(s, run_end(&runs[i]));
	}
	return 0;
}

static int drop_one(void *arg, uint64_t s, uint64_t e, ckpt_err_t *err)
{
	struct rtask *t = arg;
	long r;
	int ret = RSYS(&t->rs, &r, err, SYS_madvise, s, e - s, MADV_DONTNEED, 0, 0, 0);

	return rsys_check(ret, r, err, "drop the parent's pages at %#lx", (unsigned long)s);
}

int cow_drop(struct rtask *t, const uint8_t *keep, ckpt_err_t *err)
{
	const struct mem_task *pm = &t->parent->mem;

	for (size_t k = 0; k < t->mem.nvmas; k++) {
		const struct mem_vma *v = &t->mem.vmas[k];

		if (keep[k] != COW_INHERITED)
			continue;
		/* the parent's own pages here that this task did not share */
		for (size_t i = runs_from(pm->runs, pm->nruns, v->start);
		     i < pm->nruns && pm->runs[i].addr < v->end; i++) {
			uint64_t s = MAX(v->start, pm->runs[i].addr);
			uint64_t e = MIN(v->end, run_end(&pm->runs[i]));
			int ret = minus_runs(t->mem.inherited, t->mem.ninherited, s, e, drop_one, t,
					     err);

			if (ret < 0)
				return ret;
		}
		/* and those its parent bundles hold (xruns, sorted by address) */
		for (size_t i = 0; i < pm->nxruns && pm->xruns[i].addr < v->end; i++) {
			uint64_t s = MAX(v->start, pm->xruns[i].addr);
			uint64_t e =
				MIN(v->end, pm->xruns[i].addr + pm->xruns[i].npages * PAGE_SIZE);
			int ret = s < e ? minus_runs(t->mem.inherited, t->mem.ninherited, s, e,
						     drop_one, t, err)
					: 0;

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

struct copy_arg {
	int from, to;
	char *buf;
};

static int copy_one(void *arg, uint64_t s, uint64_t e, ckpt_err_t *err)
{
	struct copy_arg *c = arg;

	while (s < e) {
		size_t len = MIN(e - s, 1UL << 20);

		if (pread(c->from, c->buf, len, s) != (ssize_t)len ||
		    pwrite(c->to, c->buf, len, s) != (ssize_t)len)
			return ckpt_error(err, errno ?: EIO, "copy inherited pages at %#lx",
					  (unsigned long)s);
		s += len;
	}
	return 0;
}

/* The kept VMAs as a sorted run list (their inherited pages are in place). */
static int kept_as_runs(const struct rtask *t, const uint8_t *keep, struct mem_run **out, size_t *n)
{
	*out = xzalloc((t->mem.nvmas + 1) * sizeof(**out));
	*n = 0;
	for (size_t k = 0; k < t->mem.nvmas; k++)
		if (keep[k] == COW_INHERITED)
			(*out)[(*n)++] = (struct mem_run){
				t->mem.vmas[k].start,
				(t->mem.vmas[k].end - t->mem.vmas[k].start) / PAGE_SIZE, 0};
	return 0;
}

int cow_copy(struct rtask *t, const uint8_t *keep, ckpt_err_t *err)
{
	cleanup_free struct mem_run *kept = NULL;
	cleanup_free char *buf = NULL;
	cleanup_close int from = -1, to = -1;
	struct copy_arg c;
	char path[64];
	size_t nkept;

	if (!t->mem.ninherited)
		return 0;
	kept_as_runs(t, keep, &kept, &nkept);
	snprintf(path, sizeof(path), "/proc/%d/mem", t->parent->host_pid);
	from = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/mem", t->host_pid);
	to = open(path, O_RDWR | O_CLOEXEC);
	if (from < 0 || to < 0)
		return ckpt_error(err, errno, "open the memory of task %d or its parent", t->pid);
	buf = xzalloc(1UL << 20);
	c = (struct copy_arg){from, to, buf};
	for (size_t i = 0; i < t->mem.ninherited; i++) {
		const struct mem_run *r = &t->mem.inherited[i];
		int ret = minus_runs(kept, nkept, r->addr, run_end(r), copy_one, &c, err);

		if (ret < 0)
			return ret;
	}
	return 0;
}

struct clip_arg {
	const struct mem_run *run;
	struct mem_run *out;
	size_t n;
};

static int clip_one(void *arg, uint64_t s, uint64_t e, ckpt_err_t *err)
{
	struct clip_arg *c = arg;

	c->out[c->n++] = (struct mem_run){s, (e - s) / PAGE_SIZE,
					  c->run->off + (s - c->run->addr) / PAGE_SIZE};
	return 0;
}

struct mem_run *cow_runs_to_fill(const struct rtask *t, const uint8_t *keep, size_t *n)
{
	const struct mem_task *m = &t->mem;
	cleanup_free struct mem_run *own = xzalloc((m->nvmas + 1) * sizeof(*own));
	struct clip_arg c = {0};
	size_t nown = 0;

	for (size_t k = 0; k < m->nvmas; k++)
		if (keep[k] == COW_OWN)
			own[nown++] = (struct mem_run){
				m->vmas[k].start, (m->vmas[k].end - m->vmas[k].start) / PAGE_SIZE,
				0};
	if (!nown)
		return NULL;
	/* each run loses at most the inside of the VMAs it crosses: +1 piece per VMA */
	c.out = xzalloc((m->nruns + nown + 1) * sizeof(*c.out));
	for (size_t i = 0; i < m->nruns; i++) {
		c.run = &m->runs[i];
		(void)minus_runs(own, nown, m->runs[i].addr, run_end(&m->runs[i]), clip_one, &c,
				 NULL);
	}
	*n = c.n;
	return c.out;
}
