/*
 * libckpt/files/unix-restore.c - unix sockets at restore, all made before
 * the tree's first fork and parked ("unix", inode), so every task inherits
 * the socket it had. They are made in the tree's namespaces
 * (files_prepare_paths): by the root once it built them when the tree has
 * its own mount or network namespace (a path is bound in the tree's
 * filesystem, an abstract name in its network namespace, and clients
 * connect by those names there), else by ckpt-oci. A socket connected to
 * one outside the tree was refused at checkpoint (unix-check.c), but for a
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
 *                   bound and unlinked again (unix-names.c)
 *
 * Names (bound, connected to, taken for an instant) are unix-names.c's;
 * the receive queues are refilled once the files in flight exist
 * (unix_fill_all in unix-fill.c, from unix-inflight.c).
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
	ret = unix_bind(rc, sk, e, err);
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
		ret = unix_connect(csk, e, err);
		if (ret == 0)
			ret = park(rc, cid, 0, csk, err);
		else
			close(csk);
	}
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
static int pair_named(struct unix_name s, struct unix_name c, int type, int *sfd, int *cfd,
		      ckpt_err_t *err)
{
	cleanup_close int l = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	int csk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0), ssk = -1, ret = 0;
	struct unix_name_hold h;

	if (l < 0 || csk < 0) {
		ret = ckpt_error(err, errno, "socket");
		goto out;
	}
	if (unix_has_name(c)) {
		ret = unix_name_take(csk, c, &h, err);
		ret = unix_name_drop(&h, ret, err);
		if (ret < 0)
			goto out;
	}
	ret = unix_name_take(l, s, &h, err);
	if (ret == 0 && listen(l, 1) < 0)
		ret = ckpt_error(err, errno, "listen");
	if (ret == 0 && connect(csk, (struct sockaddr *)&h.a, h.l) < 0)
		ret = ckpt_error(err, errno, "connect");
	if (ret == 0) {
		ssk = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (ssk < 0)
			ret = ckpt_error(err, errno, "accept");
	}
	ret = unix_name_drop(&h, ret, err);
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
	struct unix_name en = {e, false}, pn = {p ?: e, !p};
	bool ehas = unix_has_name(en), phas = unix_has_name(pn);
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
		ret = unix_bind(rc, sv[0], e, err);
	if (ret == 0 && !p && e->type == SOCK_DGRAM && e->peer_name) {
		struct unix_name_hold h;

		ret = unix_name_take(sv[1], (struct unix_name){e, true}, &h, err);
		ret = unix_name_drop(&h, ret, err);
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
	return park(rc, e->id, UNIX_ORPHAN_END, sv[1], err);
}

static int make_single(struct files_rctx *rc, const struct unix_saved *e,
		       const struct unix_saved *to, ckpt_err_t *err)
{
	int sk = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0), ret;

	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = unix_bind(rc, sk, e, err);
	if (ret == 0 && to)
		ret = unix_connect(sk, to, err);
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
	int sk, ret = unix_addr_key(e, "ext_peer", e->ext_peer, &a, &l, err);

	if (ret < 0)
		return ret;
	sk = socket(AF_UNIX, e->type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = unix_bind(rc, sk, e, err);
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
