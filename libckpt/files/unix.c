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
 * The queue is unix-queue.c's, the checks at the end unix-check.c's.
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
