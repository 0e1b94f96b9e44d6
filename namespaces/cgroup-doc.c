/*
 * namespaces/cgroup-doc.c - cgroup.json read whole into a struct cg_doc
 * through cgroup.c's field tables (cgroup.h shows the document): every
 * cgroup, namespace root and thread checked (controllers without a slash,
 * absolute paths that stay in their hierarchy, known types and limits,
 * thread indexes inside "cgroups") before restore maps or makes anything.
 */
#define LOG_PREFIX "cgroup: "
#include <stdlib.h>
#include <string.h>

#include "namespaces/cgroup.h"
#include "util/doc.h"
#include "util/util.h"

static int cg_entry_read(const struct doc_at *list, const struct json *arr, size_t i,
			 const struct doc_field *fields, struct cg_entry *e, ckpt_err_t *err)
{
	struct doc_at at = DOC_IDX(list, i), l = DOC_KEY(&at, "limits");
	const struct json *o, *lim;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = doc_elem_obj(list, arr, i, &o, err);
	if (ret == 0)
		ret = doc_read(&at, o, fields, e, err);
	if (ret == 0)
		ret = doc_opt_obj(&at, o, "limits", &lim, err);
	if (ret < 0)
		return ret;
	if (strchr(e->controllers, '/') || strstr(e->controllers, ".."))
		return doc_error(err, &at, "controllers `%s` hold a slash", e->controllers);
	if (e->path[0] != '/' || strstr(e->path, "/.."))
		return doc_error(err, &at, "path `%s` is not absolute or leaves the hierarchy",
				 e->path);
	if (e->type && strcmp(e->type, "threaded") && strcmp(e->type, "domain threaded") &&
	    strcmp(e->type, "domain invalid"))
		return doc_error(err, &at, "unknown type `%s`", e->type);
	if (json_len(lim) > cg_nlimits)
		return doc_error(err, &l, "%zu limits, at most %zu known", json_len(lim),
				 cg_nlimits);
	for (size_t k = 0; k < json_len(lim); k++) {
		ret = doc_map_str(&l, lim, k, 4096, &e->lim_file[k], &e->lim_val[k], err);
		if (ret < 0)
			return ret;
		if (!cg_limit_known(e->lim_file[k]))
			return doc_error(err, &l, "unknown limit `%s`", e->lim_file[k]);
	}
	e->nlim = json_len(lim);
	return 0;
}

static const struct doc_field cg_root_fields[] = {
	DOC_STR(struct cg_entry, controllers, "controllers", 256),
	DOC_STR(struct cg_entry, path, "path", 4096),
	DOC_END,
};

static int cg_entries_read(const struct doc_at *at, const struct json *doc, const char *key,
			   const struct doc_field *fields, struct cg_entry **out, size_t *n,
			   ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, key);
	const struct json *arr;
	int ret = doc_opt_arr(at, doc, key, CG_MAX, &arr, n, err);

	*out = *n ? xzalloc(*n * sizeof(**out)) : NULL;
	for (size_t i = 0; ret == 0 && i < *n; i++)
		ret = cg_entry_read(&l, arr, i, fields, &(*out)[i], err);
	return ret;
}

static int cg_threads_read(const struct doc_at *at, const struct json *doc, struct cg_doc *d,
			   ckpt_err_t *err)
{
	struct doc_at l = DOC_KEY(at, "threads");
	const struct json *arr, *o, *cgs;
	int ret = doc_opt_arr(at, doc, "threads", DOC_PID_MAX, &arr, &d->nthreads, err);

	d->threads = d->nthreads ? xzalloc(d->nthreads * sizeof(*d->threads)) : NULL;
	for (size_t i = 0; ret == 0 && i < d->nthreads; i++) {
		struct doc_at e = DOC_IDX(&l, i), c = DOC_KEY(&e, "cgroups");
		struct cg_thread *t = &d->threads[i];

		ret = doc_elem_obj(&l, arr, i, &o, err);
		if (ret == 0)
			ret = doc_read(&e, o, cg_thread_fields, t, err);
		if (ret == 0)
			ret = doc_arr(&e, o, "cgroups", CG_HIER_MAX, &cgs, &t->n, err);
		for (size_t k = 0; ret == 0 && k < t->n; k++) {
			int64_t v;

			ret = doc_elem_int(&c, cgs, k, 0, (int64_t)d->ncgroups - 1, &v, err);
			t->cg[k] = (uint32_t)v;
		}
	}
	return ret;
}

int cg_doc_read(const struct json *doc, struct cg_doc *d, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("cgroup.json");
	int ret;

	memset(d, 0, sizeof(*d));
	ret = doc_opt_bool(&at, doc, "tree_cgroup", false, &d->tree_cgroup, err);
	if (ret == 0)
		ret = cg_entries_read(&at, doc, "cgroups", cg_fields, &d->cgroups, &d->ncgroups,
				      err);
	if (ret == 0)
		ret = cg_entries_read(&at, doc, "ns_roots", cg_root_fields, &d->ns_roots,
				      &d->nns_roots, err);
	if (ret == 0)
		ret = cg_threads_read(&at, doc, d, err);
	if (ret < 0)
		cg_doc_free(d);
	return ret;
}

void cg_doc_free(struct cg_doc *d)
{
	free(d->cgroups);
	free(d->ns_roots);
	free(d->threads);
	memset(d, 0, sizeof(*d));
}
