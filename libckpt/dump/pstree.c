/*
 * libckpt/dump/pstree.c - the shape of the tree (pstree.json): every task with
 * its pid, parent, process group, session and threads, parents first, all
 * in the tree's innermost pid namespace.
 */
#define LOG_PREFIX "pstree: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "dump/pstree.h"
#include "engine.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/* Host pid -> the tree's namespace; ids from outside the tree stay as they are. */
static pid_t to_ns(const struct ckpt_ctx *ctx, pid_t host)
{
	struct task *t = ctx_find(ctx, host);

	if (t)
		return t->ns_pid;
	return ctx->own_pidns ? 0 : host;
}

/* Read ids from /proc; called for every task right after the seize. */
int pstree_collect(struct ckpt_ctx *ctx, ckpt_err_t *err)
{
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];
		struct proc_status ps = {0};
		struct proc_stat st;
		int ret;

		ret = proc_read_stat(t->procfd, &st, err);
		if (ret == 0)
			ret = proc_read_status(t->procfd, &ps, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "task %d", t->pid);
		/* t->state was read before the seize; now every live task reads 't' */
		t->exit_code = st.exit_code;
		t->ns_pid = ps.nspid_count ? ps.nspid[ps.nspid_count - 1] : t->pid;
		if (t == ctx->root)
			ctx->own_pidns = ps.nspid_count > 1 && t->ns_pid == 1;
		t->ppid = st.ppid;
		t->pgid = st.pgid;
		t->sid = st.sid;
		proc_status_free(&ps);
		for (int j = 0; j < t->nthreads; j++) {
			struct thread *th = &t->threads[j];
			char path[32];

			snprintf(path, sizeof(path), "task/%d", th->tid);
			/* a zombie leader has no task dir: its id is the same */
			th->ns_tid = proc_ns_pid(t->procfd, path);
			if (th->ns_tid < 0)
				th->ns_tid = th->tid;
		}
	}
	if (!ctx->own_pidns) {
		/* restoring into the caller's namespace needs pids valid there */
		for (int i = 0; i < ctx->ntasks; i++)
			if (ctx->tasks[i]->ns_pid != ctx->tasks[i]->pid)
				return ckpt_error_msg(err, ENOTSUP,
						      "task %d lives in a nested pid namespace "
						      "whose root is not in the tree",
						      ctx->tasks[i]->pid);
	}
	return 0;
}

int pstree_dump(struct ckpt_ctx *ctx, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct pstree p = {.root = ctx->root->ns_pid, .own_pidns = ctx->own_pidns};
	struct json *tasks;

	doc_write(doc, pstree_fields, &p);
	tasks = json_set(doc, "tasks", json_arr());
	for (int i = 0; i < ctx->ntasks; i++) {
		struct task *t = ctx->tasks[i];
		struct json *o = json_push(tasks, json_obj()), *th;
		char state[2] = {t->state, 0};
		struct pstree_task pt = {
			.pid = t->ns_pid,
			.ppid = t->parent ? t->parent->ns_pid : 0,
			.pgid = to_ns(ctx, t->pgid),
			.sid = to_ns(ctx, t->sid),
			.state = state,
			.exit_code = t->exit_code,
		};

		/* kept from its document when written (dump.c) */
		pt.comm = t->comm[0] ? t->comm : NULL;
		doc_write(o, pstree_task_fields, &pt);
		th = json_set(o, "threads", json_arr());
		for (int j = 0; j < t->nthreads; j++)
			json_push(th, json_int(t->threads[j].ns_tid));
	}
	return bundle_put_json(ctx->bundle, "pstree.json", doc, err);
}
