/*
 * libckpt/files/reg.c - regular files and directories: path, flags, offset.
 * Restore reopens the same path with the same access mode and status flags
 * (never O_CREAT/O_TRUNC: the file must be there) and seeks to the offset.
 */
#define LOG_PREFIX "reg: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "util/util.h"

static bool reg_match(const struct fd_info *fi)
{
	return (S_ISREG(fi->st.st_mode) || S_ISDIR(fi->st.st_mode)) && fi->link[0] == '/';
}

static int reg_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	size_t l = strlen(fi->link);

	if (l > 10 && !strcmp(fi->link + l - 10, " (deleted)"))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (deleted file `%s`) in pid %d", fi->fd,
				      fi->link, fi->pid);
	json_set(o, "size", json_int(fi->st.st_size));
	json_set(o, "dir", json_bool(S_ISDIR(fi->st.st_mode)));
	return 0;
}

static int reg_restore(const struct json *o, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	const char *path = json_as_str(json_get(o, "path"));
	int flags = json_as_int(json_get(o, "flags"));
	long long pos = json_as_int(json_get(o, "pos"));

	if (!path || path[0] != '/')
		return ckpt_error_msg(err, EPROTO, "file without an absolute path");
	flags &= ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY);
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "open `%s`", path);
	if (!(flags & O_APPEND) && lseek(*fd, pos, SEEK_SET) < 0) {
		int e = errno;

		close(*fd);
		return ckpt_error(err, e, "seek `%s` to %lld", path, pos);
	}
	return 0;
}

const struct fd_ops fd_reg_ops = {
	.kind = "reg",
	.match = reg_match,
	.dump = reg_dump,
	.restore = reg_restore,
};
