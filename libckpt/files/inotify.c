/*
 * libckpt/files/inotify.c - inotify: every watch with its mask and wd.
 *
 * fdinfo gives the watched inode as a file handle; the path comes from
 * open_by_handle_at() on the mount with that device (mountinfo of the
 * task), read back through /proc/self/fd. Restore adds the watches in wd
 * order; wds are handed out cyclically, so removing and re-adding a watch
 * moves it up to the saved number. Events queued but not read cannot be
 * put into a new inotify fd: such an fd fails the checkpoint (FIONREAD on
 * a pidfd_getfd copy), so none is dropped. Events that happen after the
 * dump (the tree is stopped, others may still touch the watched paths)
 * are not seen by the restored tree.
 */
#define LOG_PREFIX "inotify: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>

#include "files/files.h"
#include "util/log.h"
#include "util/util.h"

static bool inotify_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:inotify");
}

/* An fd on the root of a mount of the task with device dev. */
static int mount_of_dev(int procfd, dev_t dev, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	char want[32];
	int ret;

	ret = read_file_at(procfd, "mountinfo", 1 << 22, &text, NULL, err);
	if (ret < 0)
		return ret;
	snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char devs[32], root[4096], mnt[4096];
		cleanup_free char *path = NULL;
		int fd;

		if (sscanf(line, "%*d %*d %31s %4095s %4095s", devs, root, mnt) != 3 ||
		    strcmp(devs, want))
			continue;
		path = xasprintf("root%s", mnt);
		fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return ckpt_error_msg(err, ENOENT, "no mount with device %s", want);
}

static int watch_path(const struct fd_info *fi, unsigned long sdev, const char *hex,
		      unsigned int type, char **out, ckpt_err_t *err)
{
	size_t n = strlen(hex) / 2;
	cleanup_free struct file_handle *fh = xzalloc(sizeof(*fh) + n + 1);
	cleanup_close int mfd = -1, fd = -1;
	char link[64], path[4096];
	ssize_t l;

	fh->handle_bytes = n;
	fh->handle_type = type;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &fh->f_handle[i]);
	/* the kernel's dev_t: 12 bits major, 20 bits minor */
	mfd = mount_of_dev(fi->procfd, makedev(sdev >> 20, sdev & 0xfffff), err);
	if (mfd < 0)
		return mfd;
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open inotify watch by handle");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, path, sizeof(path) - 1);
	if (l < 0)
		return ckpt_error(err, errno, "path of inotify watch");
	path[l] = '\0';
	*out = xstrdup(path);
	return 0;
}

static int inotify_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	struct json *watches = json_set(o, "watches", json_arr());
	cleanup_close int copy = files_steal_fd(fi->pid, fi->fd, err);
	int queued = 0;

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
	for (const char *p = strstr(fi->fdinfo, "inotify wd:"); p;
	     p = strstr(p + 1, "inotify wd:")) {
		unsigned long sdev;
		unsigned int wd, mask, type;
		char hex[260];
		cleanup_free char *path = NULL;
		struct json *w;
		int ret;

		if (sscanf(p,
			   "inotify wd:%u ino:%*x sdev:%lx mask:%x ignored_mask:%*x "
			   "fhandle-bytes:%*x fhandle-type:%x f_handle:%259s",
			   &wd, &sdev, &mask, &type, hex) != 5)
			return ckpt_error_msg(err, EPROTO, "inotify fd %d of %d: bad fdinfo line",
					      fi->fd, fi->pid);
		ret = watch_path(fi, sdev, hex, type, &path, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "inotify fd %d of %d, wd %u", fi->fd, fi->pid,
					       wd);
		w = json_push(watches, json_obj());
		json_set(w, "wd", json_int(wd));
		json_set(w, "mask", json_hex(mask));
		json_set(w, "path", json_str(path));
	}
	return 0;
}

static int watch_add(int fd, const struct json *w, bool *removed, ckpt_err_t *err)
{
	const char *path = json_as_str(json_get(w, "path"));
	int want = json_as_int(json_get(w, "wd")), wd = 0;
	uint64_t mask = 0;

	if (!path || json_get_hex(w, "mask", &mask, err) < 0)
		return ckpt_error_msg(err, EPROTO, "inotify watch without path or mask");
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

static int inotify_restore(const struct json *o, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	struct json *watches = json_get(o, "watches");
	int flags = json_as_int(json_get(o, "flags")), ret = 0;
	bool removed = false;

	*fd = inotify_init1(IN_CLOEXEC | (flags & O_NONBLOCK ? IN_NONBLOCK : 0));
	if (*fd < 0)
		return ckpt_error(err, errno, "inotify_init1");
	/* lowest wd first, so each can be moved up to its number */
	for (int last = 0; ret == 0;) {
		const struct json *next = NULL;
		int best = 0;

		for (size_t i = 0; i < json_len(watches); i++) {
			int wd = json_as_int(json_get(json_at(watches, i), "wd"));

			if (wd > last && (!next || wd < best)) {
				next = json_at(watches, i);
				best = wd;
			}
		}
		if (!next)
			break;
		ret = watch_add(*fd, next, &removed, err);
		last = best;
	}
	if (ret == 0 && removed)
		ret = drain_ignored(*fd, flags, err);
	if (ret < 0)
		close(*fd);
	return ret;
}

const struct fd_ops fd_inotify_ops = {
	.kind = "inotify",
	.match = inotify_match,
	.dump = inotify_dump,
	.restore = inotify_restore,
};
