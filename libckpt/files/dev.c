/*
 * libckpt/files/dev.c - character devices: the memory devices (null, zero,
 * full, random, urandom) are reopened by path; a terminal of the caller is
 * external: restore connects the fd to its own fd of the same number when
 * that is a terminal, else to /dev/null.
 */
#define LOG_PREFIX "dev: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "files/files.h"
#include "util/util.h"

static bool is_mem_dev(const struct stat *st)
{
	/* major 1: mem devices; 3 null, 5 zero, 7 full, 8 random, 9 urandom */
	unsigned int mi = minor(st->st_rdev);

	return major(st->st_rdev) == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9);
}

static bool is_tty(const struct stat *st)
{
	unsigned int ma = major(st->st_rdev);

	return ma == 136 || ma == 4 || ma == 5; /* pts, tty, /dev/tty and ptmx */
}

static bool dev_match(const struct fd_info *fi)
{
	return S_ISCHR(fi->st.st_mode);
}

static int dev_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	if (is_mem_dev(&fi->st))
		return 0;
	if (is_tty(&fi->st)) {
		json_set(o, "external", json_str("tty"));
		return 0;
	}
	return ckpt_error_msg(err, ENOTSUP, "unsupported device %u:%u (fd %d) in pid %d",
			      major(fi->st.st_rdev), minor(fi->st.st_rdev), fi->fd, fi->pid);
}

static int dev_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	const char *path = e->path;
	int flags = e->flags & ~(O_CREAT | O_TRUNC | O_EXCL);
	int want = e->fd;

	if (json_get(e->obj, "external")) {
		/* the restored fd `want` is our own stdio (a fork of ckpt-oci) */
		if (want <= 2 && isatty(want)) {
			*fd = fcntl(want, F_DUPFD_CLOEXEC, 3);
			if (*fd < 0)
				return ckpt_error(err, errno, "dup terminal");
			return 1;
		}
		path = "/dev/null";
	}
	if (strncmp(path, "/dev/", 5))
		return doc_error(err, &e->at, "device without a /dev path");
	*fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	return 0;
}

const struct fd_ops fd_dev_ops = {
	.kind = "chr",
	.match = dev_match,
	.dump = dev_dump,
	.restore = dev_restore,
};
