/*
 * libckpt/files/locks.c - file locks held through an fd: POSIX (fcntl),
 * OFD and flock, from the fdinfo "lock:" lines (into the fd's "locks").
 *
 * flock and OFD locks belong to the open file description: saved with the
 * fd that holds the description's state (not its dups). POSIX locks belong
 * to the process: saved on every fd of the owner that shows them, and put
 * back by the restored task itself, before it runs again.
 */
#define LOG_PREFIX "locks: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

#include "files/files.h"
#include "util/util.h"

int locks_dump(const struct fd_info *fi, struct json *o, ckpt_err_t *err)
{
	struct json *locks = NULL;
	bool dup = json_as_bool(json_get(o, "dup"));

	for (const char *p = strstr(fi->fdinfo, "lock:"); p; p = strstr(p + 1, "lock:")) {
		char kind[16], mode[16], type[16], end[32];
		long long pid, start;
		struct json *l;

		/* "lock:\t1: POSIX  ADVISORY  WRITE 10607 fe:00:123 0 EOF"; "->" are waiters */
		if (sscanf(p, "lock: %*d: %15s %15s %15s %lld %*s %lld %31s", kind, mode, type,
			   &pid, &start, end) != 6)
			continue;
		if (!strcmp(mode, "MANDATORY"))
			return ckpt_error_msg(err, ENOTSUP, "fd %d of %d: mandatory lock", fi->fd,
					      fi->pid);
		if (!strcmp(kind, "POSIX") ? pid != fi->pid : dup)
			continue;
		if (strcmp(kind, "POSIX") && strcmp(kind, "FLOCK") && strcmp(kind, "OFDLCK"))
			return ckpt_error_msg(err, ENOTSUP, "fd %d of %d: unsupported %s lock",
					      fi->fd, fi->pid, kind);
		if (!locks)
			locks = json_set(o, "locks", json_arr());
		l = json_push(locks, json_obj());
		json_set(l, "kind", json_str(kind));
		json_set(l, "write", json_bool(!strcmp(type, "WRITE")));
		json_set(l, "start", json_int(start));
		json_set(l, "end", json_int(strcmp(end, "EOF") ? strtoll(end, NULL, 10) : -1));
	}
	return 0;
}

int locks_restore(const struct json *o, int fd, ckpt_err_t *err)
{
	struct json *locks = json_get(o, "locks");

	for (size_t i = 0; i < json_len(locks); i++) {
		struct json *l = json_at(locks, i);
		const char *kind = json_as_str(json_get(l, "kind")) ?: "";
		bool wr = json_as_bool(json_get(l, "write"));
		long long start = json_as_int(json_get(l, "start")), end;
		struct flock fl = {.l_type = wr ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET};

		end = json_as_int(json_get(l, "end"));
		fl.l_start = start;
		fl.l_len = end < 0 ? 0 : end - start + 1;
		if (!strcmp(kind, "FLOCK")) {
			if (flock(fd, (wr ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0)
				return ckpt_error(err, errno, "flock");
		} else if (fcntl(fd, !strcmp(kind, "POSIX") ? F_SETLK : F_OFD_SETLK, &fl) < 0) {
			return ckpt_error(err, errno, "%s lock %lld-%lld", kind, start, end);
		}
	}
	return 0;
}
