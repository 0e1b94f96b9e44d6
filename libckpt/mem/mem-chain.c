/*
 * libckpt/mem/mem-chain.c - restoring an incremental checkpoint: its
 * chain.json names the parent bundle (a path from the directory it sits
 * in) and the BLAKE2b of the parent's manifest.json. Each parent is
 * opened with the same key and verified (and only from an
 * authenticated bundle, to an authenticated one: the path is the host's), its manifest must be the
 * very one recorded (the child's MAC covers the link, the parent's MAC its
 * own files), and it must come from the same tree; anything else is
 * refused before restore makes anything. Lazy, a parent's page images are
 * not hashed at open but chunk by chunk as served (lazy/page-src.c), as
 * the bundle's own: the manifest, its MAC and the link are what is checked
 * before restore makes anything. A page of parentmap-PID.json is
 * looked up in the parent's pagemap, then in the parent's parent, and so
 * on; a page no bundle holds is refused too. The pages are written into
 * the restored task through /proc/PID/mem once its VMAs are made.
 */
#define LOG_PREFIX "chain: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "arch/rsys.h"
#include "mem/mem-cow.h"
#include "mem/mem-incr.h"
#include "util/log.h"
#include "util/util.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define FILL_BUF (8UL << 20)

static void sum_hex(const uint8_t sum[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

/* The parent's path: relative ones from the directory the child sits in. */
static char *parent_path(const struct ckpt_bundle *child, const char *rel)
{
	cleanup_free char *abs = NULL;

	if (rel[0] == '/')
		return xstrdup(rel);
	abs = realpath(bundle_path(child), NULL);
	if (!abs)
		return xstrdup(rel);
	return xasprintf("%s/%s", dirname(abs), rel);
}

int mem_chain_open(struct ckpt_bundle *b, const struct bundle_auth *auth, bool lazy,
		   struct mem_chain *ch, ckpt_err_t *err)
{
	struct ckpt_bundle *cur = b;
	struct chain_doc c, pc;
	int64_t tree_pid = 0;
	uint64_t tree_start = 0;

	memset(ch, 0, sizeof(*ch));
	for (;;) {
		cleanup_json struct json *doc = NULL, *pdoc = NULL;
		cleanup_free char *path = NULL;
		struct ckpt_bundle *p = NULL;
		struct bundle_auth pauth;
		uint8_t sum[32];
		char hex[65];
		bool has;
		int ret = chain_doc_read(cur, &doc, &c, &has, err);

		if (ret < 0)
			return ckpt_error_wrap(err, "`%s`", bundle_path(cur));
		if (cur == b && has && c.pre_dump)
			return ckpt_error_msg(err, EINVAL,
					      "`%s` is a pre-dump: restore the checkpoint taken "
					      "with --parent after it",
					      bundle_path(b));
		if (cur == b) {
			tree_pid = c.tree_pid;
			tree_start = c.tree_start;
		}
		if (!has || !c.parent)
			return 0;
		if (ch->n == CHAIN_MAX)
			return ckpt_error_msg(err, ELOOP, "`%s`: a chain of more than %d bundles",
					      bundle_path(b), CHAIN_MAX);
		/*
		 * The link names a place on the host: followed only from a bundle
		 * written by a holder of the key, and only to one (TRUST MODEL).
		 */
		if (bundle_mac_status(cur) != BUNDLE_MAC_VERIFIED)
			return ckpt_error_msg(err, EPERM,
					      "`%s` is not authenticated: its parent `%s` is not "
					      "followed",
					      bundle_path(cur), c.parent);
		path = parent_path(cur, c.parent);
		pauth = (struct bundle_auth){.key_file = auth->key_file,
					     .seal_key_file = auth->seal_key_file};
		ret = lazy ? bundle_open_lazy(path, &pauth, false, &p, err)
			   : bundle_open(path, &pauth, &p, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "parent `%s` of `%s`", path, bundle_path(cur));
		ch->b[ch->n++] = p;
		bundle_manifest_sum(p, sum);
		sum_hex(sum, hex);
		if (strcmp(hex, c.parent_sum))
			return ckpt_error_msg(err, EINVAL,
					      "parent `%s` of `%s` is not the bundle it was made "
					      "from (its manifest differs)",
					      path, bundle_path(cur));
		ret = chain_doc_read(p, &pdoc, &pc, &has, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "parent `%s`", path);
		if (!has || pc.tree_pid != tree_pid || pc.tree_start != tree_start)
			return ckpt_error_msg(err, EINVAL,
					      "parent `%s` of `%s` comes from another tree", path,
					      bundle_path(cur));
		pr_info("`%s`: parent `%s`", bundle_path(cur), path);
		cur = p;
	}
}

void mem_chain_close(struct mem_chain *ch)
{
	for (int i = 0; i < ch->n; i++)
		bundle_close(ch->b[i]);
	ch->n = 0;
}

/* Every page of want lies in private VMAs of m. */
static int refs_in_vmas(const struct mem_ranges *want, const struct mem_task *m, pid_t pid,
			ckpt_err_t *err)
{
	size_t v = 0;

	for (size_t i = 0; i < want->n; i++) {
		uint64_t a = want->r[i][0], e = want->r[i][1];

		while (a < e) {
			while (v < m->nvmas && m->vmas[v].end <= a)
				v++;
			if (v == m->nvmas || m->vmas[v].start > a || m->vmas[v].shared)
				return ckpt_error_msg(err, EPROTO,
						      "parentmap-%d.json: page %#llx is not in a "
						      "private VMA",
						      pid, (unsigned long long)a);
			a = MIN(e, m->vmas[v].end);
		}
	}
	return 0;
}

/* Pages of want that level k's own pagemap holds become xruns; the rest in *left. */
static int level_take(struct ckpt_bundle *b, int k, pid_t pid, const struct mem_ranges *want,
		      struct mem_ranges *left, struct mem_task *m, size_t *cap, ckpt_err_t *err)
{
	cleanup_free struct mem_run *runs = NULL;
	struct mem_ranges got = {0};
	char name[64], img[64];
	uint64_t size = 0;
	size_t n = 0, w = 0;
	int fd, ret;

	snprintf(name, sizeof(name), "pagemap-%d.json", pid);
	snprintf(img, sizeof(img), "pages-%d.img", pid);
	if (bundle_has_file(b, name)) {
		ret = bundle_open_file(b, img, &fd, &size, err);
		if (ret < 0)
			return ret;
		close(fd);
		ret = mem_runs_get(b, name, true, size / PAGE_SIZE, &runs, &n, err);
		if (ret < 0)
			return ret;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t a = runs[i].addr, e = a + runs[i].npages * PAGE_SIZE;

		while (w < want->n && want->r[w][1] <= a)
			w++;
		for (size_t j = w; j < want->n && want->r[j][0] < e; j++) {
			uint64_t s = MAX(a, want->r[j][0]), t = MIN(e, want->r[j][1]);

			if (s >= t)
				continue;
			if (m->nxruns == *cap) {
				*cap = *cap ? 2 * *cap : 64;
				m->xruns = xrealloc(m->xruns, *cap * sizeof(*m->xruns));
			}
			m->xruns[m->nxruns++] = (struct mem_xrun){
				.addr = s,
				.npages = (t - s) / PAGE_SIZE,
				.off = runs[i].off + (s - a) / PAGE_SIZE,
				.level = k,
			};
			ranges_add(&got, s, t);
		}
	}
	ranges_sub(want, &got, left);
	ranges_free(&got);
	return 0;
}

static int xrun_cmp(const void *a, const void *b)
{
	const struct mem_xrun *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int mem_chain_task(struct ckpt_bundle *b, const struct mem_chain *ch, pid_t pid, struct mem_task *m,
		   ckpt_err_t *err)
{
	struct mem_ranges want = {0};
	char name[64];
	size_t cap = 0;
	int ret;

	snprintf(name, sizeof(name), "parentmap-%d.json", pid);
	ret = mem_incr_runs_get(b, name, false, &want, err);
	if (ret == 0 && want.n && !ch->n)
		ret = ckpt_error_msg(err, EPROTO, "%s: pages of a parent, and no parent", name);
	if (ret == 0)
		ret = refs_in_vmas(&want, m, pid, err);
	for (int k = 0; ret == 0 && k < ch->n && want.n; k++) {
		struct mem_ranges left = {0}, up = {0}, missing = {0};

		ret = level_take(ch->b[k], k, pid, &want, &left, m, &cap, err);
		if (ret == 0)
			ret = mem_incr_runs_get(ch->b[k], name, false, &up, err);
		if (ret == 0)
			ranges_sub(&left, &up, &missing);
		if (ret == 0 && missing.n)
			ret = ckpt_error_msg(
				err, EPROTO,
				"`%s`: task %d: page %#llx is referenced and not there",
				bundle_path(ch->b[k]), pid, (unsigned long long)missing.r[0][0]);
		ranges_free(&want);
		ranges_free(&up);
		ranges_free(&missing);
		want = left;
	}
	if (ret == 0 && want.n)
		ret = ckpt_error_msg(err, EPROTO,
				     "task %d: page %#llx is in no bundle of the chain", pid,
				     (unsigned long long)want.r[0][0]);
	ranges_free(&want);
	if (m->nxruns)
		qsort(m->xruns, m->nxruns, sizeof(*m->xruns), xrun_cmp);
	return ret;
}

/*
 * Pieces of one image read with one pread (their span, gaps and all, at
 * most FILL_BUF) and written into the task with one process_vm_writev: a
 * parent's pages come in many short runs (between the pages written since),
 * and a pair of syscalls per run cost more than the copy.
 */
#define WB_IOV 512
struct wbatch {
	pid_t host_pid;
	int memfd, fd;
	off_t start; /* image offset of buf[0] */
	size_t span, total;
	int n;
	char *buf;
	struct iovec local[WB_IOV], remote[WB_IOV];
};

static int wb_flush(struct wbatch *b, ckpt_err_t *err)
{
	ssize_t got;

	if (!b->n)
		return 0;
	got = pread(b->fd, b->buf, b->span, b->start);
	if (got != (ssize_t)b->span)
		return ckpt_error(err, got < 0 ? errno : EIO, "read parent pages");
	/* a read-only VMA refuses process_vm_writev: /proc/PID/mem writes with force */
	if (process_vm_writev(b->host_pid, b->local, b->n, b->remote, b->n, 0) !=
	    (ssize_t)b->total) {
		for (int i = 0; i < b->n; i++)
			if (pwrite(b->memfd, b->local[i].iov_base, b->local[i].iov_len,
				   (off_t)(uintptr_t)b->remote[i].iov_base) !=
			    (ssize_t)b->local[i].iov_len)
				return ckpt_error(err, errno, "write pages of %d at %p",
						  b->host_pid, b->remote[i].iov_base);
	}
	b->n = 0;
	b->span = b->total = 0;
	return 0;
}

/* len bytes (at most FILL_BUF) from offset off of image fd, for addr. */
static int wb_add(struct wbatch *b, int fd, off_t off, uint64_t addr, size_t len, ckpt_err_t *err)
{
	int ret;

	if (b->n && (fd != b->fd || off < b->start + (off_t)b->span ||
		     off + len - b->start > FILL_BUF || b->n == WB_IOV)) {
		ret = wb_flush(b, err);
		if (ret < 0)
			return ret;
	}
	if (!b->n) {
		b->fd = fd;
		b->start = off;
	}
	b->local[b->n] = (struct iovec){b->buf + (off - b->start), len};
	b->remote[b->n] = (struct iovec){(void *)(uintptr_t)addr, len};
	b->n++;
	b->span = off + len - b->start;
	b->total += len;
	return 0;
}

/*
 * The pages of xruns inside [s, e) (all with e 0) but those in VMAs the
 * task made before its fork (skip), into the task host_pid through b, or,
 * b NULL, into our own memory (the task itself, before it forks).
 */
static int chain_copy(const struct mem_chain *ch, pid_t pid, const struct mem_task *m,
		      struct wbatch *b, uint64_t s, uint64_t e, const uint8_t *skip,
		      struct rsys *rs, uint64_t *pages, ckpt_err_t *err)
{
	int fds[CHAIN_MAX];
	size_t v = 0;
	int ret = 0;

	for (int k = 0; k < CHAIN_MAX; k++)
		fds[k] = -1;
	for (size_t i = 0; ret == 0 && i < m->nxruns; i++) {
		const struct mem_xrun *x = &m->xruns[i];
		uint64_t addr = x->addr, end = addr + x->npages * PAGE_SIZE;
		off_t off;
		long r;

		if (e) {
			addr = MAX(addr, s);
			end = MIN(end, e);
		}
		if (addr >= end)
			continue;
		/* the VMA made before the fork has these pages already (mem-cow.c) */
		while (skip && v < m->nvmas && m->vmas[v].end <= addr)
			v++;
		if (skip && v < m->nvmas && skip[v] == COW_OWN && m->vmas[v].start <= addr)
			continue;
		if (fds[x->level] < 0) {
			char img[64];
			uint64_t size;

			snprintf(img, sizeof(img), "pages-%d.img", pid);
			ret = bundle_open_file(ch->b[x->level], img, &fds[x->level], &size, err);
			if (ret < 0)
				break;
		}
		/* a fault per page costs more than the copy: populate first, as pages_fill */
		if (rs && end - addr >= 16 * PAGE_SIZE &&
		    RSYS(rs, &r, err, SYS_madvise, addr, end - addr, MADV_POPULATE_WRITE, 0, 0, 0) <
			    0) {
			ret = -err->code;
			break;
		}
		*pages += (end - addr) / PAGE_SIZE;
		off = x->off * PAGE_SIZE + (addr - x->addr);
		while (ret == 0 && addr < end) {
			size_t n = MIN(end - addr, FILL_BUF);
			ssize_t got;

			if (b) {
				ret = wb_add(b, fds[x->level], off, addr, n, err);
			} else {
				got = pread(fds[x->level], (void *)(uintptr_t)addr, n, off);
				if (got != (ssize_t)n)
					ret = ckpt_error(err, got < 0 ? errno : EIO,
							 "read parent pages");
			}
			addr += n;
			off += n;
		}
	}
	if (ret == 0 && b)
		ret = wb_flush(b, err);
	for (int k = 0; k < CHAIN_MAX; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	return ret;
}

int mem_chain_premake(const struct mem_chain *ch, pid_t pid, const struct mem_task *m, uint64_t s,
		      uint64_t e, ckpt_err_t *err)
{
	uint64_t pages = 0;

	if (!ch || !m->nxruns)
		return 0;
	return chain_copy(ch, pid, m, NULL, s, e, NULL, NULL, &pages, err);
}

int mem_chain_fill(const struct mem_chain *ch, pid_t pid, pid_t host_pid, struct rsys *rs,
		   const struct mem_task *m, const uint8_t *keep, ckpt_err_t *err)
{
	cleanup_free char *mem = xasprintf("/proc/%d/mem", host_pid);
	cleanup_free struct wbatch *b = NULL;
	cleanup_free char *buf = NULL;
	cleanup_close int memfd = -1;
	uint64_t pages = 0;
	int ret;

	if (!m->nxruns)
		return 0;
	memfd = open(mem, O_RDWR | O_CLOEXEC);
	if (memfd < 0)
		return ckpt_error(err, errno, "open %s", mem);
	buf = xzalloc(FILL_BUF);
	b = xzalloc(sizeof(*b));
	b->host_pid = host_pid;
	b->memfd = memfd;
	b->buf = buf;
	ret = chain_copy(ch, pid, m, b, 0, 0, keep, rs, &pages, err);
	if (ret == 0)
		pr_info("task %d: %llu pages from %d parent bundles", host_pid,
			(unsigned long long)pages, ch->n);
	return ret;
}

/*
 * `ckpt-oci inspect`: what chain.json says, then each parent up the
 * chain, checked as restore would (its manifest the one recorded).
 */
int mem_chain_describe(struct ckpt_bundle *b, FILE *out, ckpt_err_t *err)
{
	struct ckpt_bundle *cur = b;
	struct chain_doc c;
	int depth = 0;

	for (;;) {
		cleanup_json struct json *doc = NULL;
		cleanup_free char *path = NULL;
		struct ckpt_bundle *p = NULL;
		uint8_t sum[32];
		char hex[65];
		bool has;
		int ret = chain_doc_read(cur, &doc, &c, &has, err);

		if (ret < 0 || !has) {
			if (cur != b)
				bundle_close(cur);
			return ret;
		}
		if (cur == b)
			fprintf(out, "chain:     %s of the tree of pid %lld\n",
				c.pre_dump ? "pre-dump (memory only, not restorable)"
					   : "incremental checkpoint",
				(long long)c.tree_pid);
		if (!c.parent) {
			if (cur != b)
				bundle_close(cur);
			return 0;
		}
		path = parent_path(cur, c.parent);
		ret = bundle_open_documents(
			path, &(struct bundle_auth){.insecure = true, .quiet = true}, &p, err);
		if (ret == 0) {
			bundle_manifest_sum(p, sum);
			sum_hex(sum, hex);
		}
		fprintf(out, "%*sparent:    %s (%s)\n", 2 * depth, "", path,
			ret < 0			    ? "missing or unreadable"
			: strcmp(hex, c.parent_sum) ? "ALTERED: not the bundle it was made from"
						    : "manifest as recorded");
		if (cur != b)
			bundle_close(cur);
		if (ret < 0 || strcmp(hex, c.parent_sum) || ++depth == CHAIN_MAX) {
			if (ret == 0)
				bundle_close(p);
			err->code = 0;
			return 0;
		}
		cur = p;
	}
}
