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
 * A UDP socket gets back the datagrams that were queued on it once it is
 * bound and connected (inet-udp.c).
 */
#define LOG_PREFIX "inet: "
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "files/files.h"
#include "files/inet.h"
#include "files/inet-udp.h"
#include "util/log.h"
#include "util/util.h"

static int get_addr(const struct json *e, const char *ak, const char *pk, int fam,
		    struct sockaddr_storage *ss, socklen_t *len, ckpt_err_t *err)
{
	const char *s = json_as_str(json_get(e, ak));
	int port = json_as_int(json_get(e, pk));

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return ckpt_error_msg(err, EPROTO, "no %s", ak);
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
	return ckpt_error_msg(err, EPROTO, "bad address `%s`", s);
}

/* Options as saved; buffer sizes only when they differ (setting them locks them). */
static int set_opts(int sk, const struct json *opts, ckpt_err_t *err)
{
	struct json *j;

	for (const struct inet_opt *o = inet_int_opts; o->name; o++) {
		int v, cur;
		socklen_t sl = sizeof(cur);

		if (!(j = json_get(opts, o->name)))
			continue;
		v = json_as_int(j);
		if (getsockopt(sk, o->level, o->opt, &cur, &sl) == 0 && cur == v)
			continue;
		if (o->opt == SO_SNDBUF || o->opt == SO_RCVBUF)
			v /= 2; /* the kernel doubles what it is given */
		if (setsockopt(sk, o->level, o->opt, &v, sizeof(v)) < 0)
			return ckpt_error(err, errno, "setsockopt %s", o->name);
	}
	if ((j = json_get(opts, "linger"))) {
		struct linger l = {1, json_as_int(j)};

		if (setsockopt(sk, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0)
			return ckpt_error(err, errno, "SO_LINGER");
	}
	return 0;
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

static int set_tcp_options(int sk, const struct json *e, ckpt_err_t *err)
{
	int o = json_as_int(json_get(e, "tcpi_options")), n = 0;
	struct tcp_repair_opt opts[4];

	opts[n++] = (struct tcp_repair_opt){TCPOPT_MAXSEG, json_as_int(json_get(e, "mss"))};
	if (o & TCPI_OPT_WSCALE)
		opts[n++] = (struct tcp_repair_opt){
			TCPOPT_WINDOW, json_as_int(json_get(e, "snd_wscale")) |
					       (json_as_int(json_get(e, "rcv_wscale")) << 16)};
	if (o & TCPI_OPT_SACK)
		opts[n++] = (struct tcp_repair_opt){TCPOPT_SACK_PERMITTED, 0};
	if (o & TCPI_OPT_TIMESTAMPS)
		opts[n++] = (struct tcp_repair_opt){TCPOPT_TIMESTAMP, 0};
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0])) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_OPTIONS");
	if ((o & TCPI_OPT_TIMESTAMPS) &&
	    sockopt(sk, TCP_TIMESTAMP, json_as_int(json_get(e, "timestamp")), "TCP_TIMESTAMP",
		    err) < 0)
		return -err->code;
	return 0;
}

static int restore_queues(int sk, const struct json *e, const struct files_rctx *rc,
			  ckpt_err_t *err)
{
	uint64_t id = json_as_int(json_get(e, "id"));
	size_t rlen = json_as_int(json_get(e, "rcv_len")), slen = json_as_int(json_get(e, "snd_len"));
	size_t unsent = json_as_int(json_get(e, "unsent"));
	struct tcp_repair_window w = {
		.snd_wl1 = json_as_int(json_get(e, "snd_wl1")),
		.snd_wnd = json_as_int(json_get(e, "snd_wnd")),
		.max_window = json_as_int(json_get(e, "max_window")),
		.rcv_wnd = json_as_int(json_get(e, "rcv_wnd")),
		.rcv_wup = json_as_int(json_get(e, "rcv_wup")),
	};

	if (unsent > slen)
		return ckpt_error_msg(err, EPROTO, "more unsent bytes than queued");
	if (sockopt(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    fill_queue(sk, rc, id, 0, 0, rlen, 0, err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    fill_queue(sk, rc, id, 1, 0, slen - unsent, 0, err) < 0)
		return -err->code;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_WINDOW");
	if (sockopt(sk, TCP_REPAIR, 0, "leave TCP_REPAIR", err) < 0)
		return -err->code;
	return fill_queue(sk, rc, id, 1, slen - unsent, unsent, MSG_DONTWAIT, err);
}

static int restore_established(int sk, const struct json *e, const struct files_rctx *rc,
			       ckpt_err_t *err)
{
	int fam = json_as_int(json_get(e, "family"));
	struct sockaddr_storage ss;
	socklen_t len;
	uint32_t rseq = json_as_int(json_get(e, "rcv_seq")) - json_as_int(json_get(e, "rcv_len"));
	uint32_t sseq = json_as_int(json_get(e, "snd_seq")) - json_as_int(json_get(e, "snd_len"));

	if (sockopt(sk, TCP_REPAIR, 1, "TCP_REPAIR", err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    sockopt(sk, TCP_QUEUE_SEQ, rseq, "TCP_QUEUE_SEQ", err) < 0 ||
	    sockopt(sk, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, "TCP_REPAIR_QUEUE", err) < 0 ||
	    sockopt(sk, TCP_QUEUE_SEQ, sseq, "TCP_QUEUE_SEQ", err) < 0)
		return -err->code;
	if (get_addr(e, "addr", "port", fam, &ss, &len, err) < 0)
		return -err->code;
	if (bind(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "bind %s:%lld", json_as_str(json_get(e, "addr")),
				  (long long)json_as_int(json_get(e, "port")));
	if (get_addr(e, "peer_addr", "peer_port", fam, &ss, &len, err) < 0)
		return -err->code;
	if (connect(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "connect (repair) to %s",
				  json_as_str(json_get(e, "peer_addr")));
	if (set_tcp_options(sk, e, err) < 0 || restore_queues(sk, e, rc, err) < 0)
		return -err->code;
	/* repair mode forced address reuse; off again, the saved options win */
	return set_opts(sk, json_get(e, "opts"), err);
}

/* Not connected yet: bind where it was bound, listen or connect (UDP). */
static int restore_plain(int sk, const struct json *e, ckpt_err_t *err)
{
	int fam = json_as_int(json_get(e, "family")), type = json_as_int(json_get(e, "type"));
	struct sockaddr_storage ss;
	socklen_t len;

	if (get_addr(e, "addr", "port", fam, &ss, &len, err) < 0)
		return -err->code;
	if (json_as_int(json_get(e, "port")) && bind(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "bind %s:%lld", json_as_str(json_get(e, "addr")),
				  (long long)json_as_int(json_get(e, "port")));
	if (type == SOCK_STREAM && json_as_int(json_get(e, "state")) == TCP_LISTEN &&
	    listen(sk, json_as_int(json_get(e, "backlog"))) < 0)
		return ckpt_error(err, errno, "listen");
	if (type != SOCK_DGRAM || !json_get(e, "peer_addr"))
		return 0;
	if (get_addr(e, "peer_addr", "peer_port", fam, &ss, &len, err) < 0)
		return -err->code;
	if (connect(sk, (struct sockaddr *)&ss, len) < 0)
		return ckpt_error(err, errno, "connect to %s", json_as_str(json_get(e, "peer_addr")));
	return 0;
}

int inet_restore(const struct json *obj, const struct files_rctx *rc, int *fd, ckpt_err_t *err)
{
	uint64_t id = json_as_int(json_get(obj, "id"));
	const struct json *e = files_list_find(json_get(rc->doc, "inet"), id);
	cleanup_close int sk = -1;
	int type, ret;

	if (!e)
		return ckpt_error_msg(err, EPROTO, "files.json: no inet socket %lu",
				      (unsigned long)id);
	type = json_as_int(json_get(e, "type"));
	sk = socket(json_as_int(json_get(e, "family")), type | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return ckpt_error(err, errno, "socket");
	ret = set_opts(sk, json_get(e, "opts"), err);
	if (ret == 0 && type == SOCK_STREAM &&
	    json_as_int(json_get(e, "state")) == TCP_ESTABLISHED)
		ret = restore_established(sk, e, rc, err);
	else if (ret == 0)
		ret = restore_plain(sk, e, err);
	if (ret == 0 && type == SOCK_DGRAM)
		ret = udp_restore_queue(sk, e, rc, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "inet socket %lu", (unsigned long)id);
	*fd = steal_fd(&sk);
	return 0;
}
