/*
 * tests/fuzz/doc_fuzz.c - libFuzzer target for the typed document readers.
 *
 * Input: one selector byte, then JSON text. The text is parsed with
 * json_parse() and handed to the reader(s) the selector names, the ones
 * restore runs on a bundle before anything is made:
 *
 *   0  pstree.json            pstree_read
 *   1  {"task": task-PID.json, "pagemap": pagemap-PID.json, "img_size": N}
 *                             what rc_load does for one task (restore-load.c):
 *                             files_task_load, threads[], the task rooms'
 *                             task_state_parse, mem_doc_read
 *   2  {"files": files.json, "tasks": [task-PID.json ...]}
 *                             files_task_load of each, files_inflight_load
 *   3  cgroup.json            cg_doc_read
 *   4  ipc.json               ipc_doc_read, ipc_shm_list
 *   5  net.json               net_doc_read
 *
 * Every reader's result is freed as its caller frees it, so that
 * LeakSanitizer reports what a refused document leaves behind.
 *
 * restore-load.c is compiled into this file (not linked) for its static
 * readers; the rest of the engine is linked as it is.
 */
#include <stdint.h>
#include <string.h>

#include "../../libckpt/restore/restore-load.c"
#include "namespaces/cgroup.h"
#include "namespaces/ipc.h"
#include "namespaces/net.h"
#include "util/json.h"

enum { SEL_PSTREE, SEL_TASK, SEL_FILES, SEL_CGROUP, SEL_IPC, SEL_NET, SEL_N };

static void fuzz_pstree(const struct json *doc, ckpt_err_t *err)
{
	struct pstree p;

	(void)pstree_read(doc, &p, err);
	pstree_free(&p); /* rc_load_free, whatever pstree_read returned */
}

/*
 * The task's pstree.json entry, from the task document itself: pid and
 * the tids its threads[] name, so that the reader gets past the match.
 */
static void fake_pstree_task(const struct json *doc, struct pstree_task *pt, int32_t *tids,
			     size_t max)
{
	const struct json *threads = json_get(doc, "threads");
	ckpt_err_t err = {0};
	int64_t v;

	memset(pt, 0, sizeof(*pt));
	pt->pid = json_get_int(doc, "pid", &v, &err) == 0 ? (int32_t)v : 1;
	pt->threads = tids;
	for (size_t i = 0; json_type(threads) == JSON_ARR && i < json_len(threads) && i < max; i++)
		tids[pt->nthreads++] =
			json_get_int(json_at(threads, i), "tid", &v, &err) == 0 ? (int32_t)v : 0;
}

static void fuzz_task(struct json *doc, ckpt_err_t *err)
{
	struct json *task = json_get(doc, "task"), *pagemap = json_get(doc, "pagemap");
	struct rctx rc = {0};
	struct rtask *t;
	struct pstree_task pt;
	int32_t tids[64];
	char name[64];
	struct doc_at at, pm;
	int64_t pid, code, size;
	int ret;

	if (json_get_int(doc, "img_size", &size, &(ckpt_err_t){0}) < 0 || size < 0)
		size = 1 << 20;
	if (json_type(task) != JSON_OBJ)
		return;
	fake_pstree_task(task, &pt, tids, ARRAY_SIZE(tids));
	rc.ntasks = 1;
	rc.tasks = xzalloc(sizeof(*rc.tasks));
	t = &rc.tasks[0];
	t->pid = pt.pid;
	/* what rc_load_task does after bundle_get_json */
	snprintf(name, sizeof(name), "task-%d.json", t->pid);
	at = DOC_TOP(name);
	t->doc = task; /* both owned by doc */
	t->pagemap = pagemap;
	ret = doc_int(&at, t->doc, "pid", t->pid, t->pid, &pid, err);
	if (ret == 0)
		ret = doc_opt_bool(&at, t->doc, "zombie", false, &t->zombie, err);
	if (ret == 0)
		ret = doc_opt_int(&at, t->doc, "exit_code", 0, 0xffff, 0, &code, err);
	if (ret == 0 && !t->zombie)
		ret = fds_read(&rc, t, err);
	if (ret == 0 && !t->zombie)
		ret = threads_read(&at, t, &pt, err);
	if (ret == 0 && !t->zombie && !(t->state = task_state_parse(name, t->doc, err)))
		ret = -err->code;
	if (ret == 0 && !t->zombie) {
		pm = DOC_TOP("pagemap.json");
		ret = mem_doc_read(&at, t->doc, &pm, t->pagemap, (uint64_t)size, &t->mem, err);
	}
	(void)ret;
	t->doc = t->pagemap = NULL;
	files_rctx_free(&rc.files);
	rc_load_free(&rc);
}

static void fuzz_files(struct json *doc, ckpt_err_t *err)
{
	const struct json *tasks = json_get(doc, "tasks");
	struct files_rctx rc = {0};
	int max = 2, ret = 0;

	rc.doc = json_get(doc, "files"); /* owned by doc */
	for (size_t i = 0; ret == 0 && json_type(tasks) == JSON_ARR && i < json_len(tasks); i++)
		ret = files_task_load(&rc, (pid_t)(i + 1), json_at(tasks, i), &max, err);
	if (ret == 0)
		ret = files_inflight_load(&rc, err);
	rc.doc = NULL;
	files_rctx_free(&rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ckpt_err_t err = {0};
	struct json *doc = NULL;

	if (size < 1)
		return 0;
	if (json_parse((const char *)data + 1, size - 1, &doc, &err) < 0)
		return 0;
	switch (data[0] % SEL_N) {
	case SEL_PSTREE:
		fuzz_pstree(doc, &err);
		break;
	case SEL_TASK:
		fuzz_task(doc, &err);
		break;
	case SEL_FILES:
		fuzz_files(doc, &err);
		break;
	case SEL_CGROUP: {
		struct cg_doc d;

		if (cg_doc_read(doc, &d, &err) == 0)
			cg_doc_free(&d);
		break;
	}
	case SEL_IPC: {
		struct ipc_doc d;
		struct ipc_obj *shm = NULL;
		size_t n;

		if (ipc_doc_read(doc, &d, &err) == 0)
			ipc_doc_free(&d);
		if (ipc_shm_list(doc, &shm, &n, &err) == 0)
			free(shm);
		break;
	}
	case SEL_NET: {
		struct net_doc d;

		if (net_doc_read(doc, &d, &err) == 0)
			net_doc_free(&d);
		break;
	}
	}
	json_free(doc);
	return 0;
}
