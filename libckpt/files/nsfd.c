/*
 * libckpt/files/nsfd.c - namespace fds (an open /proc/PID/ns/NAME, or a
 * bind mount of one): the kind ("ns": net, mnt, uts, ipc, pid, user, cgroup,
 * time) of the namespace the fd is on.
 *
 * A namespace has no state an fd could carry; what matters is which
 * namespace it is. One the holding task is in itself is the restored
 * task's namespace of that kind: restore opens /proc/self/ns/NAME in the
 * restored task, so the fd is on the namespace the restored tree lives in
 * (a new one when the tree had its own, the same one when it shared
 * ckpt-oci's). A namespace the task is not in (one a child made and left,
 * the host's held by a task since moved out) cannot be made again with
 * what it held: such an fd fails the checkpoint. Every fd opens its own
 * description (nothing of a namespace fd's description is state).
 */
#define LOG_PREFIX "nsfd: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "files/files.h"
#include "util/proc.h"
#include "util/util.h"

/* The kinds /proc/PID/ns names, as the fd's link starts ("net:[4026531840]"). */
static const char *const ns_kinds[] = {"net", "mnt", "uts", "ipc", "pid", "user", "cgroup", "time"};

/* The kind of the namespace in link, or NULL; *ino its inode. */
static const char *ns_kind(const char *link, unsigned long long *ino)
{
	for (size_t i = 0; i < ARRAY_SIZE(ns_kinds); i++)
		if (proc_parse_fd_link(link, ns_kinds[i], ino))
			return ns_kinds[i];
	return NULL;
}

static bool nsfd_match(const struct fd_info *fi)
{
	unsigned long long ino;

	return ns_kind(fi->link, &ino) != NULL;
}

struct nsfd {
	const char *ns;
};

static const struct doc_field nsfd_fields[] = {
	DOC_STR(struct nsfd, ns, "ns", 16),
	DOC_END,
};

static int nsfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		     ckpt_err_t *err)
{
	unsigned long long ino;
	struct nsfd n = {ns_kind(fi->link, &ino)};
	char own[32];
	struct stat st;

	snprintf(own, sizeof(own), "ns/%s", n.ns);
	if (fstatat(fi->procfd, own, &st, 0) < 0)
		return ckpt_error(err, errno, "stat /proc/%d/%s", fi->pid, own);
	if (st.st_ino != fi->st.st_ino || st.st_dev != fi->st.st_dev)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (%s namespace %llu that pid %d is not in: "
				      "its content is not saved) in pid %d",
				      fi->fd, n.ns, ino, fi->pid, fi->pid);
	doc_write(o, nsfd_fields, &n);
	return 0;
}

static int nsfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			ckpt_err_t *err)
{
	struct nsfd n;
	char path[64];
	int ret = doc_read(&e->at, e->obj, nsfd_fields, &n, err);
	size_t i;

	if (ret < 0)
		return ret;
	for (i = 0; i < ARRAY_SIZE(ns_kinds) && strcmp(n.ns, ns_kinds[i]); i++)
		;
	if (i == ARRAY_SIZE(ns_kinds)) {
		struct doc_at k = DOC_KEY(&e->at, "ns");

		return doc_error(err, &k, "unknown namespace kind `%s`", n.ns);
	}
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns_kinds[i]);
	*fd = open(path, (e->flags & (O_ACCMODE | O_PATH)) | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return 0;
}

static int nsfd_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			 ckpt_err_t *err)
{
	struct nsfd n;
	int ret = lines ? 0 : doc_read(&e->at, e->obj, nsfd_fields, &n, err);

	if (ret == 0 && !lines)
		fprintf(out, " %s namespace", n.ns);
	return ret;
}

const struct fd_ops fd_nsfd_ops = {
	.kind = "nsfd",
	.match = nsfd_match,
	.dump = nsfd_dump,
	.restore = nsfd_restore,
	.describe = nsfd_describe,
	.own_sharing = true,
};
