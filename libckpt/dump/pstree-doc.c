/*
 * libckpt/dump/pstree-doc.c - pstree.json's key list and its checked reader
 * (pstree.c writes it). A crafted tree is refused here, before restore
 * makes anything: a root that is not the first task, a parent that does
 * not come before its child (a loop, or a parent outside the tree), a pid
 * or tid used twice (a thread with the tid of another process), ids out
 * of range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dump/pstree.h"
#include "util/util.h"

const struct doc_field pstree_fields[] = {
	DOC_INT(struct pstree, root, "root", 1, DOC_PID_MAX),
	DOC_BOOL(struct pstree, own_pidns, "own_pidns"),
	DOC_END,
};

const struct doc_field pstree_task_fields[] = {
	DOC_INT(struct pstree_task, pid, "pid", 1, DOC_PID_MAX),
	/* 0: outside the tree's pid namespace */
	DOC_INT(struct pstree_task, ppid, "ppid", 0, DOC_PID_MAX),
	DOC_INT(struct pstree_task, pgid, "pgid", 0, DOC_PID_MAX),
	DOC_INT(struct pstree_task, sid, "sid", 0, DOC_PID_MAX),
	DOC_STR(struct pstree_task, state, "state", 1),
	DOC_OPT_STR(struct pstree_task, comm, "comm", 64),
	DOC_OPT_INT(struct pstree_task, exit_code, "exit_code", 0, 0xffff),
	DOC_END,
};

struct pst_id {
	int32_t id;
	size_t task, thread;
};

static int id_cmp(const void *a, const void *b)
{
	const struct pst_id *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int task_read(const struct doc_at *e, const struct json *j, struct pstree_task *t,
		     ckpt_err_t *err)
{
	struct doc_at tat = DOC_KEY(e, "threads");
	const struct json *th;
	int ret;

	ret = doc_read(e, j, pstree_task_fields, t, err);
	if (ret == 0)
		ret = doc_arr(e, j, "threads", DOC_PID_MAX, &th, &t->nthreads, err);
	if (ret < 0)
		return ret;
	if (!t->nthreads)
		return doc_error(err, &tat, "no threads");
	t->threads = xzalloc(t->nthreads * sizeof(*t->threads));
	for (size_t k = 0; k < t->nthreads; k++) {
		int64_t tid;

		ret = doc_elem_int(&tat, th, k, 1, DOC_PID_MAX, &tid, err);
		if (ret < 0)
			return ret;
		t->threads[k] = tid;
	}
	if (t->threads[0] != t->pid) {
		struct doc_at z = DOC_IDX(&tat, 0);

		return doc_error(err, &z, "%d is not the task's pid %d", t->threads[0], t->pid);
	}
	return 0;
}

/* No pid or tid twice: every id sorted (*out, *nout), neighbours differ. */
static int ids_unique(const struct doc_at *tasks_at, const struct pstree *p, struct pst_id **out,
		      size_t *nout, ckpt_err_t *err)
{
	struct pst_id *ids;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < p->ntasks; i++)
		cap += p->tasks[i].nthreads;
	ids = xzalloc((cap + 1) * sizeof(*ids));
	*out = ids;
	*nout = cap;
	for (size_t i = 0; i < p->ntasks; i++)
		for (size_t k = 0; k < p->tasks[i].nthreads; k++)
			ids[n++] = (struct pst_id){p->tasks[i].threads[k], i, k};
	qsort(ids, n, sizeof(*ids), id_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct pst_id *a = &ids[i - 1], *b = &ids[i];

		if (a->id == b->id) {
			struct doc_at e = DOC_IDX(tasks_at, MAX(a->task, b->task));

			return doc_error(err, &e,
					 "id %d is used twice (tasks[%zu].threads[%zu] and "
					 "tasks[%zu].threads[%zu])",
					 a->id, MIN(a->task, b->task),
					 a->task < b->task ? a->thread : b->thread,
					 MAX(a->task, b->task),
					 a->task < b->task ? b->thread : a->thread);
		}
	}
	return 0;
}

int pstree_read(const struct json *doc, struct pstree *p, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("pstree.json"), tat = DOC_KEY(&top, "tasks");
	cleanup_free struct pst_id *ids = NULL;
	const struct json *tasks;
	size_t nids = 0;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = doc_read(&top, doc, pstree_fields, p, err);
	if (ret == 0)
		ret = doc_arr(&top, doc, "tasks", PSTREE_MAX_TASKS, &tasks, &p->ntasks, err);
	if (ret < 0)
		return ret;
	if (!p->ntasks)
		return doc_error(err, &tat, "no tasks");
	p->tasks = xzalloc(p->ntasks * sizeof(*p->tasks));
	for (size_t i = 0; i < p->ntasks; i++) {
		struct doc_at e = DOC_IDX(&tat, i);
		const struct json *j;

		ret = doc_elem_obj(&tat, tasks, i, &j, err);
		if (ret == 0)
			ret = task_read(&e, j, &p->tasks[i], err);
		if (ret < 0)
			return ret;
	}
	if (p->tasks[0].pid != p->root) {
		struct doc_at r = DOC_KEY(&top, "root");

		return doc_error(err, &r, "%d is not the first task (%d)", p->root,
				 p->tasks[0].pid);
	}
	ret = ids_unique(&tat, p, &ids, &nids, err);
	if (ret < 0)
		return ret;
	/* parents first: a ppid naming a later task (or none) is a loop or a stranger */
	for (size_t i = 1; i < p->ntasks; i++) {
		struct pst_id key = {p->tasks[i].ppid, 0, 0};
		const struct pst_id *par = bsearch(&key, ids, nids, sizeof(*ids), id_cmp);

		if (!par || par->thread != 0 || par->task >= i) {
			struct doc_at e = DOC_IDX(&tat, i), pp = DOC_KEY(&e, "ppid");

			return doc_error(err, &pp, "%d is not a task before this one in the tree",
					 p->tasks[i].ppid);
		}
	}
	return 0;
}

void pstree_free(struct pstree *p)
{
	for (size_t i = 0; p->tasks && i < p->ntasks; i++)
		free(p->tasks[i].threads);
	free(p->tasks);
	memset(p, 0, sizeof(*p));
}
