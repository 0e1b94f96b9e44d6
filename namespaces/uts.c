/*
 * namespaces/uts.c - UTS namespace: nodename and domainname (uts.json).
 * Dump reads them inside the tree's namespace; restore sets them inside
 * the new one, in the root process before it creates its children.
 */
#define LOG_PREFIX "uts: "
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "namespaces/ns.h"
#include "util/doc.h"

/* uts.json; HOST_NAME_MAX bytes each, as the kernel keeps them. */
struct uts_doc {
	const char *nodename, *domainname;
};

static const struct doc_field uts_fields[] = {
	DOC_STR(struct uts_doc, nodename, "nodename", 64),
	DOC_STR(struct uts_doc, domainname, "domainname", 64),
	DOC_END,
};

static struct json *uts_read(void *arg, ckpt_err_t *err)
{
	struct utsname u;
	struct json *j;

	if (uname(&u) < 0) {
		ckpt_error(err, errno, "uname");
		return NULL;
	}
	j = json_obj();
	doc_write(j, uts_fields, &(struct uts_doc){u.nodename, u.domainname});
	return j;
}

static int uts_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *uts = NULL;
	int ret;

	ret = ns_exec_json(d->nsfd, CLONE_NEWUTS, uts_read, NULL, &uts, err);
	if (ret < 0)
		return ret;
	return bundle_put_json(d->bundle, "uts.json", uts, err);
}

static int uts_restore(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *uts = NULL;
	struct doc_at at = DOC_TOP("uts.json");
	struct uts_doc u;
	int ret;

	ret = bundle_get_json(r->bundle, "uts.json", &uts, err);
	if (ret == 0)
		ret = doc_read(&at, uts, uts_fields, &u, err);
	if (ret < 0)
		return ret;
	if (sethostname(u.nodename, strlen(u.nodename)) < 0)
		return ckpt_error(err, errno, "sethostname `%s`", u.nodename);
	if (setdomainname(u.domainname, strlen(u.domainname)) < 0)
		return ckpt_error(err, errno, "setdomainname `%s`", u.domainname);
	return 0;
}

const struct ckpt_ns_ops ns_uts_ops = {
	.name = "uts",
	.clone_flag = CLONE_NEWUTS,
	.dump = uts_dump,
	.restore = uts_restore,
};
