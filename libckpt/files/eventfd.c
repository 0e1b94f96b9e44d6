/*
 * libckpt/files/eventfd.c - eventfd: counter and semaphore mode, from
 * fdinfo ("eventfd-count", "eventfd-semaphore"); restore makes a new one
 * with the same counter and flags.
 */
#define LOG_PREFIX "eventfd: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/eventfd.h>

#include "files/files.h"
#include "util/util.h"

static bool eventfd_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[eventfd]");
}

static int eventfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	struct proc_eventfd ev;

	if (proc_parse_eventfd(fi->fdinfo, &ev, err) < 0)
		return ckpt_error_wrap(err, "fd %d of %d", fi->fd, fi->pid);
	json_set(o, "count", json_hex(ev.count));
	json_set(o, "semaphore", json_bool(ev.semaphore));
	return 0;
}

/* The counter (at most 2^64 - 2, as the kernel allows) and semaphore mode. */
static int eventfd_saved(const struct fd_entry *e, uint64_t *count, bool *sem, ckpt_err_t *err)
{
	int ret = doc_u64(&e->at, e->obj, "count", UINT64_MAX - 1, count, err);

	return ret < 0 ? ret : doc_opt_bool(&e->at, e->obj, "semaphore", false, sem, err);
}

static int eventfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	uint64_t count = 0;
	int flags = e->flags, ret;
	bool sem;

	ret = eventfd_saved(e, &count, &sem, err);
	if (ret < 0)
		return ret;
	/* eventfd() takes an unsigned int: write the rest of a larger count */
	*fd = eventfd(count > 0xffffffffULL ? 0 : count,
		      EFD_CLOEXEC | (flags & O_NONBLOCK ? EFD_NONBLOCK : 0) |
			      (sem ? EFD_SEMAPHORE : 0));
	if (*fd < 0)
		return ckpt_error(err, errno, "eventfd");
	if (count > 0xffffffffULL && write(*fd, &count, sizeof(count)) != sizeof(count)) {
		close(*fd);
		return ckpt_error(err, errno, "eventfd counter %llu", (unsigned long long)count);
	}
	return 0;
}

static int eventfd_describe(const struct fd_entry *e, const struct json *files, bool lines,
			    FILE *out, ckpt_err_t *err)
{
	uint64_t count;
	bool sem;
	int ret = lines ? 0 : eventfd_saved(e, &count, &sem, err);

	if (ret == 0 && !lines)
		fprintf(out, " count %" PRIu64 "%s", count, sem ? " semaphore" : "");
	return ret;
}

const struct fd_ops fd_eventfd_ops = {
	.kind = "eventfd",
	.match = eventfd_match,
	.dump = eventfd_dump,
	.restore = eventfd_restore,
	.describe = eventfd_describe,
};
