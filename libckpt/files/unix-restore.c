/*
 * libckpt/files/unix-restore.c - unix sockets at restore, all made before
 * the tree's first fork and parked ("unix", inode), so every task inherits
 * the socket it had. They are made in the tree's namespaces
 * (files_prepare_paths): by the root once it built them when the tree has
 * its own mount or network namespace (a path is bound in the tree's
 * filesystem, an abstract name in its network namespace, and clients
 * connect by those names there), else by ckpt-oci. A socket connected to
 * one outside the tree was refused at checkpoint (unix.c), so every
 * connection is between sockets made here.
 *
 *   listeners       socket, bind, listen; then each pending client
 *                   connects to it (an un-accepted connection again)
 *   pairs           both ends in the tree, peers of each other: socketpair
 *   one-way         a datagram socket connected to another: connect by name
 *   orphans         connected stream whose peer was closed: socketpair with
 *                   the other end dropped, so the queue ends in EOF
 *   unconnected     socket, bind
 *
 * Then (unix_fill_all, once the files in flight exist: unix-inflight.c)
 * each receive queue is refilled through the peer (or sent to the bound
 * name from a private socket), message by message with the fds that were
 * in flight attached, SO_PASSCRED and shutdown applied. A name relative
 * to "dir" is bound, connected and sent to from that directory.
 * Known gaps: connected stream sockets are not re-bound (getsockname is
 * empty); datagram senders' addresses and SCM credentials are ckpt-oci's.
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/util.h"

#define ORPHAN_END 1 /* end 1 of ("unix", id): the dropped peer of an orphan */

static socklen_t addr_of(const struct json *e, struct sockaddr_un *a, ckpt_err_t *err)
{
	const char *hex = json_as_str(json_get(e, "name"));
	size_t n = hex ? strlen(hex) / 2 : 0;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!n || n > sizeof(a->sun_path))
		return 0;
	if (json_get_hexbuf(e, "name", a->sun_path, n, err) < 0)
		return 0;
	if (a->sun_path[0]) /* a path: up to its NUL */
		n = strnlen(a->sun_path, n);
	return offsetof(struct sockaddr_un, sun_path) + n;
}

/*
 * A name relative to "dir" (bound so at checkpoint): bind, connect and
 * sendto it from there, so the name stays relative. *old is the cwd to
 * go back to (leave_dir); -1 when e has no "dir".
 */
static int enter_dir(const struct json *e, int *old, ckpt_err_t *err)
{
	const char *dir = json_as_str(json_get(e, "dir"));
	cleanup_close int d = -1;

	*old = -1;
	if (!dir)
		return 0;
	d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return ckpt_error(err, errno, "open directory `%s` of a unix socket", dir);
	*old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*old < 0)
		return ckpt_error(err, errno, "open cwd");
	if (fchdir(d) < 0) {
		close(*old);
		*old = -1;
		return ckpt_error(err, errno, "chdir `%s`", dir);
	}
	return 0;
}

static void leave_dir(int old)
{
	if (old < 0)
		return;
	if (fchdir(old) < 0)
		pr_warn("cannot go back to the previous cwd (%m), ignoring");
	close(old);
}

static int sock_bind_at(int sk, const struct json *e, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l = addr_of(e, &a, err);
	struct stat st;

	if (!l)
		return 0;
	/* the socket file of the dead original is in the way */
	if (a.sun_path[0] && lstat(a.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(a.sun_path);
	if (bind(sk, (struct sockaddr *)&a, l) < 0)
		return ckpt_error(err, errno, "bind unix socket to `%s%s`",
				  a.sun_path[0] ? "" : "@",
				  a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	return 0;
}

static int sock_bind(int sk, const struct json *e, ckpt_err_t *err)
{
	int old, ret = enter_dir(e, &old, err);

	if (ret == 0)
		ret = sock_bind_at(sk, e, err);
	leave_dir(old);
	return ret;
}

static int sock_connect(int sk, const struct json *to, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l = addr_of(to, &a, err);
	int old, ret;

	if (!l)
		return ckpt_error_msg(err, EPROTO, "connect to an unbound unix socket");
	ret = enter_dir(to, &old, err);
	if (ret == 0 && connect(sk, (struct sockaddr *)&a, l) < 0)
		ret = ckpt_error(err, errno, "connect unix socket");
	leave_dir(old);
	return ret;
}

static int park(struct files_rctx *rc, uint64_t id, int end, int fd, ckpt_err_t *err)
{
	return files_park(rc, "unix", id, end, fd, err);
}

static int unix_make(struct files_rctx *rc, const struct json *e, ckpt_err_t *err);

static int make_listener(struct files_rctx *rc, const struct json *e, ckpt_err_t *err)
{
	const struct json *list = json_get(rc->doc, "unix"), *icons = json_get(e, "icons");
	uint64_t id = json_as_int(json_get(e, "id"));
	int sk = socket(AF_UNIX, json_as_int(json_get(e, "type")) | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = sock_bind(sk, e, err);
	if (ret == 0 && listen(sk, json_as_int(json_get(e, "backlog"))) < 0)
		ret = ckpt_error(err, errno, "listen");
	if (ret < 0) {
		close(sk);
		return ret;
	}
	ret = park(rc, id, 0, sk, err);
	for (size_t i = 0; ret == 0 && i < json_len(icons); i++) {
		uint64_t cid = json_as_int(json_at(icons, i));
		const struct json *c = files_list_find(list, cid);
		int csk;

		if (!c || files_shared_find(rc, "unix", cid, 0))
			continue; /* a client no task holds any more */
		csk = socket(AF_UNIX, json_as_int(json_get(c, "type")) | SOCK_CLOEXEC, 0);
		if (csk < 0)
			return ckpt_error(err, errno, "socket");
		ret = sock_connect(csk, e, err);
		if (ret == 0)
			ret = park(rc, cid, 0, csk, err);
		else
			close(csk);
	}
	return ret;
}

static int make_pair(struct files_rctx *rc, const struct json *e, const struct json *p,
		     ckpt_err_t *err)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, json_as_int(json_get(e, "type")) | SOCK_CLOEXEC, 0, sv) < 0)
		return ckpt_error(err, errno, "socketpair");
	ret = park(rc, json_as_int(json_get(e, "id")), 0, sv[0], err);
	if (ret < 0) {
		close(sv[1]);
		return ret;
	}
	if (p)
		return park(rc, json_as_int(json_get(p, "id")), 0, sv[1], err);
	return park(rc, json_as_int(json_get(e, "id")), ORPHAN_END, sv[1], err);
}

static int make_single(struct files_rctx *rc, const struct json *e, const struct json *to,
		       ckpt_err_t *err)
{
	int sk = socket(AF_UNIX, json_as_int(json_get(e, "type")) | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = sock_bind(sk, e, err);
	if (ret == 0 && to)
		ret = sock_connect(sk, to, err);
	if (ret < 0) {
		close(sk);
		return ret;
	}
	return park(rc, json_as_int(json_get(e, "id")), 0, sk, err);
}

static int unix_make(struct files_rctx *rc, const struct json *e, ckpt_err_t *err)
{
	const struct json *list = json_get(rc->doc, "unix"), *p, *l;
	uint64_t id = json_as_int(json_get(e, "id")), peer = json_as_int(json_get(e, "peer"));
	int state = json_as_int(json_get(e, "state")), ret;

	if (files_shared_find(rc, "unix", id, 0))
		return 0;
	if (state == TCP_LISTEN)
		return make_listener(rc, e, err);
	l = unix_listener_of(list, id);
	if (l) /* a pending connection: made by its listener */
		return make_listener(rc, l, err);
	p = peer ? files_list_find(list, peer) : NULL;
	if (p && (uint64_t)json_as_int(json_get(p, "peer")) == id)
		return make_pair(rc, e, p, err);
	if (p) { /* connected one way, to a bound datagram socket */
		ret = unix_make(rc, p, err);
		return ret < 0 ? ret : make_single(rc, e, p, err);
	}
	if (state == TCP_ESTABLISHED && json_as_int(json_get(e, "type")) != SOCK_DGRAM)
		return make_pair(rc, e, NULL, err);
	return make_single(rc, e, NULL, err);
}

/* Send one message of n bytes, with the in-flight files `files` attached. */
static int send_msg(int wfd, const char *buf, size_t n, const struct sockaddr_un *a, socklen_t al,
		    const struct json *files, const int *inflight, int ninflight, ckpt_err_t *err)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 253)] __attribute__((aligned(8))) = {0};
	struct iovec iov = {(void *)buf, n};
	struct msghdr mh = {.msg_name = al ? (void *)a : NULL,
			    .msg_namelen = al,
			    .msg_iov = &iov,
			    .msg_iovlen = 1};
	size_t k = json_len(files);
	struct cmsghdr *c;

	if (k > 253)
		return ckpt_error_msg(err, EPROTO, "%zu fds in one message", k);
	if (k) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(k * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(k * sizeof(int));
	}
	for (size_t i = 0; i < k; i++) {
		int64_t ref = json_as_int(json_at(files, i));

		if (ref < 0 || ref >= ninflight || inflight[ref] < 0)
			return ckpt_error_msg(err, EPROTO, "no fd in flight %lld", (long long)ref);
		memcpy(CMSG_DATA(c) + i * sizeof(int), &inflight[ref], sizeof(int));
	}
	if (sendmsg(wfd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		return ckpt_error(err, errno ?: EPROTO, "refill %zu bytes%s", n,
				  k ? " with fds in flight" : "");
	return 0;
}

/* Message by message ("msgs"), each with its fds in flight ("rights"). */
static int fill_msgs(int wfd, const char *buf, uint64_t size, const struct json *e,
		     const struct sockaddr_un *a, socklen_t al, const int *inflight, int ninflight,
		     ckpt_err_t *err)
{
	const struct json *msgs = json_get(e, "msgs"), *rights = json_get(e, "rights");
	uint64_t off = 0;
	size_t r = 0;

	for (size_t i = 0; i < json_len(msgs); i++) {
		uint64_t n = json_as_int(json_at(msgs, i));
		const struct json *files = NULL;
		int ret;

		if (off + n > size)
			return ckpt_error_msg(err, EPROTO, "message %zu past the image", i);
		if (r < json_len(rights) &&
		    (uint64_t)json_as_int(json_get(json_at(rights, r), "msg")) == i)
			files = json_get(json_at(rights, r++), "files");
		ret = send_msg(wfd, buf + off, n, a, al, files, inflight, ninflight, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "message %zu", i);
		off += n;
	}
	return 0;
}

/* Write the saved queue of e into it, from its peer or to its name. */
static int unix_fill(struct files_rctx *rc, const struct json *e, const int *inflight,
		     int ninflight, ckpt_err_t *err)
{
	const char *image = json_as_str(json_get(e, "image"));
	uint64_t id = json_as_int(json_get(e, "id")), peer = json_as_int(json_get(e, "peer"));
	struct fd_shared *w = files_shared_find(rc, "unix", id, ORPHAN_END);
	cleanup_free char *buf = NULL;
	cleanup_close int in = -1, tmp = -1;
	struct sockaddr_un a;
	socklen_t al = 0;
	uint64_t size;
	int ret, wfd, big, old = -1;

	if (!image)
		return 0;
	if (!w && peer) {
		const struct json *p = files_list_find(json_get(rc->doc, "unix"), peer);

		if (p && (uint64_t)json_as_int(json_get(p, "peer")) == id)
			w = files_shared_find(rc, "unix", peer, 0);
	}
	if (!w) {
		al = addr_of(e, &a, err);
		tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (!al || tmp < 0 || json_as_int(json_get(e, "type")) != SOCK_DGRAM)
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
	if (!json_get(e, "msgs"))
		return write_all(wfd, buf, size) < 0 ? ckpt_error(err, errno, "refill unix socket")
						     : 0;
	if (al) /* sent to the name: relative to "dir" */
		ret = enter_dir(e, &old, err);
	if (ret == 0)
		ret = fill_msgs(wfd, buf, size, e, &a, al, inflight, ninflight, err);
	leave_dir(old);
	return ret;
}

static int unix_finish(struct files_rctx *rc, const struct json *e, ckpt_err_t *err)
{
	struct fd_shared *sh = files_shared_find(rc, "unix", json_as_int(json_get(e, "id")), 0);
	int on = 1, shut = json_as_int(json_get(e, "shutdown"));

	if (!sh)
		return 0;
	if (json_as_bool(json_get(e, "passcred")) &&
	    setsockopt(sh->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return ckpt_error(err, errno, "SO_PASSCRED");
	/* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2: SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 */
	if (shut && shutdown(sh->fd, shut - 1) < 0 && errno != ENOTCONN)
		return ckpt_error(err, errno, "shutdown");
	return 0;
}

int unix_fill_all(struct files_rctx *rc, const int *inflight, int ninflight, ckpt_err_t *err)
{
	const struct json *list = json_get(rc->doc, "unix");
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < json_len(list); i++)
		ret = unix_fill(rc, json_at(list, i), inflight, ninflight, err);
	for (size_t i = 0; ret == 0 && i < json_len(list); i++)
		ret = unix_finish(rc, json_at(list, i), err);
	return ret < 0 ? ckpt_error_wrap(err, "unix socket") : 0;
}

/*
 * Every socket is made at the first unix fd; queues are filled later
 * (unix_fill_all, from unix_prepare_late) once the files that may be in
 * flight in them exist.
 */
static int unix_prepare(const struct json *o, struct files_rctx *rc, ckpt_err_t *err)
{
	const struct json *list = json_get(rc->doc, "unix");
	struct fd_shared *sh;
	int ret = 0;

	for (size_t i = 0; !rc->unix_made && ret == 0 && i < json_len(list); i++)
		ret = unix_make(rc, json_at(list, i), err);
	if (ret < 0)
		return ckpt_error_wrap(err, "unix socket");
	rc->unix_made = true;
	sh = files_shared_find(rc, "unix", json_as_int(json_get(o, "id")), 0);
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "files.json: no unix socket %lld",
				      (long long)json_as_int(json_get(o, "id")));
	if (fcntl(sh->fd, F_SETFL, json_as_int(json_get(o, "flags")) & O_NONBLOCK) < 0)
		return ckpt_error(err, errno, "socket flags");
	return 0;
}

static int unix_restore(const struct json *o, const struct files_rctx *rc, int *fd, ckpt_err_t *err)
{
	struct fd_shared *sh = files_shared_find(rc, "unix", json_as_int(json_get(o, "id")), 0);

	if (!sh)
		return ckpt_error_msg(err, EPROTO, "unix socket was not prepared");
	*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 0);
	if (*fd < 0)
		return ckpt_error(err, errno, "dup unix socket");
	return 0;
}

const struct fd_ops fd_unix_ops = {
	.kind = "unix",
	.match = unix_match,
	.dump = unix_dump,
	.prepare = unix_prepare,
	.restore = unix_restore,
	.own_sharing = true,
	.prepare_in_tree = true,
};
