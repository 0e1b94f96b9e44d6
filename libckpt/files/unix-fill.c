/*
 * libckpt/files/unix-fill.c - the receive queues of unix sockets refilled
 * at restore (unix_fill_all, from unix_prepare_late once the files that
 * may be in flight exist): message by message through the peer, or sent
 * to the bound name from a private socket, with the fds that were in
 * flight attached, each datagram from its sender's name (the peer's, the
 * tree's socket bound to it, or one bound to it for that message) and
 * with the SCM credentials it carried (a pid not taken is held for the
 * send: pid_hold); then SO_PASSCRED and shutdown.
 */
#define LOG_PREFIX "unix: "
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/ioctl.h>
#include <inttypes.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

/*
 * Send one message of n bytes, with the in-flight files refs[0..k)
 * attached, and the credentials uc when not NULL.
 */
static int send_msg(int wfd, const char *buf, size_t n, const struct sockaddr_un *a, socklen_t al,
		    const int *refs, size_t k, const int *inflight, int ninflight,
		    const struct ucred *uc, ckpt_err_t *err)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred))]
		__attribute__((aligned(8))) = {0};
	struct iovec iov = {(void *)buf, n};
	struct msghdr mh = {.msg_name = al ? (void *)a : NULL,
			    .msg_namelen = al,
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	struct cmsghdr *c = NULL;

	if (k || uc) {
		mh.msg_control = cbuf;
		mh.msg_controllen =
			(k ? CMSG_SPACE(k * sizeof(int)) : 0) + (uc ? CMSG_SPACE(sizeof(*uc)) : 0);
		c = CMSG_FIRSTHDR(&mh);
	}
	if (uc) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(*uc));
		memcpy(CMSG_DATA(c), uc, sizeof(*uc));
		c = CMSG_NXTHDR(&mh, c);
	}
	if (k) {
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(k * sizeof(int));
	}
	for (size_t i = 0; i < k; i++) {
		if (refs[i] >= ninflight || inflight[refs[i]] < 0)
			return ckpt_error_msg(err, EPROTO, "no fd in flight %d", refs[i]);
		memcpy(CMSG_DATA(c) + i * sizeof(int), &inflight[refs[i]], sizeof(int));
	}
	if (sendmsg(wfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		return ckpt_error(err, errno ?: EPROTO, "refill %zu bytes%s", n,
				  k ? " with fds in flight" : "");
	return 0;
}

/*
 * The fds in flight with message msg of e ("rights": {msg, files}), at
 * most 253 (SCM_MAX_FD), indexes into files.json "inflight": *k of them.
 */
static int msg_rights(const struct unix_saved *e, const struct json *rights, size_t *r, size_t msg,
		      int *refs, size_t *k, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->it.at, "rights"), rat = DOC_IDX(&at, *r);
	const struct json *ro, *files;
	int64_t m, ref;
	int ret;

	*k = 0;
	if (*r >= json_len(rights))
		return 0;
	ret = doc_elem_obj(&at, rights, *r, &ro, err);
	if (ret == 0)
		ret = doc_int(&rat, ro, "msg", 0, INT32_MAX, &m, err);
	if (ret < 0 || (size_t)m != msg)
		return ret;
	ret = doc_arr(&rat, ro, "files", 253, &files, k, err);
	for (size_t i = 0; ret == 0 && i < *k; i++) {
		struct doc_at fat = DOC_KEY(&rat, "files");

		ret = doc_elem_int(&fat, files, i, 0, FILES_LIST_MAX, &ref, err);
		refs[i] = ref;
	}
	(*r)++;
	return ret;
}

/* Sender i of e ("from": hex names, "" unbound) as an address; *l 0 when unbound. */
static int from_addr(const struct unix_saved *e, const struct json *from, size_t i,
		     struct sockaddr_un *a, socklen_t *l, const char **hex, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->it.at, "from");
	size_t n;
	int ret = doc_elem_str(&at, from, i, 2 * sizeof(a->sun_path), hex, err);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*l = 0;
	if (ret < 0)
		return ret;
	n = strlen(*hex) / 2;
	if (strlen(*hex) % 2)
		return doc_error(err, &DOC_IDX(&at, i), "an odd number of hex digits");
	for (size_t k = 0; k < n; k++) {
		unsigned int c;

		if (sscanf(*hex + 2 * k, "%2x", &c) != 1 ||
		    !isxdigit((unsigned char)(*hex)[2 * k]) ||
		    !isxdigit((unsigned char)(*hex)[2 * k + 1]))
			return doc_error(err, &DOC_IDX(&at, i), "not hex digits");
		a->sun_path[k] = c;
	}
	if (n && a->sun_path[0] && a->sun_path[0] != '/')
		return doc_error(err, &DOC_IDX(&at, i), "a relative name");
	if (a->sun_path[0])
		n = strnlen(a->sun_path, n);
	*l = n ? offsetof(struct sockaddr_un, sun_path) + n : 0;
	return 0;
}

/* The socket of the tree bound to hex name that can send a datagram: its fd, or -1. */
static int tree_sender(const struct files_rctx *rc, const char *hex, ckpt_err_t *err)
{
	struct unix_saved s;
	size_t n;
	int ret = unix_count(rc->doc, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct fd_shared *sh;

		ret = unix_nth(rc->doc, i, &s, err);
		if (ret < 0 || s.type != SOCK_DGRAM || !s.name || strcmp(s.name, hex))
			continue;
		sh = files_shared_find(rc, "unix", s.id, 0);
		if (sh)
			return sh->fd;
	}
	return ret < 0 ? ret : -1;
}

/*
 * A socket bound to a for an instant (a path's file removed at once):
 * what it sends reads back that name, as long as a datagram of it waits.
 */
static int bound_sender(const struct sockaddr_un *a, socklen_t l, ckpt_err_t *err)
{
	int sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), big = 4 << 20, ret;
	struct unix_name_hold h = {.dir.fd = -1, .old = -1};

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = unix_name_take_addr(sk, a, l, &h, err);
	ret = unix_name_drop(&h, ret, err);
	if (ret < 0) {
		close(sk);
		return ret;
	}
	(void)setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	return sk;
}

/*
 * The socket datagram i comes from: the one refilling (wfd) when it is
 * the peer, or an unbound one, else the socket of the tree bound to the
 * sender's name, else one bound to it for the message (*tmp).
 */
static int msg_sender(const struct files_rctx *rc, const struct unix_saved *e,
		      const struct json *from, size_t i, int wfd, bool by_name, int *tmp,
		      ckpt_err_t *err)
{
	struct sockaddr_un a;
	const char *hex;
	socklen_t l;
	int ret;

	*tmp = -1;
	if (!from || !by_name)
		return wfd;
	ret = from_addr(e, from, i, &a, &l, &hex, err);
	if (ret < 0 || !l)
		return ret < 0 ? ret : wfd;
	ret = tree_sender(rc, hex, err);
	if (ret != -1)
		return ret;
	*tmp = bound_sender(&a, l, err);
	return *tmp;
}

/*
 * The dropped end of an orphan, refilling it, takes the name its closed
 * peer had (all its datagrams came from there: unix-check.c).
 */
static int orphan_from(const struct unix_saved *e, const struct json *from, int wfd,
		       ckpt_err_t *err)
{
	struct unix_name_hold h = {.dir.fd = -1, .old = -1};
	struct sockaddr_un a;
	const char *hex;
	socklen_t l;
	int ret;

	if (!json_len(from))
		return 0;
	ret = from_addr(e, from, 0, &a, &l, &hex, err);
	if (ret < 0 || !l)
		return ret;
	ret = unix_name_take_addr(wfd, &a, l, &h, err);
	return unix_name_drop(&h, ret, err);
}

/*
 * The credentials of datagram i ("creds"), into *uc: 1, 0 when it carries
 * none (or the queue has no "creds").
 */
static int msg_cred(const struct unix_saved *e, const struct json *creds, size_t i,
		    struct ucred *uc, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->it.at, "creds"), cat = DOC_IDX(&at, i);
	const struct json *o;
	int64_t pid = 0, uid = 0, gid = 0;
	int ret;

	if (!creds)
		return 0;
	ret = doc_elem_obj(&at, creds, i, &o, err);
	if (ret == 0)
		ret = doc_int(&cat, o, "pid", 0, 4194304, &pid, err);
	if (ret == 0)
		ret = doc_int(&cat, o, "uid", 0, UINT32_MAX - 1, &uid, err);
	if (ret == 0)
		ret = doc_int(&cat, o, "gid", 0, UINT32_MAX - 1, &gid, err);
	if (ret < 0 || !pid)
		return ret;
	*uc = (struct ucred){.pid = pid, .uid = uid, .gid = gid};
	return 1;
}

/*
 * SCM_CREDENTIALS names a pid that exists when the message is sent: a
 * pid no process has now (the sender gone, or a task of the tree not made
 * yet) is taken for that instant by a child of ours made with that pid
 * (clone3 set_tid), which exits and is reaped once the message is sent:
 * the message keeps the pid, free again for the task that had it.
 * *hold: that child, 0 when none was needed; *fd ends it.
 */
static int pid_hold(pid_t pid, pid_t *hold, int *fd, ckpt_err_t *err)
{
	struct ckpt_clone_args a = {
		.exit_signal = SIGCHLD, .set_tid = (uintptr_t)&pid, .set_tid_size = 1};
	int p[2];
	long r;

	*hold = 0;
	*fd = -1;
	if (kill(pid, 0) == 0 || errno != ESRCH)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return ckpt_error(err, errno, "pipe");
	r = syscall(__NR_clone3, &a, sizeof(a));
	if (r == 0) {
		char c;

		close(p[1]);
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	close(p[0]);
	if (r < 0) {
		close(p[1]);
		return ckpt_error(err, errno, "hold pid %d for a datagram's credentials", pid);
	}
	*hold = r;
	*fd = p[1];
	return 0;
}

static void pid_release(pid_t hold, int fd)
{
	if (!hold)
		return;
	close(fd);
	while (waitpid(hold, NULL, 0) < 0 && errno == EINTR)
		;
}

/*
 * Message by message ("msgs"), each with its fds in flight ("rights"),
 * a datagram from its sender's name ("from"): wfd writes them all when it
 * is e's peer (or the dropped end of an orphan), else they are sent to
 * e's name (a).
 */
static int fill_msgs(const struct files_rctx *rc, int wfd, bool orphan, const char *buf,
		     uint64_t size, const struct unix_saved *e, const struct sockaddr_un *a,
		     socklen_t al, const int *inflight, int ninflight, ckpt_err_t *err)
{
	const struct json *msgs, *rights, *from, *creds;
	uint64_t off = 0;
	size_t r = 0, nm, nr, nf, nc;
	int ret;

	ret = doc_arr(&e->it.at, e->it.obj, "msgs", FILES_LIST_MAX, &msgs, &nm, err);
	if (ret == 0)
		ret = doc_opt_arr(&e->it.at, e->it.obj, "rights", FILES_LIST_MAX, &rights, &nr,
				  err);
	if (ret == 0)
		ret = doc_opt_arr(&e->it.at, e->it.obj, "from", FILES_LIST_MAX, &from, &nf, err);
	if (ret == 0 && from && nf != nm)
		ret = doc_error(err, &e->it.at, "from: %zu senders for %zu messages", nf, nm);
	if (ret == 0)
		ret = doc_opt_arr(&e->it.at, e->it.obj, "creds", FILES_LIST_MAX, &creds, &nc, err);
	if (ret == 0 && creds && nc != nm)
		ret = doc_error(err, &e->it.at, "creds: %zu for %zu messages", nc, nm);
	if (ret == 0 && from && orphan && !e->peer_name && !e->peer_taken)
		ret = orphan_from(e, from, wfd, err);
	for (size_t i = 0; ret == 0 && i < nm; i++) {
		int refs[253], tmp, sfd, hfd = -1, uret;
		struct ucred uc = {0};
		pid_t hold = 0;
		int64_t n;
		size_t k;

		ret = unix_elem(e, "msgs", msgs, i, INT32_MAX, &n, err);
		if (ret == 0 && off + n > size)
			ret = doc_error(err, &e->it.at, "message %zu past the image", i);
		if (ret == 0)
			ret = msg_rights(e, rights, &r, i, refs, &k, err);
		if (ret < 0)
			return ret;
		uret = msg_cred(e, creds, i, &uc, err);
		if (uret > 0)
			ret = pid_hold(uc.pid, &hold, &hfd, err);
		if (uret < 0 || ret < 0)
			return uret < 0 ? uret : ret;
		sfd = msg_sender(rc, e, from, i, wfd, al != 0, &tmp, err);
		if (sfd < 0) {
			pid_release(hold, hfd);
			return ckpt_error_wrap(err, "sender of message %zu", i);
		}
		ret = send_msg(sfd, buf + off, n, a, al, refs, k, inflight, ninflight,
			       uret > 0 ? &uc : NULL, err);
		pid_release(hold, hfd);
		if (tmp >= 0)
			close(tmp);
		if (ret < 0)
			return ckpt_error_wrap(err, "message %zu", i);
		off += n;
	}
	return ret;
}

/* Write the saved queue of e into it, from its peer or to its name. */
static int unix_fill(struct files_rctx *rc, const struct unix_saved *e, const int *inflight,
		     int ninflight, ckpt_err_t *err)
{
	const char *image = e->image;
	uint64_t id = e->id;
	struct fd_shared *w = files_shared_find(rc, "unix", id, UNIX_ORPHAN_END);
	cleanup_free char *buf = NULL;
	cleanup_close int in = -1, tmp = -1;
	struct sockaddr_un a;
	socklen_t al = 0;
	uint64_t size;
	int ret = 0, wfd, big, old = -1;

	if (!image)
		return 0;
	if (!w && e->peer) {
		struct unix_saved p;

		ret = unix_get(rc->doc, e->peer, &p, err);
		if (ret < 0)
			return ret;
		if (ret && p.peer == id)
			w = files_shared_find(rc, "unix", e->peer, 0);
	}
	if (!w) {
		ret = unix_addr_of(e, &a, &al, err);
		if (ret < 0)
			return ret;
		tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (!al || tmp < 0 || e->type != SOCK_DGRAM)
			return ckpt_error_msg(err, ENOTSUP, "no way to refill unix socket %lu",
					      (unsigned long)id);
	}
	wfd = w ? w->fd : tmp;
	ret = bundle_open_file(rc->bundle, image, &in, &size, err);
	if (ret < 0)
		return ret;
	buf = xzalloc(size + 1);
	if (read_all(in, buf, size) != (ssize_t)size)
		return ckpt_error(err, EIO, "read %s", image);
	big = size * 2 + 65536;
	(void)setsockopt(wfd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	if (!json_get(e->it.obj, "msgs"))
		return write_all(wfd, buf, size) < 0 ? ckpt_error(err, errno, "refill unix socket")
						     : 0;
	if (al) /* sent to the name: relative to "dir" */
		ret = unix_enter_dir(e, &old, err);
	if (ret == 0)
		ret = fill_msgs(rc, wfd,
				w && w == files_shared_find(rc, "unix", id, UNIX_ORPHAN_END), buf,
				size, e, &a, al, inflight, ninflight, err);
	unix_leave_dir(old);
	return ret;
}

static int unix_finish(struct files_rctx *rc, const struct unix_saved *e, ckpt_err_t *err)
{
	struct fd_shared *sh = files_shared_find(rc, "unix", e->id, 0);
	int on = 1, shut = e->shutdown;

	if (!sh)
		return 0;
	if (e->passcred && setsockopt(sh->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return ckpt_error(err, errno, "SO_PASSCRED");
	/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2: SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 */
	if (shut && shutdown(sh->fd, shut - 1) < 0 && errno != ENOTCONN)
		return ckpt_error(err, errno, "shutdown");
	return 0;
}

int unix_fill_all(struct files_rctx *rc, const int *inflight, int ninflight, ckpt_err_t *err)
{
	struct unix_saved e;
	size_t n;
	int ret = unix_count(rc->doc, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = unix_nth(rc->doc, i, &e, err);
		if (ret == 0)
			ret = unix_fill(rc, &e, inflight, ninflight, err);
	}
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = unix_nth(rc->doc, i, &e, err);
		if (ret == 0)
			ret = unix_finish(rc, &e, err);
	}
	return ret < 0 ? ckpt_error_wrap(err, "unix socket") : 0;
}
