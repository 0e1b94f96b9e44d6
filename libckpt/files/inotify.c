/*
 * libckpt/files/inotify.c - inotify: every watch with its mask and wd.
 *
 * fdinfo gives the watched inode as a file handle; fhandle.c turns it
 * into a path (open_by_handle_at() on a mount of the task with that
 * device, read back through /proc/self/fd). Restore adds the watches in wd
 * order; wds are handed out cyclically, so removing and re-adding a watch
 * moves it up to the saved number. Events queued but not read cannot be
 * put into a new inotify fd: such an fd fails the checkpoint (FIONREAD on
 * a pidfd_getfd copy), so none is dropped. Events that happen after the
 * dump (the tree is stopped, others may still touch the watched paths)
 * are not seen by the restored tree.
 *
 * A watch on a file unlinked while open (the watch and the fd keep the
 * inode) names the file's copy in files.json "ghosts" ("ghost", the id reg.c
 * gives it): restore watches that copy, through the fd ckpt-oci parks it
 * at, so the watch and every fd on the file are on one inode again. One
 * no fd of the tree holds (its holder is outside) is refused: restored,
 * the watch would end as soon as the copy's last fd is closed.
 */
#define LOG_PREFIX "inotify: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

#include "files/fhandle.h"
#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static bool inotify_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:inotify");
}

/* A watched inode that is unlinked (path " (deleted)"): its copy, id into *ghost. */
static int watch_ghost(const struct fd_info *fi, int ino, const char *path, struct files_dctx *dc,
		       uint64_t *ghost, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	char real[PATH_MAX], self[64];
	struct stat st;
	int ret;

	if (!files_link_deleted(path, real, sizeof(real)))
		return 0;
	if (fstat(ino, &st) < 0)
		return ckpt_error(err, errno, "stat watched `%s`", path);
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (inotify watch on deleted `%s`, neither a "
				      "file nor a directory) in pid %d",
				      fi->fd, path, fi->pid);
	if (S_ISREG(st.st_mode)) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", ino);
		fd = open(self, O_RDONLY | O_NOATIME | O_CLOEXEC);
		if (fd < 0 && errno == EPERM)
			fd = open(self, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return ckpt_error(err, errno, "open watched `%s`", path);
	}
	ret = ghost_save(dc, fd, &st, path, ghost, err);
	if (ret == 0)
		ghost_watched(dc, *ghost, fi->pid, fi->fd);
	return ret;
}

static int inotify_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	struct json *watches = json_set(o, "watches", json_arr());
	cleanup_close int copy = files_steal_fd(fi->pid, fi->fd, err);
	cleanup_free struct proc_inotify_mark *marks = NULL;
	int queued = 0, n = 0, ret;

	if (copy < 0)
		return copy;
	/* queued events cannot be put back into a new inotify fd: refuse, never drop */
	if (ioctl(copy, FIONREAD, &queued) < 0)
		return ckpt_error(err, errno, "inotify fd %d of %d: FIONREAD", fi->fd, fi->pid);
	if (queued > 0)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (inotify with %d bytes of unread events) "
				      "in pid %d",
				      fi->fd, queued, fi->pid);
	ret = proc_parse_inotify(fi->fdinfo, &marks, &n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "inotify fd %d of %d", fi->fd, fi->pid);
	for (int i = 0; i < n; i++) {
		const struct proc_inotify_mark *m = &marks[i];
		cleanup_free char *path = NULL;
		cleanup_close int ino = -1;
		uint64_t ghost = 0;
		struct json *w;

		ret = fhandle_open(fi, fhandle_kdev(m->sdev), m->fhandle, m->fh_type, &path, &ino,
				   err);
		if (ret == 0)
			ret = watch_ghost(fi, ino, path, dc, &ghost, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "inotify fd %d of %d, wd %u", fi->fd, fi->pid,
					       m->wd);
		w = json_push(watches, json_obj());
		json_set(w, "wd", json_int(m->wd));
		json_set(w, "mask", json_hex(m->mask));
		json_set(w, "path", json_str(path));
		if (ghost)
			json_set(w, "ghost", json_int(ghost));
	}
	return 0;
}

/* One watch of "watches". */
struct inotify_watch {
	int wd;
	uint32_t mask;
	const char *path;
	int64_t ghost; /* a copy in files.json "ghosts" (an unlinked file), 0: none */
};

static const struct doc_field watch_fields[] = {
	DOC_INT(struct inotify_watch, wd, "wd", 1, INT32_MAX),
	DOC_HEX(struct inotify_watch, mask, "mask", UINT32_MAX),
	DOC_STR(struct inotify_watch, path, "path", PATH_MAX),
	DOC_OPT_INT(struct inotify_watch, ghost, "ghost", 1, INT64_MAX),
	DOC_END,
};

/* Every watch of e, checked, into *out (n of them). */
static int watches_read(const struct fd_entry *e, struct inotify_watch **out, size_t *n,
			ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "watches");
	const struct json *list;
	int ret = doc_opt_arr(&e->at, e->obj, "watches", FILES_LIST_MAX, &list, n, err);

	*out = NULL;
	if (ret < 0)
		return ret;
	*out = xzalloc((*n + 1) * sizeof(**out));
	for (size_t i = 0; ret == 0 && i < *n; i++) {
		struct doc_at wat = DOC_IDX(&at, i);
		const struct json *w;

		ret = doc_elem_obj(&at, list, i, &w, err);
		if (ret == 0)
			ret = doc_read(&wat, w, watch_fields, &(*out)[i], err);
	}
	return ret;
}

static int watch_add(int fd, const struct inotify_watch *w, const struct files_rctx *rc,
		     bool *removed, ckpt_err_t *err)
{
	const char *path = w->path;
	char ghost[64];

	/* an unlinked file: its copy, parked by inotify_prepare */
	if (w->ghost) {
		struct fd_shared *sh = files_shared_find(rc, "ghost", w->ghost, 0);

		if (!sh)
			return ckpt_error_msg(err, EPROTO, "inotify watch `%s`: not prepared",
					      path);
		snprintf(ghost, sizeof(ghost), "/proc/self/fd/%d", sh->fd);
		path = ghost;
	}
	int want = w->wd, wd = 0;
	uint32_t mask = w->mask;

	for (int tries = 0; tries < 1 << 16; tries++) {
		wd = inotify_add_watch(fd, path, mask);
		if (wd < 0)
			return ckpt_error(err, errno, "inotify watch `%s`", path);
		if (wd >= want)
			break;
		inotify_rm_watch(fd, wd);
		*removed = true;
	}
	if (wd != want)
		return ckpt_error_msg(err, EEXIST, "inotify watch `%s`: wd %d, want %d", path, wd,
				      want);
	return 0;
}

/*
 * Removing the watches that filled the wd gaps queued IN_IGNORED events the
 * program never asked for: read them away (the fd is new, nothing else is
 * in it but events that raced with the restore).
 */
static int drain_ignored(int fd, int flags, ckpt_err_t *err)
{
	char buf[4096];

	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return ckpt_error(err, errno, "inotify flags");
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (fcntl(fd, F_SETFL, flags & O_NONBLOCK) < 0)
		return ckpt_error(err, errno, "inotify flags");
	return 0;
}

static int inotify_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	cleanup_free struct inotify_watch *watches = NULL;
	int flags = e->flags, ret;
	bool removed = false;
	size_t n;

	ret = watches_read(e, &watches, &n, err);
	if (ret < 0)
		return ret;
	*fd = inotify_init1(IN_CLOEXEC | (flags & O_NONBLOCK ? IN_NONBLOCK : 0));
	if (*fd < 0)
		return ckpt_error(err, errno, "inotify_init1");
	/* lowest wd first, so each can be moved up to its number */
	for (int last = 0; ret == 0;) {
		const struct inotify_watch *next = NULL;
		int best = 0;

		for (size_t i = 0; i < n; i++) {
			int wd = watches[i].wd;

			if (wd > last && (!next || wd < best)) {
				next = &watches[i];
				best = wd;
			}
		}
		if (!next)
			break;
		ret = watch_add(*fd, next, rc, &removed, err);
		last = best;
	}
	if (ret == 0 && removed)
		ret = drain_ignored(*fd, flags, err);
	if (ret < 0)
		close(*fd);
	return ret;
}

/* The copies of the unlinked files watched, made and parked before the fork. */
static int inotify_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	cleanup_free struct inotify_watch *w = NULL;
	size_t n;
	int ret = watches_read(e, &w, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++)
		if (w[i].ghost)
			ret = ghost_prepare(rc, w[i].ghost, w[i].path, e, err);
	return ret;
}

/* The number of watches on the fd's line, then one line each. */
static int inotify_describe(const struct fd_entry *e, const struct json *files, bool lines,
			    FILE *out, ckpt_err_t *err)
{
	cleanup_free struct inotify_watch *w = NULL;
	size_t n;
	int ret = watches_read(e, &w, &n, err);

	if (ret < 0)
		return ret;
	if (!lines)
		fprintf(out, " %zu watches", n);
	for (size_t i = 0; lines && i < n; i++)
		fprintf(out, "           wd %d mask 0x%" PRIx32 " %s\n", w[i].wd, w[i].mask,
			w[i].path);
	return 0;
}

const struct fd_ops fd_inotify_ops = {
	.kind = "inotify",
	.match = inotify_match,
	.dump = inotify_dump,
	.prepare = inotify_prepare,
	/* its unlinked files are made where the tree sees their paths (reg.c) */
	.prepare_in_tree = true,
	.restore = inotify_restore,
	.describe = inotify_describe,
};
