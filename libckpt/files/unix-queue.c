/*
 * libckpt/files/unix-queue.c - the receive queue of a unix socket at
 * checkpoint (unix_dump_queue): copied without consuming it, MSG_PEEK with
 * SO_PEEK_OFF walking the queue on a pidfd_getfd copy (the socket's own
 * peek offset put back), datagram boundaries kept ("msgs"), each
 * datagram's sender name ("from") and, with SO_PASSCRED, its credentials;
 * the fds in flight a peek installs handed to unix-inflight.c. Refused:
 * credentials in a tree with its own pid or user namespace, a stream or
 * seqpacket queue read with SO_PASSCRED or SO_PASSPIDFD.
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
