/*
 * libckpt/files/locks.c - file locks held through an fd: POSIX (fcntl),
 * OFD and flock, from the fdinfo "lock:" lines (into the fd's "locks").
 *
 * flock and OFD locks and leases belong to the open file description:
 * saved with the fd that holds the description's state (not its dups).
 * POSIX locks belong to the process: saved on every fd of the owner that
 * shows them, and put back by the restored task itself, before it runs
 * again. A lease being broken (BREAKING: an open of another process waits
 * for the holder) is refused at checkpoint; F_SETLEASE makes its caller
 * the owner of the description, so the owner is set again after it
 * (owner.c, files.c).
 */
#define LOG_PREFIX "locks: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/file.h>

#include "files/files.h"
#include "util/util.h"

int locks_dump(const struct fd_info *fi, bool dup, struct json *o, ckpt_err_t *err)
{
	struct json *locks = NULL;
	cleanup_free struct proc_lock *v = NULL;
	int n = 0, ret;

	ret = proc_parse_locks(fi->fdinfo, &v, &n, err);
	if (ret < 0)
		return ret;
	for (int i = 0; i < n; i++) {
		const struct proc_lock *pl = &v[i];
		struct json *l;

		if (!strcmp(pl->mode, "MANDATORY"))
			return ckpt_error_msg(err, ENOTSUP, "fd %d of %d: mandatory lock", fi->fd,
					      fi->pid);
		if (!strcmp(pl->kind, "POSIX") ? pl->pid != fi->pid : dup)
			continue;
		/* a lease is listed with its breakers ("->" lines, left out by the parser) */
		if (!strcmp(pl->kind, "LEASE") && strcmp(pl->mode, "ACTIVE"))
			return ckpt_error_msg(
				err, ENOTSUP, "unsupported fd %d (lease %s) in pid %d", fi->fd,
				strcmp(pl->mode, "BREAKING") ? pl->mode : "being broken", fi->pid);
		if (strcmp(pl->kind, "POSIX") && strcmp(pl->kind, "FLOCK") &&
		    strcmp(pl->kind, "OFDLCK") && strcmp(pl->kind, "LEASE"))
			return ckpt_error_msg(err, ENOTSUP, "fd %d of %d: unsupported %s lock",
					      fi->fd, fi->pid, pl->kind);
		if (!locks)
			locks = json_set(o, "locks", json_arr());
		l = json_push(locks, json_obj());
		json_set(l, "kind", json_str(pl->kind));
		json_set(l, "write", json_bool(pl->write));
		json_set(l, "start", json_int(pl->start));
		json_set(l, "end", json_int(pl->end));
	}
	return 0;
}

/* One lock of "locks": end -1 is to the end of the file. */
struct lock_saved {
	const char *kind;
	bool write;
	int64_t start, end;
};

static const struct doc_field lock_fields[] = {
	DOC_STR(struct lock_saved, kind, "kind", 16),
	DOC_BOOL(struct lock_saved, write, "write"),
	DOC_INT(struct lock_saved, start, "start", 0, INT64_MAX),
	DOC_INT(struct lock_saved, end, "end", -1, INT64_MAX),
	DOC_END,
};

int locks_restore(const struct fd_entry *e, int fd, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "locks");
	const struct json *locks;
	size_t n;
	int ret = doc_opt_arr(&e->at, e->obj, "locks", FILES_LIST_MAX, &locks, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at lat = DOC_IDX(&at, i);
		struct lock_saved l;
		const struct json *lo;
		struct flock fl = {.l_whence = SEEK_SET};
		const char *kind;
		bool wr;
		long long start, end;

		ret = doc_elem_obj(&at, locks, i, &lo, err);
		if (ret == 0)
			ret = doc_read(&lat, lo, lock_fields, &l, err);
		if (ret == 0 && l.end >= 0 && l.end < l.start)
			ret = doc_error(err, &lat, "ends at %" PRId64 " before its start %" PRId64,
					l.end, l.start);
		if (ret == 0 && strcmp(l.kind, "FLOCK") && strcmp(l.kind, "POSIX") &&
		    strcmp(l.kind, "OFDLCK") && strcmp(l.kind, "LEASE"))
			ret = doc_error(err, &lat, "unknown kind `%s`", l.kind);
		if (ret < 0)
			return ret;
		kind = l.kind;
		wr = l.write;
		start = l.start;
		end = l.end;
		fl.l_type = wr ? F_WRLCK : F_RDLCK;
		fl.l_start = start;
		fl.l_len = end < 0 ? 0 : end - start + 1;
		if (!strcmp(kind, "LEASE")) {
			if (fcntl(fd, F_SETLEASE, wr ? F_WRLCK : F_RDLCK) < 0)
				return ckpt_error(err, errno, "%s lease", wr ? "write" : "read");
		} else if (!strcmp(kind, "FLOCK")) {
			if (flock(fd, (wr ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
				return ckpt_error(err, errno, "flock");
		} else if (fcntl(fd, !strcmp(kind, "POSIX") ? F_SETLK : F_OFD_SETLK, &fl) < 0) {
			return ckpt_error(err, errno, "%s lock %lld-%lld", kind, start, end);
		}
	}
	return ret;
}
