/*
 * libckpt/files/sock-filter.c - a socket's filter, for every kind of
 * socket that carries one (inet TCP, UDP and raw, packet, netlink): the
 * classic BPF program attached with SO_ATTACH_FILTER, read back as the
 * program gave it with SO_GET_FILTER on the dump's copy of the socket,
 * and SO_LOCK_FILTER, saved even without a program (none may be attached
 * then). In the kind's object: "filter_len" (instructions), "filter"
 * (their bytes, hex) and "lock_filter"; restore attaches the program
 * again, then locks.
 *
 * Refused at checkpoint, one line: an eBPF program (SO_ATTACH_BPF), which
 * SO_GET_FILTER cannot read back (EACCES: it has no classic program);
 * any filter or lock on a unix socket (files.c asks before the unix kind
 * dumps it), which does not carry them yet.
 * Not seen: a program of a SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF,
 * _EBPF), which no call reads back.
 */
#define LOG_PREFIX "sock-filter: "
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "files/files.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/util.h"

static int refuse(const struct fd_info *fi, const char *what, const char *why, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (%s socket) in pid %d: %s", fi->fd,
			      what, fi->pid, why);
}

/* sk's program length in instructions (0: none), or the refusal. */
static int filter_len(int sk, const struct fd_info *fi, const char *what, socklen_t *n,
		      ckpt_err_t *err)
{
	*n = 0;
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, n) == 0)
		return 0;
	if (errno == EACCES)
		return refuse(fi, what, "eBPF socket filter (SO_ATTACH_BPF)", err);
	return ckpt_error(err, errno, "SO_GET_FILTER");
}

int sock_filter_dump(int sk, struct json *o, const struct fd_info *fi, const char *what,
		     ckpt_err_t *err)
{
	struct sock_filter *f;
	socklen_t n;
	int ret = filter_len(sk, fi, what, &n, err);

	if (ret < 0)
		return ret;
	if (files_sock_int(sk, SOL_SOCKET, SO_LOCK_FILTER) > 0)
		json_set(o, "lock_filter", json_int(1));
	if (n == 0)
		return 0;
	if (n > SOCK_FILTER_MAX)
		return refuse(fi, what, "socket filter longer than BPF_MAXINSNS", err);
	f = calloc(n, sizeof(*f));
	if (!f)
		return ckpt_error(err, ENOMEM, "socket filter");
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, f, &n) < 0) {
		free(f);
		return ckpt_error(err, errno, "SO_GET_FILTER");
	}
	json_set(o, "filter_len", json_int(n));
	json_set(o, "filter", json_hexbuf(f, n * sizeof(*f)));
	free(f);
	return 0;
}

int sock_filter_refuse_fd(const struct fd_info *fi, const char *what, ckpt_err_t *err)
{
	cleanup_close int sk = files_steal_fd(fi->pid, fi->fd, err);
	socklen_t n;
	int ret = sk < 0 ? sk : filter_len(sk, fi, what, &n, err);

	if (ret == 0 && n > 0)
		ret = refuse(fi, what, "socket filter (SO_ATTACH_FILTER)", err);
	if (ret == 0 && files_sock_int(sk, SOL_SOCKET, SO_LOCK_FILTER) > 0)
		ret = refuse(fi, what, "socket filter locked (SO_LOCK_FILTER)", err);
	return ret;
}

int sock_filter_restore(int sk, const struct doc_at *at, const struct json *o, ckpt_err_t *err)
{
	struct sock_fprog prog = {0};
	socklen_t cur = 0;
	int64_t n, lock;
	int ret = doc_opt_int(at, o, "filter_len", 0, SOCK_FILTER_MAX, 0, &n, err);

	if (ret == 0)
		ret = doc_opt_int(at, o, "lock_filter", 0, 1, 0, &lock, err);
	if (ret < 0)
		return ret;
	/* a socket made once for several fds is already done */
	if (files_sock_int(sk, SOL_SOCKET, SO_LOCK_FILTER) > 0 ||
	    (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &cur) == 0 && cur > 0))
		return 0;
	if (n) {
		prog.len = n;
		prog.filter = calloc(n, sizeof(*prog.filter));
		if (!prog.filter)
			return ckpt_error(err, ENOMEM, "socket filter");
		ret = doc_hexbuf(at, o, "filter", prog.filter, n * sizeof(*prog.filter), err);
		if (ret == 0 &&
		    setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
			ret = ckpt_error(err, errno, "SO_ATTACH_FILTER (%d instructions)", (int)n);
		free(prog.filter);
	}
	if (ret == 0 && lock &&
	    setsockopt(sk, SOL_SOCKET, SO_LOCK_FILTER, &(int){1}, sizeof(int)) < 0)
		ret = ckpt_error(err, errno, "SO_LOCK_FILTER");
	return ret;
}
