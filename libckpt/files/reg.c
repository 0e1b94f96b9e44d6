/*
 * libckpt/files/reg.c - regular files and directories: path, flags, offset.
 *
 * Restore reopens the same path with the same access mode and status flags
 * (never O_CREAT/O_TRUNC: the file must be there) and seeks to the offset.
 * A regular file opened read-only has its size and mtime recorded; restore
 * refuses it if either changed since, unless --ignore-file-changes. Files
 * opened for writing are expected to change (a log the program itself, left
 * running, keeps appending to) and are not checked.
 *
 * Opened-then-unlinked ("ghost") files: the content goes into the bundle
 * (ghost-ID.img, bounded by --ghost-limit), listed once per inode in
 * files.json "ghosts". Restore makes one O_TMPFILE per ghost in ckpt-oci
 * (in the file's old directory, else /tmp), parks it, and every fd on the
 * ghost reopens it through /proc/self/fd with its own flags.
 */
#define LOG_PREFIX "reg: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

#define DELETED " (deleted)"

static bool reg_match(const struct fd_info *fi)
{
	return (S_ISREG(fi->st.st_mode) || S_ISDIR(fi->st.st_mode)) && fi->link[0] == '/';
}

static bool is_deleted(const char *link)
{
	size_t l = strlen(link), d = strlen(DELETED);

	return l > d && !strcmp(link + l - d, DELETED);
}

/* Save the content of an unlinked file once per inode. */
static int ghost_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	struct json *ghosts = files_dlist(dc, "ghosts"), *g;
	cleanup_free char *path = xasprintf("fd/%d", fi->fd), *buf = NULL, *name = NULL;
	cleanup_close int fd = -1;
	uint64_t id = fi->st.st_ino;
	ssize_t n;

	if (S_ISDIR(fi->st.st_mode))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (deleted directory `%s`) in pid %d",
				      fi->fd, fi->link, fi->pid);
	json_set(o, "ghost", json_int(id));
	if (files_list_find(ghosts, id))
		return 0;
	if ((uint64_t)fi->st.st_size > dc->ghost_limit)
		return ckpt_error_msg(
			err, EFBIG,
			"fd %d of pid %d: unlinked file `%s` has %lld bytes, more than "
			"the ghost limit of %llu (--ghost-limit)",
			fi->fd, fi->pid, fi->link, (long long)fi->st.st_size,
			(unsigned long long)dc->ghost_limit);
	fd = openat(fi->procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open unlinked `%s` of %d", fi->link, fi->pid);
	buf = xzalloc(fi->st.st_size + 1);
	n = pread(fd, buf, fi->st.st_size, 0);
	if (n != fi->st.st_size)
		return ckpt_error(err, n < 0 ? errno : EIO, "read unlinked `%s`", fi->link);
	name = xasprintf("ghost-%lu.img", (unsigned long)id);
	g = json_push(ghosts, json_obj());
	json_set(g, "id", json_int(id));
	json_set(g, "size", json_int(n));
	json_set(g, "mode", json_int(fi->st.st_mode & 07777));
	json_set(g, "image", json_str(name));
	return files_put_image(dc->bundle, name, buf, n, err);
}

static int reg_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	json_set(o, "dir", json_bool(S_ISDIR(fi->st.st_mode)));
	if (is_deleted(fi->link))
		return ghost_dump(fi, o, dc, err);
	json_set(o, "size", json_int(fi->st.st_size));
	if ((fi->flags & O_ACCMODE) == O_RDONLY && S_ISREG(fi->st.st_mode))
		json_set(o, "mtime",
			 json_str(xasprintf("%lld.%09ld", (long long)fi->st.st_mtim.tv_sec,
					    fi->st.st_mtim.tv_nsec)));
	return 0;
}

/* A temporary file with the ghost's content, in its old directory if possible. */
static int ghost_make(const struct json *o, const struct json *g, struct ckpt_bundle *b,
		      ckpt_err_t *err)
{
	cleanup_free char *dir = xstrdup(json_as_str(json_get(o, "path")) ?: "/tmp/x");
	const char *image = json_as_str(json_get(g, "image"));
	int fd, ret;

	fd = open(dirname(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "temporary file for unlinked `%s`",
				  json_as_str(json_get(o, "path")));
	ret = image ? pipe_fill_image(fd, image, b, err) : 0;
	if (ret == 0 && fchmod(fd, json_as_int(json_get(g, "mode"))) < 0)
		ret = ckpt_error(err, errno, "chmod unlinked file");
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int reg_prepare(const struct json *o, struct files_rctx *rc, ckpt_err_t *err)
{
	uint64_t id = json_as_int(json_get(o, "ghost"));
	const struct json *g;
	int fd;

	if (!json_get(o, "ghost") || files_shared_find(rc, "ghost", id, 0))
		return 0;
	g = files_list_find(json_get(rc->doc, "ghosts"), id);
	if (!g)
		return ckpt_error_msg(err, EPROTO, "files.json: no ghost %lu", (unsigned long)id);
	fd = ghost_make(o, g, rc->bundle, err);
	if (fd < 0)
		return fd;
	return files_park(rc, "ghost", id, 0, fd, err);
}

/* Refuse a file whose size or mtime moved since the checkpoint. */
static int reg_check(const struct json *o, const char *path, int fd, bool ignore, ckpt_err_t *err)
{
	const char *mtime = json_as_str(json_get(o, "mtime"));
	long long size = json_as_int(json_get(o, "size"));
	char now[64];
	struct stat st;

	if (!mtime || json_as_bool(json_get(o, "dir")) || ignore)
		return 0;
	if (fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "stat `%s`", path);
	snprintf(now, sizeof(now), "%lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (st.st_size != size || strcmp(now, mtime))
		return ckpt_error_msg(err, ESTALE,
				      "file `%s` changed since the checkpoint (size %lld -> %lld, "
				      "mtime %s -> %s); --ignore-file-changes restores it anyway",
				      path, size, (long long)st.st_size, mtime, now);
	return 0;
}

/*
 * A file outside the tree's mounts ("outside", files.c) at fd 0-2, opened
 * by the path the kernel showed at checkpoint: the stdio a runtime gave the
 * tree. It must be the very file (device and inode); gone or another file
 * (on another node, a log rotated), the restore's own fd of that number
 * takes its place.
 */
static int reg_outside(const struct json *o, const char *path, int *fd, bool *ours,
		       ckpt_err_t *err)
{
	int want = json_as_int(json_get(o, "fd")), e = *fd < 0 ? errno : 0;
	struct stat st;

	if (*fd >= 0 && fstat(*fd, &st) == 0 &&
	    (uint64_t)st.st_dev == (uint64_t)json_as_int(json_get(o, "outside_dev")) &&
	    (uint64_t)st.st_ino == (uint64_t)json_as_int(json_get(o, "outside_ino")))
		return 0;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (want <= 2 && fcntl(want, F_GETFD) >= 0) {
		*ours = true;
		pr_warn("fd %d: `%s` %s: connected to our fd %d", want, path,
			e ? strerror(e) : "is another file now", want);
		*fd = fcntl(want, F_DUPFD_CLOEXEC, 3);
		return *fd < 0 ? ckpt_error(err, errno, "dup our fd %d", want) : 0;
	}
	if (e)
		return ckpt_error(err, e, "open `%s`", path);
	return ckpt_error_msg(err, ESTALE, "`%s` is not the file the tree had open "
			      "(another device or inode)", path);
}

static int reg_restore(const struct json *o, const struct files_rctx *rc, int *fd, ckpt_err_t *err)
{
	const char *path = json_as_str(json_get(o, "path"));
	int flags = json_as_int(json_get(o, "flags"));
	long long pos = json_as_int(json_get(o, "pos"));
	char ghost[64];
	int ret;

	if (!path || path[0] != '/')
		return ckpt_error_msg(err, EPROTO, "file without an absolute path");
	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY);
	if (json_get(o, "ghost")) {
		struct fd_shared *sh =
			files_shared_find(rc, "ghost", json_as_int(json_get(o, "ghost")), 0);

		if (!sh)
			return ckpt_error_msg(err, EPROTO, "unlinked `%s` was not prepared", path);
		snprintf(ghost, sizeof(ghost), "/proc/self/fd/%d", sh->fd);
		*fd = open(ghost, flags | O_CLOEXEC);
	} else {
		*fd = open(path, flags | O_CLOEXEC);
	}
	/* (an fd in flight has fd -1) */
	if (json_as_bool(json_get(o, "outside")) && json_as_int(json_get(o, "fd")) >= 0 &&
	    json_as_int(json_get(o, "fd")) <= 2 && json_get(o, "fd")) {
		bool ours = false;

		ret = reg_outside(o, path, fd, &ours, err);
		if (ret < 0 || ours)
			return ret;
	}
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	ret = json_get(o, "ghost") ? 0 : reg_check(o, path, *fd, rc->ignore_changes, err);
	if (ret == 0 && !(flags & O_APPEND) && lseek(*fd, pos, SEEK_SET) < 0)
		ret = ckpt_error(err, errno, "seek `%s` to %lld", path, pos);
	if (ret < 0) {
		close(*fd);
		return ret;
	}
	return 0;
}

const struct fd_ops fd_reg_ops = {
	.kind = "reg",
	.match = reg_match,
	.dump = reg_dump,
	.prepare = reg_prepare,
	.restore = reg_restore,
};
