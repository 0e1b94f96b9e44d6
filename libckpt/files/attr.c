/*
 * libckpt/files/attr.c - the owner, group, mode and times of the files
 * restore makes anew (a unix socket's bound file, an unlinked file's or a
 * memfd's copy): saved from the original's stat as "attr", applied to the
 * new file so it is the original's, not root's with root's umask.
 *
 * Making a file changes its directory (a new entry: mtime); the directory's
 * times are put back afterwards (attr_dir_save / attr_dir_put_back), so
 * nothing above the files restore makes looks touched but the ctime, which
 * no call sets.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static const struct doc_field attr_fields[] = {
	DOC_INT(struct file_attr, mode, "mode", 0, 07777),
	DOC_INT(struct file_attr, uid, "uid", 0, UINT32_MAX - 1),
	DOC_INT(struct file_attr, gid, "gid", 0, UINT32_MAX - 1),
	DOC_INT(struct file_attr, atime, "atime", INT64_MIN, INT64_MAX),
	DOC_INT(struct file_attr, atime_ns, "atime_ns", 0, 999999999),
	DOC_INT(struct file_attr, mtime, "mtime", INT64_MIN, INT64_MAX),
	DOC_INT(struct file_attr, mtime_ns, "mtime_ns", 0, 999999999),
	DOC_END,
};

void attr_dump(const struct stat *st, struct json *obj)
{
	struct file_attr a = {
		.mode = st->st_mode & 07777,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.atime = st->st_atim.tv_sec,
		.atime_ns = st->st_atim.tv_nsec,
		.mtime = st->st_mtim.tv_sec,
		.mtime_ns = st->st_mtim.tv_nsec,
	};

	doc_write(json_set(obj, "attr", json_obj()), attr_fields, &a);
}

int attr_read(const struct doc_at *at, const struct json *obj, struct file_attr *a, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "attr");
	const struct json *o;
	int ret = doc_opt_obj(at, obj, "attr", &o, err);

	a->present = false;
	if (ret < 0 || !o)
		return ret;
	a->present = true;
	return doc_read(&k, o, attr_fields, a, err);
}

/*
 * fd: the new file, opened (O_PATH will do). Owner first: a chown clears
 * set-id bits that the mode then puts back; times last, as the others
 * change the ctime only.
 */
int attr_apply(int fd, const struct file_attr *a, ckpt_err_t *err)
{
	struct timespec t[2] = {{a->atime, a->atime_ns}, {a->mtime, a->mtime_ns}};
	char path[64];

	if (!a->present)
		return 0;
	if (fchownat(fd, "", a->uid, a->gid, AT_EMPTY_PATH) < 0)
		return ckpt_error(err, errno, "chown to %u:%u", a->uid, a->gid);
	/* fchmod refuses O_PATH fds; its /proc/self/fd link reaches the inode */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (chmod(path, a->mode) < 0)
		return ckpt_error(err, errno, "chmod to %#o", a->mode);
	if (utimensat(AT_FDCWD, path, t, 0) < 0)
		return ckpt_error(err, errno, "set times");
	return 0;
}

int attr_dir_save(const char *path, struct attr_dir *d)
{
	d->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->fd >= 0 && fstat(d->fd, &d->st) < 0) {
		close(d->fd);
		d->fd = -1;
	}
	return d->fd < 0 ? -1 : 0;
}

void attr_dir_put_back(struct attr_dir *d)
{
	struct timespec t[2];
	char path[64];

	if (d->fd < 0)
		return;
	t[0] = d->st.st_atim;
	t[1] = d->st.st_mtim;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", d->fd);
	if (utimensat(AT_FDCWD, path, t, 0) < 0)
		pr_warn("times of the directory of a file made at restore: %m, ignoring");
	close(d->fd);
	d->fd = -1;
}

bool files_link_deleted(const char *link, char *path, size_t len)
{
	static const char suffix[] = " (deleted)";
	size_t l = strlen(link), s = sizeof(suffix) - 1;

	if (l <= s || strcmp(link + l - s, suffix) || l - s >= len)
		return false;
	memcpy(path, link, l - s);
	path[l - s] = '\0';
	return true;
}

/*
 * A FIFO, directory or device node that was deleted while open: made again
 * at its old path (beside it, under another name, when that is taken),
 * opened, and removed, so the fd is on a deleted object named as before.
 * The directory's times are put back.
 */
int files_make_deleted(const char *path, mode_t fmt, dev_t rdev, int oflags, ckpt_err_t *err)
{
	char name[PATH_MAX + 32], parent[PATH_MAX];
	struct attr_dir d = {.fd = -1};
	const char *what = fmt == S_IFDIR ? "directory" : fmt == S_IFIFO ? "FIFO" : "device node";
	int fd = -1, ret = 0;

	snprintf(parent, sizeof(parent), "%s", path);
	(void)attr_dir_save(dirname(parent), &d);
	snprintf(name, sizeof(name), "%s", path);
	for (int i = 0;; i++) {
		ret = fmt == S_IFDIR ? mkdir(name, 0700) : mknod(name, fmt | 0600, rdev);
		if (ret == 0 || errno != EEXIST || i > 100)
			break;
		snprintf(name, sizeof(name), "%s.ckpt-%d-%d", path, getpid(), i);
	}
	if (ret < 0) {
		ret = ckpt_error(err, errno, "make deleted %s `%s` again", what, path);
	} else {
		fd = open(name, oflags | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			ret = ckpt_error(err, errno, "open `%s`", name);
		if ((fmt == S_IFDIR ? rmdir(name) : unlink(name)) < 0 && ret == 0)
			ret = ckpt_error(err, errno, "remove `%s`", name);
	}
	attr_dir_put_back(&d);
	if (ret < 0 && fd >= 0)
		close(fd);
	return ret < 0 ? ret : fd;
}

bool files_root_apart(const char *cwd, const char *root)
{
	char path[PATH_MAX];

	return cwd && root && files_link_deleted(root, path, sizeof(path)) && strcmp(cwd, root);
}

int files_root_make(const char *root, int at, ckpt_err_t *err)
{
	char path[PATH_MAX];
	int fd;

	if (!files_link_deleted(root, path, sizeof(path)))
		return ckpt_error_msg(err, EINVAL, "root `%s` is not deleted", root);
	fd = files_make_deleted(path, S_IFDIR, 0, O_PATH | O_DIRECTORY, err);
	if (fd < 0)
		return ckpt_error_wrap(err, "root");
	if (fd != at && dup3(fd, at, O_CLOEXEC) < 0) {
		close(fd);
		return ckpt_error(err, errno, "root at fd %d", at);
	}
	if (fd != at)
		close(fd);
	return 0;
}

int files_chdir(const char *cwd, ckpt_err_t *err)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	if (!files_link_deleted(cwd, path, sizeof(path))) {
		if (chdir(cwd) < 0)
			return ckpt_error(err, errno, "chdir `%s`", cwd);
		return 0;
	}
	/* a deleted directory as cwd: made again, entered, removed */
	fd = files_make_deleted(path, S_IFDIR, 0, O_RDONLY | O_DIRECTORY, err);
	if (fd < 0)
		return ckpt_error_wrap(err, "cwd");
	if (fchdir(fd) < 0)
		ret = ckpt_error(err, errno, "chdir into deleted `%s`", path);
	close(fd);
	return ret;
}
