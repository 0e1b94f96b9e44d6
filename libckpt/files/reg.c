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
 * (in the file's old directory, else /tmp), gives it its old name long
 * enough to reopen it by that name (so its fds read "PATH (deleted)"),
 * parks it, and every fd on the ghost reopens it through /proc/self/fd
 * with its own flags. An unlinked file in a deleted directory is made in
 * that directory before the directory is removed again. All of it where
 * the tree's paths mean what they meant (prepare_in_tree: the tree's root
 * when it has a mount namespace of its own), so the copy is on the
 * original's filesystem.
 */
#define LOG_PREFIX "reg: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/vfs.h>
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
	/* a symlink itself: only through O_PATH | O_NOFOLLOW */
	return (S_ISREG(fi->st.st_mode) || S_ISDIR(fi->st.st_mode) ||
		(S_ISLNK(fi->st.st_mode) && (fi->flags & O_PATH))) &&
	       fi->link[0] == '/';
}

/* A file of procfs: made by the kernel as it is read, never compared. */
static bool on_procfs(const struct fd_info *fi)
{
	cleanup_close int f = -1;
	struct statfs sfs;
	char path[32];

	/* where the tree mounts procfs: a statfs each for the others is too dear */
	if (strncmp(fi->link, "/proc/", 6))
		return false;
	snprintf(path, sizeof(path), "fd/%d", fi->fd);
	f = openat(fi->procfd, path, O_PATH | O_CLOEXEC);
	return f >= 0 && fstatfs(f, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

static bool is_deleted(const char *link)
{
	size_t l = strlen(link), d = strlen(DELETED);

	return l > d && !strcmp(link + l - d, DELETED);
}

int ghost_save(struct files_dctx *dc, int fd, const struct stat *st, const char *link,
	       uint64_t *out, ckpt_err_t *err)
{
	struct json *ghosts = files_dlist(dc, "ghosts"), *g;
	cleanup_free char *name = NULL;
	uint64_t id = st->st_ino, bytes = 0;
	int ret;

	*out = id;
	if (files_list_find(ghosts, id))
		return 0;
	g = json_push(ghosts, json_obj());
	json_set(g, "id", json_int(id));
	/* a deleted directory is empty: its attributes are all there is */
	if (S_ISDIR(st->st_mode)) {
		json_set(g, "dir", json_bool(true));
		json_set(g, "size", json_int(0));
		json_set(g, "mode", json_int(st->st_mode & 07777));
		attr_dump(st, g);
		return 0;
	}
	name = xasprintf("ghost-%lu.img", (unsigned long)id);
	json_set(g, "mode", json_int(st->st_mode & 07777));
	attr_dump(st, g);
	ret = sparse_save(fd, st->st_size, dc->ghost_limit, dc->bundle, name, g, &bytes, err);
	if (ret == -EFBIG) {
		ckpt_error_clear(err);
		return ckpt_error_msg(err, EFBIG,
				      "unlinked file `%s` has %llu bytes of data, more than the "
				      "ghost limit of %llu (--ghost-limit)",
				      link, (unsigned long long)bytes,
				      (unsigned long long)dc->ghost_limit);
	}
	return ret < 0 ? ckpt_error_wrap(err, "unlinked `%s`", link) : 0;
}

static void ghost_use(struct files_dctx *dc, uint64_t id, pid_t pid, int fd, bool watch)
{
	dc->ghost_uses = xrealloc(dc->ghost_uses, (dc->nghost_uses + 1) * sizeof(*dc->ghost_uses));
	dc->ghost_uses[dc->nghost_uses++] = (struct ghost_use){id, pid, fd, watch};
}

void ghost_watched(struct files_dctx *dc, uint64_t id, pid_t pid, int fd)
{
	ghost_use(dc, id, pid, fd, true);
}

int ghost_dump_check(struct files_dctx *dc, ckpt_err_t *err)
{
	for (int i = 0; i < dc->nghost_uses; i++) {
		const struct ghost_use *w = &dc->ghost_uses[i];
		bool held = false;

		for (int j = 0; w->watch && !held && j < dc->nghost_uses; j++)
			held = !dc->ghost_uses[j].watch && dc->ghost_uses[j].id == w->id;
		if (w->watch && !held)
			return ckpt_error_msg(
				err, ENOTSUP,
				"unsupported fd %d (inotify watch on unlinked inode %llu "
				"that no fd of the tree holds: restored, it would end at "
				"once) in pid %d",
				w->fd, (unsigned long long)w->id, w->pid);
	}
	return 0;
}

/* Save the content of an unlinked file once per inode. */
static int ghost_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("fd/%d", fi->fd);
	cleanup_close int fd = -1;
	uint64_t id;
	int ret;

	if (S_ISLNK(fi->st.st_mode))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (deleted symlink `%s`) in pid %d", fi->fd,
				      fi->link, fi->pid);
	json_set(o, "ghost", json_int(fi->st.st_ino));
	ghost_use(dc, fi->st.st_ino, fi->pid, fi->fd, false);
	if (files_list_find(files_dlist(dc, "ghosts"), fi->st.st_ino))
		return 0;
	/* a description of our own (seeking for holes moves its offset); atime untouched */
	if (!S_ISDIR(fi->st.st_mode)) {
		fd = openat(fi->procfd, path, O_RDONLY | O_NOATIME | O_CLOEXEC);
		if (fd < 0 && errno == EPERM)
			fd = openat(fi->procfd, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ckpt_error(err, errno, "open unlinked `%s` of %d", fi->link,
					  fi->pid);
	}
	ret = ghost_save(dc, fd, &fi->st, fi->link, &id, err);
	return ret < 0 ? ckpt_error_wrap(err, "fd %d of pid %d", fi->fd, fi->pid) : 0;
}

static int reg_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	json_set(o, "dir", json_bool(S_ISDIR(fi->st.st_mode)));
	if (S_ISLNK(fi->st.st_mode))
		json_set(o, "symlink", json_bool(true));
	if (is_deleted(fi->link))
		return ghost_dump(fi, o, dc, err);
	json_set(o, "size", json_int(fi->st.st_size));
	/* /proc files are made anew for the restored task: nothing to compare */
	if (on_procfs(fi)) {
		json_set(o, "proc", json_bool(true));
		return 0;
	}
	if ((fi->flags & O_ACCMODE) == O_RDONLY && S_ISREG(fi->st.st_mode)) {
		char buf[48];

		snprintf(buf, sizeof(buf), "%lld.%09ld", (long long)fi->st.st_mtim.tv_sec,
			 fi->st.st_mtim.tv_nsec);
		json_set(o, "mtime", json_str(buf));
	}
	return 0;
}

/* An unlinked file of files.json "ghosts". */
struct ghost_saved {
	int64_t size;
	unsigned int mode;
	bool dir; /* a deleted directory */
	const char *image;
	struct file_attr attr;	 /* owner, group, mode, times (older bundles: mode only) */
	const struct doc_at *at; /* where, for the runs (sparse.c) */
	const struct json *obj;
};

static const struct doc_field ghost_fields[] = {
	DOC_INT(struct ghost_saved, size, "size", 0, INT64_MAX),
	DOC_INT(struct ghost_saved, mode, "mode", 0, 07777),
	DOC_OPT_STR(struct ghost_saved, image, "image", 255),
	DOC_OPT_BOOL(struct ghost_saved, dir, "dir"),
	DOC_END,
};

/* The path an unlinked file or directory had: its link without " (deleted)". */
static void ghost_real(const char *link, char *real, size_t len)
{
	if (!files_link_deleted(link, real, len))
		snprintf(real, len, "%s", link);
}

/*
 * Give the nameless tmp (O_TMPFILE) the name path (beside it, .ckpt-PID-N,
 * when taken), reopen it by that name and remove the name again: the new
 * fd reads "path (deleted)" through /proc, as the original's did, where an
 * O_TMPFILE reads "#inode". The directory's times are the caller's to put
 * back. Where no name can be given, tmp is kept, nameless.
 */
static int ghost_name(int tmp, const char *path)
{
	char name[PATH_MAX + 32], self[64];
	struct stat a, b;
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", tmp);
	snprintf(name, sizeof(name), "%s", path);
	for (int i = 0; linkat(AT_FDCWD, self, AT_FDCWD, name, AT_SYMLINK_FOLLOW) < 0; i++) {
		if (errno != EEXIST || i > 100) {
			pr_warn("name of unlinked `%s`: %m, ignoring", path);
			return tmp;
		}
		snprintf(name, sizeof(name), "%s.ckpt-%d-%d", path, getpid(), i);
	}
	fd = open(name, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (unlink(name) < 0)
		pr_warn("remove `%s`: %m, ignoring", name);
	if (fd >= 0 && (fstat(fd, &a) < 0 || fstat(tmp, &b) < 0 || a.st_ino != b.st_ino)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return tmp;
	close(tmp);
	return fd;
}

/*
 * The ghost's content in a file of its old name and directory, unlinked. A
 * directory removed too is made again for the while (a saved deleted
 * directory of that path is made first by ghost_dir_make, which makes its
 * files inside it). Elsewhere (/tmp, nameless) when the directory cannot be
 * had.
 */
static int ghost_make(const char *link, const struct ghost_saved *g, struct ckpt_bundle *b,
		      ckpt_err_t *err)
{
	char real[PATH_MAX], dir[PATH_MAX], up[PATH_MAX];
	struct attr_dir d = {.fd = -1};
	bool made = false;
	int fd, ret;

	ghost_real(link, real, sizeof(real));
	snprintf(dir, sizeof(dir), "%s", real);
	dirname(dir);
	snprintf(up, sizeof(up), "%s", dir);
	if (access(dir, F_OK) < 0 && errno == ENOENT) {
		(void)attr_dir_save(dirname(up), &d);
		made = mkdir(dir, 0700) == 0;
	} else {
		(void)attr_dir_save(dir, &d);
	}
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		fd = ghost_name(fd, real);
	if (made && rmdir(dir) < 0)
		pr_warn("remove `%s`: %m, ignoring", dir);
	attr_dir_put_back(&d);
	if (fd < 0)
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "temporary file for unlinked `%s`", real);
	ret = sparse_fill(fd, b, g->image, g->at, g->obj, g->size, err);
	if (ret == 0 && !g->attr.present && fchmod(fd, g->mode) < 0)
		ret = ckpt_error(err, errno, "chmod unlinked file");
	/* after the content, which moved the times */
	if (ret == 0)
		ret = attr_apply(fd, &g->attr, err);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Call fn for each saved fd on an unlinked file (dir false) or deleted
 * directory (dir true) not made yet whose old path is in directory path
 * (parent true) or is path, until one returns non-zero.
 */
static int each_ghost(struct files_rctx *rc, const char *path, bool parent, bool dir,
		      int (*fn)(struct files_rctx *, const struct fd_entry *, uint64_t,
				ckpt_err_t *),
		      ckpt_err_t *err)
{
	for (int t = 0; t < rc->ntasks; t++) {
		for (size_t i = 0; i < rc->tasks[t]->nfds; i++) {
			const struct fd_entry *e = &rc->tasks[t]->fds[i];
			char real[PATH_MAX];
			bool is_dir = false;
			uint64_t id;
			int ret;

			if (strcmp(e->kind, "reg") || !json_get(e->obj, "ghost") || e->dup)
				continue;
			ret = doc_opt_u64(&e->at, e->obj, "ghost", UINT64_MAX, 0, &id, err);
			if (ret == 0)
				ret = doc_opt_bool(&e->at, e->obj, "dir", false, &is_dir, err);
			if (ret < 0)
				return ret;
			ghost_real(e->path, real, sizeof(real));
			if (is_dir != dir || files_shared_find(rc, "ghost", id, 0) ||
			    strcmp(parent ? dirname(real) : real, path))
				continue;
			ret = fn(rc, e, id, err);
			if (ret != 0)
				return ret;
		}
	}
	return 0;
}

static int ghost_park(struct files_rctx *rc, uint64_t id, const char *path,
		      const struct fd_entry *e, bool own_dir, ckpt_err_t *err);

/* An unlinked file in the deleted directory being made. */
static int ghost_prepare_entry(struct files_rctx *rc, const struct fd_entry *e, uint64_t id,
			       ckpt_err_t *err)
{
	return ghost_park(rc, id, e->path, e, false, err);
}

/* A saved deleted directory of that path: made first (its files in it), stop. */
static int ghost_prepare_dir(struct files_rctx *rc, const struct fd_entry *e, uint64_t id,
			     ckpt_err_t *err)
{
	int ret = ghost_prepare(rc, id, e->path, e, err);

	return ret < 0 ? ret : 1;
}

/*
 * A deleted directory, made again where it was, opened and removed; the
 * unlinked files saved in it are made in it first, so their fds read as in
 * that directory.
 */
static int ghost_dir_make(struct files_rctx *rc, const char *link, const struct ghost_saved *g,
			  ckpt_err_t *err)
{
	char path[PATH_MAX], up[PATH_MAX];
	struct attr_dir d = {.fd = -1};
	int fd, ret;

	ghost_real(link, path, sizeof(path));
	snprintf(up, sizeof(up), "%s", path);
	(void)attr_dir_save(dirname(up), &d);
	if (mkdir(path, 0700) == 0) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ret = fd < 0 ? ckpt_error(err, errno, "open `%s`", path)
			     : each_ghost(rc, path, true, false, ghost_prepare_entry, err);
		if (rmdir(path) < 0 && ret == 0)
			ret = ckpt_error(err, errno, "remove `%s`", path);
		attr_dir_put_back(&d);
		if (ret < 0) {
			if (fd >= 0)
				close(fd);
			return ret;
		}
	} else {
		/* the name is taken: beside it (its files elsewhere) */
		attr_dir_put_back(&d);
		fd = files_make_deleted(path, S_IFDIR, 0, O_RDONLY | O_DIRECTORY, err);
		if (fd < 0)
			return fd;
	}
	ret = g->attr.present ? attr_apply(fd, &g->attr, err) : 0;
	if (ret == 0 && !g->attr.present && fchmod(fd, g->mode) < 0)
		ret = ckpt_error(err, errno, "chmod deleted directory");
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* own_dir: an unlinked file's directory may be a saved deleted one, made first. */
static int ghost_park(struct files_rctx *rc, uint64_t id, const char *path,
		      const struct fd_entry *e, bool own_dir, ckpt_err_t *err)
{
	struct ghost_saved g = {0};
	struct files_item it;
	char dir[PATH_MAX];
	int fd, ret;

	if (files_shared_find(rc, "ghost", id, 0))
		return 0;
	ret = files_need(rc->doc, "ghosts", id, e, &it, err);
	if (ret == 0)
		ret = doc_read(&it.at, it.obj, ghost_fields, &g, err);
	if (ret == 0)
		ret = attr_read(&it.at, it.obj, &g.attr, err);
	if (ret < 0)
		return ret;
	g.at = &it.at;
	g.obj = it.obj;
	if (!g.dir && own_dir) {
		/* in a deleted directory saved too: that one makes it */
		ghost_real(path, dir, sizeof(dir));
		dirname(dir);
		ret = each_ghost(rc, dir, false, true, ghost_prepare_dir, err);
		if (ret < 0)
			return ret;
		if (files_shared_find(rc, "ghost", id, 0))
			return 0;
	}
	fd = g.dir ? ghost_dir_make(rc, path, &g, err) : ghost_make(path, &g, rc->bundle, err);
	if (fd < 0)
		return fd;
	return files_park(rc, "ghost", id, 0, fd, err);
}

int ghost_prepare(struct files_rctx *rc, uint64_t id, const char *path, const struct fd_entry *e,
		  ckpt_err_t *err)
{
	return ghost_park(rc, id, path, e, true, err);
}

static int reg_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	uint64_t id;
	int ret = doc_opt_u64(&e->at, e->obj, "ghost", UINT64_MAX, 0, &id, err);

	if (ret < 0 || !json_get(e->obj, "ghost"))
		return ret;
	return ghost_prepare(rc, id, e->path, e, err);
}

/* Refuse a file whose size or mtime moved since the checkpoint. */
static int reg_check(const struct fd_entry *e, const char *path, int fd, bool ignore,
		     ckpt_err_t *err)
{
	const char *mtime;
	int64_t size = 0;
	bool dir;
	char now[64];
	struct stat st;
	int ret;

	ret = doc_opt_str(&e->at, e->obj, "mtime", 32, &mtime, err);
	if (ret == 0)
		ret = doc_opt_bool(&e->at, e->obj, "dir", false, &dir, err);
	if (ret == 0 && mtime)
		ret = doc_int(&e->at, e->obj, "size", 0, INT64_MAX, &size, err);
	if (ret < 0 || !mtime || dir || ignore)
		return ret;
	if (fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "stat `%s`", path);
	snprintf(now, sizeof(now), "%lld.%09ld", (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	if (st.st_size != size || strcmp(now, mtime))
		return ckpt_error_msg(err, ESTALE,
				      "file `%s` changed since the checkpoint (size %lld -> %lld, "
				      "mtime %s -> %s); --ignore-file-changes restores it anyway",
				      path, (long long)size, (long long)st.st_size, mtime, now);
	return 0;
}

/*
 * A file outside the tree's mounts ("outside", files.c) at fd 0-2, opened
 * by the path the kernel showed at checkpoint: the stdio a runtime gave the
 * tree. It must be the very file (device, inode and birth time: a number
 * freed is soon another file's); gone or another file
 * (on another node, a log rotated), the restore's own fd of that number
 * takes its place.
 */
static int reg_outside(const struct fd_entry *o, const char *path, int *fd, bool *ours,
		       ckpt_err_t *err)
{
	int want = o->fd, e = *fd < 0 ? errno : 0;
	struct stat st;

	if (*fd >= 0 && fstat(*fd, &st) == 0 && (uint64_t)st.st_dev == (uint64_t)o->outside_dev &&
	    (uint64_t)st.st_ino == (uint64_t)o->outside_ino &&
	    (!o->outside_btime || o->outside_btime == btime_at(*fd, "", AT_EMPTY_PATH)))
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
	return ckpt_error_msg(err, ESTALE,
			      "`%s` is not the file the tree had open "
			      "(another device or inode)",
			      path);
}

static int reg_restore(const struct fd_entry *o, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	const char *path = o->path;
	int flags = o->flags;
	long long pos = o->pos;
	char ghost[64];
	bool symlink;
	uint64_t gid;
	int ret;

	if (path[0] != '/')
		return doc_error(err, &o->at, "file without an absolute path");
	ret = doc_opt_u64(&o->at, o->obj, "ghost", UINT64_MAX, 0, &gid, err);
	if (ret == 0)
		ret = doc_opt_bool(&o->at, o->obj, "symlink", false, &symlink, err);
	if (ret < 0)
		return ret;
	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY);
	/* the symlink itself, as it was opened */
	if (symlink)
		flags |= O_PATH | O_NOFOLLOW;
	if (json_get(o->obj, "ghost")) {
		struct fd_shared *sh = files_shared_find(rc, "ghost", gid, 0);

		if (!sh)
			return ckpt_error_msg(err, EPROTO, "unlinked `%s` was not prepared", path);
		snprintf(ghost, sizeof(ghost), "/proc/self/fd/%d", sh->fd);
		*fd = open(ghost, flags | O_CLOEXEC);
	} else {
		*fd = open(path, flags | O_CLOEXEC);
	}
	/* (an fd in flight has fd -1) */
	if (o->outside && o->fd >= 0 && o->fd <= 2) {
		bool ours = false;

		ret = reg_outside(o, path, fd, &ours, err);
		if (ret < 0 || ours)
			return ret < 0 ? ret : 1;
	}
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	ret = json_get(o->obj, "ghost") ? 0 : reg_check(o, path, *fd, rc->ignore_changes, err);
	/* O_APPEND moves writes to the end, not reads: the offset still counts; O_PATH has none */
	if (ret == 0 && !(flags & O_PATH) && lseek(*fd, pos, SEEK_SET) < 0)
		ret = ckpt_error(err, errno, "seek `%s` to %lld", path, pos);
	if (ret < 0) {
		close(*fd);
		return ret;
	}
	return 0;
}

static int reg_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			ckpt_err_t *err)
{
	if (!lines && json_get(e->obj, "ghost"))
		fprintf(out, " unlinked");
	return 0;
}

const struct fd_ops fd_reg_ops = {
	.kind = "reg",
	.match = reg_match,
	.dump = reg_dump,
	.prepare = reg_prepare,
	.restore = reg_restore,
	.describe = reg_describe,
	.prepare_in_tree = true,
};
