/*
 * namespaces/mnt-tmpfs.c - the content of a tmpfs mount, kept in one image
 * (mnt-tmpfs-ID.img): a record per inode, a parent directory before what
 * is in it, ended by a record with an empty path.
 *
 *   struct tmpfs_rec, then the relative path (pathlen bytes, no NUL), then
 *   size bytes: a regular file's data or a symlink's target.
 *
 * Kept: regular files, directories, symlinks, device nodes, FIFOs, with
 * mode, owner and times. Not kept: hard links (each name gets its own
 * copy), sockets, xattrs. Restore trusts nothing: every path is resolved
 * beneath the mount with no symlinks and no mount crossing (openat2).
 */
#define LOG_PREFIX "mnt: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "namespaces/mnt.h"
#include "util/log.h"
#include "util/util.h"

#define TMPFS_PATH_MAX	4096
#define TMPFS_DEPTH_MAX 256

struct tmpfs_rec {
	uint32_t mode, uid, gid, pathlen;
	uint64_t size, rdev;
	int64_t atime_sec, mtime_sec;
	uint32_t atime_nsec, mtime_nsec;
};

struct tmpfs_dump {
	struct bundle_image *img;
	dev_t dev;
	char buf[65536];
};

static int rec_write(struct tmpfs_dump *d, const char *path, const struct stat *st, ckpt_err_t *err)
{
	struct tmpfs_rec r = {
		.mode = st->st_mode,
		.uid = st->st_uid,
		.gid = st->st_gid,
		.pathlen = strlen(path),
		.size = S_ISREG(st->st_mode) || S_ISLNK(st->st_mode) ? (uint64_t)st->st_size : 0,
		.rdev = st->st_rdev,
		.atime_sec = st->st_atim.tv_sec,
		.atime_nsec = st->st_atim.tv_nsec,
		.mtime_sec = st->st_mtim.tv_sec,
		.mtime_nsec = st->st_mtim.tv_nsec,
	};
	int ret = bundle_image_write(d->img, &r, sizeof(r), err);

	if (ret == 0)
		ret = bundle_image_write(d->img, path, r.pathlen, err);
	return ret;
}

/* Data of a regular file: exactly st_size bytes, whatever happens meanwhile. */
static int file_write(struct tmpfs_dump *d, int dfd, const char *name, const char *path,
		      const struct stat *st, ckpt_err_t *err)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	uint64_t left = st->st_size;
	int ret;

	if (fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	while (left) {
		ssize_t n = read(fd, d->buf, MIN(left, sizeof(d->buf)));

		if (n <= 0)
			return ckpt_error(err, n < 0 ? errno : EIO, "read `%s`", path);
		ret = bundle_image_write(d->img, d->buf, n, err);
		if (ret < 0)
			return ret;
		left -= n;
	}
	return 0;
}

static int walk(struct tmpfs_dump *d, int dfd, const char *prefix, int depth, ckpt_err_t *err)
{
	cleanup_dir DIR *dir = NULL;
	struct dirent *de;
	int fd, ret;

	if (depth > TMPFS_DEPTH_MAX)
		return ckpt_error_msg(err, ELOOP, "`%s`: directories nested too deep", prefix);
	fd = dup(dfd);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return ckpt_error(err, errno, "read directory `%s`", prefix);
	}
	while ((de = readdir(dir))) {
		cleanup_free char *path = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = xasprintf("%s%s%s", prefix, *prefix ? "/" : "", de->d_name);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return ckpt_error(err, errno, "stat `%s`", path);
		if (st.st_dev != d->dev || S_ISSOCK(st.st_mode))
			continue; /* a child mount's root, restored on its own; sockets die */
		if (strlen(path) >= TMPFS_PATH_MAX)
			return ckpt_error_msg(err, ENAMETOOLONG, "`%s`: path too long", path);
		ret = rec_write(d, path, &st, err);
		if (ret == 0 && S_ISREG(st.st_mode))
			ret = file_write(d, dfd, de->d_name, path, &st, err);
		if (ret == 0 && S_ISLNK(st.st_mode)) {
			cleanup_free char *target = xzalloc(st.st_size + 1);

			if (readlinkat(dfd, de->d_name, target, st.st_size + 1) != st.st_size)
				return ckpt_error(err, errno ?: EIO, "readlink `%s`", path);
			ret = bundle_image_write(d->img, target, st.st_size, err);
		}
		if (ret == 0 && S_ISDIR(st.st_mode)) {
			cleanup_close int sub = openat(
				dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				return ckpt_error(err, errno, "open `%s`", path);
			ret = walk(d, sub, path, depth + 1, err);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int mnt_tmpfs_dump(struct ckpt_bundle *b, const char *name, int dirfd, dev_t dev, ckpt_err_t *err)
{
	cleanup_free struct tmpfs_dump *d = xzalloc(sizeof(*d));
	struct tmpfs_rec end = {0};
	int ret;

	d->dev = dev;
	ret = bundle_image_create(b, name, &d->img, err);
	if (ret < 0)
		return ret;
	ret = walk(d, dirfd, "", 0, err);
	if (ret == 0)
		ret = bundle_image_write(d->img, &end, sizeof(end), err);
	if (ret < 0) {
		bundle_image_abort(d->img);
		return ret;
	}
	return bundle_image_close(d->img, err);
}

/* --- restore --- */

/* A bundle path is relative, with no empty, `.` or `..` component. */
static bool path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL) {
		size_t len = strcspn(c, "/");

		if (!len || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
	}
	return true;
}

/* The parent directory of path, beneath root, no symlinks, no other mount. */
static int open_parent(int root, char *path, const char **base)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV |
			   RESOLVE_NO_MAGICLINKS,
	};
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*base = path;
		return dup(root);
	}
	*slash = '\0';
	fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
	*slash = '/';
	*base = slash + 1;
	return fd;
}

static int copy_data(int in, int out, uint64_t size, const char *path, ckpt_err_t *err)
{
	char buf[65536];

	while (size) {
		ssize_t n = read_all(in, buf, MIN(size, sizeof(buf)));

		if (n <= 0)
			return ckpt_error_msg(err, EPROTO, "`%s`: image truncated", path);
		if (out >= 0 && write_all(out, buf, n) < 0)
			return ckpt_error(err, errno, "write `%s`", path);
		size -= n;
	}
	return 0;
}

/* Make one inode; its data (if any) comes next in the image. */
static int make_one(int root, int img, const struct tmpfs_rec *r, char *path, ckpt_err_t *err)
{
	cleanup_close int pfd = -1, fd = -1;
	const char *base;
	mode_t perm = r->mode & 07777;

	pfd = open_parent(root, path, &base);
	if (pfd < 0)
		return ckpt_error(err, errno, "parent of `%s`", path);
	if (S_ISDIR(r->mode)) {
		if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
			return ckpt_error(err, errno, "mkdir `%s`", path);
	} else if (S_ISREG(r->mode)) {
		fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return ckpt_error(err, errno, "create `%s`", path);
		if (copy_data(img, fd, r->size, path, err) < 0)
			return -err->code;
	} else if (S_ISLNK(r->mode)) {
		cleanup_free char *target = NULL;

		if (r->size >= TMPFS_PATH_MAX)
			return ckpt_error_msg(err, EPROTO, "`%s`: symlink target too long", path);
		target = xzalloc(r->size + 1);
		if (read_all(img, target, r->size) != (ssize_t)r->size)
			return ckpt_error_msg(err, EPROTO, "`%s`: image truncated", path);
		if (symlinkat(target, pfd, base) < 0)
			return ckpt_error(err, errno, "symlink `%s`", path);
	} else if (S_ISCHR(r->mode) || S_ISBLK(r->mode) || S_ISFIFO(r->mode)) {
		if (mknodat(pfd, base, (r->mode & S_IFMT) | 0600, r->rdev) < 0)
			return ckpt_error(err, errno, "mknod `%s`", path);
	} else {
		return ckpt_error_msg(err, EPROTO, "`%s`: unknown file type %#o", path, r->mode);
	}
	if (fchownat(pfd, base, r->uid, r->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return ckpt_error(err, errno, "chown `%s`", path);
	/* after chown, which clears set-id bits; symlinks have no mode of their own */
	if (!S_ISLNK(r->mode) && fchmodat(pfd, base, perm, 0) < 0)
		return ckpt_error(err, errno, "chmod `%s`", path);
	return 0;
}

static int set_times(int root, char *path, const struct tmpfs_rec *r, ckpt_err_t *err)
{
	struct timespec ts[2] = {{r->atime_sec, r->atime_nsec}, {r->mtime_sec, r->mtime_nsec}};
	cleanup_close int pfd = -1;
	const char *base;

	pfd = open_parent(root, path, &base);
	if (pfd < 0 || utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return ckpt_error(err, errno, "set times of `%s`", path);
	return 0;
}

struct dir_time {
	char *path;
	struct tmpfs_rec r;
};

int mnt_tmpfs_restore(struct ckpt_bundle *b, const char *name, int dirfd, ckpt_err_t *err)
{
	cleanup_close int img = -1;
	struct dir_time *dirs = NULL;
	int ndirs = 0, ret = 0;

	ret = bundle_open_file(b, name, &img, NULL, err);
	if (ret < 0)
		return ret;
	for (;;) {
		struct tmpfs_rec r;
		cleanup_free char *path = NULL;

		if (read_all(img, &r, sizeof(r)) != sizeof(r)) {
			ret = ckpt_error_msg(err, EPROTO, "%s: truncated", name);
			break;
		}
		if (!r.pathlen)
			break;
		if (r.pathlen >= TMPFS_PATH_MAX) {
			ret = ckpt_error_msg(err, EPROTO, "%s: path too long", name);
			break;
		}
		path = xzalloc(r.pathlen + 1);
		if (read_all(img, path, r.pathlen) != r.pathlen || strlen(path) != r.pathlen ||
		    !path_ok(path)) {
			ret = ckpt_error_msg(err, EPROTO, "%s: bad path", name);
			break;
		}
		ret = make_one(dirfd, img, &r, path, err);
		if (ret < 0)
			break;
		if (S_ISDIR(r.mode)) {
			/* a directory's times are set once everything in it exists */
			dirs = xrealloc(dirs, (ndirs + 1) * sizeof(*dirs));
			dirs[ndirs++] = (struct dir_time){steal_pointer(&path), r};
		} else {
			ret = set_times(dirfd, path, &r, err);
			if (ret < 0)
				break;
		}
	}
	for (int i = ndirs - 1; i >= 0; i--) {
		if (ret == 0)
			ret = set_times(dirfd, dirs[i].path, &dirs[i].r, err);
		free(dirs[i].path);
	}
	free(dirs);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", name);
	return 0;
}
