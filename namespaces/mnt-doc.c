/*
 * namespaces/mnt-doc.c - mounts.json read back at restore through mnt.c's
 * field tables: every mount of a known kind, with what that kind needs, an
 * absolute mountpoint and an image name for its content, checked before
 * mnt-restore.c clones or mounts anything.
 */
#define LOG_PREFIX "mnt: "
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "namespaces/mnt.h"
#include "util/doc.h"
#include "util/util.h"

/* Mounts in one namespace we restore (the kernel's default mount-max is 100000). */
#define MNT_MAX 100000

/* Mount i of mounts.json, checked: a known kind with what that kind needs. */
static int mnt_rec_read(const struct doc_at *list, const struct json *arr, size_t i,
			struct mnt_rec *rec, ckpt_err_t *err)
{
	static const char *const kinds[] = {"external", "bind", "fresh", "cgroup"};
	struct doc_at at = DOC_IDX(list, i);
	const struct json *o;
	bool known = false;
	int ret;

	*rec = (struct mnt_rec){.root = "/"};
	ret = doc_elem_obj(list, arr, i, &o, err);
	if (ret == 0)
		ret = doc_read(&at, o, mnt_fields, rec, err);
	if (ret == 0)
		ret = doc_read(&at, o, mnt_shared_fields, rec, err);
	if (ret == 0)
		ret = doc_read(&at, o, mnt_master_fields, rec, err);
	if (ret < 0)
		return ret;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		known |= !strcmp(rec->kind, kinds[k]);
	if (!known)
		return doc_error(err, &at, "unknown kind `%s`", rec->kind);
	if (rec->mountpoint[0] != '/')
		return doc_error(err, &at, "mountpoint `%s` is not absolute", rec->mountpoint);
	if (!strcmp(rec->kind, "external") && !rec->host_path)
		return doc_error(err, &at, "an external mount without host_path");
	if (!strcmp(rec->kind, "bind") && (!rec->bind_of || !rec->bind_root))
		return doc_error(err, &at, "a bind without bind_of and bind_root");
	if (!strcmp(rec->kind, "cgroup") && (!rec->cgroup_root || strstr(rec->cgroup_root, "..")))
		return doc_error(err, &at, "a cgroup mount without a cgroup_root below the tree's");
	if (rec->content && (strchr(rec->content, '/') || rec->content[0] == '.'))
		return doc_error(err, &at, "content `%s` is not an image name", rec->content);
	return 0;
}

int mnt_doc_read(const struct json *doc, struct mnt_rec **out, size_t *n, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("mounts.json"), l = DOC_KEY(&at, "mounts");
	const struct json *list;
	int ret = doc_arr(&at, doc, "mounts", MNT_MAX, &list, n, err);

	*out = NULL;
	if (ret < 0)
		return ret;
	*out = xzalloc((*n + 1) * sizeof(**out));
	for (size_t i = 0; ret == 0 && i < *n; i++)
		ret = mnt_rec_read(&l, list, i, &(*out)[i], err);
	if (ret < 0)
		free(steal_pointer(out));
	return ret;
}

int mnt_load(struct ns_restore *r, struct json **doc, struct rmount **out, int *n, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("mounts.json"), l = DOC_KEY(&at, "mounts");
	cleanup_free struct mnt_rec *recs = NULL;
	struct rmount *v;
	size_t len;
	int ret;

	ret = bundle_get_json(r->bundle, "mounts.json", doc, err);
	if (ret == 0)
		ret = mnt_doc_read(*doc, &recs, &len, err);
	if (ret < 0)
		return ret;
	if (!len)
		return doc_error(err, &l, "no mounts");
	*n = (int)len;
	v = xzalloc(*n * sizeof(*v));
	for (int i = 0; i < *n; i++) {
		v[i].fd = v[i].src = -1;
		v[i].rec = recs[i];
		v[i].kind = v[i].rec.kind;
		v[i].mountpoint = v[i].rec.mountpoint;
		v[i].fstype = v[i].rec.fstype;
	}
	*out = v;
	return 0;
}

void mnt_rmounts_free(struct rmount *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		if (v[i].fd >= 0)
			close(v[i].fd);
		if (v[i].src >= 0)
			close(v[i].src);
	}
	free(v);
}
