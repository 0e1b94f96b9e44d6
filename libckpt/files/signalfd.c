/*
 * libckpt/files/signalfd.c - signalfd: its signal mask (fdinfo "sigmask").
 * The signals it reports are the reading task's pending ones, restored with
 * the task; the fd itself holds nothing else.
 */
#define LOG_PREFIX "signalfd: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>

#include "files/files.h"
#include "util/util.h"

static bool signalfd_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[signalfd]");
}

static int signalfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			 ckpt_err_t *err)
{
	uint64_t mask;

	if (proc_parse_signalfd(fi->fdinfo, &mask, err) < 0)
		return ckpt_error_wrap(err, "fd %d of %d", fi->fd, fi->pid);
	json_set(o, "sigmask", json_hex(mask));
	return 0;
}

static int signalfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			    ckpt_err_t *err)
{
	int flags = e->flags, ret;
	uint64_t mask;

	ret = doc_u64(&e->at, e->obj, "sigmask", UINT64_MAX, &mask, err);
	if (ret < 0)
		return ret;
	/* the raw syscall: glibc's sigset_t is 128 bytes, the kernel's 8 */
	*fd = syscall(SYS_signalfd4, -1, &mask, sizeof(mask),
		      SFD_CLOEXEC | (flags & O_NONBLOCK ? SFD_NONBLOCK : 0));
	if (*fd < 0)
		return ckpt_error(err, errno, "signalfd");
	return 0;
}

static int signalfd_describe(const struct fd_entry *e, const struct json *files, bool lines,
			     FILE *out, ckpt_err_t *err)
{
	uint64_t mask;
	int ret = lines ? 0 : doc_u64(&e->at, e->obj, "sigmask", UINT64_MAX, &mask, err);

	if (ret == 0 && !lines)
		fprintf(out, " mask 0x%" PRIx64, mask);
	return ret;
}

const struct fd_ops fd_signalfd_ops = {
	.kind = "signalfd",
	.match = signalfd_match,
	.dump = signalfd_dump,
	.restore = signalfd_restore,
	.describe = signalfd_describe,
};
