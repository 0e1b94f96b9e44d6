/*
 * libckpt/files/dev.c - character devices: the memory devices (null, zero,
 * full, random, urandom) are reopened by path; a terminal of the caller is
 * external: restore connects the fd to its own fd of the same number when
 * that is a terminal, else to /dev/null. A memory device's node removed
 * while open (one the program made) keeps its device number ("major",
 * "minor") and "attr": restore makes the node again where it was, opens it
 * and removes it; only the memory devices are ever made. One outside /dev
 * still there is opened once seen to be a memory device.
 *
 * The console (5:1) and the virtual and serial terminals (major 4) are
 * reopened by path as the very same device ("major", "minor", "tty"): the
 * checkpoint refuses one whose path in the task's root does not lead to
 * it (a node removed or made elsewhere), restore one that is another
 * device now. A pseudo-terminal of the tree is tty.c's; a slave or
 * /dev/tty leading outside the tree is the caller's (external, above).
 */
#define LOG_PREFIX "dev: "
#include <errno.h>
#include <limits.h>
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

/* A terminal of the caller: a pseudo-terminal slave, /dev/tty. */
static bool is_tty(const struct stat *st)
{
	unsigned int ma = major(st->st_rdev);

	return (ma >= 136 && ma < 144) || st->st_rdev == makedev(5, 0);
}

/* The console, a virtual or serial terminal: one device, reopened by path. */
static bool is_host_tty(dev_t rdev)
{
	return major(rdev) == 4 || rdev == makedev(5, 1);
}

/* A deleted node's device number. */
struct dev_node {
	unsigned int major, minor;
};

static const struct doc_field node_fields[] = {
	DOC_INT(struct dev_node, major, "major", 0, 4095),
	DOC_INT(struct dev_node, minor, "minor", 0, (1 << 20) - 1),
	DOC_END,
};

static bool dev_match(const struct fd_info *fi)
{
	return S_ISCHR(fi->st.st_mode);
}

/* The console or a terminal: its path in the task's root must lead to it. */
static int host_tty_dump(const struct fd_info *fi, struct json *o, ckpt_err_t *err)
{
	struct dev_node n = {major(fi->st.st_rdev), minor(fi->st.st_rdev)};
	char path[PATH_MAX + 8];
	struct stat st;

	snprintf(path, sizeof(path), "root%s", fi->link);
	if (fi->link[0] != '/' || strncmp(fi->link, "/dev/", 5) ||
	    fstatat(fi->procfd, path, &st, 0) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != fi->st.st_rdev)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (terminal %u:%u at `%s`, which is not "
				      "that device in the task's root) in pid %d",
				      fi->fd, n.major, n.minor, fi->link, fi->pid);
	doc_write(o, node_fields, &n);
	json_set(o, "tty", json_bool(true));
	return 0;
}

static int dev_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	char path[PATH_MAX];

	if (is_mem_dev(&fi->st)) {
		struct dev_node n = {major(fi->st.st_rdev), minor(fi->st.st_rdev)};

		if (!files_link_deleted(fi->link, path, sizeof(path)))
			return 0;
		doc_write(o, node_fields, &n);
		attr_dump(&fi->st, o);
		return 0;
	}
	if (is_tty(&fi->st)) {
		json_set(o, "external", json_str("tty"));
		return 0;
	}
	if (is_host_tty(fi->st.st_rdev))
		return host_tty_dump(fi, o, err);
	return ckpt_error_msg(err, ENOTSUP, "unsupported device %u:%u (fd %d) in pid %d",
			      major(fi->st.st_rdev), minor(fi->st.st_rdev), fi->fd, fi->pid);
}

/* A memory device's node, removed: made again at path, opened, removed. */
static int dev_make_deleted(const struct fd_entry *e, const char *path, int flags, int *fd,
			    ckpt_err_t *err)
{
	struct dev_node n;
	struct file_attr a;
	struct stat st;
	int ret = doc_read(&e->at, e->obj, node_fields, &n, err);

	if (ret == 0)
		ret = attr_read(&e->at, e->obj, &a, err);
	if (ret < 0)
		return ret;
	st.st_rdev = makedev(n.major, n.minor);
	if (!is_mem_dev(&st))
		return doc_error(err, &e->at, "device %u:%u is not a memory device", n.major,
				 n.minor);
	*fd = files_make_deleted(path, S_IFCHR, st.st_rdev, flags, err);
	if (*fd < 0)
		return *fd;
	ret = attr_apply(*fd, &a, err);
	if (ret < 0) {
		close(*fd);
		*fd = -1;
	}
	return ret;
}

/* The console or a terminal, by its path, only if it is the same device. */
static int host_tty_open(const struct fd_entry *e, int flags, int *fd, ckpt_err_t *err)
{
	struct dev_node n;
	struct stat st;
	int ret = doc_read(&e->at, e->obj, node_fields, &n, err);

	if (ret < 0)
		return ret;
	if (!is_host_tty(makedev(n.major, n.minor)))
		return doc_error(err, &e->at, "device %u:%u is not a terminal", n.major, n.minor);
	if (strncmp(e->path, "/dev/", 5))
		return doc_error(err, &e->at, "terminal without a /dev path");
	*fd = open(e->path, flags | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", e->path);
	if (fstat(*fd, &st) < 0 || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != makedev(n.major, n.minor)) {
		close(*fd);
		*fd = -1;
		return ckpt_error_msg(err, ENODEV, "`%s` is not terminal %u:%u here", e->path,
				      n.major, n.minor);
	}
	return 0;
}

/*
 * A memory device's node outside /dev (one the program made): opened only
 * once it is seen to be one (O_PATH, then reopened through /proc/self/fd).
 */
static int dev_open_node(const struct fd_entry *e, const char *path, int flags, int *fd,
			 ckpt_err_t *err)
{
	cleanup_close int node = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char self[64];
	struct stat st;

	if (node < 0 || fstat(node, &st) < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	if (!S_ISCHR(st.st_mode) || !is_mem_dev(&st))
		return ckpt_error_msg(err, ENODEV, "`%s` is no longer a memory device", path);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", node);
	*fd = open(self, flags | O_CLOEXEC | O_NOCTTY);
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	return 0;
}

static int dev_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	char real[PATH_MAX];
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
	if (json_get(e->obj, "tty"))
		return host_tty_open(e, flags, fd, err);
	if (files_link_deleted(path, real, sizeof(real)))
		return dev_make_deleted(e, real, flags, fd, err);
	if (strncmp(path, "/dev/", 5))
		return dev_open_node(e, path, flags, fd, err);
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
