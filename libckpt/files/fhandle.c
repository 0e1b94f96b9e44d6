/*
 * libckpt/files/fhandle.c - paths of watched objects for inotify.c and
 * fanotify.c. Their fdinfo names an inode by device and file handle, a
 * mount by id, a filesystem by device; restore needs paths. The task's
 * mountinfo gives the mounts; open_by_handle_at() on a mount of the right
 * device, read back through /proc/self/fd, gives an inode's path.
 */
#define LOG_PREFIX "files: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files/fhandle.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

dev_t fhandle_kdev(unsigned long sdev)
{
	return makedev(sdev >> 20, sdev & 0xfffff);
}

/*
 * Walk the task's mounts: for each whose id is mnt_id (when >= 0) or whose
 * device is dev, call fn with its mount point; stop at the first fn >= 0.
 */
static int each_mount(const struct fd_info *fi, int mnt_id, dev_t dev,
		      int (*fn)(const struct fd_info *, const char *, void *), void *arg,
		      ckpt_err_t *err)
{
	struct proc_mount *m = NULL;
	int n = 0, ret;

	ret = proc_read_mountinfo(fi->procfd, "mountinfo", &m, &n, err);
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (int i = 0; i < n && ret < 0; i++) {
		if (mnt_id >= 0 ? m[i].id != mnt_id
				: m[i].major != major(dev) || m[i].minor != minor(dev))
			continue;
		if (fn(fi, m[i].mountpoint, arg) >= 0)
			ret = 0;
	}
	proc_mounts_free(m, n);
	if (ret == 0)
		return 0;
	if (mnt_id >= 0)
		return ckpt_error_msg(err, ENOENT, "no mount with id %d in pid %d", mnt_id,
				      fi->pid);
	return ckpt_error_msg(err, ENOENT, "no mount with device %u:%u in pid %d", major(dev),
			      minor(dev), fi->pid);
}

static int keep_path(const struct fd_info *fi, const char *mnt, void *arg)
{
	*(char **)arg = xstrdup(mnt);
	return 0;
}

int fhandle_mount_by_id(const struct fd_info *fi, int mnt_id, char **out, ckpt_err_t *err)
{
	return each_mount(fi, mnt_id, 0, keep_path, out, err);
}

int fhandle_mount_by_dev(const struct fd_info *fi, dev_t dev, char **out, ckpt_err_t *err)
{
	return each_mount(fi, -1, dev, keep_path, out, err);
}

/* An fd on the first mount point of the task that opens (through /proc/PID/root). */
static int open_mount(const struct fd_info *fi, const char *mnt, void *arg)
{
	cleanup_free char *path = xasprintf("root%s", mnt);
	int fd = openat(fi->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		*(int *)arg = fd;
	return fd;
}

int fhandle_path(const struct fd_info *fi, dev_t dev, const char *hex, unsigned int type,
		 char **out, ckpt_err_t *err)
{
	return fhandle_open(fi, dev, hex, type, out, NULL, err);
}

int fhandle_open(const struct fd_info *fi, dev_t dev, const char *hex, unsigned int type,
		 char **out, int *keep, ckpt_err_t *err)
{
	size_t n = strlen(hex) / 2;
	cleanup_free struct file_handle *fh = xzalloc(sizeof(*fh) + n + 1);
	cleanup_close int mfd = -1, fd = -1;
	char link[64], path[4096];
	ssize_t l;
	int ret;

	fh->handle_bytes = n;
	fh->handle_type = type;
	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &fh->f_handle[i]);
	ret = each_mount(fi, -1, dev, open_mount, &mfd, err);
	if (ret < 0)
		return ret;
	fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open watched inode by handle");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = readlink(link, path, sizeof(path) - 1);
	if (l < 0)
		return ckpt_error(err, errno, "path of watched inode");
	path[l] = '\0';
	*out = xstrdup(path);
	if (keep)
		*keep = steal_fd(&fd);
	return 0;
}
