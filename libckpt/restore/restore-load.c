/*
 * libckpt/restore/restore-load.c - the boundary: every document the tree is
 * made from (pstree.json, each task-PID.json and pagemap-PID.json) is read
 * here once, into typed structs, when restore loads the bundle and before
 * anything is made. A crafted or damaged document is refused in one line
 * naming the file and the key ("pstree.json: tasks[3].ppid: ...");
 * everything after this reads the structs, not the documents, which are
 * freed as soon as each task's are read: the restorer, which every task
 * of the tree is forked from, holds the structs of the tree (at 1,000
 * tasks, a quarter of what their documents took as JSON trees).
 */
#define LOG_PREFIX "restore: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "mem/vdso.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define HPAGE_SIZE    (2UL << 20)
#define HEAP_HUGE_MIN (8UL << 20)

/*
 * The saved fds, read by the files module (files_task_load: every member
 * every fd has, checked); their numbers kept here, the page image above
 * all of them.
 */
static int fds_read(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	const struct files_task *ft;
	int max = 2, ret;

	ret = files_task_load(&rc->files, t->pid, t->doc, &max, err);
	if (ret < 0)
		return ret;
	ft = files_task_of(&rc->files, t->pid);
	t->fds = xzalloc((ft->nfds + 1) * sizeof(*t->fds));
	t->fd_memfd = xzalloc((ft->nfds + 1) * sizeof(*t->fd_memfd));
	t->nfds = ft->nfds;
	for (size_t i = 0; i < ft->nfds; i++) {
		const struct fd_entry *e = &ft->fds[i];

		t->fds[i] = e->fd;
		/* a memfd's mapping is made through it (mem-object.c) */
		ret = doc_opt_u64(&e->at, e->obj, "memfd", UINT64_MAX, 0, &t->fd_memfd[i], err);
		if (ret < 0)
			return ret;
	}
	t->img_fd = max + 1;
	return 0;
}

/* threads[]: the tids pstree.json lists, in its order, each with its registers. */
static int threads_read(const struct doc_at *at, struct rtask *t, const struct pstree_task *pt,
			ckpt_err_t *err)
{
	struct doc_at tat = DOC_KEY(at, "threads");
	const struct json *threads;
	size_t n;
	int ret;

	ret = doc_arr(at, t->doc, "threads", DOC_PID_MAX, &threads, &n, err);
	if (ret < 0)
		return ret;
	if (n != pt->nthreads)
		return doc_error(err, &tat, "%zu threads, pstree.json lists %zu", n, pt->nthreads);
	t->nthreads = n;
	t->threads = xzalloc(n * sizeof(*t->threads));
	for (size_t i = 0; i < n; i++) {
		struct rthread *th = &t->threads[i];
		struct doc_at e = DOC_IDX(&tat, i), rat = DOC_KEY(&e, "regs");
		const struct json *j, *regs;
		int64_t tid;

		ret = doc_elem_obj(&tat, threads, i, &j, err);
		if (ret == 0)
			ret = doc_int(&e, j, "tid", pt->threads[i], pt->threads[i], &tid, err);
		if (ret == 0)
			ret = doc_obj(&e, j, "regs", &regs, err);
		if (ret == 0)
			ret = regs_from_json(&rat, regs, &th->regs, &th->xstate, &th->xstate_len,
					     err);
		if (ret < 0)
			return ret;
		th->tid = tid;
	}
	return 0;
}

/* The pages image's size, from the verified manifest. */
static int image_size(struct rctx *rc, const char *name, uint64_t *size, ckpt_err_t *err)
{
	return bundle_file_size(rc->bundle, name, size, err);
}

/* Each shared object's runs read from inside its image. */
static int shm_images_check(struct rctx *rc, const struct doc_at *at, const struct mem_task *m,
			    ckpt_err_t *err)
{
	for (size_t i = 0; i < m->nvmas; i++) {
		const struct mem_vma *v = &m->vmas[i];
		char name[64];
		uint64_t size;
		int ret;

		if (!v->has_runs)
			continue;
		snprintf(name, sizeof(name), "%s-%llu.img", vma_object_image(v->kind),
			 (unsigned long long)v->shmid);
		ret = image_size(rc, name, &size, err);
		if (ret < 0)
			return ret;
		for (size_t k = 0; k < v->nshm_runs; k++) {
			const struct mem_shm_run *r = &v->shm_runs[k];

			if (r->src > size || r->len > size - r->src) {
				struct doc_at va = DOC_KEY(at, "vmas"), e = DOC_IDX(&va, i),
					      ra = DOC_KEY(&e, "shm_runs"), re = DOC_IDX(&ra, k);

				return doc_error(err, &re,
						 "bytes %llu..%llu are past the end of %s",
						 (unsigned long long)r->src,
						 (unsigned long long)(r->src + r->len), name);
			}
		}
	}
	return 0;
}

static int rc_load_task(struct rctx *rc, struct rtask *t, const struct pstree_task *pt,
			ckpt_err_t *err)
{
	char name[64], pmname[64], img[64];
	struct doc_at at, pm;
	uint64_t img_size;
	int64_t pid, code;
	int ret;

	t->pid = pt->pid;
	t->ppid = pt->ppid;
	t->pgid = pt->pgid;
	t->sid = pt->sid;
	snprintf(name, sizeof(name), "task-%d.json", t->pid);
	at = DOC_TOP(name);
	ret = bundle_get_json(rc->bundle, name, &t->doc, err);
	if (ret == 0)
		ret = doc_int(&at, t->doc, "pid", t->pid, t->pid, &pid, err);
	if (ret == 0)
		ret = doc_opt_bool(&at, t->doc, "zombie", false, &t->zombie, err);
	if (ret == 0)
		ret = doc_opt_int(&at, t->doc, "exit_code", 0, 0xffff, 0, &code, err);
	if (ret < 0)
		return ret;
	t->exit_code = code;
	if (t->zombie)
		return 0;
	ret = fds_read(rc, t, err);
	if (ret == 0)
		ret = threads_read(&at, t, pt, err);
	/* the task state rooms, task/task.h (also what restore-child.c sets up) */
	if (ret == 0 && !(t->state = task_state_parse(name, t->doc, err)))
		ret = -err->code;
	if (ret < 0)
		return ret;
	snprintf(pmname, sizeof(pmname), "pagemap-%d.json", t->pid);
	pm = DOC_TOP(pmname);
	ret = bundle_get_json(rc->bundle, pmname, &t->pagemap, err);
	snprintf(img, sizeof(img), "pages-%d.img", t->pid);
	if (ret == 0)
		ret = image_size(rc, img, &img_size, err);
	if (ret == 0)
		ret = mem_doc_read(&at, t->doc, &pm, t->pagemap, img_size, &t->mem, err);
	if (ret == 0)
		ret = shm_images_check(rc, &at, &t->mem, err);
	if (ret == 0 && rc->chain)
		ret = mem_chain_task(rc->bundle, rc->chain, t->pid, &t->mem, err);
	return ret;
}

/* The documents go once read: the structs own all they need of them. */
static void rc_task_docs_free(struct rtask *t)
{
	json_free(t->doc);
	json_free(t->pagemap);
	t->doc = t->pagemap = NULL;
}

/*
 * The vdso every task of a tree recorded is most often one and the same
 * (4.6 KiB of symbols each): a task's that equals the first one recorded
 * is that one (rc_load_free frees it once).
 */
static struct vdso_info *vdso_first(const struct rctx *rc)
{
	for (int i = 0; rc->tasks && i < rc->ntasks; i++)
		if (rc->tasks[i].mem.vdso)
			return rc->tasks[i].mem.vdso;
	return NULL;
}

static void vdso_share(struct rctx *rc, struct rtask *t)
{
	struct vdso_info *first = vdso_first(rc);

	if (first && t->mem.vdso && t->mem.vdso != first &&
	    !memcmp(first, t->mem.vdso, sizeof(*first))) {
		free(t->mem.vdso);
		t->mem.vdso = first;
	}
}

int rc_load(struct rctx *rc, ckpt_err_t *err)
{
	int ret;

	ret = bundle_get_json(rc->bundle, "pstree.json", &rc->pstree, err);
	if (ret == 0)
		ret = pstree_read(rc->pstree, &rc->tree, err);
	if (ret < 0)
		return ret;
	rc->own_pidns = rc->tree.own_pidns;
	rc->ntasks = rc->tree.ntasks;
	rc->tasks = xzalloc(rc->ntasks * sizeof(*rc->tasks));
	for (int i = 0; i < rc->ntasks; i++) {
		struct rtask *t = &rc->tasks[i];
		const struct pstree_task *pt = &rc->tree.tasks[i];

		t->idx = i;
		t->img_fd = -1;
		ret = rc_load_task(rc, t, pt, err);
		rc_task_docs_free(t);
		if (ret < 0)
			return ret;
		vdso_share(rc, t);
		if (i == 0) {
			rc->root = t;
			if (t->mem.ninherited)
				return ckpt_error_msg(err, EPROTO,
						      "task-%d.json: inherited: the root has no "
						      "parent to share pages with",
						      t->pid);
			continue;
		}
		/* pstree_read made sure the parent comes first */
		for (int k = i - 1; k >= 0 && !t->parent; k--)
			if (rc->tasks[k].pid == t->ppid)
				t->parent = &rc->tasks[k];
		if (t->mem.ninherited && t->parent->zombie)
			return ckpt_error_msg(err, EPROTO,
					      "task-%d.json: inherited: pages shared with a zombie",
					      t->pid);
		t->parent->children =
			xrealloc(t->parent->children, (t->parent->nchildren + 1) * sizeof(t));
		t->parent->children[t->parent->nchildren++] = t;
	}
	return 0;
}

void rc_load_free(struct rctx *rc)
{
	struct vdso_info *first = vdso_first(rc);
	bool owner = true;

	/* vdso_share: the first task's vdso, freed with it alone */
	for (int i = 0; first && i < rc->ntasks; i++) {
		if (rc->tasks[i].mem.vdso != first)
			continue;
		if (!owner)
			rc->tasks[i].mem.vdso = NULL;
		owner = false;
	}
	for (int i = 0; rc->tasks && i < rc->ntasks; i++) {
		struct rtask *t = &rc->tasks[i];

		for (int k = 0; t->threads && k < t->nthreads; k++)
			free(t->threads[k].xstate);
		task_state_free(t->state);
		rc_task_docs_free(t);
		free(t->children);
		free(t->threads);
		free(t->fds);
		free(t->fd_memfd);
		mem_doc_free(&t->mem);
	}
	free(rc->tasks);
	rc->tasks = NULL;
	pstree_free(&rc->tree);
	json_free(rc->pstree);
	rc->pstree = NULL;
}

static int heap_collapse(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	uint64_t s = (v->start + HPAGE_SIZE - 1) & ~(HPAGE_SIZE - 1),
		 e = v->end & ~(HPAGE_SIZE - 1);
	uint64_t t0 = now_ns();

	if (strcmp(v->path, "[heap]") || e < s + HEAP_HUGE_MIN)
		return 0;
	if (madvise((void *)(uintptr_t)s, e - s, MADV_COLLAPSE) < 0)
		pr_debug("heap %#lx-%#lx in huge pages: %s", (unsigned long)s, (unsigned long)e,
			 strerror(errno));
	else
		pr_debug("heap %#lx-%#lx in huge pages in %.3f s", (unsigned long)s,
			 (unsigned long)e, (now_ns() - t0) / 1e9);
	return 1;
}

/*
 * The restorer's heap, every task's structs in it, in huge pages before
 * the tree is forked from it: each process of the tree is a fork of
 * ckpt-oci (restore-child.c), and a fork copies the page table entries of
 * its private memory, which the task unmaps again first thing (rmem_restore).
 * With 4 KiB pages that is 512 entries per 2 MiB each way, growing with the
 * tree: the most of a 1,000-process restore (copy_page_range and
 * unmap_page_range in perf); a huge page is one entry each way. Best
 * effort: a heap that cannot be collapsed stays as it is.
 */
void rc_heap_huge(void)
{
	ckpt_err_t e = {0};

	if (proc_read_maps(AT_FDCWD, "/proc/self/maps", heap_collapse, NULL, &e) < 0)
		ckpt_error_clear(&e);
}
