/*
 * libckpt/lazy/uffd-server.c - the lazy-pages process: a child of ckpt-oci,
 * started before the puppeteer touches the first task's memory, that
 * outlives `restore -d` and exits once every page is back or every
 * address space it serves is gone.
 *
 * Restore hands it, per task, the userfaultfd made in the task (lazy.c)
 * and the task's lazy runs, each from one level of the bundle's chain
 * (0: the bundle, 1: its parent, ...: an incremental checkpoint's pages
 * the pre-dumps before it hold). Each page of the task's images is one
 * entry: the address it belongs at, or done. The images of the levels
 * lie end to end in one index, each from a chunk boundary on (base[]),
 * so an index chunk is one chunk of one level's image. A MISSING fault on a pending entry
 * is served first (UFFDIO_COPY of that page and a few after it, which
 * wakes the thread), then the rest of its 1 MiB chunk, which was read and
 * checked once (page-src.c; of a live image, the faulting pages are asked
 * of the page server alone first, so the thread does not wait for the
 * whole chunk to cross the network); a fault anywhere else is a page that was zero, or that the
 * program dropped since (UFFDIO_ZEROPAGE). Between faults the pending
 * entries are copied in the background, a chunk at a time.
 *
 * What the program does to its memory meanwhile comes as events, read
 * before any copy the kernel would refuse (EAGAIN while the layout
 * changes): FORK (the child's address space, its own userfaultfd, with
 * the parent's pending pages still to come), REMAP (mremap: pending
 * entries move with their range), REMOVE (madvise DONTNEED: dropped pages
 * are zero, not the saved ones) and UNMAP (gone). An address space that
 * is gone (exit, exec) answers ESRCH and is forgotten.
 */
#define LOG_PREFIX "lazy-pages: "
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lazy/lazy.h"
#include "util/log.h"
#include "util/util.h"

#define DONE	    1ULL /* in an entry's address: copied, dropped or gone */
#define CHUNK_PAGES (BUNDLE_CHUNK_BYTES / PAGE_SIZE)
#define PART_PAGES  16 /* a fault after the release: its page and those after it */
#define UFFD_FEATURES                                                                              \
	(UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP | UFFD_FEATURE_EVENT_REMOVE |          \
	 UFFD_FEATURE_EVENT_UNMAP)

struct ctl_msg {
	int32_t pid, host_pid;
	uint32_t nruns;
};

/* One address space served. */
struct space {
	uint64_t base[LAZY_LEVELS + 1]; /* level k's page 0 in addr[]; base[nlev] = npages */
	int nlev;
	int uffd;
	pid_t pid;	 /* whose image */
	pid_t host_pid;	 /* the task restored, 0 for a child forked since */
	uint64_t *addr;	 /* per image page: where it goes (0: not lazy), | DONE */
	uint32_t *order; /* the lazy entries, by address */
	size_t npages, nsorted, pending, cursor;
	bool gone;
	bool poisoned; /* a page could not be had: its faults are never answered */
};

struct server {
	struct page_src **src; /* per level */
	int nsrc;
	struct space *sp;
	size_t nsp;
	int ctl; /* from restore; -1 once it closed */
	struct lazy_guard guard;
	uint64_t copied, zeroed, faults;
};

int uffd_api(int uffd, ckpt_err_t *err)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURES};

	if (ioctl(uffd, UFFDIO_API, &api) < 0)
		return ckpt_error(err, errno,
				  "userfaultfd API (fork, remap, remove, unmap events)");
	return 0;
}

static uint64_t page_addr(const struct space *s, uint32_t i)
{
	return s->addr[i] & ~DONE;
}

static const struct space *sort_space;

static int by_addr(const void *a, const void *b)
{
	uint64_t x = page_addr(sort_space, *(const uint32_t *)a);
	uint64_t y = page_addr(sort_space, *(const uint32_t *)b);

	return x < y ? -1 : x > y;
}

static void space_sort(struct space *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->npages; i++)
		if (s->addr[i] && !(s->addr[i] & DONE))
			s->order[n++] = (uint32_t)i;
	s->nsorted = n;
	s->pending = n;
	sort_space = s;
	qsort(s->order, n, sizeof(*s->order), by_addr);
}

static const struct lazy_run *sort_runs;

static int run_by_addr(const void *a, const void *b)
{
	uint64_t x = sort_runs[*(const uint32_t *)a].addr, y = sort_runs[*(const uint32_t *)b].addr;

	return x < y ? -1 : x > y;
}

/*
 * A new space's index from its runs: each run's pages are consecutive in
 * memory and runs do not overlap, so the runs in address order give the
 * entries in address order, without a sort of every page (a qsort of a
 * GiB's 262,144 entries took about 30 ms, which a fault in the restore
 * waited for). Entries out of order after all are sorted as any other.
 */
static void space_index_runs(struct space *s, const struct lazy_run *runs, uint32_t nruns)
{
	cleanup_free uint32_t *ro = xzalloc((nruns + 1) * sizeof(*ro));
	size_t n = 0;

	for (uint32_t i = 0; i < nruns; i++)
		ro[i] = i;
	sort_runs = runs;
	qsort(ro, nruns, sizeof(*ro), run_by_addr);
	for (uint32_t r = 0; r < nruns; r++) {
		const struct lazy_run *x = &runs[ro[r]];

		for (uint64_t k = 0; k < x->npages; k++) {
			uint64_t i = s->base[x->level] + x->off + k;

			if (s->addr[i] == x->addr + k * PAGE_SIZE)
				s->order[n++] = (uint32_t)i;
		}
	}
	s->nsorted = n;
	s->pending = n;
	for (size_t k = 1; k < n; k++)
		if (page_addr(s, s->order[k - 1]) >= page_addr(s, s->order[k])) {
			space_sort(s);
			return;
		}
	/* every pending entry once: else sorted as any other */
	for (size_t i = 0, m = 0; i < s->npages; i++)
		if (s->addr[i] && !(s->addr[i] & DONE) && ++m > n) {
			space_sort(s);
			return;
		}
}

/* The first sorted entry at or above addr. */
static size_t lower(const struct space *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nsorted;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (page_addr(s, s->order[mid]) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void mark_done(struct space *s, uint32_t i)
{
	if (s->addr[i] && !(s->addr[i] & DONE)) {
		s->addr[i] |= DONE;
		s->pending--;
	}
}

/* REMOVE and UNMAP: the pending pages of [start, end) are not to come. */
static void drop_range(struct space *s, uint64_t start, uint64_t end)
{
	for (size_t k = lower(s, start); k < s->nsorted && page_addr(s, s->order[k]) < end; k++)
		mark_done(s, s->order[k]);
}

/* REMAP: pending pages of [from, from + len) now belong at to. */
static void move_range(struct space *s, uint64_t from, uint64_t to, uint64_t len)
{
	for (size_t k = lower(s, from); k < s->nsorted && page_addr(s, s->order[k]) < from + len;
	     k++) {
		uint32_t i = s->order[k];

		if (!(s->addr[i] & DONE))
			s->addr[i] = s->addr[i] - from + to;
	}
	space_sort(s);
}

/*
 * UFFDIO_COPY of n pages from src to dst. Returns pages placed or already
 * there (>= 1), 0 when the layout is changing (retry after the events),
 * -1 when there is no such mapping any more, -ESRCH when the space is gone.
 */
static long copy_pages(struct server *srv, struct space *s, uint64_t dst, const void *src,
		       uint64_t n)
{
	struct uffdio_copy c = {.dst = dst, .src = (uintptr_t)src, .len = n * PAGE_SIZE};

	if (ioctl(s->uffd, UFFDIO_COPY, &c) == 0) {
		srv->copied += n;
		return (long)n;
	}
	if (c.copy > 0) {
		srv->copied += c.copy / PAGE_SIZE;
		return c.copy / PAGE_SIZE;
	}
	if (errno == EEXIST)
		return 1; /* that one is there: skip it */
	if (errno == EAGAIN)
		return 0;
	if (errno == ESRCH)
		return -ESRCH;
	return -1; /* ENOENT, EFAULT: unmapped before we read that event */
}

static bool pending_at(const struct space *s, uint64_t i)
{
	return s->addr[i] && !(s->addr[i] & DONE);
}

/* Chunk idx's level in the chain and its index in that level's image. */
static int chunk_level(const struct space *s, uint64_t idx, uint64_t *lidx)
{
	int k = 0;

	while (k + 1 < s->nlev && s->base[k + 1] <= idx * CHUNK_PAGES)
		k++;
	*lidx = idx - s->base[k] / CHUNK_PAGES;
	return k;
}

/* n pages of entry i on into s from data: n >= 1 placed, 0 to retry, < 0 gone (s->gone). */
static long place(struct server *srv, struct space *s, uint64_t i, const uint8_t *data, uint64_t n)
{
	long r = copy_pages(srv, s, page_addr(s, i), data, n);

	if (r == -ESRCH) {
		s->gone = true;
		return -1;
	}
	if (r < 0)
		r = 1;
	for (long k = 0; k < r; k++)
		mark_done(s, (uint32_t)(i + k));
	return r;
}

/*
 * A fault on pending entry i, first: that page alone before the release
 * (see on_fault), after it up to PART_PAGES pending ones that follow it in
 * the image and in memory. Of a live image only those bytes are asked of
 * the page server, not the whole chunk.
 */
static int serve_part(struct server *srv, struct space *s, uint64_t i, ckpt_err_t *err)
{
	uint64_t idx = i / CHUNK_PAGES, first = idx * CHUNK_PAGES, lidx;
	uint64_t last = MIN(first + CHUNK_PAGES, s->npages), n = 1;
	uint64_t max = srv->ctl >= 0 ? 1 : PART_PAGES;
	int k = chunk_level(s, idx, &lidx), ret;
	const uint8_t *data;
	long r;

	while (n < max && i + n < last && pending_at(s, i + n) &&
	       page_addr(s, i + n) == page_addr(s, i) + n * PAGE_SIZE)
		n++;
	ret = page_src_part(srv->src[k], s->pid, lidx, (i - first) * PAGE_SIZE, n * PAGE_SIZE,
			    &data, err);
	if (ret < 0)
		return ret;
	r = place(srv, s, i, data, n);
	return r == 0 ? -EAGAIN : 0;
}

/* The pending pages of chunk idx into s. */
static int serve_chunk(struct server *srv, struct space *s, uint64_t idx, ckpt_err_t *err)
{
	uint64_t first = idx * CHUNK_PAGES, last = MIN(first + CHUNK_PAGES, s->npages), lidx;
	int k = chunk_level(s, idx, &lidx), ret;
	const uint8_t *data;
	size_t len;

	ret = page_src_chunk(srv->src[k], s->pid, lidx, &data, &len, err);
	if (ret < 0)
		return ret;
	for (uint64_t i = first; i < last;) {
		uint64_t n = 1;
		long r;

		if (!pending_at(s, i)) {
			i++;
			continue;
		}
		/* a run of pages consecutive in the image and in memory */
		while (i + n < last && pending_at(s, i + n) &&
		       page_addr(s, i + n) == page_addr(s, i) + n * PAGE_SIZE)
			n++;
		if ((i - first + n) * PAGE_SIZE > len)
			return ckpt_error_msg(err, EPROTO, "pages-%d.img: page %lu past its end",
					      s->pid, (unsigned long)(i + n - 1));
		r = place(srv, s, i, data + (i - first) * PAGE_SIZE, n);
		if (r < 0)
			return 0;
		if (r == 0)
			return -EAGAIN;
		i += r;
	}
	return 0;
}

static void wake(struct space *s, uint64_t addr)
{
	struct uffdio_range r = {.start = addr, .len = PAGE_SIZE};

	(void)ioctl(s->uffd, UFFDIO_WAKE, &r);
}

static int on_fault(struct server *srv, struct space *s, uint64_t addr, ckpt_err_t *err)
{
	size_t k = lower(s, addr);
	int ret;

	srv->faults++;
	if (k < s->nsorted && page_addr(s, s->order[k]) == addr && !(s->addr[s->order[k]] & DONE)) {
		uint32_t i = s->order[k];
		uint64_t t0 = now_ns();

		ret = serve_part(srv, s, i, err);
		pr_debug("task %d: fault at %#lx: served in %.3f ms%s", s->pid, (unsigned long)addr,
			 (now_ns() - t0) / 1e6, srv->ctl >= 0 ? " (before the release)" : "");
		/*
		 * The rest of the chunk only once the tree is released: before,
		 * a fault is the puppeteer's, and a page copied ahead into a
		 * thread's stack was seen lost again (see serve); a chain's
		 * bundle, whose few pages share one chunk, met it every few runs.
		 */
		if (ret == 0 && !s->gone && srv->ctl < 0)
			ret = serve_chunk(srv, s, i / CHUNK_PAGES, err);
		if (ret == -EAGAIN) {
			wake(s, addr); /* it faults again, after the layout settled */
			return 0;
		}
		return ret;
	} else {
		struct uffdio_zeropage z = {.range = {.start = addr, .len = PAGE_SIZE}};

		pr_debug("task %d: fault at %#lx: a zero page", s->pid, (unsigned long)addr);
		if (ioctl(s->uffd, UFFDIO_ZEROPAGE, &z) == 0)
			srv->zeroed++;
		else if (errno == ESRCH)
			s->gone = true;
		else
			wake(s, addr);
	}
	return 0;
}

/*
 * A page that cannot be had (a chunk that does not match its digest, a
 * page server gone): the program must not run on without it, nor see
 * zeros instead. Its faults stay unanswered, and the task is killed.
 */
static void poison(struct space *s, ckpt_err_t *err)
{
	pr_warn("task %d: %s: killed", s->pid, err->msg);
	ckpt_error_clear(err);
	s->poisoned = s->gone = true;
	if (s->host_pid > 0)
		kill(s->host_pid, SIGKILL);
}

static struct space *space_add(struct server *srv, int uffd, pid_t pid)
{
	struct space *s;

	srv->sp = xrealloc(srv->sp, (srv->nsp + 1) * sizeof(*srv->sp));
	s = &srv->sp[srv->nsp++];
	memset(s, 0, sizeof(*s));
	s->uffd = uffd;
	s->pid = pid;
	return s;
}

/* FORK: the child has the parent's layout, and misses what the parent misses. */
static void on_fork(struct server *srv, size_t parent, int uffd)
{
	struct space *c = space_add(srv, uffd, srv->sp[parent].pid);
	const struct space *p = &srv->sp[parent];

	c->npages = p->npages;
	c->nlev = p->nlev;
	memcpy(c->base, p->base, sizeof(c->base));
	c->addr = xzalloc((p->npages + 1) * sizeof(*c->addr));
	memcpy(c->addr, p->addr, p->npages * sizeof(*c->addr));
	c->order = xzalloc((p->npages + 1) * sizeof(*c->order));
	space_sort(c);
	pr_debug("task of %d forked: %zu pages pending in the child", c->pid, c->pending);
}

/* Every message queued on space si; faults after events. */
static int drain(struct server *srv, size_t si, ckpt_err_t *err)
{
	struct uffd_msg m;
	int ret;

	for (;;) {
		struct space *s = &srv->sp[si];
		ssize_t n = read(s->uffd, &m, sizeof(m));

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(m))
			return ckpt_error(err, n < 0 ? errno : EIO, "read userfaultfd of %d",
					  s->pid);
		switch (m.event) {
		case UFFD_EVENT_PAGEFAULT:
			if (s->poisoned)
				break;
			ret = on_fault(srv, s, m.arg.pagefault.address & ~(PAGE_SIZE - 1), err);
			if (ret < 0)
				poison(s, err);
			break;
		case UFFD_EVENT_FORK:
			on_fork(srv, si, (int)m.arg.fork.ufd);
			break;
		case UFFD_EVENT_REMAP:
			move_range(s, m.arg.remap.from, m.arg.remap.to, m.arg.remap.len);
			break;
		case UFFD_EVENT_REMOVE:
		case UFFD_EVENT_UNMAP:
			pr_debug("task %d: %s %#llx-%#llx", s->pid,
				 m.event == UFFD_EVENT_REMOVE ? "remove" : "unmap",
				 (unsigned long long)m.arg.remove.start,
				 (unsigned long long)m.arg.remove.end);
			drop_range(s, m.arg.remove.start, m.arg.remove.end);
			break;
		default:
			pr_warn("unknown userfaultfd event %u, ignoring", m.event);
		}
	}
}

/* One task from restore: its userfaultfd and lazy runs. 0 when restore closed. */
static int ctl_read(struct server *srv, ckpt_err_t *err)
{
	struct ctl_msg h;
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&h, sizeof(h)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	cleanup_free struct lazy_run *runs = NULL;
	struct space *s;
	uint64_t top[LAZY_LEVELS] = {0};
	ssize_t n = recvmsg(srv->ctl, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	int uffd = -1, nimg = 0;

	if (n == 0)
		return 0;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&uffd, CMSG_DATA(cm), sizeof(int));
	if (n != sizeof(h) || uffd < 0 || h.nruns > (1u << 24))
		return ckpt_error_msg(err, EPROTO, "bad message from restore");
	runs = xzalloc((h.nruns + 1) * sizeof(*runs));
	if (read_all(srv->ctl, runs, h.nruns * sizeof(*runs)) != (ssize_t)(h.nruns * sizeof(*runs)))
		return ckpt_error_msg(err, EPROTO, "short message from restore");
	for (uint32_t i = 0; i < h.nruns; i++) {
		if (runs[i].level >= (uint64_t)srv->nsrc) {
			close(uffd);
			return ckpt_error_msg(err, EPROTO, "task %d: level %llu of a chain of %d",
					      h.pid, (unsigned long long)runs[i].level, srv->nsrc);
		}
		top[runs[i].level] = MAX(top[runs[i].level], runs[i].off + runs[i].npages);
	}
	if (lazy_guard_add(&srv->guard, uffd, h.host_pid, err) < 0) {
		close(uffd);
		return -1;
	}
	s = space_add(srv, uffd, h.pid);
	s->host_pid = h.host_pid;
	s->nlev = srv->nsrc;
	/* each level from a chunk boundary: a chunk of the index is one of an image */
	for (int k = 0; k < s->nlev; k++)
		s->base[k + 1] =
			s->base[k] + (top[k] + CHUNK_PAGES - 1) / CHUNK_PAGES * CHUNK_PAGES;
	s->npages = s->base[s->nlev];
	s->addr = xzalloc((s->npages + 1) * sizeof(*s->addr));
	s->order = xzalloc((s->npages + 1) * sizeof(*s->order));
	for (uint32_t i = 0; i < h.nruns; i++)
		for (uint64_t k = 0; k < runs[i].npages; k++)
			s->addr[s->base[runs[i].level] + runs[i].off + k] =
				runs[i].addr + k * PAGE_SIZE;
	space_index_runs(s, runs, h.nruns);
	for (int k = 0; k < s->nlev; k++)
		nimg += s->base[k + 1] > s->base[k];
	pr_info("task %d: %zu pages to come from %d bundles", s->pid, s->pending, nimg);
	return 1;
}

/* One chunk of some space's pending pages, round robin; false when none is left. */
static bool background(struct server *srv, size_t *rr, ckpt_err_t *err)
{
	for (size_t k = 0; k < srv->nsp; k++) {
		struct space *s = &srv->sp[(*rr + k) % srv->nsp];
		int ret;

		if (s->gone || !s->pending)
			continue;
		while (s->cursor < s->npages && (!s->addr[s->cursor] || s->addr[s->cursor] & DONE))
			s->cursor++;
		if (s->cursor >= s->npages) {
			s->cursor = 0; /* a fork or remap left some behind */
			continue;
		}
		ret = serve_chunk(srv, s, s->cursor / CHUNK_PAGES, err);
		if (ret < 0 && ret != -EAGAIN) {
			poison(s, err);
			continue;
		}
		*rr = (*rr + k + 1) % srv->nsp;
		return true;
	}
	return false;
}

static bool all_done(const struct server *srv)
{
	for (size_t i = 0; i < srv->nsp; i++)
		if (!srv->sp[i].gone && srv->sp[i].pending)
			return false;
	return true;
}

static int serve(struct server *srv, ckpt_err_t *err)
{
	size_t rr = 0;
	uint64_t t0 = now_ns();

	while (srv->ctl >= 0 || !all_done(srv)) {
		size_t nsp = srv->nsp; /* a fork event adds one */
		cleanup_free struct pollfd *pf = xzalloc((nsp + 1) * sizeof(*pf));
		/*
		 * Background copies wait until restore let the tree go (it
		 * closed its end): a copy made while a multi-threaded task was
		 * still being rebuilt was seen lost again (its thread faulted
		 * on a page copied before). Faults are served at once.
		 */
		bool copy = srv->ctl < 0 && !all_done(srv);
		int n;

		pf[0] = (struct pollfd){.fd = srv->ctl, .events = POLLIN};
		for (size_t i = 0; i < srv->nsp; i++)
			pf[i + 1] = (struct pollfd){.fd = srv->sp[i].gone ? -1 : srv->sp[i].uffd,
						    .events = POLLIN};
		n = poll(pf, nsp + 1, copy ? 0 : -1);
		if (n < 0 && errno != EINTR)
			return ckpt_error(err, errno, "poll");
		if (n > 0 && pf[0].revents) {
			int r = ctl_read(srv, err);

			if (r < 0)
				return r;
			if (r == 0) {
				close(srv->ctl);
				srv->ctl = -1;
			}
		}
		for (size_t i = 0; n > 0 && i < nsp; i++) {
			int ret;

			if (!pf[i + 1].revents)
				continue;
			ret = drain(srv, i, err);
			if (ret < 0)
				return ret;
		}
		if (n == 0 && copy)
			background(srv, &rr, err);
	}
	lazy_guard_done(&srv->guard);
	/* a tree killed for want of its pages never got them all: not "every page back" */
	for (size_t i = 0; i < srv->nsp; i++)
		if (srv->sp[i].poisoned)
			return ckpt_error_msg(
				err, EIO,
				"tree killed after %.3f s: its pages could not all be "
				"had (%lu copied)",
				(now_ns() - t0) / 1e9, (unsigned long)srv->copied);
	pr_info("every page back in %.3f s: %lu copied, %lu zero, %lu faults",
		(now_ns() - t0) / 1e9, (unsigned long)srv->copied, (unsigned long)srv->zeroed,
		(unsigned long)srv->faults);
	return 0;
}

static int fd_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The process's own fds: only the control socket and the bundles' directories. */
static void close_others(int *keep, int n)
{
	int from = 3;

	qsort(keep, n, sizeof(*keep), fd_cmp);
	for (int i = 0; i < n; i++) {
		if (keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = MAX(from, keep[i] + 1);
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

static int server_main(struct ckpt_bundle *b, const struct mem_chain *ch, const char *server,
		       const char *log_path, int ctl)
{
	struct server srv = {.ctl = ctl, .nsrc = 1 + (ch ? ch->n : 0)};
	int keep[LAZY_LEVELS + 1] = {ctl, bundle_dirfd(b)};
	ckpt_err_t err = {0};
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC), ret = 0;

	setsid();
	prctl(PR_SET_NAME, "ckpt-lazy-pages");
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3 && fd >= 0; i++)
		dup2(fd, i);
	log_close_file();
	for (int k = 1; k < srv.nsrc; k++)
		keep[k + 1] = bundle_dirfd(ch->b[k - 1]);
	close_others(keep, srv.nsrc + 1);
	if (log_open_file(log_path, &err) < 0)
		ckpt_error_clear(&err);
	ret = lazy_guard_start(&srv.guard, keep, srv.nsrc + 1, &err);
	/* the pre-dumps of a chain are on this node: only the bundle's images may be remote */
	srv.src = xzalloc(srv.nsrc * sizeof(*srv.src));
	for (int k = 0; ret == 0 && k < srv.nsrc; k++)
		ret = page_src_open(k ? ch->b[k - 1] : b, k ? NULL : server, &srv.src[k], &err);
	if (ret == 0)
		ret = serve(&srv, &err);
	if (ret < 0)
		pr_warn("%s", err.msg);
	/* what is still registered goes back to ordinary faults as these close */
	for (int k = 0; k < srv.nsrc; k++)
		page_src_close(srv.src[k]);
	free(srv.src);
	log_close_file();
	return ret < 0 ? 1 : 0;
}

int uffd_server_start(struct ckpt_bundle *b, const struct mem_chain *ch, const char *server,
		      const char *log_path, struct uffd_server *us, ckpt_err_t *err)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ckpt_error(err, errno, "socketpair for the lazy-pages process");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return ckpt_error(err, errno, "fork the lazy-pages process");
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(server_main(b, ch, server, log_path, sv[1]));
	}
	close(sv[1]);
	us->pid = pid;
	us->sk = sv[0];
	return 0;
}

int uffd_server_add(struct uffd_server *us, pid_t pid, pid_t host_pid, int uffd,
		    const struct lazy_run *runs, size_t nruns, ckpt_err_t *err)
{
	struct ctl_msg h = {.pid = pid, .host_pid = host_pid, .nruns = (uint32_t)nruns};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {&h, sizeof(h)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &uffd, sizeof(int));
	if (sendmsg(us->sk, &mh, MSG_NOSIGNAL) != sizeof(h) ||
	    write_all(us->sk, runs, nruns * sizeof(*runs)) < 0)
		return ckpt_error(err, errno ? errno : EPIPE,
				  "hand task %d to the lazy-pages process", pid);
	return 0;
}

void uffd_server_release(struct uffd_server *us, bool kill_it)
{
	if (us->sk >= 0)
		close(us->sk);
	us->sk = -1;
	if (kill_it && us->pid > 0) {
		kill(us->pid, SIGKILL);
		while (waitpid(us->pid, NULL, 0) < 0 && errno == EINTR)
			;
		us->pid = 0;
	}
}
