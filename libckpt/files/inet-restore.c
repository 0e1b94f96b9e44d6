/*
 * libckpt/files/inet-restore.c - TCP and UDP sockets made again inside the
 * restored task (files.json "inet"); the task is already in the tree's
 * network namespace, with its links and addresses back. Queued TCP bytes
 * come from memfds that inet_prepare parked before the fork.
 *
 * An established connection is rebuilt in TCP_REPAIR mode, in the order
 * the kernel needs: sequence numbers (socket still closed), bind, connect
 * (no SYN in repair mode), TCP options and timestamp, the receive queue,
 * the part of the send queue the peer was sent, then the window
 * (TCP_REPAIR_WINDOW must come after the receive queue is refilled, else
 * EINVAL), then repair off, which sends a window probe; bytes never sent
 * go out last through an ordinary send().
 *
 * A socket several fds hold was made once before the fork (inet.c:
 * inet_prepare) and is only dup'ed here.
 *
 * A UDP socket gets back the datagrams that were queued on it once it is
 * bound and connected (inet-udp.c).
 */
#define LOG_PREFIX "inet: "
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "files/inet.h"
#include "files/inet-udp.h"
#include "util/log.h"
#include "util/util.h"

static const struct doc_field inet_fields[] = {
	DOC_INT(struct inet_saved, id, "id", 1, INT64_MAX),
	DOC_INT(struct inet_saved, family, "family", AF_INET, AF_INET6),
	DOC_INT(struct inet_saved, type, "type", SOCK_STREAM, SOCK_RAW),
	DOC_OPT_INT(struct inet_saved, state, "state", 0, TCP_CLOSING),
	DOC_OPT_INT(struct inet_saved, backlog, "backlog", 0, INT32_MAX),
	DOC_STR(struct inet_saved, addr, "addr", INET6_ADDRSTRLEN),
	DOC_INT(struct inet_saved, port, "port", 0, 65535),
	DOC_OPT_STR(struct inet_saved, peer_addr, "peer_addr", INET6_ADDRSTRLEN),
	DOC_OPT_INT(struct inet_saved, peer_port, "peer_port", 0, 65535),
	DOC_OPT_STR(struct inet_saved, rcv_image, "rcv_image", 255),
	DOC_OPT_STR(struct inet_saved, snd_image, "snd_image", 255),
	DOC_OPT_INT(struct inet_saved, rcv_len, "rcv_len", 0, INT32_MAX),
	DOC_OPT_INT(struct inet_saved, peek_off, "peek_off", -1, INT32_MAX),
	DOC_OPT_INT(struct inet_saved, shutdown, "shutdown", 0, 3),
	DOC_OPT_INT(struct inet_saved, proto, "proto", 0, 255),
	DOC_OPT_INT(struct inet_saved, send_cscov, "send_cscov", 0, 65535),
	DOC_OPT_INT(struct inet_saved, recv_cscov, "recv_cscov", 0, 65535),
	DOC_OPT_INT(struct inet_saved, hdrincl, "hdrincl", 0, 1),
	DOC_OPT_INT(struct inet_saved, icmp_filter, "icmp_filter", 0, UINT32_MAX),
	DOC_END,
};

/* What TCP_REPAIR needs of an established connection (inet.c: dump_repair). */
static const struct doc_field inet_tcp_fields[] = {
	DOC_INT(struct inet_saved, rcv_seq, "rcv_seq", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, snd_seq, "snd_seq", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, rcv_len, "rcv_len", 0, INT32_MAX),
	DOC_INT(struct inet_saved, snd_len, "snd_len", 0, INT32_MAX),
	DOC_INT(struct inet_saved, unsent, "unsent", 0, INT32_MAX),
	DOC_INT(struct inet_saved, mss, "mss", 0, 65535),
	DOC_INT(struct inet_saved, timestamp, "timestamp", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, tcpi_options, "tcpi_options", 0, 255),
	DOC_INT(struct inet_saved, snd_wscale, "snd_wscale", 0, 15),
	DOC_INT(struct inet_saved, rcv_wscale, "rcv_wscale", 0, 15),
	DOC_INT(struct inet_saved, snd_wl1, "snd_wl1", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, snd_wnd, "snd_wnd", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, max_window, "max_window", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, rcv_wnd, "rcv_wnd", 0, UINT32_MAX),
	DOC_INT(struct inet_saved, rcv_wup, "rcv_wup", 0, UINT32_MAX),
	DOC_END,
};

/* A TCP connection rebuilt in repair mode: established, or shut down past it. */
static bool established(const struct inet_saved *s)
{
	return s->type == SOCK_STREAM && inet_tcp_connected(s->state);
}

int inet_get(const struct json *doc, const struct fd_entry *e, struct inet_saved *s,
	     ckpt_err_t *err)
{
	uint64_t id;
	int ret = doc_u64(&e->at, e->obj, "id", INT64_MAX, &id, err);

	if (ret == 0)
		ret = files_need(doc, "inet", id, e, &s->it, err);
	if (ret < 0)
		return ret;
	memset(s, 0, offsetof(struct inet_saved, it));
	s->peek_off = -1;
	ret = doc_read(&s->it.at, s->it.obj, inet_fields, s, err);
	if (ret == 0 && s->family != AF_INET && s->family != AF_INET6)
		ret = doc_error(err, &s->it.at, "family %d is neither AF_INET nor AF_INET6",
				s->family);
	if (ret == 0 && s->type == SOCK_RAW && !s->proto)
		ret = doc_error(err, &s->it.at, "raw socket without a protocol");
	if (ret == 0 && s->proto && s->type != SOCK_RAW &&
	    (s->type != SOCK_DGRAM || !inet_dgram_proto(s->proto)))
		ret = doc_error(err, &s->it.at, "protocol %d is not a datagram protocol known here",
				s->proto);
	if (ret == 0 && established(s))
		ret = doc_read(&s->it.at, s->it.obj, inet_tcp_fields, s, err);
	if (ret == 0 && s->unsent > s->snd_len)
		ret = doc_error(err, &s->it.at, "more unsent bytes than queued");
	return ret;
}

bool inet_holds(const struct fd_entry *e, uint64_t id)
{
	uint64_t v;

	return e->ops == &fd_inet_ops && !e->dup && json_hex_value(json_get(e->obj, "id"), &v) &&
	       v == id;
}

static int get_addr(const struct inet_saved *e, bool peer, struct sockaddr_storage *ss,
		    socklen_t *len, ckpt_err_t *err)
{
	const char *s = peer ? e->peer_addr : e->addr;
	int port = peer ? e->peer_port : e->port, fam = e->family;

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return doc_error(err, &e->it.at, "no %s", peer ? "peer_addr" : "addr");
	if (fam == AF_INET6) {
		struct sockaddr_in6 *a = (void *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*len = sizeof(*a);
		if (inet_pton(AF_INET6, s, &a->sin6_addr) == 1)
			return 0;
	} else {
		struct sockaddr_in *a = (void *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*len = sizeof(*a);
		if (inet_pton(AF_INET, s, &a->sin_addr) == 1)
			return 0;
	}
	return doc_error(err, &e->it.at, "bad address `%s`", s);
}

/* A string option as saved (the device by name, in the tree's netns). */
static int set_str(int sk, int level, int opt, const struct json *opts, const struct doc_at *at,
		   const char *key, ckpt_err_t *err)
{
	char cur[INET_OPT_STR_MAX + 1] = "";
	socklen_t sl = sizeof(cur) - 1;
	const char *v;
	int ret = doc_opt_str(at, opts, key, INET_OPT_STR_MAX, &v, err);

	if (ret < 0 || !v)
		return ret;
	if (getsockopt(sk, level, opt, cur, &sl) == 0 && !strcmp(cur, v))
		return 0;
	if (setsockopt(sk, level, opt, v, strlen(v)) < 0)
		return ckpt_error(err, errno, "setsockopt %s `%s`", key, v);
	return 0;
}

/* A buffer size: forced (as root) past the sysctl limit the program may have been allowed. */
static int set_buf(int sk, int opt, int v)
{
	int force = opt == SO_SNDBUF ? SO_SNDBUFFORCE : SO_RCVBUFFORCE;

	if (setsockopt(sk, SOL_SOCKET, force, &v, sizeof(v)) == 0)
		return 0;
	return setsockopt(sk, SOL_SOCKET, opt, &v, sizeof(v));
}

/*
 * Options as saved, all before bind (v6only, freebind, reuse*, the device
 * matter to bind); again once bound (bound: not v6only, which binding to an
 * IPv6 address sets). Buffer sizes only where the program set them (locked,
 * SO_BUF_LOCK); bundles without buf_lock: where they differ.
 */
static int set_opts(int sk, const struct inet_saved *e, bool bound, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->it.at, "opts");
	const struct json *opts;
	int64_t v64, locks = -1;
	int ret = doc_opt_obj(&e->it.at, e->it.obj, "opts", &opts, err);

	if (ret < 0 || !opts)
		return ret;
	if (json_get(opts, "buf_lock")) {
		ret = doc_int(&at, opts, "buf_lock", 0, 3, &locks, err);
		if (ret < 0)
			return ret;
	}
	ret = set_str(sk, SOL_SOCKET, SO_BINDTODEVICE, opts, &at, "bindtodevice", err);
	if (ret == 0 && e->type == SOCK_STREAM)
		ret = set_str(sk, IPPROTO_TCP, TCP_CONGESTION, opts, &at, "congestion", err);
	if (ret < 0)
		return ret;
	for (const struct inet_opt *o = inet_int_opts; o->name; o++) {
		bool sgn = o->flags & INET_OPT_SIGNED;
		int v, cur;
		socklen_t sl = sizeof(cur);

		if (!json_get(opts, o->name) || (bound && (o->flags & INET_OPT_PREBIND)))
			continue;
		ret = doc_int(&at, opts, o->name, sgn ? INT32_MIN : 0, INT32_MAX, &v64, err);
		if (ret < 0)
			return ret;
		v = v64;
		if (getsockopt(sk, o->level, o->opt, &cur, &sl) == 0 && cur == v)
			continue;
		if (o->flags & INET_OPT_BUF) {
			/* SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK */
			int bit = o->opt == SO_SNDBUF ? 1 : 2;

			if (locks >= 0 && !(locks & bit))
				continue;
			/* the kernel doubles what it is given */
			if (set_buf(sk, o->opt, v / 2) < 0)
				return ckpt_error(err, errno, "setsockopt %s", o->name);
			continue;
		}
		if (setsockopt(sk, o->level, o->opt, &v, sizeof(v)) < 0)
			return ckpt_error(err, errno, "setsockopt %s", o->name);
	}
	if (json_get(opts, "linger")) {
		struct linger l = {1, 0};

		ret = doc_int(&at, opts, "linger", 0, INT32_MAX, &v64, err);
		if (ret < 0)
			return ret;
		l.l_linger = v64;
		if (setsockopt(sk, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
			return ckpt_error(err, errno, "SO_LINGER");
	}
	return sock_filter_restore(sk, &at, opts, err);
}

static int sockopt(int sk, int opt, int v, const char *what, ckpt_err_t *err)
{
	if (setsockopt(sk, IPPROTO_TCP, opt, &v, sizeof(v)) < 0)
		return ckpt_error(err, errno, "%s", what);
	return 0;
}

/* Send len bytes of the parked queue q (0 receive, 1 send) from offset off. */
static int fill_queue(int sk, const struct files_rctx *rc, uint64_t id, int q, size_t off,
		      size_t len, int flags, ckpt_err_t *err)
{
	struct fd_shared *sh = files_shared_find(rc, "inet", id, q);
	cleanup_free char *buf = NULL;
	size_t done = 0;

	if (!len)
		return 0;
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "queue %d of socket %lu was not prepared", q,
				      (unsigned long)id);
	buf = xzalloc(len);
	if (pread(sh->fd, buf, len, off) != (ssize_t)len)
		return ckpt_error(err, errno ?: EIO, "read queued bytes");
	while (done < len) {
		ssize_t n = send(sk, buf + done, len - done, flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ckpt_error(err, n < 0 ? errno : EIO, "refill %s queue",
					  q ? "send" : "receive");
		done += n;
	}
	return 0;
}

static int set_tcp_options(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	int o = e->tcpi_options, n = 0;
	struct tcp_repair_opt opts[4];

	opts[n++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, e->mss};
	if (o & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){TCPOPT_WINDOW,
						    e->snd_wscale | (e->rcv_wscale << 16)};
	if (o & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
	if (o & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0])) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_OPTIONS");
	if ((o & TCPI_OPT_TIMESTAMPS) &&
	    sockopt(sk, TCP_TIMESTAMP, e->timestamp, "TCP_TIMESTAMP", err) < 0)
		return -err->code;
	return 0;
}

/*
 * The send buffer while the queues go back in. The kernel checks sk_sndbuf
 * only when data is queued: a new socket's default (or even the size saved,
 * with the queue packed into other skbs) may be smaller than what the saved
 * queue charges, and with the network locked nothing drains it, so the
 * refill would block (repair mode) or fail with EAGAIN (the unsent bytes).
 * Opened without limit for the refill, then put back as it was, locks too,
 * so an autotuned buffer stays autotuned. The queue is bounded by what was
 * saved, not by this.
 */
struct sndbuf_state {
	int size, locks;
};

static int sndbuf_set(int sk, int size, ckpt_err_t *err)
{
	int v = size / 2; /* the kernel doubles what it is given */

	if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0 &&
	    setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) < 0)
		return ckpt_error(err, errno, "SO_SNDBUF %d", size);
	return 0;
}

static int sndbuf_open(int sk, struct sndbuf_state *s, ckpt_err_t *err)
{
	socklen_t sl = sizeof(s->size), ll = sizeof(s->locks);

	if (getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &s->size, &sl) < 0 ||
	    getsockopt(sk, SOL_SOCKET, SO_BUF_LOCK, &s->locks, &ll) < 0)
		return ckpt_error(err, errno, "read the send buffer's size");
	return sndbuf_set(sk, INT_MAX, err);
}

static int sndbuf_close(int sk, const struct sndbuf_state *s, ckpt_err_t *err)
{
	if (sndbuf_set(sk, s->size, err) < 0)
		return -err->code;
	if (setsockopt(sk, SOL_SOCKET, SO_BUF_LOCK, &s->locks, sizeof(s->locks)) < 0)
		return ckpt_error(err, errno, "SO_BUF_LOCK");
	return 0;
}

static int fill_queues(int sk, const struct inet_saved *e, const struct files_rctx *rc,
		       ckpt_err_t *err)
{
	uint64_t id = e->id;
	size_t rlen = e->rcv_len, slen = e->snd_len, unsent = e->unsent;
	struct tcp_repair_window w = {
		.snd_wl1 = e->snd_wl1,
		.snd_wnd = e->snd_wnd,
		.max_window = e->max_window,
		.rcv_wnd = e->rcv_wnd,
		.rcv_wup = e->rcv_wup,
	};

	/* saved where the peer's FIN counted, past what the bytes alone reach */
	if ((int32_t)(w.rcv_wup - e->rcv_seq) > 0)
		w.rcv_wup = e->rcv_seq;
	if (sockopt(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    fill_queue(sk, rc, id, 0, 0, rlen, 0, err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    fill_queue(sk, rc, id, 1, 0, slen - unsent, 0, err) < 0)
		return -err->code;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_WINDOW");
	if (e->state == TCP_ESTABLISHED) {
		if (sockopt(sk, TCP_REPAIR, TCP_REPAIR_OFF, "leave TCP_REPAIR", err) < 0)
			return -err->code;
		return fill_queue(sk, rc, id, 1, slen - unsent, unsent, MSG_DONTWAIT, err);
	}
	/* past established: bytes never sent go before our FIN (inet-tcp.c) */
	if (unsent && (sockopt(sk, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "leave TCP_REPAIR", err) < 0 ||
		       fill_queue(sk, rc, id, 1, slen - unsent, unsent, MSG_DONTWAIT, err) < 0 ||
		       sockopt(sk, TCP_REPAIR, TCP_REPAIR_ON, "TCP_REPAIR", err) < 0))
		return -err->code;
	if (inet_tcp_fins(sk, e, err) < 0)
		return -err->code;
	return sockopt(sk, TCP_REPAIR, TCP_REPAIR_OFF, "leave TCP_REPAIR", err);
}

static int restore_queues(int sk, const struct inet_saved *e, const struct files_rctx *rc,
			  ckpt_err_t *err)
{
	struct sndbuf_state sb;
	ckpt_err_t ignored = {0};
	int ret;

	if (sndbuf_open(sk, &sb, err) < 0)
		return -err->code;
	ret = fill_queues(sk, e, rc, err);
	if (ret < 0) {
		(void)sndbuf_close(sk, &sb, &ignored);
		return ret;
	}
	return sndbuf_close(sk, &sb, err);
}

/* Repair mode, sequence numbers, bind and connect (no SYN): established, empty. */
static int repair_connect(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint32_t rseq = e->rcv_seq - e->rcv_len;
	uint32_t sseq = e->snd_seq - e->snd_len;

	if (sockopt(sk, TCP_REPAIR, 1, "TCP_REPAIR", err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    sockopt(sk, TCP_QUEUE_SEQ, rseq, "TCP_QUEUE_SEQ", err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    sockopt(sk, TCP_QUEUE_SEQ, sseq, "TCP_QUEUE_SEQ", err) < 0)
		return -err->code;
	if (get_addr(e, false, &ss, &len, err) < 0)
		return -err->code;
	if (bind(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "bind %s:%d", e->addr, e->port);
	/*
	 * connect caches the route to the peer in the socket: one taken before
	 * the local route of a new namespace's IPv6 address is in would send
	 * every segment to that address (a peer on loopback) away, for good
	 */
	if (e->family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr) &&
	    !inet_wait_local_route6(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		return ckpt_error_msg(err, ENETUNREACH, "no local route to %s", e->addr);
	if (get_addr(e, true, &ss, &len, err) < 0)
		return -err->code;
	if (connect(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "connect (repair) to %s", e->peer_addr);
	return 0;
}

static int restore_established(int sk, const struct inet_saved *e, const struct files_rctx *rc,
			       ckpt_err_t *err)
{
	if (repair_connect(sk, e, err) < 0)
		return -err->code;
	/* --tcp-close: reset at once, the way the peer would reset it (inet-tcp.c) */
	if (rc->tcp_close &&
	    (inet_tcp_reset(sk, e, err) < 0 ||
	     sockopt(sk, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, "leave TCP_REPAIR", err) < 0))
		return -err->code;
	if (!rc->tcp_close &&
	    (set_tcp_options(sk, e, err) < 0 || restore_queues(sk, e, rc, err) < 0))
		return -err->code;
	/* repair mode forced address reuse; off again, the saved options win */
	return set_opts(sk, e, true, err);
}

/* Not connected yet: bind where it was bound, listen or connect (UDP). */
static int restore_plain(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (get_addr(e, false, &ss, &len, err) < 0)
		return -err->code;
	if (e->port && bind(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "bind %s:%d", e->addr, e->port);
	if (e->type == SOCK_STREAM && e->state == TCP_LISTEN && listen(sk, e->backlog) < 0)
		return ckpt_error(err, errno, "listen");
	if (e->type == SOCK_STREAM || !e->peer_addr)
		return 0;
	if (get_addr(e, true, &ss, &len, err) < 0)
		return -err->code;
	if (connect(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "connect to %s", e->peer_addr);
	return 0;
}

/* A datagram socket shut down; unconnected, the kernel sets it and says ENOTCONN. */
static int shutdown_restore(int sk, int how, ckpt_err_t *err)
{
	int h = how == 3 ? SHUT_RDWR : how == 1 ? SHUT_RD : SHUT_WR;

	if (shutdown(sk, h) < 0 && errno != ENOTCONN)
		return ckpt_error(err, errno, "shutdown");
	return 0;
}

int inet_restore(const struct fd_entry *o, const struct files_rctx *rc, int *fd, ckpt_err_t *err)
{
	cleanup_close int sk = -1;
	struct fd_shared *sh;
	struct inet_saved e;
	int ret = inet_get(rc->doc, o, &e, err);

	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "inet", e.id, INET_SHARED);
	if (sh) {
		*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 0);
		if (*fd < 0)
			return ckpt_error(err, errno, "dup shared inet socket %lu",
					  (unsigned long)e.id);
		return 0;
	}
	sk = socket(e.family, e.type | SOCK_CLOEXEC, e.proto);
	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = set_opts(sk, &e, false, err);
	if (ret == 0)
		ret = e.type == SOCK_RAW ? inet_raw_restore(sk, &e, err)
					 : inet_dgram_restore(sk, &e, err);
	if (ret == 0 && established(&e))
		ret = restore_established(sk, &e, rc, err);
	else if (ret == 0)
		ret = restore_plain(sk, &e, err);
	if (ret == 0 && e.type == SOCK_DGRAM && !e.proto)
		ret = udp_restore_queue(sk, &e, rc, err);
	if (ret == 0 && e.shutdown)
		ret = shutdown_restore(sk, e.shutdown, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "inet socket %lu", (unsigned long)e.id);
	*fd = steal_fd(&sk);
	return 0;
}

/* An inet socket: tcp or udp, and for udp the datagrams queued. */
int inet_describe(const struct fd_entry *o, const struct json *files, bool lines, FILE *out,
		  ckpt_err_t *err)
{
	const struct json *dgrams;
	struct inet_saved e;
	size_t n;
	int ret = lines ? 0 : inet_get(files, o, &e, err);

	if (ret == 0 && !lines)
		ret = doc_opt_arr(&e.it.at, e.it.obj, "dgrams", FILES_LIST_MAX, &dgrams, &n, err);
	if (ret < 0 || lines)
		return ret;
	fprintf(out, " socket %" PRIu64 " %s", e.id,
		e.type == SOCK_STREAM ? "tcp"
		: e.type == SOCK_RAW  ? "raw"
				      : inet_dgram_name(e.proto));
	if (n)
		fprintf(out, " %zu datagrams queued", n);
	return 0;
}
