/*
 * libckpt/lazy/lazy.c - the restore side of a lazy restore (restore --lazy).
 *
 * Which memory goes lazy: private anonymous VMAs with saved pages (the
 * bundle's own, or, an incremental checkpoint, those its pre-dumps hold:
 * each comes from the nearest bundle of the chain that has it, checked
 * chunk by chunk as any other, so none of the chain's pages is read before
 * the tree runs), made by
 * the task itself (not inherited from its parent by fork, mem-cow.c), not
 * locked (mlock would fault every page in while the task is stopped), not
 * dropped or wiped on fork (a child must not get the parent's pages
 * there). Their pages are left out of the fill; the rest of the task's
 * pages are written from outside, each chunk checked first, as the task
 * cannot read an image that is checked only chunk by chunk, or that is on
 * another node.
 *
 * The userfaultfd is made by the task (a userfaultfd serves the address
 * space of its maker), fetched with pidfd_getfd and closed in the task
 * again, so the program never sees it. ckpt-oci registers the lazy VMAs
 * for MISSING faults and hands it to the lazy-pages process
 * (uffd-server.c), started before the first task's memory is made, so a
 * fault taken by a remote call of the puppeteer is served too.
 */
#define LOG_PREFIX "lazy: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lazy/lazy.h"
#include "lazy/lazy-restore.h"
#include "mem/mem-cow.h"
#include "mem/mem-restore.h"
#include "restore/restore.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

struct lazy_restore {
	const char *server; /* page server, or NULL */
	char *log_path;
	struct page_src **src; /* the eager pages, read by ckpt-oci: per level */
	int nsrc;
	struct uffd_server us;
	bool started;
};

struct lazy_task {
	struct lazy_run *runs;
	size_t nruns;
	struct lazy_run *xeager; /* the chain's pages not lazy: lazy_fill_chain */
	size_t nxeager;
	uint64_t (*ranges)[2]; /* the lazy VMAs, registered */
	size_t nranges;
};

int lazy_new(struct rctx *rc, const struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	struct lazy_restore *l = xzalloc(sizeof(*l));
	cleanup_free char *copy = xstrdup(o->bundle);

	l->server = o->page_server;
	l->log_path = xasprintf("%s/lazy-pages.log", o->work_dir ? o->work_dir : dirname(copy));
	l->us.sk = -1;
	rc->lazy = l;
	(void)err;
	return 0;
}

/*
 * After the bundle is read: the images a task reads itself before its
 * children fork (mem-cow.c) are checked whole now, the page source opened.
 */
int lazy_prepare(struct rctx *rc, ckpt_err_t *err)
{
	struct lazy_restore *l = rc->lazy;
	int nchain = rc->chain ? rc->chain->n : 0;
	int ret = 0;

	for (int i = 0; i < rc->ntasks; i++) {
		struct rtask *t = &rc->tasks[i];
		char name[64];

		if (!t->parent || !t->mem.ninherited)
			continue;
		snprintf(name, sizeof(name), "pages-%d.img", t->parent->pid);
		ret = bundle_verify_file(rc->bundle, name, err);
		/* and the parents' pages it reads too (mem_chain_premake) */
		for (int k = 0; ret == 0 && k < nchain; k++)
			if (bundle_has_file(rc->chain->b[k], name))
				ret = bundle_verify_file(rc->chain->b[k], name, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d shares pages with its child %d",
					       t->parent->pid, t->pid);
	}
	l->nsrc = 1 + nchain;
	l->src = xzalloc(l->nsrc * sizeof(*l->src));
	/* a chain's pre-dumps are here: only the bundle's own images may be remote */
	for (int k = 0; ret == 0 && k < l->nsrc; k++)
		ret = page_src_open(k ? rc->chain->b[k - 1] : rc->bundle, k ? NULL : l->server,
				    &l->src[k], err);
	return ret;
}

int lazy_start(struct rctx *rc, ckpt_err_t *err)
{
	int ret = uffd_server_start(rc->bundle, rc->chain, rc->lazy->server, rc->lazy->log_path,
				    &rc->lazy->us, err);

	rc->lazy->started = ret == 0;
	return ret;
}

static bool vma_lazy(const struct rvma *v)
{
	return v->kind == VMA_ANON && !v->shared && !v->keep && v->npages &&
	       !vmflags_has(v->vmflags, "lo") && !vmflags_has(v->vmflags, "dc") &&
	       !vmflags_has(v->vmflags, "wf");
}

static void push_run(struct mem_run **v, size_t *n, uint64_t addr, uint64_t npages, uint64_t off)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct mem_run){addr, npages, off};
}

static void push_lrun(struct lazy_run **v, size_t *n, uint64_t addr, uint64_t npages, uint64_t off,
		      uint64_t level)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = (struct lazy_run){addr, npages, off, level};
}

/*
 * The pages of t's chain (mem-chain.c): lazy where their VMA is, skipped
 * in a VMA the task filled itself before its fork (mem_chain_premake),
 * else written from outside (lazy_fill_chain). A task whose children
 * copy pages they shared with it (cow_copy, through /proc/PID/mem, which
 * a missing page registered with userfaultfd answers with EIO) gets them
 * all now.
 */
static void split_chain(struct lazy_task *lt, const struct rtask *t, const struct rvma *vmas, int n)
{
	const struct mem_task *m = &t->mem;
	bool shared = false;
	int v = 0;

	for (int i = 0; i < t->nchildren; i++)
		shared |= t->children[i]->mem.ninherited > 0;

	for (size_t i = 0; i < m->nxruns; i++) {
		const struct mem_xrun *x = &m->xruns[i];
		uint64_t addr = x->addr, end = addr + x->npages * PAGE_SIZE;

		while (v < n && vmas[v].end <= addr)
			v++;
		for (int k = v; k < n && vmas[k].start < end; k++) {
			uint64_t s = MAX(addr, vmas[k].start), e = MIN(end, vmas[k].end);
			uint64_t off = x->off + (s - addr) / PAGE_SIZE;

			if (e <= s || (!vmas[k].lazy && vmas[k].keep == COW_OWN))
				continue;
			if (vmas[k].lazy && !shared)
				push_lrun(&lt->runs, &lt->nruns, s, (e - s) / PAGE_SIZE, off,
					  x->level + 1);
			else
				push_lrun(&lt->xeager, &lt->nxeager, s, (e - s) / PAGE_SIZE, off,
					  x->level + 1);
		}
	}
}

int lazy_split(struct rctx *rc, struct rtask *t, struct rvma *vmas, int n,
	       const struct mem_run *runs, size_t nruns, struct mem_run **eager, size_t *neager,
	       ckpt_err_t *err)
{
	struct lazy_task *lt = xzalloc(sizeof(*lt));
	struct mem_run *lz = NULL;
	size_t nlz = 0;
	int v = 0;

	*eager = xzalloc(sizeof(**eager));
	*neager = 0;
	for (int i = 0; i < n; i++) {
		vmas[i].lazy = vma_lazy(&vmas[i]);
		if (!vmas[i].lazy)
			continue;
		vmas[i].populate = false; /* a populated page never faults */
		lt->ranges = xrealloc(lt->ranges, (lt->nranges + 1) * sizeof(*lt->ranges));
		lt->ranges[lt->nranges][0] = vmas[i].start;
		lt->ranges[lt->nranges++][1] = vmas[i].end;
	}
	/* a run may cross VMA boundaries: each piece goes where its VMA says */
	for (size_t i = 0; i < nruns; i++) {
		uint64_t addr = runs[i].addr, end = addr + runs[i].npages * PAGE_SIZE;

		while (v < n && vmas[v].end <= addr)
			v++;
		for (int k = v; k < n && vmas[k].start < end; k++) {
			uint64_t s = MAX(addr, vmas[k].start), e = MIN(end, vmas[k].end);
			uint64_t off = runs[i].off + (s - addr) / PAGE_SIZE;

			if (e <= s)
				continue;
			if (vmas[k].lazy)
				push_run(&lz, &nlz, s, (e - s) / PAGE_SIZE, off);
			else
				push_run(eager, neager, s, (e - s) / PAGE_SIZE, off);
		}
	}
	lt->runs = xzalloc((nlz + 1) * sizeof(*lt->runs));
	for (size_t i = 0; i < nlz; i++)
		lt->runs[i] = (struct lazy_run){lz[i].addr, lz[i].npages, lz[i].off, 0};
	lt->nruns = nlz;
	free(lz);
	split_chain(lt, t, vmas, n);
	t->lazy = lt;
	pr_debug("task %d: %zu lazy VMAs, %zu lazy runs (%zu from the chain), %zu+%zu filled now",
		 t->pid, lt->nranges, lt->nruns, lt->nruns - nlz, *neager, lt->nxeager);
	(void)rc;
	(void)err;
	return 0;
}

/* One eager run, written from outside (process_vm_writev) once checked. */
static int fill_run(struct rctx *rc, struct rtask *t, const struct lazy_run *r, uint8_t *buf,
		    ckpt_err_t *err)
{
	uint64_t addr = r->addr, off = r->off * PAGE_SIZE, len = r->npages * PAGE_SIZE;

	while (len) {
		size_t n = MIN(len, BUNDLE_CHUNK_BYTES - off % BUNDLE_CHUNK_BYTES);
		struct iovec lo = {buf, n}, re = {(void *)addr, n};
		int ret = page_src_read(rc->lazy->src[r->level], t->pid, off, buf, n, err);

		if (ret < 0)
			return ret;
		if (process_vm_writev(t->host_pid, &lo, 1, &re, 1, 0) != (ssize_t)n)
			return ckpt_error(err, errno, "write pages at %#lx", (unsigned long)addr);
		addr += n;
		off += n;
		len -= n;
	}
	return 0;
}

int lazy_fill(struct rctx *rc, struct rtask *t, const struct mem_run *runs, size_t nruns,
	      ckpt_err_t *err)
{
	cleanup_free uint8_t *buf = xzalloc(BUNDLE_CHUNK_BYTES);
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < nruns; i++)
		ret = fill_run(rc, t,
			       &(struct lazy_run){runs[i].addr, runs[i].npages, runs[i].off, 0},
			       buf, err);
	return ret;
}

int lazy_fill_chain(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct lazy_task *lt = t->lazy;
	cleanup_free uint8_t *buf = NULL;
	int ret = 0;

	if (!lt->nxeager)
		return 0;
	buf = xzalloc(BUNDLE_CHUNK_BYTES);
	for (size_t i = 0; ret == 0 && i < lt->nxeager; i++)
		ret = fill_run(rc, t, &lt->xeager[i], buf, err);
	return ret;
}

/* The task's userfaultfd, made by it, now ckpt-oci's (pidfd_getfd), closed in it. */
static int task_uffd(struct rtask *t, ckpt_err_t *err)
{
	cleanup_close int pidfd = -1;
	long fd;
	int uffd, ret;

	ret = RSYS_OK(&t->rs, &fd, err, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	pidfd = (int)syscall(__NR_pidfd_open, t->host_pid, 0);
	uffd = pidfd < 0 ? -1 : (int)syscall(__NR_pidfd_getfd, pidfd, (int)fd, 0);
	if (uffd < 0)
		ret = ckpt_error(err, errno, "take the userfaultfd of %d", t->pid);
	if (RSYS_OK(&t->rs, NULL, err, SYS_close, fd, 0, 0, 0, 0, 0) < 0 && ret == 0)
		ret = -err->code;
	if (ret < 0) {
		if (uffd >= 0)
			close(uffd);
		return ret;
	}
	return uffd;
}

int lazy_register(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	struct lazy_task *lt = t->lazy;
	cleanup_close int uffd = -1;
	int ret;

	if (!lt->nruns)
		return 0;
	uffd = task_uffd(t, err);
	if (uffd < 0)
		return uffd;
	ret = uffd_api(uffd, err);
	for (size_t i = 0; ret == 0 && i < lt->nranges; i++) {
		struct uffdio_register r = {.range = {.start = lt->ranges[i][0],
						      .len = lt->ranges[i][1] - lt->ranges[i][0]},
					    .mode = UFFDIO_REGISTER_MODE_MISSING};

		if (ioctl(uffd, UFFDIO_REGISTER, &r) < 0)
			ret = ckpt_error(err, errno, "register %#lx-%#lx with userfaultfd",
					 (unsigned long)lt->ranges[i][0],
					 (unsigned long)lt->ranges[i][1]);
	}
	if (ret == 0)
		ret = uffd_server_add(&rc->lazy->us, t->pid, t->host_pid, uffd, lt->runs, lt->nruns,
				      err);
	return ret;
}

void lazy_release(struct rctx *rc, bool failed)
{
	if (rc->lazy && rc->lazy->started)
		uffd_server_release(&rc->lazy->us, failed);
}

void lazy_free(struct rctx *rc)
{
	struct lazy_restore *l = rc->lazy;

	for (int i = 0; i < rc->ntasks && rc->tasks; i++) {
		struct lazy_task *lt = rc->tasks[i].lazy;

		if (!lt)
			continue;
		free(lt->runs);
		free(lt->xeager);
		free(lt->ranges);
		free(lt);
		rc->tasks[i].lazy = NULL;
	}
	if (!l)
		return;
	lazy_release(rc, false);
	for (int k = 0; k < l->nsrc; k++)
		page_src_close(l->src[k]);
	free(l->src);
	free(l->log_path);
	free(l);
	rc->lazy = NULL;
}
