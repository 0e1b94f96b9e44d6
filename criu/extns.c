/*
 * criu/extns.c - a network namespace the caller owns (CRIU's "external"
 * namespace): podman and CNI make the container's network namespace
 * themselves and hand it to runc by path, so runc tells CRIU at dump
 * `external net[INODE]:KEY` (leave it out) and at restore `inherit_fd KEY`
 * (the new one, an fd of ours: put the tree there).
 *
 * The engine records a namespace only when the tree's differs from its
 * own, and at restore creates only the ones it recorded. So the service
 * joins the tree's network namespace before the dump (nothing of it is
 * recorded; criu.json keeps the key) and the caller's new one before the
 * restore (the tree is born in it, as in any namespace the engine shares).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu/swrk.h"
#include "util/util.h"

/* "net[INODE]:KEY" */
static int parse_external(const char *ext, unsigned long long *ino, char *key, size_t keylen,
			  ckpt_err_t *err)
{
	int n = 0;

	if (sscanf(ext, "net[%llu]:%n", ino, &n) != 1 || !n || !ext[n] || strlen(ext + n) >= keylen)
		return ckpt_error_msg(err, EOPNOTSUPP,
				      "external `%s`: only an external network "
				      "namespace (net[INODE]:KEY) is supported",
				      ext);
	strcpy(key, ext + n);
	return 0;
}

int swrk_external_net_dump(struct swrk *s, pid_t pid, char **key, ckpt_err_t *err)
{
	const CriuOpts *o = s->opts;
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int fd = -1;
	unsigned long long ino;
	char k[256];
	struct stat st;
	int ret;

	*key = NULL;
	if (!o->n_external)
		return 0;
	if (o->n_external > 1)
		return ckpt_error_msg(err, EOPNOTSUPP,
				      "%zu externals: only one, the network "
				      "namespace, is supported",
				      o->n_external);
	ret = parse_external(o->external[0], &ino, k, sizeof(k), err);
	if (ret < 0)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "open %s", path);
	if (st.st_ino != ino)
		return ckpt_error_msg(err, EINVAL,
				      "external `%s`: pid %d's network namespace "
				      "is net[%llu]",
				      o->external[0], pid, (unsigned long long)st.st_ino);
	if (setns(fd, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "join the network namespace of pid %d", pid);
	swrk_log(s, "network namespace net[%llu] is the caller's (%s): not recorded", ino, k);
	*key = xstrdup(k);
	return 0;
}

int swrk_external_net_restore(struct swrk *s, const char *key, ckpt_err_t *err)
{
	const CriuOpts *o = s->opts;

	if (!key)
		return 0;
	for (size_t i = 0; i < o->n_inherit_fd; i++) {
		const InheritFd *f = o->inherit_fd[i];

		if (strcmp(f->key, key))
			continue;
		if (setns(f->fd, CLONE_NEWNET) < 0)
			return ckpt_error(err, errno,
					  "inherit_fd `%s` (fd %d): join it as the "
					  "network namespace",
					  key, f->fd);
		swrk_log(s, "network namespace: the caller's (inherit_fd `%s`, fd %d)", key, f->fd);
		return 0;
	}
	return ckpt_error_msg(err, EINVAL,
			      "the network namespace was the caller's at the "
			      "checkpoint (`%s`): the restore needs inherit_fd `%s`",
			      key, key);
}
