/*
 * libckpt/files/unix-restore.c - unix sockets at restore, all made before
 * the tree's first fork and parked ("unix", inode), so every task inherits
 * the socket it had. They are made in the tree's namespaces
 * (files_prepare_paths): by the root once it built them when the tree has
 * its own mount or network namespace (a path is bound in the tree's
 * filesystem, an abstract name in its network namespace, and clients
 * connect by those names there), else by ckpt-oci. A socket connected to
 * one outside the tree was refused at checkpoint (unix.c), but for a
 * datagram one with --ext-unix-sk, so every other connection is between
 * sockets made here.
 *
 *   listeners       socket, bind, listen; then each pending client
 *                   connects to it (an un-accepted connection again)
 *   pairs           both ends in the tree, peers of each other: socketpair;
 *                   a stream or seqpacket one with names is connected
 *                   through a listener at the accepted end's name for an
 *                   instant (pair_named), before the tree's listeners are
 *                   made, so each end reads back both names
 *   one-way         a datagram socket connected to another: connect by name
 *   orphans         connected socket (any type) whose peer was closed:
 *                   socketpair with the other end dropped after the refill,
 *                   so the queue ends in EOF (a datagram one bound again);
 *                   the dropped end takes the closed peer's name
 *                   ("peer_name"), through a listener for a stream one
 *   outside         a datagram socket connected to one outside the tree
 *                   (--ext-unix-sk): connect to its name again
 *   unconnected     socket, bind; a name whose file was deleted since is
 *                   bound and unlinked again (bind_deleted)
 *
 * Then (unix_fill_all, once the files in flight exist: unix-inflight.c)
 * each receive queue is refilled through the peer (or sent to the bound
 * name from a private socket), message by message with the fds that were
 * in flight attached, SO_PASSCRED and shutdown applied. A name relative
 * to "dir" is bound, connected and sent to from that directory.
 * A datagram comes from its sender's name: the peer's, the tree's socket
 * bound to it, or one bound to it for that message (fill_msgs), with the
 * SCM credentials it carried (a pid not taken held for the send:
 * pid_hold); a tree with its own pid or user namespace holding such
 * datagrams is refused at checkpoint (unix.c).
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

#define ORPHAN_END 1 /* end 1 of ("unix", id): the dropped peer of an orphan */

/* The address u's key ("name", "ext_peer") holds; *len 0 when none. */
static int addr_key(const struct unix_saved *u, const char *key, const char *hex,
		    struct sockaddr_un *a, socklen_t *len, ckpt_err_t *err)
{
	size_t n = hex ? strlen(hex) / 2 : 0;
	int ret;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*len = 0;
	if (!n)
		return 0;
	ret = doc_hexbuf(&u->it.at, u->it.obj, key, a->sun_path, n, err);
	if (ret < 0)
		return ret;
	if (a->sun_path[0]) /* a path: up to its NUL */
		n = strnlen(a->sun_path, n);
	*len = offsetof(struct sockaddr_un, sun_path) + n;
	return 0;
}

/*
 * A name relative to "dir" (bound so at checkpoint): bind, connect and
 * sendto it from there, so the name stays relative. *old is the cwd to
 * go back to (leave_dir); -1 when u has no "dir".
 */
static int enter_dir(const struct unix_saved *u, int *old, ckpt_err_t *err)
{
	const char *dir = u->dir;
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

/* The address u was bound to; *len 0 when it was not bound. */
static int addr_of(const struct unix_saved *u, struct sockaddr_un *a, socklen_t *len,
		   ckpt_err_t *err)
{
	return addr_key(u, "name", u->name, a, len, err);
}

static void leave_dir(int old)
{
	if (old < 0)
		return;
	if (fchdir(old) < 0)
		pr_warn("cannot go back to the previous cwd (%m), ignoring");
	close(old);
}

/*
 * A path name's file gets the original's owner, mode and times, and its
 * directory keeps its own times (attr.c).
 */
static int bound_file_attr(int sk, const struct unix_saved *u, ckpt_err_t *err)
{
	cleanup_close int f = -1;

	if (!u->attr.present)
		return 0;
	f = ioctl(sk, SIOCUNIXFILE);
	if (f < 0)
		return ckpt_error(err, errno, "SIOCUNIXFILE");
	return attr_apply(f, &u->attr, err);
}

/* Whether a socket listens (or receives) at a: a connect that is not refused. */
static bool sock_alive(const struct sockaddr_un *a, socklen_t l, int type)
{
	cleanup_close int sk = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (sk < 0)
		return true; /* cannot tell: it stays */
	return connect(sk, (const struct sockaddr *)a, l) == 0 || errno != ECONNREFUSED;
}

/*
 * A file at the name to bind: the socket file of the dead original, left
 * behind, is unlinked; anything else is refused, never unlinked. The very
 * file recorded (device and inode) is the original's; from an
 * authenticated bundle a socket file nobody listens at is one too (the
 * file a killed earlier restore of this bundle left).
 */
static int sock_clear_name(const struct files_rctx *rc, const struct unix_saved *u,
			   const struct sockaddr_un *a, socklen_t l, ckpt_err_t *err)
{
	bool recorded, ours;
	struct stat st;

	if (lstat(a->sun_path, &st) < 0)
		return 0; /* nothing there (or no access: bind says) */
	recorded = u->file_ino && (uint64_t)st.st_dev == (uint64_t)u->file_dev &&
		   (uint64_t)st.st_ino == (uint64_t)u->file_ino;
	ours = recorded ||
	       (bundle_mac_status(rc->bundle) == BUNDLE_MAC_VERIFIED && !sock_alive(a, l, u->type));
	if (!S_ISSOCK(st.st_mode) || !ours)
		return ckpt_error_msg(
			err, EEXIST,
			"bind unix socket to `%s`: a %s is there that is not the "
			"socket file checkpointed (device %#llx, inode %llu): left alone",
			a->sun_path, S_ISSOCK(st.st_mode) ? "socket file" : "file",
			(unsigned long long)u->file_dev, (unsigned long long)u->file_ino);
	if (unlink(a->sun_path) < 0)
		return ckpt_error(err, errno, "unlink the old socket file `%s`", a->sun_path);
	return 0;
}

/*
 * A file at path a about to be moved aside for an instant: refused when
 * it is a socket file something holds (bound, listening or receiving), so
 * a live socket's name is never taken from it, not even for an instant.
 */
static int aside_ok(const struct sockaddr_un *a, socklen_t l, const struct stat *st,
		    ckpt_err_t *err)
{
	int held;

	if (!S_ISSOCK(st->st_mode))
		return 0;
	held = unix_diag_file_held_here(st, err);
	if (held < 0)
		return ckpt_error_wrap(err, "whether a socket holds `%s`", a->sun_path);
	if (held || sock_alive(a, l, SOCK_DGRAM))
		return ckpt_error_msg(err, EADDRINUSE,
				      "unix name `%s` is held by a live socket: its file is not "
				      "moved aside to bind there for an instant",
				      a->sun_path);
	return 0;
}

/*
 * A path name whose file was unlinked since the bind ("deleted"): bind
 * (getsockname gives the name again), then unlink the new file. Whatever
 * took the name since (a FIFO, a file, another socket) is moved aside in
 * its directory for that instant and put back, never touched otherwise.
 */
static int bind_deleted(int sk, const struct sockaddr_un *a, socklen_t l, ckpt_err_t *err)
{
	char aside[sizeof(a->sun_path) + 32];
	bool moved = false;
	struct stat st;
	int ret = 0;

	if (lstat(a->sun_path, &st) == 0) {
		ret = aside_ok(a, l, &st, err);
		if (ret < 0)
			return ret;
		snprintf(aside, sizeof(aside), "%s.ckpt-aside-%d", a->sun_path, (int)getpid());
		if (renameat2(AT_FDCWD, a->sun_path, AT_FDCWD, aside, RENAME_NOREPLACE) < 0)
			return ckpt_error(err, errno, "move `%s` aside to bind a deleted unix name",
					  a->sun_path);
		moved = true;
	}
	if (bind(sk, (const struct sockaddr *)a, l) < 0)
		ret = ckpt_error(err, errno, "bind unix socket to deleted `%s`", a->sun_path);
	else if (unlink(a->sun_path) < 0)
		ret = ckpt_error(err, errno, "unlink the file of deleted unix name `%s`",
				 a->sun_path);
	if (moved && rename(aside, a->sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "put `%s` back in place", a->sun_path);
	return ret;
}

static int sock_bind_at(const struct files_rctx *rc, int sk, const struct unix_saved *u,
			ckpt_err_t *err)
{
	struct attr_dir dir = {.fd = -1};
	struct sockaddr_un a;
	socklen_t l;
	int ret = addr_of(u, &a, &l, err);

	if (ret < 0 || !l)
		return ret;
	if (a.sun_path[0]) {
		char parent[sizeof(a.sun_path) + 1];

		snprintf(parent, sizeof(parent), "%s", a.sun_path);
		(void)attr_dir_save(dirname(parent), &dir);
		if (u->deleted) {
			ret = bind_deleted(sk, &a, l, err);
			attr_dir_put_back(&dir);
			return ret;
		}
		ret = sock_clear_name(rc, u, &a, l, err);
	}
	if (ret == 0 && bind(sk, (struct sockaddr *)&a, l) < 0)
		ret = ckpt_error(err, errno, "bind unix socket to `%s%s`", a.sun_path[0] ? "" : "@",
				 a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	else if (ret == 0 && a.sun_path[0])
		ret = bound_file_attr(sk, u, err);
	attr_dir_put_back(&dir);
	return ret;
}

static int sock_bind(const struct files_rctx *rc, int sk, const struct unix_saved *u,
		     ckpt_err_t *err)
{
	int old, ret = enter_dir(u, &old, err);

	if (ret == 0)
		ret = sock_bind_at(rc, sk, u, err);
	leave_dir(old);
	return ret;
}

static int sock_connect(int sk, const struct unix_saved *to, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l;
	int old, ret = addr_of(to, &a, &l, err);

	if (ret < 0)
		return ret;
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

static int make_listener(struct files_rctx *rc, const struct unix_saved *e, ckpt_err_t *err)
{
	const struct json *icons;
	size_t ni;
	int sk, ret;

	ret = doc_opt_arr(&e->it.at, e->it.obj, "icons", FILES_LIST_MAX, &icons, &ni, err);
	if (ret < 0)
		return ret;
	sk = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = sock_bind(rc, sk, e, err);
	if (ret == 0 && listen(sk, e->backlog) < 0)
		ret = ckpt_error(err, errno, "listen");
	if (ret < 0) {
		close(sk);
		return ret;
	}
	ret = park(rc, e->id, 0, sk, err);
	for (size_t i = 0; ret == 0 && i < ni; i++) {
		struct unix_saved c;
		int64_t cid;
		int csk;

		ret = unix_elem(e, "icons", icons, i, UINT32_MAX, &cid, err);
		if (ret == 0)
			ret = unix_get(rc->doc, cid, &c, err);
		if (ret < 0)
			return ret;
		if (ret == 0 || files_shared_find(rc, "unix", cid, 0)) {
			ret = 0;
			continue; /* a client no task holds any more */
		}
		csk = socket(AF_UNIX, c.type | SOCK_CLOEXEC, 0);
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

/*
 * A name taken for an instant (name_take .. name_drop): what is at a path
 * name is moved aside in its directory and put back after, the file bind
 * made is unlinked, the directory keeps its times. An abstract name goes
 * with the socket that holds it.
 */
struct name_hold {
	struct sockaddr_un a;
	socklen_t l;
	char aside[sizeof(((struct sockaddr_un *)0)->sun_path) + 32];
	bool moved, bound;
	struct attr_dir dir;
	int old; /* the cwd to go back to (enter_dir) */
};

/* Bind sk to a (of length l; 0: none, nothing done), with its file taken care of. */
static int name_take_addr(int sk, const struct sockaddr_un *a, socklen_t l, struct name_hold *h,
			  ckpt_err_t *err)
{
	struct stat st;

	h->a = *a;
	h->l = l;
	if (!h->l)
		return 0;
	if (h->a.sun_path[0]) {
		char parent[sizeof(h->a.sun_path) + 1];

		snprintf(parent, sizeof(parent), "%s", h->a.sun_path);
		(void)attr_dir_save(dirname(parent), &h->dir);
		if (lstat(h->a.sun_path, &st) == 0) {
			int ret = aside_ok(&h->a, h->l, &st, err);

			if (ret < 0)
				return ret;
			snprintf(h->aside, sizeof(h->aside), "%s.ckpt-aside-%d", h->a.sun_path,
				 (int)getpid());
			if (renameat2(AT_FDCWD, h->a.sun_path, AT_FDCWD, h->aside,
				      RENAME_NOREPLACE) < 0)
				return ckpt_error(err, errno, "move `%s` aside to take its name",
						  h->a.sun_path);
			h->moved = true;
		}
	}
	if (bind(sk, (struct sockaddr *)&h->a, h->l) < 0)
		return ckpt_error(err, errno, "bind unix socket to `%s%s`",
				  h->a.sun_path[0] ? "" : "@",
				  h->a.sun_path[0] ? h->a.sun_path : h->a.sun_path + 1);
	h->bound = true;
	return 0;
}

/*
 * A name of a socket: u's own ("name", relative to "dir"), or with peer
 * the one its closed peer had ("peer_name"); u NULL: none.
 */
struct sk_name {
	const struct unix_saved *u;
	bool peer;
};

/* Bind sk to name n (the cwd stays in n's "dir" until name_drop). */
static int name_take(int sk, struct sk_name n, struct name_hold *h, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l;
	int ret;

	memset(h, 0, sizeof(*h));
	h->dir.fd = -1;
	h->old = -1;
	if (n.peer)
		ret = addr_key(n.u, "peer_name", n.u->peer_name, &a, &l, err);
	else
		ret = enter_dir(n.u, &h->old, err) ?: addr_of(n.u, &a, &l, err);
	return ret < 0 ? ret : name_take_addr(sk, &a, l, h, err);
}

static bool has_name(struct sk_name n)
{
	const char *hex = !n.u ? NULL : n.peer ? n.u->peer_name : n.u->name;

	return hex && *hex;
}

/* Give back what name_take moved aside; ret: the caller's result so far. */
static int name_drop(struct name_hold *h, int ret, ckpt_err_t *err)
{
	if (h->bound && h->a.sun_path[0] && unlink(h->a.sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "unlink `%s`, bound for an instant", h->a.sun_path);
	if (h->moved && rename(h->aside, h->a.sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "put `%s` back in place", h->a.sun_path);
	attr_dir_put_back(&h->dir);
	leave_dir(h->old);
	h->old = -1;
	return ret;
}

/*
 * A connected stream or seqpacket pair whose ends had names: the end s
 * (the accepted one) had its listener's name, c its own or none. c is
 * bound to its name, then connects to a listener bound to s's name for
 * that instant, and s is what that listener accepts; the listener is
 * closed and nothing made at a path stays (a file at either name is left
 * as it is). *sfd and *cfd: the two ends.
 */
static int pair_named(struct sk_name s, struct sk_name c, int type, int *sfd, int *cfd,
		      ckpt_err_t *err)
{
	cleanup_close int l = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	int csk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0), ssk = -1, ret = 0;
	struct name_hold h;

	if (l < 0 || csk < 0) {
		ret = ckpt_error(err, errno, "socket");
		goto out;
	}
	if (has_name(c)) {
		ret = name_take(csk, c, &h, err);
		ret = name_drop(&h, ret, err);
		if (ret < 0)
			goto out;
	}
	ret = name_take(l, s, &h, err);
	if (ret == 0 && listen(l, 1) < 0)
		ret = ckpt_error(err, errno, "listen");
	if (ret == 0 && connect(csk, (struct sockaddr *)&h.a, h.l) < 0)
		ret = ckpt_error(err, errno, "connect");
	if (ret == 0) {
		ssk = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (ssk < 0)
			ret = ckpt_error(err, errno, "accept");
	}
	ret = name_drop(&h, ret, err);
out:
	if (ret < 0) {
		if (csk >= 0)
			close(csk);
		if (ssk >= 0)
			close(ssk);
		return ckpt_error_wrap(err, "connect unix socket %lu by name",
				       (unsigned long)s.u->id);
	}
	*sfd = ssk;
	*cfd = csk;
	return 0;
}

/* Whether a listener of the tree is bound to hex name (1, 0 none). */
static int listener_named(const struct files_rctx *rc, const char *name, ckpt_err_t *err)
{
	struct unix_saved l;
	size_t n;
	int ret = unix_count(rc->doc, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = unix_nth(rc->doc, i, &l, err);
		if (ret == 0 && l.state == TCP_LISTEN && l.name && !strcmp(l.name, name))
			return 1;
	}
	return ret;
}

/*
 * Both ends of a stream or seqpacket pair as they were named, e's made
 * as the accepted end when it has a name, unless both have and only p's
 * is a listener's. Which end was accepted cannot be told when both have
 * names, nor need it: each end reads back its own name and its peer's;
 * only the connecting end keeps its name bound (an abstract one stays
 * taken), so a listener's name goes to the accepted end. Without names,
 * a socketpair.
 */
static int pair_ends(const struct files_rctx *rc, const struct unix_saved *e,
		     const struct unix_saved *p, int sv[2], ckpt_err_t *err)
{
	/* an orphan's peer (end 1) has the name the closed one had */
	struct sk_name en = {e, false}, pn = {p ?: e, !p};
	bool ehas = has_name(en), phas = has_name(pn);
	int ret;

	if (e->type == SOCK_DGRAM || (!ehas && !phas)) {
		if (socketpair(AF_UNIX, e->type | SOCK_CLOEXEC, 0, sv) < 0)
			return ckpt_error(err, errno, "socketpair");
		return 0;
	}
	if (ehas && phas) {
		ret = listener_named(rc, p ? p->name : e->peer_name, err);
		if (ret == 1)
			ret = listener_named(rc, e->name, err) == 1 ? 1 : 2;
		if (ret < 0)
			return ret;
		ehas = ret != 2;
	}
	if (ehas)
		return pair_named(en, pn, e->type, &sv[0], &sv[1], err);
	return pair_named(pn, en, e->type, &sv[1], &sv[0], err);
}

/*
 * Both ends of a pair; without p an orphan, whose end 1 is dropped once
 * its queue is refilled. A datagram orphan is bound again (a stream one's
 * name is taken from a listener at it for an instant: pair_ends).
 */
static int make_pair(struct files_rctx *rc, const struct unix_saved *e, const struct unix_saved *p,
		     ckpt_err_t *err)
{
	int sv[2], ret = pair_ends(rc, e, p, sv, err);

	if (ret < 0)
		return ret;
	if (!p && e->type == SOCK_DGRAM)
		ret = sock_bind(rc, sv[0], e, err);
	if (ret == 0 && !p && e->type == SOCK_DGRAM && e->peer_name) {
		struct name_hold h;

		ret = name_take(sv[1], (struct sk_name){e, true}, &h, err);
		ret = name_drop(&h, ret, err);
	}
	if (ret < 0) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	ret = park(rc, e->id, 0, sv[0], err);
	if (ret < 0) {
		close(sv[1]);
		return ret;
	}
	if (p)
		return park(rc, p->id, 0, sv[1], err);
	return park(rc, e->id, ORPHAN_END, sv[1], err);
}

static int make_single(struct files_rctx *rc, const struct unix_saved *e,
		       const struct unix_saved *to, ckpt_err_t *err)
{
	int sk = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = sock_bind(rc, sk, e, err);
	if (ret == 0 && to)
		ret = sock_connect(sk, to, err);
	if (ret < 0) {
		close(sk);
		return ret;
	}
	return park(rc, e->id, 0, sk, err);
}

/*
 * A datagram socket connected to one outside the tree (--ext-unix-sk at
 * checkpoint): connected to that name again, as the tree sees it.
 */
static int make_ext(struct files_rctx *rc, const struct unix_saved *e, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l;
	int sk, ret = addr_key(e, "ext_peer", e->ext_peer, &a, &l, err);

	if (ret < 0)
		return ret;
	sk = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = sock_bind(rc, sk, e, err);
	if (ret == 0 && connect(sk, (struct sockaddr *)&a, l) < 0)
		ret = ckpt_error(err, errno, "connect to `%s%s` outside the tree (--ext-unix-sk)",
				 a.sun_path[0] ? "" : "@",
				 a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	if (ret < 0) {
		close(sk);
		return ret;
	}
	return park(rc, e->id, 0, sk, err);
}

/* depth: a chain of one-way connections longer than the list is a loop */
static int unix_make(struct files_rctx *rc, const struct unix_saved *e, int depth, ckpt_err_t *err)
{
	struct unix_saved p, l;
	int ret;

	if (files_shared_find(rc, "unix", e->id, 0))
		return 0;
	if (depth > 64)
		return doc_error(err, &e->it.at, "peers connected in a loop");
	if (e->state == TCP_LISTEN)
		return make_listener(rc, e, err);
	ret = unix_listener_find(rc->doc, e->id, &l, err);
	if (ret < 0)
		return ret;
	if (ret) /* a pending connection: made by its listener */
		return make_listener(rc, &l, err);
	ret = e->peer ? unix_get(rc->doc, e->peer, &p, err) : 0;
	if (ret < 0)
		return ret;
	if (ret && p.peer == e->id)
		return make_pair(rc, e, &p, err);
	if (!ret && e->ext_peer)
		return make_ext(rc, e, err);
	if (ret) { /* connected one way, to a bound datagram socket */
		ret = unix_make(rc, &p, depth + 1, err);
		return ret < 0 ? ret : make_single(rc, e, &p, err);
	}
	/*
	 * A peer gone (sock_diag gives a dead one as 0): refilled from a
	 * dropped end, so the data comes, then EOF. A bound datagram socket
	 * is "established" once another connected to it: it is refilled by
	 * its name instead.
	 */
	if (e->peer || (e->state == TCP_ESTABLISHED && (e->type != SOCK_DGRAM || !e->name)))
		return make_pair(rc, e, NULL, err);
	return make_single(rc, e, NULL, err);
}

/* A connected stream or seqpacket socket, not a pending connection: made now. */
static int unix_connection(struct files_rctx *rc, const struct unix_saved *e, ckpt_err_t *err)
{
	struct unix_saved l;
	int ret;

	if (e->type == SOCK_DGRAM || e->state != TCP_ESTABLISHED)
		return 0;
	ret = unix_listener_find(rc->doc, e->id, &l, err);
	return ret ? (ret < 0 ? ret : 0) : unix_make(rc, e, 0, err);
}

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
	struct name_hold h = {.dir.fd = -1, .old = -1};

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = name_take_addr(sk, a, l, &h, err);
	ret = name_drop(&h, ret, err);
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
 * peer had (all its datagrams came from there: unix.c).
 */
static int orphan_from(const struct unix_saved *e, const struct json *from, int wfd,
		       ckpt_err_t *err)
{
	struct name_hold h = {.dir.fd = -1, .old = -1};
	struct sockaddr_un a;
	const char *hex;
	socklen_t l;
	int ret;

	if (!json_len(from))
		return 0;
	ret = from_addr(e, from, 0, &a, &l, &hex, err);
	if (ret < 0 || !l)
		return ret;
	ret = name_take_addr(wfd, &a, l, &h, err);
	return name_drop(&h, ret, err);
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
	struct fd_shared *w = files_shared_find(rc, "unix", id, ORPHAN_END);
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
		ret = addr_of(e, &a, &al, err);
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
		ret = enter_dir(e, &old, err);
	if (ret == 0)
		ret = fill_msgs(rc, wfd, w && w == files_shared_find(rc, "unix", id, ORPHAN_END),
				buf, size, e, &a, al, inflight, ninflight, err);
	leave_dir(old);
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

/*
 * Every socket is made at the first unix fd; queues are filled later
 * (unix_fill_all, from unix_prepare_late) once the files that may be in
 * flight in them exist.
 */
static int unix_prepare(const struct fd_entry *o, struct files_rctx *rc, ckpt_err_t *err)
{
	struct fd_shared *sh;
	struct unix_saved e;
	uint64_t id;
	size_t n = 0;
	int ret = doc_u64(&o->at, o->obj, "id", UINT32_MAX, &id, err);

	if (ret == 0 && !rc->unix_made)
		ret = unix_count(rc->doc, &n, err);
	/* connections first: a listener of the tree may hold the name they take */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; !rc->unix_made && ret == 0 && i < n; i++) {
			ret = unix_nth(rc->doc, i, &e, err);
			if (ret == 0 && pass == 0)
				ret = unix_connection(rc, &e, err);
			else if (ret == 0)
				ret = unix_make(rc, &e, 0, err);
		}
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "unix socket");
	rc->unix_made = true;
	sh = files_shared_find(rc, "unix", id, 0);
	if (!sh)
		return doc_error(err, &o->at, "files.json has no unix socket %" PRIu64, id);
	if (fcntl(sh->fd, F_SETFL, o->flags & O_NONBLOCK) < 0)
		return ckpt_error(err, errno, "socket flags");
	return 0;
}

static int unix_restore(const struct fd_entry *o, const struct files_rctx *rc, int *fd,
			ckpt_err_t *err)
{
	struct fd_shared *sh;
	uint64_t id;
	int ret = doc_u64(&o->at, o->obj, "id", UINT32_MAX, &id, err);

	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "unix", id, 0);
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
	.describe = unix_describe,
	.own_sharing = true,
	.prepare_in_tree = true,
};
