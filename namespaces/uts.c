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

static struct json *uts_read(void *arg, ckpt_err_t *err)
{
	struct utsname u;
	struct json *j;

	if (uname(&u) < 0) {
		ckpt_error(err, errno, "uname");
		return NULL;
	}
	j = json_obj();
	json_set(j, "nodename", json_str(u.nodename));
	json_set(j, "domainname", json_str(u.domainname));
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
	const char *node, *domain;
	int ret;

	ret = bundle_get_json(r->bundle, "uts.json", &uts, err);
	if (ret < 0)
		return ret;
	node = json_as_str(json_get(uts, "nodename"));
	domain = json_as_str(json_get(uts, "domainname"));
	if (!node || !domain)
		return ckpt_error_msg(err, EPROTO, "uts.json: nodename and domainname required");
	if (sethostname(node, strlen(node)) < 0)
		return ckpt_error(err, errno, "sethostname `%s`", node);
	if (setdomainname(domain, strlen(domain)) < 0)
		return ckpt_error(err, errno, "setdomainname `%s`", domain);
	return 0;
}

const struct ckpt_ns_ops ns_uts_ops = {
	.name = "uts",
	.clone_flag = CLONE_NEWUTS,
	.dump = uts_dump,
	.restore = uts_restore,
};
