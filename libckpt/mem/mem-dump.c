/*
 * libckpt/mem/mem-dump.c - a task's memory: its VMAs and shared objects
 * (mem-vmas.c), its private pages (pages-PID.img + pagemap-PID.json), the
 * pages it still shares with its parent since a fork ("inherited", saved
 * with the parent only) and its guard regions.
 *
 * Which pages: PAGEMAP_SCAN over the whole address space asks the kernel
 * for present or swapped pages that are anonymous (not page cache, not
 * shmem) and not the shared zero page. That is exactly the private data:
 * anonymous memory and copy-on-write copies inside private file mappings.
 * Untouched and zero-page-mapped memory costs nothing in the bundle.
 * /proc/PID/pagemap then tells, page by page, which are the parent's very
 * pages and which other processes map too (read without taking them: see
 * pcopy_add_shared).
 */
#define LOG_PREFIX "mem: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "engine.h"
#include "mem/mem.h"
#include "mem/mem-incr.h"
#include "util/abort.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#define SCAN_REGIONS 4096
#define SMAPS_MAX    (256UL << 20)     /* larger: read in line, VMA by VMA */
#define TASK_END     0x7ffffffff000ULL /* TASK_SIZE */

/* want bytes of the runs remote[0..nr) through /proc/PID/mem, which reads with force. */
static int read_forced(struct task *t, int memfd, char *p, const struct iovec *remote, int nr,
		       size_t want, ckpt_err_t *err)
{
	size_t off = 0;

	for (int k = 0; k < nr && off < want; k++) {
		size_t len = MIN(remote[k].iov_len, want - off);
		ssize_t n = pread(memfd, p + off, len, (off_t)(uintptr_t)remote[k].iov_base);

		if (n != (ssize_t)len)
			return ckpt_error(err, n < 0 ? errno : EIO, "read memory of %d at %p",
					  t->pid, remote[k].iov_base);
		off += len;
	}
	return 0;
}

/*
 * Copy one batch of runs from the task into the image: straight into the
 * image's own buffer, a piece at a time (no copy of ours between the task
 * and the file).
 */
static int copy_batch(struct task *t, int memfd, struct bundle_image *img, struct iovec *remote,
		      int nr, ckpt_err_t *err)
{
	int i = 0;	 /* the first run not wholly read */
	size_t skip = 0; /* bytes of remote[i] read */

	while (i < nr) {
		size_t room, want = 0, got;
		char *p = bundle_image_room(img, &room);
		struct iovec local, whole = remote[i];
		ssize_t n;
		int ret = 0;

		remote[i].iov_base = (char *)whole.iov_base + skip;
		remote[i].iov_len = whole.iov_len - skip;
		for (int k = i; k < nr && want < room; k++)
			want += remote[k].iov_len;
		want = MIN(want, room);
		local = (struct iovec){p, want};
		n = process_vm_readv(t->pid, &local, 1, remote + i, nr - i, 0);
		/* PROT_NONE or otherwise unreadable: /proc/PID/mem reads with force */
		if (n != (ssize_t)want)
			ret = read_forced(t, memfd, p, remote + i, nr - i, want, err);
		remote[i] = whole;
		if (ret < 0)
			return ret;
		for (got = skip + want; i < nr && got >= remote[i].iov_len; i++)
			got -= remote[i].iov_len;
		skip = got;
		ret = bundle_image_commit(img, want, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Pages being copied into the image, in batches of runs. */
struct pcopy {
	struct task *t;
	int memfd;
	struct bundle_image *img;
	char *buf;
	struct iovec *remote;
	int nr;
	size_t batch;
	uint64_t npages;
	struct json *pagemap;
	/* --parent: pages referenced, not copied (mem-incr.c) */
	const struct mem_ranges *refs;
	size_t ref_cur;
	struct mem_ranges used;
	size_t cap;	       /* bytes per batch */
	struct mem_splice *vs; /* pages moved by the task's vmsplice (mem-splice.c) */
	bool vs_tried;
	/* live (ctx->live_pages): no image, runs only; bytes of it so far */
	bool live;
	uint64_t live_size;
};

/* Bytes of the image before the batch under way. */
static uint64_t pcopy_size(const struct pcopy *c)
{
	return c->live ? c->live_size : bundle_image_size(c->img);
}

/*
 * A first batch that is full means a large task: worth the few remote
 * calls that set up the pipe. Without one (the task's fd table full, ...)
 * the pages are copied as before.
 */
static int pcopy_try_splice(struct pcopy *c, ckpt_err_t *err)
{
	int ret;

	if (c->vs_tried || c->batch < MEM_COPY_BUF)
		return 0;
	c->vs_tried = true;
	if (bundle_image_sealed(c->img))
		return 0; /* sealed chunks are made from the buffers */
	ret = mem_splice_open(c->t, &c->vs, err);
	if (ret == -ECANCELED)
		return ret;
	if (ret < 0) {
		pr_debug("task %d: %s, pages copied instead", c->t->pid, err->msg);
		ckpt_error_clear(err);
		return 0;
	}
	c->cap = mem_splice_cap(c->vs);
	return 0;
}

/* One batch through the pipe; what the task could not vmsplice is copied. */
static int splice_batch(struct pcopy *c, ckpt_err_t *err)
{
	size_t done;
	int i = 0, ret = mem_splice_batch(c->vs, c->img, c->remote, c->nr, &done, err);

	if (ret < 0 || done == c->batch)
		return ret;
	while (done >= c->remote[i].iov_len)
		done -= c->remote[i++].iov_len;
	c->remote[i].iov_base = (char *)c->remote[i].iov_base + done;
	c->remote[i].iov_len -= done;
	return copy_batch(c->t, c->memfd, c->img, c->remote + i, c->nr - i, err);
}

static int pcopy_flush(struct pcopy *c, ckpt_err_t *err)
{
	int ret = c->nr ? ckpt_abort_check(err) : 0;

	if (c->live) {
		c->live_size += c->batch; /* read later, from the stopped tree */
		c->nr = 0;
		c->batch = 0;
		return ret;
	}
	if (ret == 0 && c->nr)
		ret = pcopy_try_splice(c, err);
	if (ret == 0 && c->nr)
		ret = c->vs ? splice_batch(c, err)
			    : copy_batch(c->t, c->memfd, c->img, c->remote, c->nr, err);

	c->nr = 0;
	c->batch = 0;
	return ret;
}

/* The task's own pages [a, e): a run in pagemap-PID.json, the bytes in the image. */
static int pcopy_add(struct pcopy *c, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	while (a < e) {
		size_t len = MIN(e - a, c->cap - c->batch);
		struct json *run;
		int ret;

		if (len == 0 || c->nr == IOV_MAX) {
			ret = pcopy_flush(c, err);
			if (ret < 0)
				return ret;
			continue;
		}
		run = json_push(c->pagemap, json_arr());
		json_push(run, json_hex(a));
		json_push(run, json_int(len / PAGE_SIZE));
		json_push(run, json_int(pcopy_size(c) / PAGE_SIZE + c->batch / PAGE_SIZE));
		c->remote[c->nr].iov_base = (void *)a;
		c->remote[c->nr].iov_len = len;
		c->nr++;
		c->batch += len;
		c->npages += len / PAGE_SIZE;
		a += len;
	}
	return 0;
}

/*
 * Copy-on-write sharing with the parent: a page the task inherited at fork
 * and neither of them wrote since is one physical page in both (the same
 * PFN at the same address in /proc/PID/pagemap, which root reads). Such
 * pages are not saved again: task-PID.json "inherited" lists them, and
 * restore gives them to the task by forking it from a parent that has them
 * (mem-restore.c), as the kernel did.
 */
#define PM_PRESENT   (1ULL << 63)
#define PM_PFN	     ((1ULL << 55) - 1)
#define PM_EXCLUSIVE (1ULL << 56)
#define COW_CHUNK    1024 /* pagemap entries read at once */

struct cow {
	int self, parent; /* pagemap fds; parent -1: no parent in the tree */
	uint64_t mine[COW_CHUNK], theirs[COW_CHUNK];
	uint64_t (*runs)[2]; /* [start, end) of each inherited stretch */
	size_t nruns, cap;
	uint64_t npages;
};

static bool cow_shared(uint64_t a, uint64_t b)
{
	return (a & PM_PRESENT) && (b & PM_PRESENT) && (a & PM_PFN) && (a & PM_PFN) == (b & PM_PFN);
}

static void cow_note(struct cow *w, uint64_t a, uint64_t e)
{
	w->npages += (e - a) / PAGE_SIZE;
	if (w->nruns && w->runs[w->nruns - 1][1] == a) {
		w->runs[w->nruns - 1][1] = e;
		return;
	}
	if (w->nruns == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 64;
		w->runs = xrealloc(w->runs, w->cap * sizeof(*w->runs));
	}
	w->runs[w->nruns][0] = a;
	w->runs[w->nruns++][1] = e;
}

/* task-PID.json "inherited": [address, pages] of each stretch. */
static void cow_write(const struct cow *w, struct json *doc)
{
	struct json *list = json_set(doc, "inherited", json_arr());

	for (size_t i = 0; i < w->nruns; i++) {
		struct json *r = json_push(list, json_arr());

		json_push(r, json_hex(w->runs[i][0]));
		json_push(r, json_int((w->runs[i][1] - w->runs[i][0]) / PAGE_SIZE));
	}
}

/* Region [a, e) of the task's private pages: inherited stretches noted, the rest copied. */
/*
 * The task's own pages [a, e) that other processes map too (a copy-on-write
 * page not written since a fork): read through /proc/PID/mem, which does
 * not take the page for itself, where process_vm_readv pins it and the
 * kernel gives the pinned task a copy of its own (FAULT_FLAG_UNSHARE):
 * the sharing would be gone from the tree (left running, it would use
 * that memory again per process) and from its children's view at dump.
 */
static int pcopy_add_shared(struct pcopy *c, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	int ret = pcopy_flush(c, err);

	if (ret == 0 && c->live)
		return pcopy_add(c, a, e, err); /* read later, as the rest */
	while (ret == 0 && a < e) {
		size_t len = MIN(e - a, MEM_COPY_BUF);
		ssize_t n;
		struct json *run;

		ret = ckpt_abort_check(err); /* an interrupt between batches ends the run */
		if (ret < 0)
			return ret;
		n = pread(c->memfd, c->buf, len, (off_t)a);
		if (n != (ssize_t)len)
			return ckpt_error(err, n < 0 ? errno : EIO, "read memory of %d at %#lx",
					  c->t->pid, (unsigned long)a);
		run = json_push(c->pagemap, json_arr());
		json_push(run, json_hex(a));
		json_push(run, json_int(len / PAGE_SIZE));
		json_push(run, json_int(bundle_image_size(c->img) / PAGE_SIZE));
		ret = bundle_image_write(c->img, c->buf, len, err);
		c->npages += len / PAGE_SIZE;
		a += len;
	}
	return ret;
}

/* What to do with a page: 0 copy, 1 copy without taking it (shared), 2 inherited. */
static int page_kind(const struct cow *w, size_t i)
{
	if (w->parent >= 0 && cow_shared(w->mine[i], w->theirs[i]))
		return 2;
	return (w->mine[i] & PM_PRESENT) && !(w->mine[i] & PM_EXCLUSIVE) ? 1 : 0;
}

struct copy_arg {
	struct pcopy *c;
	int kind;
};

static int copy_kind(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct copy_arg *x = arg;

	return x->kind == 1 ? pcopy_add_shared(x->c, a, e, err) : pcopy_add(x->c, a, e, err);
}

/* Pages [a, e) of kind 0 or 1 copied, but those the parent bundle holds (--parent). */
static int pages_copy(struct pcopy *c, int kind, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct copy_arg x = {c, kind};

	if (!c->refs || !c->refs->n)
		return copy_kind(&x, a, e, err);
	return mem_incr_split(c->refs, &c->ref_cur, a, e, copy_kind, &x, &c->used, err);
}

/* Region [a, e) of the task's private pages: inherited stretches noted, the rest copied. */
static int pages_region(struct pcopy *c, struct cow *w, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	/*
	 * Live, and no parent in the tree: whether another process maps a
	 * page too matters only to how it is read, later (/proc/PID/mem, which
	 * leaves the sharing as it is): the pagemap (40 ms of a frozen 1 GiB
	 * task) is not read.
	 */
	if (c->live && w->parent < 0)
		return pages_copy(c, 0, a, e, err);
	while (a < e) {
		size_t n = MIN((e - a) / PAGE_SIZE, (uint64_t)COW_CHUNK), i = 0;
		off_t off = a / PAGE_SIZE * sizeof(uint64_t);

		if (pread(w->self, w->mine, n * 8, off) != (ssize_t)(n * 8) ||
		    (w->parent >= 0 &&
		     pread(w->parent, w->theirs, n * 8, off) != (ssize_t)(n * 8))) {
			pr_debug("pagemap at %#lx: %m, pages saved as the task's own",
				 (unsigned long)a);
			return pages_copy(c, 0, a, e, err); /* unknown: saved as the task's own */
		}
		while (i < n) {
			int kind = page_kind(w, i);
			size_t k = i + 1;
			int ret;

			while (k < n && page_kind(w, k) == kind)
				k++;
			if (kind == 2) {
				cow_note(w, a + i * PAGE_SIZE, a + k * PAGE_SIZE);
				ret = 0;
			} else {
				ret = pages_copy(c, kind, a + i * PAGE_SIZE, a + k * PAGE_SIZE,
						 err);
			}
			if (ret < 0)
				return ret;
			i = k;
		}
		a += n * PAGE_SIZE;
	}
	return 0;
}

/* A swapped run of pages_scan, markers left out (track_swapped_runs). */
struct region_arg {
	struct pcopy *c;
	struct cow *w;
};

static int region_run(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct region_arg *ra = arg;

	return pages_region(ra->c, ra->w, a, e, err);
}

/*
 * Where PAGEMAP_SCAN is asked whether a page is the page cache's
 * (PAGE_IS_FILE): the kernel learns it from each page's struct page
 * (vm_normal_page, PageAnon), about 30 ms a GiB of cache misses, where
 * the other categories come from the page table entry alone (4-5 ms). A
 * private anonymous VMA (no inode; nameless, [heap], [stack] or
 * [anon:NAME]) holds anonymous pages or the zero page only, and is
 * scanned without it; every other one (files, shared memory, the
 * kernel's special mappings such as the vdso) is asked. Neighbours of a
 * kind share one span.
 */
struct scan_span {
	uint64_t start, end;
	bool file;
};

struct spans {
	struct scan_span *v;
	size_t n, cap;
};

static bool vma_anon_only(const struct proc_vma *v)
{
	const char *p = v->path;

	if (v->shared || v->ino || v->dev_major || v->dev_minor)
		return false;
	return !*p || !strcmp(p, "[heap]") || !strcmp(p, "[stack]") || !strncmp(p, "[anon:", 6);
}

static int span_add(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct spans *s = arg;
	bool file = !vma_anon_only(v);

	(void)err;
	if (v->start >= TASK_END)
		return 0; /* [vsyscall]: not the task's, and past what PAGEMAP_SCAN walks */
	if (s->n && s->v[s->n - 1].file == file) {
		s->v[s->n - 1].end = v->end;
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = (struct scan_span){v->start, v->end, file};
	return 0;
}

/* The spans of the task's VMAs (maps: no page walk); unreadable, one span asked of all. */
static void spans_get(struct task *t, struct spans *s)
{
	ckpt_err_t e = {0};

	if (proc_read_maps(t->procfd, "maps", span_add, s, &e) == 0 && s->n)
		return;
	pr_debug("task %d: maps: %s, every page asked whether it is a file's", t->pid, e.msg);
	s->n = 0;
	span_add(&(struct proc_vma){.start = 0, .end = TASK_END, .ino = 1}, s, &e);
}

/*
 * Every private page of the task through pcopy c: PAGEMAP_SCAN (at pmfd,
 * SCAN_REGIONS regions at a time in regs) over each span of sp for runs,
 * all of them found before the first is copied (a copy may map a scratch
 * area in the task, mem-splice.c, which is no page of the program's),
 * then each run split by what the parent's pagemap says (w) and copied.
 */
static int pages_scan(struct pcopy *c, struct cow *w, int pmfd, const struct spans *sp,
		      struct page_region *regs, ckpt_err_t *err)
{
	cleanup_free struct page_region *all = NULL;
	size_t nall = 0, cap = 0, si = 0;
	uint64_t done = 0; /* pages below are listed */
	uint64_t guard = PAGE_IS_GUARD;
	uint64_t pos = sp->n ? sp->v[0].start : 0;
	int ret = 0;

	while (si < sp->n) {
		uint64_t file = sp->v[si].file ? PAGE_IS_FILE : 0, end = sp->v[si].end;
		struct pm_scan_arg arg;
		long n;

		if (pos >= end) {
			if (++si < sp->n)
				pos = MAX(pos, sp->v[si].start);
			continue;
		}
		arg = (struct pm_scan_arg){
			.size = sizeof(arg),
			.start = pos,
			.end = end,
			.vec = (uintptr_t)regs,
			.vec_len = SCAN_REGIONS,
			/* guard markers count as swapped: keep them out */
			.category_inverted = file | PAGE_IS_PFNZERO | guard,
			.category_mask = file | PAGE_IS_PFNZERO | guard,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		n = ioctl(pmfd, PAGEMAP_SCAN, &arg);
		if (n < 0 && errno == EINVAL && guard) {
			guard = 0; /* before 6.14 there is no PAGE_IS_GUARD, nor guards */
			continue;
		}
		if (n < 0)
			return ckpt_error(err, errno, "PAGEMAP_SCAN of %d", c->t->pid);
		for (long i = 0; i < n; i++) {
			if (regs[i].end <= done)
				continue;
			if (nall == cap) {
				cap = cap ? 2 * cap : SCAN_REGIONS;
				all = xrealloc(all, cap * sizeof(*all));
			}
			all[nall] = regs[i];
			all[nall++].start = MAX(regs[i].start, done);
			done = regs[i].end;
		}
		/*
		 * walk_end can fall short of regions already returned (6.18,
		 * a thousand regions): the next scan starts after them, or
		 * their pages would be saved twice, out of order.
		 */
		if (MAX(arg.walk_end, done) <= pos)
			pos = end; /* the span is done */
		else
			pos = MAX(arg.walk_end, done);
	}
	for (size_t i = 0; ret == 0 && i < nall; i++) {
		if ((all[i].categories & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) == PAGE_IS_SWAPPED) {
			struct region_arg ra = {c, w};

			ret = track_swapped_runs(pmfd, all[i].start, all[i].end, region_run, &ra,
						 err);
		} else {
			ret = pages_region(c, w, all[i].start, all[i].end, err);
		}
	}
	return ret;
}

/* Stream the private pages: PAGEMAP_SCAN for runs, process_vm_readv in batches. */
static int pages_dump(struct ckpt_ctx *ctx, struct task *t, struct json *pagemap, ckpt_err_t *err)
{
	cleanup_free struct page_region *regs = xzalloc(SCAN_REGIONS * sizeof(*regs));
	cleanup_free struct iovec *remote = xzalloc(IOV_MAX * sizeof(*remote));
	cleanup_free char *buf = xzalloc(MEM_COPY_BUF);
	cleanup_free char *name = xasprintf("pages-%d.img", t->ns_pid);
	cleanup_free struct cow *w = xzalloc(sizeof(*w));
	cleanup_close int pmfd = openat(t->procfd, "pagemap", O_RDONLY | O_CLOEXEC);
	cleanup_close int memfd = openat(t->procfd, "mem", O_RDONLY | O_CLOEXEC);
	cleanup_close int ppmfd = -1;
	struct pcopy c = {.t = t,
			  .memfd = memfd,
			  .buf = buf,
			  .remote = remote,
			  .pagemap = pagemap,
			  .cap = MEM_COPY_BUF};
	struct mem_ranges refs = {0};
	struct spans spans = {0};
	int ret;

	if (pmfd < 0 || memfd < 0)
		return ckpt_error(err, errno, "open /proc/%d/pagemap", t->pid);
	if (t->parent && t->parent->state != 'Z')
		ppmfd = openat(t->parent->procfd, "pagemap", O_RDONLY | O_CLOEXEC);
	w->self = pmfd;
	w->parent = ppmfd;
	if (ctx->incr) {
		ret = mem_incr_task_refs(ctx->incr, t, &refs, err);
		if (ret < 0)
			return ret;
		c.refs = &refs;
	}
	c.live = ctx->live_pages;
	if (!c.live) {
		ret = bundle_image_create(ctx->bundle, name, &c.img, err);
		if (ret < 0)
			goto out;
		/* lazy restore reads it chunk by chunk, checking each (pages-PID.img.sums) */
		bundle_image_keep_sums(c.img);
	}
	spans_get(t, &spans);
	pr_debug("task %d: %zu spans to scan", t->pid, spans.n);
	ret = pages_scan(&c, w, pmfd, &spans, regs, err);
	free(spans.v);
	pr_debug("task %d: scanned", t->pid);
	if (ret == 0)
		ret = pcopy_flush(&c, err);
	if (mem_splice_close(c.vs, ret < 0 ? NULL : err) < 0 && ret == 0)
		ret = -err->code;
	if (ret == 0 && ctx->incr)
		ret = mem_incr_refs_put(ctx->bundle, t->ns_pid, &c.used, err);
	if (ctx->incr)
		ctx->incr->nref += ranges_pages(&c.used);
	ranges_free(&refs);
	ranges_free(&c.used);
	if (ret < 0)
		goto fail;
	if (w->nruns)
		cow_write(w, t->doc);
	free(w->runs);
	w->runs = NULL;
	pr_info("task %d: %lu private pages%s, %lu shared with its parent", t->pid,
		(unsigned long)c.npages, c.live ? " (live: read later from the tree)" : "",
		(unsigned long)w->npages);
	if (c.live) {
		ctx->live_npages += c.npages;
		return bundle_add_live(ctx->bundle, name, c.live_size, err);
	}
	return bundle_image_close(c.img, err);
fail:
	free(w->runs);
	if (c.img)
		bundle_image_abort(c.img);
	return ret;
out:
	ranges_free(&refs);
	return ret;
}

/*
 * Guard regions (MADV_GUARD_INSTALL) live in page tables, not in VMAs:
 * PAGEMAP_SCAN reports them as PAGE_IS_GUARD (6.14+). "guards" lists
 * [start, npages]; restore installs them again.
 */
static int guards_dump(struct task *t, struct json *doc, ckpt_err_t *err)
{
	cleanup_free struct page_region *regs = xzalloc(SCAN_REGIONS * sizeof(*regs));
	cleanup_close int pmfd = openat(t->procfd, "pagemap", O_RDONLY | O_CLOEXEC);
	struct json *guards = json_set(doc, "guards", json_arr());
	uint64_t pos = 0, end = 0x7ffffffff000ULL;

	if (pmfd < 0)
		return ckpt_error(err, errno, "open /proc/%d/pagemap", t->pid);
	while (pos < end) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = pos,
			.end = end,
			.vec = (uintptr_t)regs,
			.vec_len = SCAN_REGIONS,
			.category_mask = PAGE_IS_GUARD,
			.return_mask = PAGE_IS_GUARD,
		};
		long n = ioctl(pmfd, PAGEMAP_SCAN, &arg);

		if (n < 0 && errno == EINVAL)
			return 0; /* a kernel without guard regions has none to keep */
		if (n < 0)
			return ckpt_error(err, errno, "PAGEMAP_SCAN guards of %d", t->pid);
		for (long i = 0; i < n; i++) {
			struct json *g = json_push(guards, json_arr());

			json_push(g, json_hex(regs[i].start));
			json_push(g, json_int((regs[i].end - regs[i].start) / PAGE_SIZE));
		}
		if (arg.walk_end <= pos)
			break;
		pos = arg.walk_end;
	}
	return 0;
}

/*
 * /proc/PID/smaps read on a thread of its own. The kernel makes it by
 * walking every page table entry (about 30 ms a GiB), as PAGEMAP_SCAN
 * does for the pages: a live dump (lazy migration, the tree stopped until
 * the new one runs) lets the two walks run side by side, since it makes
 * no remote call in the task between them that could change its VMAs.
 */
struct smaps_reader {
	pthread_t th;
	int procfd;
	char *buf; /* NULL: not read, read it again in line */
};

static void *smaps_read(void *arg)
{
	struct smaps_reader *r = arg;
	ckpt_err_t e = {0};

	if (read_file_at(r->procfd, "smaps", SMAPS_MAX, &r->buf, NULL, &e) < 0)
		r->buf = NULL;
	return NULL;
}

int mem_dump(struct ckpt_ctx *ctx, struct task *t, ckpt_err_t *err)
{
	cleanup_json struct json *pagemap = json_arr();
	cleanup_free char *name = xasprintf("pagemap-%d.json", t->ns_pid);
	struct json *vmas = json_set(t->doc, "vmas", json_arr());
	struct smaps_reader sr = {.procfd = t->procfd};
	bool par = ctx->live_pages && pthread_create(&sr.th, NULL, smaps_read, &sr) == 0;
	int ret;

	if (!par) {
		ret = mem_vmas_dump(ctx, t, NULL, vmas, err);
		if (ret < 0)
			return ret;
	}
	ret = pages_dump(ctx, t, pagemap, err);
	if (ret == 0)
		ret = guards_dump(t, t->doc, err);
	if (par) {
		pr_debug("task %d: pages done, smaps next", t->pid);
		pthread_join(sr.th, NULL);
		pr_debug("task %d: smaps read", t->pid);
		if (ret == 0)
			ret = mem_vmas_dump(ctx, t, sr.buf, vmas, err);
		free(sr.buf);
	}
	if (ret < 0)
		return ret;
	return bundle_put_json(ctx->bundle, name, pagemap, err);
}
