/*
 * libckpt/files/fanotify.c - fanotify groups: init flags, the flags of the
 * event fds, and every mark (inode, mount, filesystem) with its mask,
 * ignore mask and mark flags, all from fdinfo:
 *
 *     fanotify flags:3 event-flags:48000
 *     fanotify ino:a87fd5 sdev:fe00000 mflags:0 mask:8000002 ignored_mask:0 fhandle-...
 *     fanotify mnt_id:1a mflags:0 mask:8 ignored_mask:0
 *     fanotify sdev:fe00000 mflags:0 mask:20 ignored_mask:0
 *
 * Marks are saved by path (fhandle.c): the inode's path, the mount point
 * of the mount with that id, a mount point of the filesystem. Restore
 * makes a new group and adds the marks again on those paths.
 *
 * Refused, naming the fd: unread events. A new group's queue cannot be
 * filled, and making the same accesses again after restore (as the group's
 * marks would then report them) would give each event the pid of ckpt-oci
 * and an event fd it opened, touch the watched files (atime, mtime) and
 * be seen by every other group marking them: refusing is what is left;
 * permission classes (a stopped listener would block everyone
 * touching its marked files, ckpt-oci included, for as long as the dump
 * takes); marks of other kinds (mount namespace marks).
 */
#define LOG_PREFIX "fanotify: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>

#include "files/fhandle.h"
#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200
#endif

static bool fanotify_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[fanotify]");
}

static int refuse(const struct fd_info *fi, const char *why, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (fanotify %s) in pid %d", fi->fd,
			      why, fi->pid);
}

/* One mark of fdinfo into a mark object with a path. */
static int mark_dump(const struct fd_info *fi, const struct proc_fanotify_mark *pm,
		     struct json *marks, ckpt_err_t *err)
{
	cleanup_free char *path = NULL;
	const char *kind;
	struct json *m;
	int ret;

	switch (pm->kind) {
	case PROC_FANOTIFY_INODE:
		kind = "inode";
		ret = fhandle_path(fi, fhandle_kdev(pm->sdev), pm->fhandle, pm->fh_type, &path,
				   err);
		break;
	case PROC_FANOTIFY_MOUNT:
		kind = "mount";
		ret = fhandle_mount_by_id(fi, pm->mnt_id, &path, err);
		break;
	case PROC_FANOTIFY_FILESYSTEM:
		kind = "filesystem";
		ret = fhandle_mount_by_dev(fi, fhandle_kdev(pm->sdev), &path, err);
		break;
	default:
		return refuse(fi, "with a mark of an unsupported kind", err);
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "fanotify fd %d of %d, %s mark", fi->fd, fi->pid, kind);
	m = json_push(marks, json_obj());
	json_set(m, "kind", json_str(kind));
	json_set(m, "path", json_str(path));
	json_set(m, "mflags", json_hex(pm->mflags));
	json_set(m, "mask", json_hex(pm->mask));
	json_set(m, "ignored_mask", json_hex(pm->ignored_mask));
	return 0;
}

static int fanotify_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			 ckpt_err_t *err)
{
	cleanup_close int copy = files_steal_fd(fi->pid, fi->fd, err);
	struct json *marks = json_set(o, "marks", json_arr());
	struct proc_fanotify f = {0};
	int queued = 0, ret;

	if (copy < 0)
		return copy;
	ret = proc_parse_fanotify(fi->fdinfo, &f, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "fanotify fd %d of %d", fi->fd, fi->pid);
	if (f.flags & (FAN_CLASS_CONTENT | FAN_CLASS_PRE_CONTENT))
		ret = refuse(fi, "with permission events", err);
	else if (ioctl(copy, FIONREAD, &queued) < 0)
		ret = ckpt_error(err, errno, "fanotify fd %d of %d: FIONREAD", fi->fd, fi->pid);
	if (ret == 0 && queued > 0) {
		char why[160];

		snprintf(why, sizeof(why),
			 "with %d bytes of unread events, refused rather than made again: "
			 "their pids and event fds would be ckpt-oci's",
			 queued);
		ret = refuse(fi, why, err);
	}
	if (ret == 0) {
		json_set(o, "init_flags", json_hex(f.flags));
		json_set(o, "event_flags", json_hex(f.event_flags));
	}
	for (int i = 0; ret == 0 && i < f.nmarks; i++)
		ret = mark_dump(fi, &f.marks[i], marks, err);
	proc_fanotify_free(&f);
	return ret;
}

/* Add mark m again: its mask, then its ignore mask, with the same mark flags. */
/* One mark of "marks". */
struct fanotify_mark_saved {
	const char *kind, *path;
	uint32_t mflags;
	uint64_t mask, ignored;
};

static const struct doc_field mark_fields[] = {
	DOC_STR(struct fanotify_mark_saved, kind, "kind", 16),
	DOC_STR(struct fanotify_mark_saved, path, "path", PATH_MAX),
	DOC_HEX(struct fanotify_mark_saved, mflags, "mflags", UINT32_MAX),
	DOC_HEX(struct fanotify_mark_saved, mask, "mask", UINT64_MAX),
	DOC_HEX(struct fanotify_mark_saved, ignored, "ignored_mask", UINT64_MAX),
	DOC_END,
};

static int mark_restore(int fd, const struct doc_at *at, const struct json *m, ckpt_err_t *err)
{
	struct fanotify_mark_saved s;
	const char *kind, *path;
	uint64_t mflags, mask, ignored;
	unsigned int how = FAN_MARK_ADD, ign;
	int ret = doc_read(at, m, mark_fields, &s, err);

	if (ret < 0)
		return ret;
	kind = s.kind;
	path = s.path;
	mflags = s.mflags;
	mask = s.mask;
	ignored = s.ignored;
	if (!strcmp(kind, "mount"))
		how |= FAN_MARK_MOUNT;
	else if (!strcmp(kind, "filesystem"))
		how |= FAN_MARK_FILESYSTEM;
	else if (strcmp(kind, "inode"))
		return doc_error(err, at, "fanotify mark of kind `%s`", kind);
	how |= mflags & FAN_MARK_EVICTABLE;
	if (mask && fanotify_mark(fd, how, mask, AT_FDCWD, path) < 0)
		return ckpt_error(err, errno, "fanotify %s mark on `%s`", kind, path);
	/* FAN_MARK_IGNORE is the newer form of an ignore mask; the flags say which */
	ign = mflags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK;
	if (ignored && fanotify_mark(fd, how | ign | (mflags & FAN_MARK_IGNORED_SURV_MODIFY),
				     ignored, AT_FDCWD, path) < 0)
		return ckpt_error(err, errno, "fanotify %s ignore mark on `%s`", kind, path);
	return 0;
}

static int fanotify_marks(const struct fd_entry *e, const struct json **marks, size_t *n,
			  ckpt_err_t *err)
{
	return doc_opt_arr(&e->at, e->obj, "marks", FILES_LIST_MAX, marks, n, err);
}

static int fanotify_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			    ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "marks");
	const struct json *marks;
	int flags = e->flags, ret;
	uint64_t init = 0, eflags = 0;
	size_t n;

	ret = doc_u64(&e->at, e->obj, "init_flags", UINT32_MAX, &init, err);
	if (ret == 0)
		ret = doc_u64(&e->at, e->obj, "event_flags", UINT32_MAX, &eflags, err);
	if (ret == 0)
		ret = fanotify_marks(e, &marks, &n, err);
	if (ret < 0)
		return ret;
	/* the fd's own flags now, not those it was made with */
	init &= ~(unsigned int)(FAN_CLOEXEC | FAN_NONBLOCK);
	init |= FAN_CLOEXEC | (flags & O_NONBLOCK ? FAN_NONBLOCK : 0);
	*fd = fanotify_init(init, eflags);
	if (*fd < 0)
		return ckpt_error(err, errno, "fanotify_init flags %#lx event flags %#lx",
				  (unsigned long)init, (unsigned long)eflags);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at mat = DOC_IDX(&at, i);
		const struct json *m;

		ret = doc_elem_obj(&at, marks, i, &m, err);
		if (ret == 0)
			ret = mark_restore(*fd, &mat, m, err);
	}
	if (ret < 0)
		close(*fd);
	return ret;
}

static int fanotify_describe(const struct fd_entry *e, const struct json *files, bool lines,
			     FILE *out, ckpt_err_t *err)
{
	const struct json *marks;
	size_t n;
	int ret = lines ? 0 : fanotify_marks(e, &marks, &n, err);

	if (ret == 0 && !lines)
		fprintf(out, " %zu marks", n);
	return ret;
}

const struct fd_ops fd_fanotify_ops = {
	.kind = "fanotify",
	.match = fanotify_match,
	.dump = fanotify_dump,
	.restore = fanotify_restore,
	.describe = fanotify_describe,
};
