/*
 * libckpt/files/files-doc.c - the saved fds as a typed document: "fds" of
 * task-PID.json and "inflight" of files.json read once through one field
 * table (fd_entry_fields, shared with the writer in files.c), every
 * number range-checked, errors naming the file and key path; lookups in
 * the lists of files.json by id; and inspect's line for each fd, the
 * kind's own words from its fd_ops describe.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "files/files.h"
#include "util/util.h"

int files_find(const struct json *doc, const char *list, uint64_t id, struct files_item *it,
	       ckpt_err_t *err)
{
	const struct json *arr;
	size_t n;
	int ret;

	it->obj = NULL;
	it->top = DOC_TOP("files.json");
	it->list = DOC_KEY(&it->top, list);
	if (!doc)
		return 0;
	ret = doc_opt_arr(&it->top, doc, list, FILES_LIST_MAX, &arr, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		uint64_t v;

		it->at = DOC_IDX(&it->list, i);
		ret = doc_elem_obj(&it->list, arr, i, &it->obj, err);
		if (ret == 0)
			ret = doc_u64(&it->at, it->obj, "id", UINT64_MAX, &v, err);
		if (ret == 0 && v == id)
			return 1;
	}
	it->obj = NULL;
	return ret;
}

int files_need(const struct json *doc, const char *list, uint64_t id, const struct fd_entry *e,
	       struct files_item *it, ckpt_err_t *err)
{
	int ret = files_find(doc, list, id, it, err);

	if (ret == 0)
		return doc_error(err, &e->at, "files.json has no %s member %" PRIu64, list, id);
	return ret < 0 ? ret : 0;
}

/*
 * The members every saved fd has; the description and "outside" rows are
 * written only when they say something.
 */
const struct doc_field fd_entry_fields[] = {
	DOC_INT(struct fd_entry, fd, "fd", -1, FILES_FD_MAX),
	DOC_STR(struct fd_entry, kind, "kind", 16),
	DOC_INT(struct fd_entry, flags, "flags", 0, FILES_FLAGS_MAX),
	DOC_INT(struct fd_entry, pos, "pos", 0, INT64_MAX),
	DOC_STR(struct fd_entry, path, "path", PATH_MAX),
	DOC_END,
};
const struct doc_field fd_entry_desc_fields[] = {
	DOC_OPT_INT(struct fd_entry, desc, "desc", 1, INT32_MAX),
	DOC_OPT_BOOL(struct fd_entry, dup, "dup"),
	DOC_END,
};
const struct doc_field fd_entry_outside_fields[] = {
	DOC_OPT_BOOL(struct fd_entry, outside, "outside"),
	DOC_OPT_INT(struct fd_entry, outside_dev, "outside_dev", 0, INT64_MAX),
	DOC_OPT_INT(struct fd_entry, outside_ino, "outside_ino", 0, INT64_MAX),
	DOC_OPT_INT(struct fd_entry, outside_btime, "outside_btime", 0, INT64_MAX),
	DOC_END,
};

int fd_entry_read(struct fd_entry *e, const char *file, const char *list, size_t idx,
		  const struct json *obj, ckpt_err_t *err)
{
	int ret;

	memset(e, 0, sizeof(*e));
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->up[0] = DOC_TOP(e->file);
	e->up[1] = DOC_KEY(&e->up[0], list);
	e->at = DOC_IDX(&e->up[1], idx);
	e->obj = obj;
	if (json_type(obj) != JSON_OBJ)
		return doc_error(err, &e->at, "expected an object");
	ret = doc_read(&e->at, obj, fd_entry_fields, e, err);
	if (ret == 0)
		ret = doc_read(&e->at, obj, fd_entry_desc_fields, e, err);
	if (ret == 0)
		ret = doc_read(&e->at, obj, fd_entry_outside_fields, e, err);
	if (ret < 0)
		return ret;
	e->ops = files_kind_ops(e->kind);
	if (!e->ops) {
		struct doc_at k = DOC_KEY(&e->at, "kind");

		return doc_error(err, &k, "unknown kind `%s`", e->kind);
	}
	if (e->dup && !e->desc)
		return doc_error(err, &e->at, "a dup without a shared description");
	return 0;
}

static int fd_num_cmp(const void *a, const void *b)
{
	int x = ((const struct fd_entry *)a)->fd, y = ((const struct fd_entry *)b)->fd;

	return (x > y) - (x < y);
}

int files_task_load(struct files_rctx *rc, pid_t pid, const struct json *doc, int *max_fd,
		    ckpt_err_t *err)
{
	struct files_task *t = xzalloc(sizeof(*t));
	cleanup_free struct fd_entry *sorted = NULL;
	const struct json *fds;
	char file[32];
	struct doc_at top = DOC_TOP(file);
	size_t n;
	int ret;

	/* owned by rc from here, whatever happens */
	rc->tasks = xrealloc(rc->tasks, (rc->ntasks + 1) * sizeof(*rc->tasks));
	rc->tasks[rc->ntasks++] = t;
	t->pid = pid;
	snprintf(file, sizeof(file), "task-%d.json", pid);
	ret = doc_opt_arr(&top, doc, "fds", FILES_LIST_MAX, &fds, &n, err);
	if (ret < 0)
		return ret;
	/* the entries point into their own copy, not into the task's document */
	t->list = json_clone(fds);
	fds = t->list;
	t->fds = xzalloc((n + 1) * sizeof(*t->fds));
	for (size_t i = 0; i < n; i++) {
		struct fd_entry *e = &t->fds[i];

		ret = fd_entry_read(e, file, "fds", i, json_at(fds, i), err);
		if (ret < 0)
			return ret;
		t->nfds++;
		if (e->fd < 0) {
			struct doc_at k = DOC_KEY(&e->at, "fd");

			return doc_error(err, &k, "%d is out of range 0..%d", e->fd, FILES_FD_MAX);
		}
		*max_fd = MAX(*max_fd, e->fd);
	}
	/* one entry per fd number */
	sorted = xzalloc((n + 1) * sizeof(*sorted));
	memcpy(sorted, t->fds, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), fd_num_cmp);
	for (size_t i = 1; i < n; i++)
		if (sorted[i].fd == sorted[i - 1].fd)
			return doc_error(err, &top, "fds: fd %d saved twice", sorted[i].fd);
	return 0;
}

const struct files_task *files_task_of(const struct files_rctx *rc, pid_t pid)
{
	for (int i = 0; i < rc->ntasks; i++)
		if (rc->tasks[i]->pid == pid)
			return rc->tasks[i];
	return NULL;
}

/* files.json "inflight", and every description id checked against the fds there are. */
int files_inflight_load(struct files_rctx *rc, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json");
	const struct json *list = NULL;
	size_t n = 0, total;
	int ret = 0;

	if (rc->doc)
		ret = doc_opt_arr(&top, rc->doc, "inflight", FILES_LIST_MAX, &list, &n, err);
	if (ret < 0)
		return ret;
	rc->inflight = xzalloc((n + 1) * sizeof(*rc->inflight));
	for (size_t i = 0; i < n; i++) {
		struct fd_entry *e = &rc->inflight[i];

		ret = fd_entry_read(e, "files.json", "inflight", i, json_at(list, i), err);
		if (ret < 0)
			return ret;
		rc->ninflight++;
		if (e->fd != -1) {
			struct doc_at k = DOC_KEY(&e->at, "fd");

			return doc_error(err, &k, "%d: a file in flight has fd -1", e->fd);
		}
	}
	/* ids are handed out one per description: never more than there are fds */
	total = rc->ninflight;
	for (int t = 0; t < rc->ntasks; t++)
		total += rc->tasks[t]->nfds;
	rc->ndescs = (int)MIN(total, (size_t)INT32_MAX);
	for (int t = 0; t <= rc->ntasks; t++) {
		struct fd_entry *fds = t < rc->ntasks ? rc->tasks[t]->fds : rc->inflight;
		size_t nfds = t < rc->ntasks ? rc->tasks[t]->nfds : rc->ninflight;

		for (size_t i = 0; i < nfds; i++)
			if (fds[i].desc > rc->ndescs) {
				struct doc_at k = DOC_KEY(&fds[i].at, "desc");

				return doc_error(err, &k, "%d is out of range 1..%d", fds[i].desc,
						 rc->ndescs);
			}
	}
	return 0;
}

/* Access mode and the flags that matter, as in open(2). */
static void describe_flags(FILE *out, unsigned int fl)
{
	static const char *const acc[] = {"r", "w", "rw", "?"};

	fprintf(out, " %s%s%s%s", acc[fl & O_ACCMODE], fl & O_APPEND ? ",append" : "",
		fl & O_NONBLOCK ? ",nonblock" : "", fl & O_CLOEXEC ? ",cloexec" : "");
}

int files_describe(const struct json *fd, const char *file, size_t idx, const struct json *files,
		   FILE *out, ckpt_err_t *err)
{
	struct fd_entry e;
	int ret = fd_entry_read(&e, file, "fds", idx, fd, err);

	if (ret < 0)
		return ret;
	fprintf(out, "    %4d %-8s", e.fd, e.kind);
	describe_flags(out, e.flags);
	if (e.pos)
		fprintf(out, " pos %" PRId64, e.pos);
	if (e.desc)
		fprintf(out, " desc %d%s", e.desc, e.dup ? " (shared)" : "");
	if (!e.dup && e.ops->describe) {
		ret = e.ops->describe(&e, files, false, out, err);
		if (ret < 0)
			return ret;
	}
	if (json_len(json_get(fd, "locks")))
		fprintf(out, " %zu locks", json_len(json_get(fd, "locks")));
	fprintf(out, " %s\n", e.path);
	return !e.dup && e.ops->describe ? e.ops->describe(&e, files, true, out, err) : 0;
}
