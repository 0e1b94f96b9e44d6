/*
 * libckpt/mem/mem-incr.c - the dump side of incremental checkpoints: the
 * parent bundle opened and checked, the pages a task did not write since
 * it (referenced in parentmap-PID.json, not copied), chain.json, and the
 * pre-dump's copy of pages while the tree runs.
 *
 * A page is referenced only when all of these hold: it is present now; its
 * VMA is tracked since the parent's arm (mem-track.c); PAGEMAP_SCAN says
 * it was not written since; and the parent chain holds it. Anything else
 * (a VMA unmapped and mapped again, moved, grown, a page the parent lacks)
 * is copied. The parent's copy was made after the arm, so a page not
 * written since the arm is the very page the parent holds.
 */
#define LOG_PREFIX "incr: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine.h"
#include "mem/mem-incr.h"
#include "util/doc.h"
#include "util/fault.h"
#include "util/journal.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

#define SCAN_VEC 1024

void ranges_add(struct mem_ranges *s, uint64_t a, uint64_t e)
{
	if (a >= e)
		return;
	if (s->n && s->r[s->n - 1][1] >= a) {
		s->r[s->n - 1][1] = MAX(s->r[s->n - 1][1], e);
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
	}
	s->r[s->n][0] = a;
	s->r[s->n++][1] = e;
}

void ranges_and(const struct mem_ranges *a, const struct mem_ranges *b, struct mem_ranges *out)
{
	size_t i = 0, k = 0;

	while (i < a->n && k < b->n) {
		uint64_t s = MAX(a->r[i][0], b->r[k][0]), e = MIN(a->r[i][1], b->r[k][1]);

		ranges_add(out, s, e);
		if (a->r[i][1] < b->r[k][1])
			i++;
		else
			k++;
	}
}

void ranges_sub(const struct mem_ranges *a, const struct mem_ranges *b, struct mem_ranges *out)
{
	size_t k = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t s = a->r[i][0], e = a->r[i][1];

		while (k < b->n && b->r[k][1] <= s)
			k++;
		for (size_t j = k; j < b->n && b->r[j][0] < e && s < e; j++) {
			ranges_add(out, s, MIN(e, b->r[j][0]));
			s = MAX(s, b->r[j][1]);
		}
		ranges_add(out, s, e);
	}
}

/* out = a | b (both sorted). */
static void ranges_or(const struct mem_ranges *a, const struct mem_ranges *b,
		      struct mem_ranges *out)
{
	size_t i = 0, k = 0;

	while (i < a->n || k < b->n) {
		bool take_a = k == b->n || (i < a->n && a->r[i][0] <= b->r[k][0]);
		const uint64_t *r = take_a ? a->r[i++] : b->r[k++];

		ranges_add(out, r[0], r[1]);
	}
}

uint64_t ranges_pages(const struct mem_ranges *s)
{
	uint64_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += (s->r[i][1] - s->r[i][0]) / PAGE_SIZE;
	return n;
}

void ranges_free(struct mem_ranges *s)
{
	free(s->r);
	memset(s, 0, sizeof(*s));
}

static const struct doc_field chain_fields[] = {
	DOC_OPT_BOOL(struct chain_doc, pre_dump, "pre_dump"),
	DOC_INT(struct chain_doc, tree_pid, "tree_pid", 1, DOC_PID_MAX),
	DOC_INT(struct chain_doc, tree_start, "tree_start", 0, INT64_MAX),
	DOC_OPT_STR(struct chain_doc, track, "track", TRACK_ID_LEN),
	DOC_OPT_STR(struct chain_doc, parent, "parent", PATH_MAX),
	DOC_OPT_STR(struct chain_doc, parent_sum, "parent_manifest", 64),
	DOC_END,
};

int chain_doc_read(struct ckpt_bundle *b, struct json **doc, struct chain_doc *c, bool *has,
		   ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP(CHAIN_DOC);
	int ret;

	memset(c, 0, sizeof(*c));
	*doc = NULL;
	*has = bundle_has_file(b, CHAIN_DOC);
	if (!*has)
		return 0;
	ret = bundle_get_json(b, CHAIN_DOC, doc, err);
	if (ret == 0)
		ret = doc_read(&at, *doc, chain_fields, c, err);
	if (ret == 0 && !c->parent != !c->parent_sum)
		ret = doc_error(err, &at, "parent and parent_manifest go together");
	if (ret == 0 && c->parent_sum && strlen(c->parent_sum) != 64)
		ret = doc_error(err, &at, "parent_manifest: expected 64 hex digits");
	return ret;
}

/*
 * The parent's path from the directory the new bundle is made in
 * ("b1", "../prev/bundle"), so that a chain moved together still holds.
 */
static char *parent_rel(const char *parent, const char *bundle)
{
	cleanup_free char *pabs = realpath(parent, NULL);
	cleanup_free char *copy = xstrdup(bundle);
	cleanup_free char *dabs = realpath(dirname(copy), NULL);
	char *out;
	size_t common = 0, up = 0;

	if (!pabs || !dabs)
		return xstrdup(parent);
	/* the longest common directory prefix */
	for (size_t i = 0;; i++) {
		if ((!dabs[i] || dabs[i] == '/') && (pabs[i] == '/' || !pabs[i]))
			common = i;
		if (!dabs[i] || dabs[i] != pabs[i])
			break;
	}
	for (const char *p = dabs + common; *p; p++)
		up += *p == '/';
	out = xzalloc(3 * up + strlen(pabs) + 1);
	for (size_t i = 0; i < up; i++)
		strcat(out, "../");
	strcat(out, pabs + common + (pabs[common] == '/'));
	return out;
}

int mem_incr_open(struct mem_incr *in, const char *parent, const char *bundle,
		  const struct bundle_auth *auth, pid_t root, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	struct chain_doc c;
	bool has;
	int ret;

	ret = bundle_open_documents(parent, auth, &in->parent, err);
	if (ret == 0)
		ret = chain_doc_read(in->parent, &doc, &c, &has, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "parent `%s`", parent);
	if (!has || !c.pre_dump)
		return ckpt_error_msg(err, EINVAL, "parent `%s` is not a pre-dump (--pre-dump)",
				      parent);
	if (c.tree_pid != root || c.tree_start != journal_starttime(root))
		return ckpt_error_msg(err, EINVAL,
				      "parent `%s` is a pre-dump of another tree (pid %lld), "
				      "not of %d",
				      parent, (long long)c.tree_pid, root);
	bundle_manifest_sum(in->parent, in->parent_sum);
	in->parent_rel = parent_rel(parent, bundle);
	in->parent_pre_dump = c.pre_dump;
	ret = track_state_load(root, &in->track, err);
	if (ret < 0)
		return ret;
	if (in->track.tracker && in->track.id[0] && c.track && strcmp(c.track, in->track.id))
		return ckpt_error_msg(err, EINVAL,
				      "parent `%s` is not the last pre-dump of this tree: "
				      "dirty-page tracking restarted since",
				      parent);
	in->tracked = in->track.tracker && in->track.id[0] && c.track;
	if (!in->tracked)
		pr_warn("no dirty-page tracking of this tree since `%s` (its tracker is gone): "
			"every page is written",
			parent);
	return 0;
}

void mem_incr_free(struct mem_incr *in)
{
	bundle_close(in->parent);
	free(in->parent_rel);
	track_state_free(&in->track);
	memset(in, 0, sizeof(*in));
}

int mem_runs_get(struct ckpt_bundle *b, const char *name, bool with_off, uint64_t img_pages,
		 struct mem_run **out, size_t *n, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	struct doc_at at = DOC_TOP(name);
	struct mem_run *runs;
	int ret;

	*out = NULL;
	*n = 0;
	ret = bundle_get_json(b, name, &doc, err);
	if (ret < 0)
		return ret;
	if (json_type(doc) != JSON_ARR)
		return doc_error(err, &at, "expected an array of page runs");
	runs = xzalloc((json_len(doc) + 1) * sizeof(*runs));
	ret = mem_runs_read(&at, doc, json_len(doc), with_off, img_pages, runs, err);
	if (ret < 0) {
		free(runs);
		return ret;
	}
	*out = runs;
	*n = json_len(doc);
	return 0;
}

int mem_incr_runs_get(struct ckpt_bundle *b, const char *name, bool with_off,
		      struct mem_ranges *out, ckpt_err_t *err)
{
	cleanup_free struct mem_run *runs = NULL;
	size_t n;
	int ret;

	if (!bundle_has_file(b, name))
		return 0;
	ret = mem_runs_get(b, name, with_off, MEM_TASK_SIZE / PAGE_SIZE, &runs, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++)
		ranges_add(out, runs[i].addr, runs[i].addr + runs[i].npages * PAGE_SIZE);
	return ret;
}

int mem_incr_coverage(struct mem_incr *in, pid_t ns_pid, struct mem_ranges *out, ckpt_err_t *err)
{
	struct mem_ranges own = {0}, refs = {0};
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "pagemap-%d.json", ns_pid);
	ret = mem_incr_runs_get(in->parent, name, true, &own, err);
	snprintf(name, sizeof(name), "parentmap-%d.json", ns_pid);
	if (ret == 0)
		ret = mem_incr_runs_get(in->parent, name, false, &refs, err);
	if (ret == 0)
		ranges_or(&own, &refs, out);
	ranges_free(&own);
	ranges_free(&refs);
	return ret;
}

int mem_incr_chain_put(struct ckpt_bundle *b, const struct mem_incr *in, bool pre_dump, pid_t root,
		       const char *track_id, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct chain_doc c = {
		.pre_dump = pre_dump,
		.tree_pid = root,
		.tree_start = journal_starttime(root),
		.track = pre_dump ? track_id : NULL,
	};
	char sum[65];

	if (in && in->parent) {
		for (int i = 0; i < 32; i++)
			snprintf(sum + 2 * i, 3, "%02x", in->parent_sum[i]);
		c.parent = in->parent_rel;
		c.parent_sum = sum;
	}
	doc_write(doc, chain_fields, &c);
	return bundle_put_json(b, CHAIN_DOC, doc, err);
}

int mem_incr_refs_put(struct ckpt_bundle *b, pid_t ns_pid, const struct mem_ranges *refs,
		      ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_arr();
	char name[64];

	for (size_t i = 0; i < refs->n; i++) {
		struct json *r = json_push(doc, json_arr());

		json_push(r, json_hex(refs->r[i][0]));
		json_push(r, json_int((refs->r[i][1] - refs->r[i][0]) / PAGE_SIZE));
	}
	snprintf(name, sizeof(name), "parentmap-%d.json", ns_pid);
	return bundle_put_json(b, name, doc, err);
}

/* Whether the tracker followed this very process since the parent's arm. */
static bool track_has(const struct track_state *st, pid_t pid)
{
	unsigned long long start = journal_starttime(pid);

	for (size_t i = 0; i < st->ntasks; i++)
		if (st->tasks[i].pid == pid && st->tasks[i].start == start)
			return true;
	return false;
}

int mem_incr_task_refs(struct mem_incr *in, struct task *t, struct mem_ranges *refs,
		       ckpt_err_t *err)
{
	struct mem_ranges tracked = {0}, written = {0}, cover = {0}, both = {0};
	int ret;

	if (!in->tracked || !track_has(&in->track, t->pid))
		return 0;
	ret = track_task_written(t->pid, &tracked, &written, err);
	pr_debug("task %d: written pages scanned", t->pid);
	if (ret == 0)
		ret = mem_incr_coverage(in, t->ns_pid, &cover, err);
	if (ret == 0) {
		ranges_and(&tracked, &cover, &both);
		ranges_sub(&both, &written, refs);
		pr_info("task %d: %lu pages tracked, %lu written since the parent, %lu held by it",
			t->pid, (unsigned long)ranges_pages(&tracked),
			(unsigned long)ranges_pages(&written), (unsigned long)ranges_pages(&cover));
	}
	ranges_free(&tracked);
	ranges_free(&written);
	ranges_free(&cover);
	ranges_free(&both);
	return ret;
}

int mem_incr_split(const struct mem_ranges *refs, size_t *cur, uint64_t a, uint64_t e,
		   int (*copy)(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err), void *arg,
		   struct mem_ranges *used, ckpt_err_t *err)
{
	while (a < e) {
		uint64_t s, m;
		int ret;

		while (*cur < refs->n && refs->r[*cur][1] <= a)
			(*cur)++;
		s = *cur < refs->n ? MAX(a, MIN(e, refs->r[*cur][0])) : e;
		if (s > a) {
			ret = copy(arg, a, s, err);
			if (ret < 0)
				return ret;
			a = s;
			continue;
		}
		m = MIN(e, refs->r[*cur][1]);
		ranges_add(used, a, m);
		a = m;
	}
	return 0;
}

/* Pre-dump copier: pages read through /proc/PID/mem into the image, runs in the pagemap. */
struct rcopy {
	int memfd, pmfd, ppmfd; /* ppmfd: the parent's pagemap, or -1 */
	struct bundle_image *img;
	struct json *pagemap;
	uint64_t npages;
	uint64_t pm[1024], ppm[1024];
};

/* [a, e) into the image, one run of the pagemap. */
static int rcopy_bytes(struct rcopy *c, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct json *run = json_push(c->pagemap, json_arr());

	json_push(run, json_hex(a));
	json_push(run, json_int((e - a) / PAGE_SIZE));
	json_push(run, json_int(bundle_image_size(c->img) / PAGE_SIZE));
	c->npages += (e - a) / PAGE_SIZE;
	while (a < e) {
		size_t room;
		char *p = bundle_image_room(c->img, &room);
		size_t len = MIN(room, e - a);
		ssize_t n = pread(c->memfd, p, len, (off_t)a);
		int ret;

		if (n < (ssize_t)PAGE_SIZE) {
			/* unmapped meanwhile: never referenced later (see above) */
			n = PAGE_SIZE;
			memset(p, 0, PAGE_SIZE);
		}
		n -= n % PAGE_SIZE;
		ret = bundle_image_commit(c->img, n, err);
		if (ret < 0)
			return ret;
		a += n;
	}
	return 0;
}

/* The parent's very page (copy-on-write since the fork): left to the final dump. */
static bool rcopy_shared(const struct rcopy *c, size_t i)
{
	return c->ppmfd >= 0 && (c->pm[i] & PM_PRESENT) && (c->ppm[i] & PM_PRESENT) &&
	       (c->pm[i] & PM_PFN_MASK) && (c->pm[i] & PM_PFN_MASK) == (c->ppm[i] & PM_PFN_MASK);
}

/*
 * [a, e) but the pages the task still shares with its parent: the final
 * dump keeps those as inherited (mem-dump.c), and copying them here would
 * only make it refer to private copies of them.
 */
static int rcopy_run(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct rcopy *c = arg;

	while (a < e) {
		size_t n = MIN((e - a) / PAGE_SIZE, ARRAY_SIZE(c->pm)), i = 0;

		if (c->ppmfd < 0)
			return rcopy_bytes(c, a, e, err);
		if (pread(c->pmfd, c->pm, n * 8, a / PAGE_SIZE * 8) != (ssize_t)(n * 8) ||
		    pread(c->ppmfd, c->ppm, n * 8, a / PAGE_SIZE * 8) != (ssize_t)(n * 8))
			return rcopy_bytes(c, a, e, err);
		while (i < n) {
			bool shared = rcopy_shared(c, i);
			size_t k = i + 1;
			int ret = 0;

			while (k < n && rcopy_shared(c, k) == shared)
				k++;
			if (!shared)
				ret = rcopy_bytes(c, a + i * PAGE_SIZE, a + k * PAGE_SIZE, err);
			if (ret < 0)
				return ret;
			i = k;
		}
		a += n * PAGE_SIZE;
	}
	return 0;
}

/* A swapped run of the running copy, markers left out (track_swapped_runs). */
struct rsplit {
	const struct mem_ranges *refs;
	size_t *cur;
	struct rcopy *c;
	struct mem_ranges *used;
};

static int rsplit_run(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct rsplit *sp = arg;

	return mem_incr_split(sp->refs, sp->cur, a, e, rcopy_run, sp->c, sp->used, err);
}

/*
 * CKPT_OCI_FAULT=predump-exit: a task other than the root is killed once
 * its copy has opened its files, and is gone (its memory too) when this
 * returns, as a program's short-lived child exits in that window.
 */
static void fault_task_exit(pid_t pid)
{
	int fd = (int)syscall(__NR_pidfd_open, pid, 0);

	if (fd < 0)
		return;
	if (kill(pid, SIGKILL) == 0)
		(void)poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, -1);
	close(fd);
}

int mem_incr_copy_running(struct ckpt_bundle *b, pid_t pid, pid_t ppid, pid_t ns_pid,
			  const struct mem_ranges *refs, uint64_t *ncopied, uint64_t *nref,
			  ckpt_err_t *err)
{
	cleanup_free struct page_region *vec = xzalloc(SCAN_VEC * sizeof(*vec));
	cleanup_free char *pm = xasprintf("/proc/%d/pagemap", pid);
	cleanup_free char *mem = xasprintf("/proc/%d/mem", pid);
	cleanup_free char *img_name = xasprintf("pages-%d.img", ns_pid);
	cleanup_free char *pm_name = xasprintf("pagemap-%d.json", ns_pid);
	cleanup_json struct json *pagemap = json_arr();
	cleanup_close int pmfd = open(pm, O_RDONLY | O_CLOEXEC);
	cleanup_close int memfd = open(mem, O_RDONLY | O_CLOEXEC);
	cleanup_free char *ppm = ppid ? xasprintf("/proc/%d/pagemap", ppid) : NULL;
	cleanup_close int ppmfd = ppm ? open(ppm, O_RDONLY | O_CLOEXEC) : -1;
	struct rcopy c = {.memfd = memfd, .pmfd = pmfd, .ppmfd = ppmfd, .pagemap = pagemap};
	struct mem_ranges used = {0};
	uint64_t pos = 0, done = 0;
	size_t cur = 0;
	int ret;

	if (pmfd < 0 || memfd < 0)
		return ckpt_error(err, errno, "open %s", pmfd < 0 ? pm : mem);
	ret = bundle_image_create(b, img_name, &c.img, err);
	/* a lazy restore of a later checkpoint checks it chunk by chunk (lazy/page-src.c) */
	if (ret == 0)
		bundle_image_keep_sums(c.img);
	if (ret == 0 && ppid && ckpt_fault_is("predump-exit"))
		fault_task_exit(pid);
	while (ret == 0 && pos < MEM_TASK_SIZE) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.start = pos,
			.end = MEM_TASK_SIZE,
			.vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC,
			.category_inverted = PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_GUARD,
			.category_mask = PAGE_IS_FILE | PAGE_IS_PFNZERO | PAGE_IS_GUARD,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long n = ioctl(pmfd, PAGEMAP_SCAN, &arg);

		if (n < 0) {
			ret = ckpt_error(err, errno, "PAGEMAP_SCAN of %d", pid);
			break;
		}
		for (long i = 0; ret == 0 && i < n; i++) {
			if (vec[i].end <= done)
				continue;
			if ((vec[i].categories & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) ==
			    PAGE_IS_SWAPPED) {
				struct rsplit sp = {refs, &cur, &c, &used};

				ret = track_swapped_runs(pmfd, MAX(vec[i].start, done), vec[i].end,
							 rsplit_run, &sp, err);
			} else {
				ret = mem_incr_split(refs, &cur, MAX(vec[i].start, done),
						     vec[i].end, rcopy_run, &c, &used, err);
			}
			done = vec[i].end;
		}
		if (MAX(arg.walk_end, done) <= pos)
			break;
		pos = MAX(arg.walk_end, done);
	}
	if (ret < 0) {
		bundle_image_abort(c.img);
		ranges_free(&used);
		return ret;
	}
	ret = bundle_image_close(c.img, err);
	if (ret == 0)
		ret = bundle_put_json(b, pm_name, pagemap, err);
	if (ret == 0)
		ret = mem_incr_refs_put(b, ns_pid, &used, err);
	*ncopied += c.npages;
	*nref += ranges_pages(&used);
	ranges_free(&used);
	return ret;
}
