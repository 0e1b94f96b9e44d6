/*
 * oci/rootfs-apply.c - move the extracted rootfs changes into a root
 * directory that the container owns.
 *
 * The root directory is the container's: it may hold symlinks to anywhere
 * on the host (planted while it ran, or shipped in the image), and ckpt-oci
 * runs as root. So no path inside it is ever resolved by the host's rules:
 * tar extracts rootfs-diff.tar into an empty staging directory beside the
 * root (same filesystem, so entries move by rename with their metadata),
 * and each staged entry is moved into place here, its parent directory
 * resolved with openat2(RESOLVE_IN_ROOT) (a symlink met on the way leads
 * inside the root at worst) and the entry itself replaced without ever
 * following a link: rename over a non-directory, remove what is in the way,
 * directories made and their owner, mode and times set through an fd
 * opened O_NOFOLLOW, after their content.
 *
 * A device node is taken only from an authenticated bundle: the restored
 * tree's cgroups keep no device rules, so a node for the host's disk in
 * its root directory would be a way out of it.
 */
#define LOG_PREFIX "rootfs: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "oci/oci.h"
#include "util/log.h"
#include "util/util.h"

#define APPLY_DEPTH 256

/* rel (relative to the root, "" for itself) as an O_PATH fd, never leaving the root. */
static int open_in_root(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Remove name in dfd, whatever it is, without following a link. */
static int remove_any(int dfd, const char *name)
{
	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	return errno == EISDIR ? bundle_rmtree(dfd, name) : -errno;
}

/* A directory at name in dfd (made if missing, what is in the way removed). */
static int ensure_dir(int dfd, const char *name)
{
	struct stat st;
	int ret;

	if (mkdirat(dfd, name, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return 0;
	ret = remove_any(dfd, name);
	if (ret == 0 && mkdirat(dfd, name, 0700) < 0)
		ret = -errno;
	return ret;
}

/* Owner, mode and times of the staged directory st onto name in dfd. */
static int dir_meta(int dfd, const char *name, const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
	    futimens(fd, ts) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Move the staged non-directory name (in sfd) over name in dfd. */
static int move_entry(int sfd, int dfd, const char *name)
{
	int ret;

	if (renameat(sfd, name, dfd, name) == 0)
		return 0;
	if (errno != EISDIR && errno != ENOTEMPTY && errno != EEXIST)
		return -errno;
	ret = remove_any(dfd, name); /* a directory where a file goes */
	if (ret == 0 && renameat(sfd, name, dfd, name) < 0)
		ret = -errno;
	return ret;
}

struct apply {
	int rootfd;
	char path[PATH_MAX]; /* of the directory being applied, relative to the root */
	unsigned long moved;
	ckpt_err_t *err;
};

static int apply_dir(struct apply *a, int sfd, size_t len, int depth);

/*
 * The staged directory name (in sdfd, st its stat) applied onto the one
 * in dfd, made when missing: its content first, then its owner, mode and
 * times (its content changed them). a->path is its parent's, len long.
 */
static int apply_subdir(struct apply *a, int sdfd, int dfd, const char *name, const struct stat *st,
			size_t len, int depth)
{
	int sub, ret = ensure_dir(dfd, name);

	if (ret < 0)
		return ckpt_error(a->err, -ret, "rootfs: directory `%s/%s`", a->path, name);
	sub = openat(sdfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return ckpt_error(a->err, errno, "rootfs: staged `%s`", name);
	snprintf(a->path + len, sizeof(a->path) - len, "%s%s", len ? "/" : "", name);
	ret = apply_dir(a, sub, strlen(a->path), depth + 1);
	a->path[len] = '\0';
	if (ret < 0)
		return ret;
	ret = dir_meta(dfd, name, st);
	if (ret < 0)
		ret = ckpt_error(a->err, -ret, "rootfs: directory `%s/%s`", a->path, name);
	a->moved++;
	return ret;
}

static int apply_dir(struct apply *a, int sfd, size_t len, int depth)
{
	cleanup_close int dfd = -1;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (depth > APPLY_DEPTH)
		return ckpt_error_msg(a->err, ELOOP, "rootfs changes deeper than %d", APPLY_DEPTH);
	dfd = open_in_root(a->rootfd, a->path);
	if (dfd < 0) {
		close(sfd);
		return ckpt_error(a->err, -dfd, "rootfs: open `%s` in the root", a->path);
	}
	d = fdopendir(sfd);
	if (!d) {
		close(sfd);
		return ckpt_error(a->err, errno, "rootfs: staged `%s`", a->path);
	}
	while (ret == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + n + 2 >= sizeof(a->path)) {
			ret = ckpt_error_msg(a->err, ENAMETOOLONG, "rootfs: path too long");
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = ckpt_error(a->err, errno, "rootfs: staged `%s`", de->d_name);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			ret = apply_subdir(a, dirfd(d), dfd, de->d_name, &st, len, depth);
			continue;
		}
		ret = move_entry(dirfd(d), dfd, de->d_name);
		if (ret < 0)
			ret = ckpt_error(a->err, -ret, "rootfs: put `%s/%s` back", a->path,
					 de->d_name);
		a->moved++;
	}
	closedir(d);
	return ret;
}

/* The first device node staged below sfd (closed here), as a path in *found; 1 if any. */
static int find_device(int sfd, char *found, size_t size, int depth)
{
	struct dirent *de;
	DIR *d = fdopendir(sfd);
	int ret = 0;

	if (!d) {
		close(sfd);
		return -errno;
	}
	while (ret == 0 && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			break;
		}
		if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
			snprintf(found, size, "%s", de->d_name);
			ret = 1;
		} else if (S_ISDIR(st.st_mode) && depth < APPLY_DEPTH) {
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			ret = sub < 0 ? -errno : find_device(sub, found, size, depth + 1);
			if (ret == 1) {
				/* prepend this level: dir/found */
				size_t n = strlen(de->d_name), m = strlen(found);

				if (n + m + 2 <= size) {
					memmove(found + n + 1, found, m + 1);
					memcpy(found, de->d_name, n);
					found[n] = '/';
				}
			}
		}
	}
	closedir(d);
	return ret;
}

int oci_rootfs_move(const char *stage, const char *root, bool authenticated, unsigned long *moved,
		    ckpt_err_t *err)
{
	struct apply a = {.err = err};
	int sfd, ret;

	a.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a.rootfd < 0)
		return ckpt_error(err, errno, "rootfs: open %s", root);
	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		ret = ckpt_error(err, errno, "rootfs: open %s", stage);
	} else if (!authenticated) {
		/* all checked before anything moves: a refusal leaves the root as it was */
		int dup = fcntl(sfd, F_DUPFD_CLOEXEC, 0);
		char found[PATH_MAX] = "";

		ret = dup < 0 ? -errno : find_device(dup, found, sizeof(found), 0);
		if (ret < 0)
			ret = ckpt_error(err, -ret, "rootfs: staged changes");
		else if (ret == 1)
			ret = ckpt_error_msg(err, EPERM,
					     "rootfs: `%s`: a device node from an unauthenticated "
					     "bundle",
					     found);
		if (ret < 0)
			close(sfd);
		else
			ret = apply_dir(&a, sfd, 0, 0);
	} else {
		ret = apply_dir(&a, sfd, 0, 0);
	}
	close(a.rootfd);
	*moved = a.moved;
	return ret;
}

/*
 * "./a/b": no empty, "." or ".." component after the leading one; the
 * parent is then resolved in the root (RESOLVE_IN_ROOT) all the same.
 */
static bool deleted_path_ok(const char *p)
{
	if (strncmp(p, "./", 2) || !p[2])
		return false;
	for (const char *c = p + 2; *c;) {
		size_t n = strcspn(c, "/");

		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n;
		if (*c == '/' && !*++c)
			return false;
	}
	return true;
}

int oci_rootfs_delete(const char *root, const char *const *paths, size_t n, unsigned long *gone,
		      ckpt_err_t *err)
{
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	*gone = 0;
	if (rootfd < 0)
		return ckpt_error(err, errno, "rootfs: open %s", root);
	for (size_t i = 0; i < n && ret == 0; i++) {
		char rel[PATH_MAX], *slash;
		int pfd;

		if (!deleted_path_ok(paths[i]) || strlen(paths[i]) >= sizeof(rel)) {
			ret = ckpt_error_msg(err, EPROTO, "rootfs: deleted path `%s`", paths[i]);
			break;
		}
		strcpy(rel, paths[i] + 2);
		slash = strrchr(rel, '/');
		if (slash)
			*slash = '\0';
		pfd = open_in_root(rootfd, slash ? rel : "");
		if (pfd == -ENOENT || pfd == -ENOTDIR)
			continue; /* its directory is gone too */
		if (pfd < 0) {
			ret = ckpt_error(err, -pfd, "rootfs: open the directory of %s", paths[i]);
			break;
		}
		ret = remove_any(pfd, slash ? slash + 1 : rel);
		close(pfd);
		if (ret < 0)
			ret = ckpt_error(err, -ret, "rootfs: remove %s", paths[i]);
		else
			(*gone)++;
	}
	close(rootfd);
	return ret;
}
