/*
 * libckpt/files/files.c - the fd table of a task ("fds" in task-PID.json):
 * dispatch to one fd_ops per kind, common state (number, flags, offset).
 * An fd of a kind no fd_ops handles fails the checkpoint, never a silent drop.
 */
#define LOG_PREFIX "files: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt/bundle.h"

#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static const struct fd_ops *const fd_kinds[] = { &fd_reg_ops, &fd_dev_ops, &fd_pipe_ops };

static int fdinfo_read(struct fd_info *fi, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	char path[64];
	const char *p;
	int ret;

	snprintf(path, sizeof(path), "fdinfo/%d", fi->fd);
	ret = read_file_at(fi->procfd, path, 1 << 16, &text, NULL, err);
	if (ret < 0)
		return ret;
	p = strstr(text, "pos:");
	fi->pos = p ? strtoll(p + 4, NULL, 10) : 0;
	p = strstr(text, "flags:");
	fi->flags = p ? strtoul(p + 6, NULL, 8) : 0;
	return 0;
}

static int fd_dump_one(pid_t pid, int procfd, int fd, struct json *fds, struct files_dctx *dc,
		       ckpt_err_t *err)
{
	struct fd_info *fi = xzalloc(sizeof(*fi));
	char path[64];
	ssize_t n;
	int ret = 0;

	fi->pid = pid;
	fi->fd = fd;
	fi->procfd = procfd;
	snprintf(path, sizeof(path), "fd/%d", fd);
	n = readlinkat(procfd, path, fi->link, sizeof(fi->link) - 1);
	if (n < 0 || fstatat(procfd, path, &fi->st, 0) < 0) {
		ret = ckpt_error(err, errno, "fd %d of %d", fd, pid);
		goto out;
	}
	fi->link[n] = '\0';
	ret = fdinfo_read(fi, err);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++) {
		struct json *o;

		if (!fd_kinds[i]->match(fi))
			continue;
		o = json_push(fds, json_obj());
		json_set(o, "fd", json_int(fd));
		json_set(o, "kind", json_str(fd_kinds[i]->kind));
		json_set(o, "flags", json_int(fi->flags));
		json_set(o, "pos", json_int(fi->pos));
		json_set(o, "path", json_str(fi->link));
		ret = fd_kinds[i]->dump(fi, o, dc, err);
		goto out;
	}
	ret = ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (%s) in pid %d", fd, fi->link, pid);
out:
	free(fi);
	return ret;
}

int files_dump_task(pid_t pid, int procfd, struct json *doc, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct json *fds = json_set(doc, "fds", json_arr());
	struct dirent *de;
	int dfd, ret;

	dfd = openat(procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return ckpt_error(err, errno, "open /proc/%d/fd", pid);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		ret = fd_dump_one(pid, procfd, atoi(de->d_name), fds, dc, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const struct fd_ops *fd_kind_find(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (kind && !strcmp(kind, fd_kinds[i]->kind))
			return fd_kinds[i];
	return NULL;
}

int files_dump_finish(struct files_dctx *dc, ckpt_err_t *err)
{
	if (!dc->doc)
		dc->doc = json_obj();
	return bundle_put_json(dc->bundle, "files.json", dc->doc, err);
}

struct fd_shared *files_shared_find(const struct files_rctx *rc, const char *kind, uint64_t id,
				    int end)
{
	for (int i = 0; i < rc->nobjs; i++)
		if (rc->objs[i].id == id && rc->objs[i].end == end &&
		    !strcmp(rc->objs[i].kind, kind))
			return &rc->objs[i];
	return NULL;
}

int files_prepare(struct files_rctx *rc, struct json *const *docs, int ndocs, ckpt_err_t *err)
{
	for (int d = 0; d < ndocs; d++) {
		struct json *fds = json_get(docs[d], "fds");

		for (size_t i = 0; i < json_len(fds); i++) {
			struct json *o = json_at(fds, i);
			const struct fd_ops *ops = NULL;
			int ret;

			for (size_t k = 0; k < ARRAY_SIZE(fd_kinds); k++)
				if (!strcmp(json_as_str(json_get(o, "kind")) ?: "", fd_kinds[k]->kind))
					ops = fd_kinds[k];
			if (!ops || !ops->prepare)
				continue;
			ret = ops->prepare(o, rc, err);
			if (ret < 0)
				return ckpt_error_wrap(err, "fd %lld",
						       (long long)json_as_int(json_get(o, "fd")));
		}
	}
	return 0;
}

void files_rctx_free(struct files_rctx *rc)
{
	for (int i = 0; i < rc->nobjs; i++)
		close(rc->objs[i].fd);
	free(rc->objs);
	rc->objs = NULL;
	rc->nobjs = 0;
	json_free(rc->doc);
	rc->doc = NULL;
}

/* Move every fd we hold out of the way of the numbers the task needs. */
int files_restore_task(const struct json *doc, const struct files_rctx *rc, int keep_fd,
		       ckpt_err_t *err)
{
	struct json *fds = json_get(doc, "fds");

	for (size_t i = 0; i < json_len(fds); i++) {
		struct json *o = json_at(fds, i);
		const struct fd_ops *ops = fd_kind_find(json_as_str(json_get(o, "kind")));
		int want = json_as_int(json_get(o, "fd"));
		int flags = json_as_int(json_get(o, "flags"));
		int fd, ret;

		if (!ops)
			return ckpt_error_msg(err, EPROTO, "fd %d: unknown kind", want);
		if (want == keep_fd)
			return ckpt_error_msg(err, EBUSY, "fd %d collides with the image fd", want);
		ret = ops->restore(o, rc, &fd, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "fd %d", want);
		if (fd != want) {
			if (dup3(fd, want, (flags & O_CLOEXEC) ? O_CLOEXEC : 0) < 0)
				return ckpt_error(err, errno, "dup fd %d", want);
			close(fd);
		} else if (!(flags & O_CLOEXEC)) {
			fcntl(fd, F_SETFD, 0);
		}
	}
	return 0;
}
