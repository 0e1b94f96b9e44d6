/*
 * libckpt/files/unix.c - unix sockets (files.json "unix", unix-ID.img).
 *
 * Dump: sock_diag gives type, state, name, peer and a listener's pending
 * connections; the receive queue is copied without consuming it (MSG_PEEK
 * with SO_PEEK_OFF walking the queue, on a pidfd_getfd copy; the socket's
 * own peek offset is put back). Datagram boundaries are kept ("msgs").
 * Every socket is recorded once, by inode; a socket connected to one that
 * is neither in the tree nor a pending connection of a listener in the
 * tree fails the checkpoint (unix_dump_check), as does a pending connection
 * from a client outside the tree; with --ext-unix-sk a datagram socket
 * connected to a named one outside, its queue empty, keeps that name
 * ("ext_peer") and is connected to it again at restore.
 *
 * fds in flight (SCM_RIGHTS) are dumped at the end (unix-inflight.c). A
 * socket bound to a relative path keeps its name and the directory its
 * bound file is in ("dir", through SIOCUNIXFILE).
 *
 * Each queued datagram keeps its sender's name ("from", beside "msgs").
 *
 * Refused with "unsupported fd N (...) in pid P", never dropped: a pending
 * (not accepted) connection holding bytes the client sent, or whose client
 * is closed (see unix_dump_pending); a relative name whose bound file was
 * moved since; a datagram socket with SO_PASSCRED holding datagrams that
 * carry credentials in a tree with its own pid or user namespace, a
 * stream or seqpacket one with SO_PASSCRED or SO_PASSPIDFD holding bytes
 * (unix_dump_queue). With "unsupported unix socket N": a
 * datagram whose sender's name cannot be given back (unix_check_from).
 *
 * Restore (unix-restore.c): every socket is made before the tree's first
 * fork, in the tree's namespaces (by its root when it has its own).
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "files/files.h"
#include "files/unix.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

#define UNIX_QUEUE_MAX (64u << 20)
/* linux/un.h (which has it) clashes with sys/un.h */

bool unix_match(const struct fd_info *fi)
{
	return S_ISSOCK(fi->st.st_mode);
}

static const char *family_name(int f)
{
	switch (f) {
	case AF_INET:
		return "inet socket";
	case AF_INET6:
		return "inet6 socket";
	case AF_NETLINK:
		return "netlink socket";
	case AF_PACKET:
		return "packet socket";
	default:
		return "socket";
	}
}

/* Room for the most fds one message can carry (SCM_MAX_FD) and credentials. */
#define UNIX_CBUF (CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred)))

static void close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * One peek. The kernel installs a copy of every fd in flight (SCM_RIGHTS)
 * into ckpt-oci on each peek: they are handed to the caller in fds.
 */
/* What a peek says of one message besides its bytes. */
struct peeked {
	int flags, fds[253], nfds;
	struct sockaddr_un from; /* the sender's name (datagrams) */
	socklen_t fromlen;
	struct ucred cred; /* SCM_CREDENTIALS (SO_PASSCRED on); pid 0: none */
	bool has_cred;
};

static ssize_t peek_one(int sk, char *buf, size_t cap, struct peeked *pk, ckpt_err_t *err)
{
	char cbuf[UNIX_CBUF] __attribute__((aligned(8)));
	struct iovec iov = {buf, cap};
	struct msghdr mh = {.msg_name = &pk->from,
			    .msg_namelen = sizeof(pk->from),
			    .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	int *fds = pk->fds, *nfds = &pk->nfds;
	ssize_t n;

	*nfds = 0;
	pk->has_cred = false;
	pk->cred.pid = 0;
	n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN ? 0 : ckpt_error(err, errno, "peek unix queue");
	pk->fromlen = mh.msg_namelen;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		struct ucred uc;

		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(uc))) {
			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			pk->cred = uc;
			pk->has_cred = true;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < 253)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	/* MSG_CTRUNC: the kernel dropped fds that did not fit (in the peek only) */
	if (mh.msg_flags & MSG_CTRUNC) {
		close_all(fds, *nfds);
		*nfds = 0;
		return ckpt_error_msg(err, EMSGSIZE, "unix message with too many fds in flight");
	}
	pk->flags = mh.msg_flags;
	return n;
}

/*
 * A datagram's credentials ("creds", beside "msgs", with SO_PASSCRED on):
 * {pid, uid, gid} as ckpt-oci reads them, pid 0 when it carries none.
 */
static void peek_cred(struct json *e, const struct peeked *pk)
{
	struct json *creds, *c;

	if (!pk->has_cred)
		return;
	creds = json_get(e, "creds") ?: json_set(e, "creds", json_arr());
	c = json_push(creds, json_obj());
	json_set(c, "pid", json_int(pk->cred.pid));
	json_set(c, "uid", json_int(pk->cred.uid));
	json_set(c, "gid", json_int(pk->cred.gid));
}

/* A datagram's sender ("from", beside "msgs"): its name in hex, "" unbound. */
static void peek_from(struct json *e, const struct peeked *pk)
{
	struct json *from = json_get(e, "from");
	size_t off = offsetof(struct sockaddr_un, sun_path);

	if (!from)
		return;
	if (pk->fromlen > off && pk->fromlen <= sizeof(pk->from))
		json_push(from, json_hexbuf(pk->from.sun_path, pk->fromlen - off));
	else
		json_push(from, json_str(""));
}

/*
 * Record one peeked chunk carrying fds as a message with them attached.
 * A stream peek glues the bytes before a message with fds to it and stops
 * after it; where that message starts within the chunk cannot be told (a
 * peek of any byte returns the fds of the next message that has some), so
 * after restore the fds come with the chunk's first byte: a reader whose
 * buffer held the whole chunk sees no difference.
 */
static int peek_rights(size_t n, const int *fds, int nfds, struct json *e,
		       struct unix_inflight *inf, ckpt_err_t *err)
{
	struct json *msgs = json_get(e, "msgs"), *rights, *r;

	rights = json_get(e, "rights") ?: json_set(e, "rights", json_arr());
	r = json_push(rights, json_obj());
	json_set(r, "msg", json_int(json_len(msgs)));
	json_push(msgs, json_int(n));
	return unix_inflight_add(inf, fds, nfds, json_set(r, "files", json_arr()), err);
}

/*
 * The receive queue, message by message for datagrams (and for streams
 * carrying fds). Without inf, a queue with fds in flight stops the peek
 * and returns 1: it is dumped again once every task is (unix-inflight.c).
 */
static int unix_peek(int sk, int type, struct json *e, struct unix_inflight *inf, char **out,
		     size_t *len, bool *creds, ckpt_err_t *err)
{
	struct json *msgs = type == SOCK_STREAM && !inf ? NULL : json_set(e, "msgs", json_arr());
	socklen_t sl = sizeof(int);
	int old = -1, zero = 0, ret = 0;
	size_t cap = 0;
	char *buf = NULL;

	*creds = false;
	if (type == SOCK_DGRAM)
		json_set(e, "from", json_arr());
	if (json_get(e, "creds")) /* peeked again (unix_dump_inflight) */
		json_set(e, "creds", json_arr());
	if (getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &sl) < 0 ||
	    setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return ckpt_error(err, errno, "SO_PEEK_OFF");
	*len = 0;
	for (;;) {
		struct peeked pk;
		ssize_t n;

		if (cap - *len < (256u << 10)) {
			cap = *len + (1u << 20);
			buf = xrealloc(buf, cap);
		}
		n = peek_one(sk, buf + *len, cap - *len, &pk, err);
		if (n < 0)
			ret = n;
		if (pk.nfds && !inf) {
			close_all(pk.fds, pk.nfds);
			ret = 1;
		}
		if (n <= 0 || ret)
			break;
		if (pk.flags & MSG_TRUNC) {
			close_all(pk.fds, pk.nfds);
			ret = ckpt_error_msg(err, EMSGSIZE, "datagram larger than 768 KiB");
			break;
		}
		if (type == SOCK_DGRAM && pk.cred.pid)
			*creds = true;
		if (type == SOCK_DGRAM) {
			peek_from(e, &pk);
			peek_cred(e, &pk);
		}
		if (pk.nfds)
			ret = peek_rights(n, pk.fds, pk.nfds, e, inf, err);
		else if (msgs)
			json_push(msgs, json_int(n));
		*len += n;
		if (ret == 0 && *len > UNIX_QUEUE_MAX)
			ret = ckpt_error_msg(err, EFBIG, "more than %u bytes queued",
					     UNIX_QUEUE_MAX);
		if (ret)
			break;
	}
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old)) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "put SO_PEEK_OFF back");
	*out = buf;
	return ret;
}

/* Whether task pid is in ckpt-oci's namespace of kind ns ("pid", "user"). */
static bool same_ns(pid_t pid, const char *ns)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
	if (stat(path, &a) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
	return stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif

/* Whether sk reads its senders' credentials (SO_PASSCRED or SO_PASSPIDFD on). */
static bool unix_passcred(int sk)
{
	int opts[] = {SO_PASSCRED, SO_PASSPIDFD};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int on = 0;
		socklen_t sl = sizeof(on);

		if (getsockopt(sk, SOL_SOCKET, opts[i], &on, &sl) == 0 && on)
			return true;
	}
	return false;
}

int unix_dump_queue(const struct fd_info *fi, int sk, uint32_t ino, int type, struct json *e,
		    struct files_dctx *dc, struct unix_inflight *inf, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL, *name = NULL;
	struct json *held;
	size_t len = 0;
	bool creds;
	int ret;

	ret = unix_peek(sk, type, e, inf, &buf, &len, &creds, err);
	/*
	 * A stream or seqpacket queue keeps each writer's credentials, which
	 * the receiver reads with SO_PASSCRED (or SO_PASSPIDFD) on: refilled,
	 * the bytes would carry ckpt-oci's. Refused rather than changed.
	 */
	if (ret >= 0 && type != SOCK_DGRAM && (len || ret == 1) && unix_passcred(sk))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (unix %s socket with SO_PASSCRED holding "
				      "queued bytes whose writers' credentials restore cannot "
				      "carry) in pid %d",
				      fi->fd, type == SOCK_STREAM ? "stream" : "seqpacket",
				      fi->pid);
	/*
	 * With SO_PASSCRED a datagram reads back the pid, uid and gid of its
	 * sender, as ckpt-oci reads them: the tree's own when it shares
	 * ckpt-oci's pid and user namespaces, which restore names again (a
	 * pid not taken then held for the instant of the send).
	 */
	if (ret == 0 && creds && (!same_ns(fi->pid, "pid") || !same_ns(fi->pid, "user")))
		return ckpt_error_msg(
			err, ENOTSUP,
			"unsupported fd %d (unix datagram socket with SO_PASSCRED "
			"holding messages whose senders' credentials cannot be "
			"restored: the tree has its own pid or user namespace) in pid %d",
			fi->fd, fi->pid);
	if (ret == 1) { /* fds in flight: again at the end (unix_dump_inflight) */
		held = json_set(e, "held_by", json_arr());
		json_push(held, json_int(fi->pid));
		json_push(held, json_int(fi->fd));
		return 0;
	}
	if (ret < 0 || !len)
		return ret;
	name = xasprintf("unix-%u.img", ino);
	json_set(e, "image", json_str(name));
	json_set(e, "bytes", json_int(len));
	return files_put_image(dc->bundle, name, buf, len, err);
}

/*
 * The bytes a client sent into a connection not accepted yet sit in the
 * embryo socket's queue (the socket accept() will return), which no fd
 * reaches: recv/MSG_PEEK, SIOCINQ and SO_PEEK_OFF on the listener fail
 * with EINVAL, sock_diag gives lengths only, SIOCUNIXFILE opens bound
 * files, not sockets. accept() on a pidfd_getfd copy of the listener would
 * take the connection from the task for good (the listener's queue cannot
 * be given an embryo back), breaking --leave-running and rollback. The
 * bytes are charged to the client's send buffer, so its sock_diag wqueue
 * says whether there are any: refuse those, and connections whose client
 * is closed (icon 0: whether it sent something before closing cannot be
 * told).
 */
static int unix_dump_pending(const struct fd_info *fi, struct unix_diag_sk *ds,
			     const struct unix_diag_info *ui, ckpt_err_t *err)
{
	for (int i = 0; i < ui->nicons; i++) {
		struct unix_diag_info ci;

		if (!ui->icons[i] || unix_diag_get(ds, ui->icons[i], &ci, err) < 0) {
			ckpt_error_clear(err);
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported fd %d (unix socket with unaccepted "
					      "connection from a closed client) in pid %d",
					      fi->fd, fi->pid);
		}
		free(ci.icons);
		if (ci.wqueue > 0)
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported fd %d (unix socket with unaccepted "
					      "connection holding queued data) in pid %d",
					      fi->fd, fi->pid);
	}
	return 0;
}

/*
 * A socket bound to a relative path: the name is relative to the cwd the
 * binder had then, which may have changed since. SIOCUNIXFILE opens the
 * bound file itself (O_PATH); its path less the name is the directory to
 * bind in again at restore ("dir"), so getsockname stays relative.
 */
static int unix_dump_dir(const struct fd_info *fi, int sk, const struct unix_diag_info *ui,
			 struct json *e, ckpt_err_t *err)
{
	cleanup_close int f = ioctl(sk, SIOCUNIXFILE);
	char path[PATH_MAX], link[64];
	size_t nl = strnlen(ui->name, ui->name_len);
	ssize_t n;

	if (f < 0)
		return ckpt_error(err, errno, "SIOCUNIXFILE of fd %d of pid %d (bound to `%.*s`)",
				  fi->fd, fi->pid, (int)nl, ui->name);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", f);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0)
		return ckpt_error(err, errno, "readlink %s", link);
	path[n] = '\0';
	if ((size_t)n <= nl || path[n - nl - 1] != '/' || memcmp(path + n - nl, ui->name, nl))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported fd %d (unix socket bound to relative path "
				      "`%.*s`, its file is now `%s`) in pid %d",
				      fi->fd, (int)nl, ui->name, path, fi->pid);
	path[n - nl - 1] = '\0';
	json_set(e, "dir", json_str(path[0] ? path : "/"));
	return 0;
}

/*
 * A connected socket whose peer is closed (sock_diag gives it as 0) still
 * names it (getpeername): "peer_name", the name the end restore drops
 * takes. A relative one ("peer_relative") is refused by unix_dump_check
 * unless the socket is a pending connection (its peer, not accepted yet,
 * is made again by its listener).
 */
static void unix_dump_peer_name(int sk, struct json *e)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	memset(&a, 0, sizeof(a));
	if (getpeername(sk, (struct sockaddr *)&a, &l) < 0 || l <= off || l > sizeof(a))
		return; /* never connected, or the peer unbound */
	json_set(e, a.sun_path[0] && a.sun_path[0] != '/' ? "peer_relative" : "peer_name",
		 json_hexbuf(a.sun_path, l - off));
}

/* Whether sk has a peer, closed or not (getpeername: no ENOTCONN). */
static bool peer_connected(int sk)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	return getpeername(sk, (struct sockaddr *)&a, &l) == 0;
}

static int unix_dump_sock(int sk, const struct fd_info *fi, struct json *list,
			  struct files_dctx *dc, ckpt_err_t *err)
{
	struct unix_diag_info ui;
	struct unix_diag_sk *ds;
	struct json *e, *icons;
	int on = 0, ret;
	socklen_t sl = sizeof(on);

	ret = unix_diag_for(dc, sk, &ds, err);
	if (ret == 0)
		ret = unix_diag_get(ds, fi->st.st_ino, &ui, err);
	if (ret < 0)
		return ret;
	e = json_push(list, json_obj());
	json_set(e, "id", json_int(ui.ino));
	json_set(e, "type", json_int(ui.type));
	json_set(e, "state", json_int(ui.state));
	json_set(e, "peer", json_int(ui.peer));
	json_set(e, "shutdown", json_int(ui.shutdown));
	if (ui.name_len && ui.name[0] && ui.name[0] != '/') {
		ret = unix_dump_dir(fi, sk, &ui, e, err);
		if (ret < 0) {
			free(ui.icons);
			return ret;
		}
	}
	if (ui.name_len)
		json_set(e, "name", json_hexbuf(ui.name, ui.name_len));
	/* the bound file's owner, mode and times: restore makes it anew */
	if (ui.name_len && ui.name[0]) {
		cleanup_close int f = ioctl(sk, SIOCUNIXFILE);
		struct stat fst;

		if (f >= 0 && fstat(f, &fst) == 0) {
			attr_dump(&fst, e);
			/* restore unlinks no file in the way but this very one */
			json_set(e, "file_dev", json_int(fst.st_dev));
			json_set(e, "file_ino", json_int(fst.st_ino));
			if (fst.st_nlink == 0)
				json_set(e, "deleted", json_bool(true));
		}
	}
	if (getsockopt(sk, SOL_SOCKET, SO_PASSCRED, &on, &sl) == 0 && on)
		json_set(e, "passcred", json_bool(true));
	if (ui.state == TCP_LISTEN) {
		ret = unix_dump_pending(fi, ds, &ui, err);
		if (ret < 0) {
			free(ui.icons);
			return ret;
		}
		json_set(e, "backlog", json_int(ui.wqueue));
		icons = json_set(e, "icons", json_arr());
		for (int i = 0; i < ui.nicons; i++)
			json_push(icons, json_int(ui.icons[i]));
		free(ui.icons);
		return 0;
	}
	free(ui.icons);
	/*
	 * A bound datagram socket connected to a peer that closed since: its
	 * sends are refused (ECONNREFUSED), and restore would make it
	 * unconnected (sends: ENOTCONN). Its state says nothing (a socket
	 * connected to is TCP_ESTABLISHED too): getpeername still names the
	 * closed peer.
	 */
	if (ui.type == SOCK_DGRAM && ui.state == TCP_ESTABLISHED && !ui.peer && ui.name_len &&
	    peer_connected(sk))
		return ckpt_error_msg(
			err, ENOTSUP,
			"unsupported fd %d (bound unix datagram socket connected to a "
			"peer that has closed) in pid %d",
			fi->fd, fi->pid);
	if (ui.state == TCP_ESTABLISHED && !ui.peer)
		unix_dump_peer_name(sk, e);
	/* an unconnected stream or seqpacket socket has no queue (recv: EINVAL) */
	if (ui.type != SOCK_DGRAM && ui.state != TCP_ESTABLISHED)
		return 0;
	return unix_dump_queue(fi, sk, ui.ino, ui.type, e, dc, NULL, err);
}

int unix_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc, ckpt_err_t *err)
{
	cleanup_close int sk = files_steal_fd(fi->pid, fi->fd, err);
	struct json *list;
	int fam = 0, ret;
	socklen_t sl = sizeof(fam);

	if (sk < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &fam, &sl) < 0)
		return ckpt_error(err, errno, "fd %d of %d: socket family", fi->fd, fi->pid);
	if (fam != AF_UNIX)
		return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (%s) in pid %d", fi->fd,
				      family_name(fam), fi->pid);
	json_set(o, "id", json_int(fi->st.st_ino));
	list = files_dlist(dc, "unix");
	if (files_list_find(list, fi->st.st_ino))
		return 0;
	ret = unix_dump_sock(sk, fi, list, dc, err);
	if (ret == -ENOTSUP) /* "unsupported fd N (...) in pid P" says it all */
		return ret;
	if (ret < 0)
		return ckpt_error_wrap(err, "unix socket fd %d of %d", fi->fd, fi->pid);
	return 0;
}

/* An inode number this dump wrote (0 if none). */
static uint64_t ino_of(const struct json *j)
{
	uint64_t v = 0;

	return json_hex_value(j, &v) ? v : 0;
}

/* A listener in list with client ino among its pending connections. */
static const struct json *unix_listener_of(const struct json *list, uint64_t client)
{
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *icons = json_get(json_at(list, i), "icons");

		for (size_t k = 0; k < json_len(icons); k++)
			if (ino_of(json_at(icons, k)) == client)
				return json_at(list, i);
	}
	return NULL;
}

/* Every pending connection of listener e comes from a client in the tree. */
static int unix_check_icons(const struct json *list, const struct json *e, ckpt_err_t *err)
{
	const struct json *icons = json_get(e, "icons");

	for (size_t k = 0; k < json_len(icons); k++) {
		uint64_t c = ino_of(json_at(icons, k));

		if (!files_list_find(list, c))
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported unix socket %lu: pending connection "
					      "from socket %lu outside the tree",
					      (unsigned long)ino_of(json_get(e, "id")),
					      (unsigned long)c);
	}
	return 0;
}

/*
 * --ext-unix-sk: a datagram socket connected to a socket outside the tree
 * bound to an absolute path or an abstract name ("ext_peer") is connected
 * to that name again at restore. Its queue holds what that peer sent,
 * which nothing can send again: refused, as is every other kind of peer.
 */
static int unix_ext_peer(struct files_dctx *dc, struct json *e, const struct unix_diag_info *ui,
			 ckpt_err_t *err)
{
	uint64_t id = ino_of(json_get(e, "id"));
	uint64_t type = 0;

	(void)json_hex_value(json_get(e, "type"), &type);
	if (!dc->ext_unix_sk)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported unix socket %lu: connected to socket %u outside "
				      "the tree%s",
				      (unsigned long)id, ui->ino,
				      type == SOCK_DGRAM ? " (--ext-unix-sk reconnects by name)"
							 : "");
	if (type != SOCK_DGRAM || !ui->name_len || (ui->name[0] && ui->name[0] != '/'))
		return ckpt_error_msg(
			err, ENOTSUP,
			"unsupported unix socket %lu: connected to socket %u outside "
			"the tree, not a datagram one with an absolute or abstract name",
			(unsigned long)id, ui->ino);
	if (json_get(e, "image"))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported unix socket %lu: messages queued from socket %u "
				      "outside the tree",
				      (unsigned long)id, ui->ino);
	json_set(e, "ext_peer", json_hexbuf(ui->name, ui->name_len));
	return 0;
}

#define HEXNAME_MAX (2 * sizeof(((struct sockaddr_un *)0)->sun_path))

/* The hex name of socket id of list ("" unbound); NULL when not in the list. */
static const char *name_in(const struct json *list, uint64_t id)
{
	const struct json *s = id ? files_list_find(list, id) : NULL;
	struct doc_at at = DOC_TOP("files.json");
	const char *n = NULL;

	if (!s)
		return NULL;
	if (doc_opt_str(&at, s, "name", HEXNAME_MAX, &n, &(ckpt_err_t){0}) < 0 || !n)
		return "";
	return n;
}

/* Whether a datagram socket of list is bound to hex name. */
static bool dgram_named(const struct json *list, const char *name)
{
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *s = json_at(list, i);
		uint64_t type = 0;
		const char *n = name_in(list, ino_of(json_get(s, "id")));

		(void)json_hex_value(json_get(s, "type"), &type);
		if (type == SOCK_DGRAM && n && !strcmp(n, name))
			return true;
	}
	return false;
}

/*
 * Each queued datagram comes back from its sender's name ("from"), sent
 * at restore from the socket of the tree bound to it, else from one
 * bound to it for an instant. Refused: a datagram from another than the
 * peer a socket is connected to (the kernel takes none), from more than
 * one name into a socket whose peer is closed (the dropped end refills
 * it), or from a relative name no socket of the tree holds (relative to
 * an unknown directory).
 */
/* Hex name hex as bytes into name (of room cap): its length, -1 if not hex. */
static int unhex(const char *hex, char *name, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		return -1;
	for (size_t k = 0; k < n; k++) {
		unsigned int c = 0;

		if (sscanf(hex + 2 * k, "%2x", &c) != 1)
			return -1;
		name[k] = c;
	}
	return n;
}

/*
 * A socket outside the tree (not in list) bound to absolute path name
 * now, found by the inode of the file at that path in the tree's root:
 * its inode, 0 none.
 */
static int path_held_outside(struct files_dctx *dc, const struct json *list, const char *name,
			     int len, ckpt_err_t *err)
{
	char path[PATH_MAX + 64];
	struct stat st;

	if (dc->ntree_pids > 0)
		snprintf(path, sizeof(path), "/proc/%d/root%.*s", (int)dc->tree_pids[0], len, name);
	else
		snprintf(path, sizeof(path), "%.*s", len, name);
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return unix_diag_file_held(dc, &st, list, err);
}

/*
 * A name a datagram comes from that no socket of the tree holds is bound
 * again at restore (a path's file moved aside for that instant): refused
 * when a socket outside holds it now. 1 abstract, 2 path held; 0 free.
 */
static int from_free(struct files_dctx *dc, const struct json *list, const char *hex,
		     ckpt_err_t *err)
{
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n = unhex(hex, name, sizeof(name)), ret;

	if (n <= 0)
		return 0;
	if (name[0] == '/') {
		ret = path_held_outside(dc, list, name, strnlen(name, n), err);
		return ret > 0 ? 2 : ret;
	}
	if (name[0])
		return 0;
	return unix_diag_name_held(dc, name, n, SOCK_DGRAM, NULL, err);
}

static int unix_check_from(struct files_dctx *dc, const struct json *list, const struct json *e,
			   ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json"), at = DOC_KEY(&top, "from");
	uint64_t id = ino_of(json_get(e, "id")), peer = ino_of(json_get(e, "peer")), state = 0;
	const struct json *from = json_get(e, "from");
	const char *pname = name_in(list, peer), *own = name_in(list, id), *first = NULL;
	struct doc_at eat = DOC_TOP("files.json");
	bool orphan;

	if (doc_opt_str(&eat, e, "peer_name", HEXNAME_MAX, &first, err) < 0)
		return -err->code;

	(void)json_hex_value(json_get(e, "state"), &state);
	orphan = !pname && (peer || (state == TCP_ESTABLISHED && !*own));
	for (size_t i = 0; i < json_len(from); i++) {
		const char *f = NULL;
		const char *why = NULL;

		if (doc_elem_str(&at, from, i, HEXNAME_MAX, &f, err) < 0)
			return -err->code;
		if (!first)
			first = f;
		if (pname && strcmp(f, pname))
			why = "from another socket than the one it is connected to";
		else if (orphan && strcmp(f, first))
			why = "from another name than its closed peer's";
		else if (*f && strncmp(f, "00", 2) && strncmp(f, "2f", 2) && !dgram_named(list, f))
			why = "from a relative name no socket of the tree holds";
		if (!why && !pname && *f && !dgram_named(list, f) &&
		    !(orphan && json_get(e, "peer_taken"))) {
			int held = from_free(dc, list, f, err);

			if (held < 0)
				return held;
			if (held == 1)
				why = "from an abstract name a socket outside the tree holds";
			else if (held)
				why = "from a path a socket outside the tree holds (restore would "
				      "move its file aside)";
		}
		if (why)
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported unix socket %lu: a datagram queued %s",
					      (unsigned long)id, why);
	}
	return 0;
}

/*
 * The name a closed peer had ("peer_name", else the first datagram's
 * sender for a datagram orphan) is bound again at restore by the end
 * restore drops. Another socket may hold it now (the name was bound
 * again since, a daemon restarted): one outside the tree holding a path
 * is refused (restore would move its file aside); else, held by one
 * outside the tree or (a datagram one: made before the orphan is filled)
 * of the tree, the name is left out
 * ("peer_taken": the dropped end stays unnamed, what it sent reads back
 * no name) and the log says so.
 */
static int unix_peer_taken(struct files_dctx *dc, const struct json *list, struct json *e,
			   ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("files.json");
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)], path[PATH_MAX + 64];
	uint64_t id = ino_of(json_get(e, "id")), peer = ino_of(json_get(e, "peer"));
	uint64_t type = 0, state = 0;
	const char *hex = NULL, *own;
	struct stat st;
	bool orphan;
	int n, held;

	if (doc_opt_str(&at, e, "peer_name", HEXNAME_MAX, &hex, err) < 0)
		return -err->code;
	(void)json_hex_value(json_get(e, "type"), &type);
	(void)json_hex_value(json_get(e, "state"), &state);
	/* an orphan as unix_check_from tells one */
	own = name_in(list, id);
	orphan = !name_in(list, peer) && (peer || (state == TCP_ESTABLISHED && own && !*own));
	if (!hex && orphan && json_len(json_get(e, "from")) &&
	    doc_elem_str(&DOC_KEY(&at, "from"), json_get(e, "from"), 0, HEXNAME_MAX, &hex, err) < 0)
		return -err->code;
	n = hex ? unhex(hex, name, sizeof(name)) : 0;
	if (n <= 0 || (name[0] && name[0] != '/'))
		return 0;
	if (!name[0]) {
		held = unix_diag_name_held(dc, name, n, type, type == SOCK_DGRAM ? NULL : list,
					   err);
	} else {
		n = strnlen(name, n);
		held = path_held_outside(dc, list, name, n, err);
		if (held > 0)
			return ckpt_error_msg(
				err, ENOTSUP,
				"unsupported unix socket %lu: its closed peer's path "
				"`%.*s` is held by socket %d outside the tree (restore "
				"would move its file aside)",
				(unsigned long)id, n, name, held);
		if (dc->ntree_pids > 0)
			snprintf(path, sizeof(path), "/proc/%d/root%.*s", (int)dc->tree_pids[0], n,
				 name);
		else
			snprintf(path, sizeof(path), "%.*s", n, name);
		/* a stream one's name is bound before the tree's listeners are */
		if (held == 0 && type == SOCK_DGRAM && lstat(path, &st) == 0 &&
		    S_ISSOCK(st.st_mode))
			held = unix_diag_file_held(dc, &st, NULL, err);
	}
	if (held <= 0)
		return held;
	pr_info("unix socket %lu: its closed peer's name `%s%.*s` is held by another socket now: "
		"left out, the restored socket names no peer",
		(unsigned long)id, name[0] ? "" : "@", name[0] ? n : n - 1,
		name[0] ? name : name + 1);
	json_set(e, "peer_taken", json_bool(true));
	return 0;
}

int unix_dump_check(struct files_dctx *dc, ckpt_err_t *err)
{
	const struct json *list;
	int ret = unix_dump_inflight(dc, err);

	if (ret < 0)
		return ret;
	list = dc->doc ? json_get(dc->doc, "unix") : NULL;
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *e = json_at(list, i);
		uint64_t id = ino_of(json_get(e, "id")), peer;
		struct unix_diag_info ui;

		ret = unix_check_icons(list, e, err);
		if (ret == 0)
			ret = unix_peer_taken(dc, list, json_at(list, i), err);
		if (ret == 0)
			ret = unix_check_from(dc, list, e, err);
		if (ret == 0 && json_get(e, "peer_relative") && !unix_listener_of(list, id))
			ret = ckpt_error_msg(
				err, ENOTSUP,
				"unsupported unix socket %lu: its closed peer was bound "
				"to a relative path",
				(unsigned long)id);
		if (ret < 0)
			return ret;
		peer = ino_of(json_get(e, "peer"));
		if (!peer || files_list_find(list, peer) || unix_listener_of(list, id))
			continue;
		/* a peer that no longer exists is a closed end: restored as such */
		if (unix_diag_find(dc, peer, &ui, err) < 0) {
			ckpt_error_clear(err);
			continue;
		}
		free(ui.icons);
		ret = unix_ext_peer(dc, json_at(list, i), &ui, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
