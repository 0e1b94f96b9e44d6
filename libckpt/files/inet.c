/*
 * libckpt/files/inet.c - TCP and UDP sockets over IPv4 and IPv6
 * (files.json "inet", inet-ID-rcv.img and inet-ID-snd.img).
 *
 * Dump works on a pidfd_getfd copy of the socket while the tree is
 * stopped: addresses, options, and for an established TCP connection
 * (only with --tcp-established) its repair state: sequence numbers, both
 * queues peeked in TCP_REPAIR mode, window, MSS, window scaling, SACK and
 * timestamps. The copy of every repaired socket is held until the dump
 * ends (inet_dump_release): if the tree was killed the copy is the last
 * reference, and closing it in repair mode sends nothing to the peer (no
 * FIN, no RST); if the tree runs on, repair mode is simply left.
 *
 * Restore (inet-restore.c) runs inside the restored task, which is in the
 * tree's new network namespace by then.
 *
 * A socket held by several fds, in one task or several (fork, dup,
 * SCM_RIGHTS: a pre-fork server's listener), is saved once, every fd
 * naming it by id; a socket is one open file description, so the id is
 * the description. At restore it is made once, by the tree's root in the
 * tree's network namespace before its first fork (files_prepare_paths),
 * parked, and every holder dups it: one description again.
 *
 * ICMP echo and UDP-Lite sockets (sock-dgram.c) and raw sockets
 * (sock-raw.c) are restored without queued data.
 *
 * A connection shut down one way or both (FIN_WAIT1 to LAST_ACK) is saved
 * as an established one plus its state (inet-tcp.c).
 *
 * Not supported (the checkpoint fails, naming the fd): other protocols,
 * such sockets with data queued, a listener with connections not yet
 * accepted (left out with --skip-in-flight, the number logged), a
 * connection still being opened (SYN_SENT, SYN_RECV), and connections
 * without --tcp-established. Datagrams queued on
 * a UDP socket are saved with their addresses and sent again at restore
 * (inet-udp.c). A datagram socket shut down one way or both is shut down
 * again.
 */
#define LOG_PREFIX "inet: "
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "files/files.h"
#include "files/inet.h"
#include "files/inet-udp.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/util.h"

#define INET_QUEUE_MAX (64u << 20)

static bool inet_match(const struct fd_info *fi)
{
	return fi->sk_family == AF_INET || fi->sk_family == AF_INET6;
}

static int unsupported(const struct fd_info *fi, ckpt_err_t *err, const char *why)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (inet socket) in pid %d: %s", fi->fd,
			      fi->pid, why);
}

/* "addr" and "port" keys of o from a sockaddr_in or sockaddr_in6. */
static void put_addr(struct json *o, const char *ak, const char *pk,
		     const struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN] = "";
	int port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
		port = ntohs(a->sin_port);
	}
	json_set(o, ak, json_str(buf));
	json_set(o, pk, json_int(port));
}

static bool opt_applies(const struct inet_opt *o, int fam, int proto, bool connected)
{
	if ((o->fam && o->fam != fam) || (o->proto && o->proto != proto))
		return false;
	if ((o->flags & INET_OPT_DGRAM) && proto == IPPROTO_TCP)
		return false;
	return !(connected && (o->flags & INET_OPT_UNCONNECTED));
}

/* A string option (device, congestion control) when set; "" otherwise. */
static void dump_str(int sk, int level, int opt, struct json *opts, const char *key)
{
	char buf[INET_OPT_STR_MAX + 1] = "";
	socklen_t sl = sizeof(buf) - 1;

	if (getsockopt(sk, level, opt, buf, &sl) == 0 && sl > 0 && buf[0]) {
		buf[sl < sizeof(buf) ? sl : sizeof(buf) - 1] = '\0';
		json_set(opts, key, json_str(buf));
	}
}

/* The options restore puts back (inet.h: inet_int_opts), the device, the filter. */
static int dump_opts(int sk, int fam, struct json *e, const struct fd_info *fi, ckpt_err_t *err)
{
	struct json *opts = json_set(e, "opts", json_obj());
	int proto = files_sock_int(sk, SOL_SOCKET, SO_PROTOCOL), outq = 0;
	struct sockaddr_storage ss;
	socklen_t ssl = sizeof(ss);
	bool connected = getpeername(sk, (struct sockaddr *)&ss, &ssl) == 0;
	struct linger l = {0};
	socklen_t sl = sizeof(l);

	for (const struct inet_opt *o = inet_int_opts; o->name; o++) {
		int v = 0;
		socklen_t vl = sizeof(v);

		if (!opt_applies(o, fam, proto, connected) ||
		    getsockopt(sk, o->level, o->opt, &v, &vl) < 0)
			continue;
		if (v < 0 && !(o->flags & INET_OPT_SIGNED))
			continue;
		json_set(opts, o->name, json_int(v));
	}
	if (getsockopt(sk, SOL_SOCKET, SO_LINGER, &l, &sl) == 0 && l.l_onoff)
		json_set(opts, "linger", json_int(l.l_linger));
	dump_str(sk, SOL_SOCKET, SO_BINDTODEVICE, opts, "bindtodevice");
	if (proto == IPPROTO_TCP)
		dump_str(sk, IPPROTO_TCP, TCP_CONGESTION, opts, "congestion");
	if (proto == IPPROTO_UDP && files_sock_int(sk, IPPROTO_UDP, UDP_CORK) > 0 &&
	    ioctl(sk, SIOCOUTQ, &outq) == 0 && outq > 0)
		return unsupported(fi, err, "UDP_CORK with data pending");
	return sock_filter_dump(sk, opts, fi, "inet", err);
}

static int peek_queue(int sk, int queue, size_t len, char **out, ckpt_err_t *err)
{
	char *buf;
	ssize_t n;

	*out = NULL;
	if (!len)
		return 0;
	if (len > INET_QUEUE_MAX)
		return ckpt_error_msg(err, EFBIG, "more than %u bytes queued", INET_QUEUE_MAX);
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_QUEUE");
	buf = xzalloc(len);
	n = recv(sk, buf, len, MSG_PEEK | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		free(buf);
		return ckpt_error_msg(err, EIO, "peek %s queue: %zd of %zu bytes",
				      queue == TCP_RECV_QUEUE ? "receive" : "send", n, len);
	}
	*out = buf;
	return 0;
}

static int seq_of(int sk, int queue, uint32_t *seq, ckpt_err_t *err)
{
	socklen_t sl = sizeof(*seq);

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0 ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &sl) < 0)
		return ckpt_error(err, errno, "TCP_QUEUE_SEQ");
	return 0;
}

/*
 * One queue: its sequence number, length and bytes (an image). fin: the
 * queue's sequence counts a FIN (inet-tcp.c), which is no byte: taken off
 * the sequence, and off the length of the send queue (SIOCINQ leaves the
 * peer's out already).
 */
static int dump_queue(int sk, int queue, bool fin, uint64_t id, struct json *e,
		      struct files_dctx *dc, ckpt_err_t *err)
{
	const char *tag = queue == TCP_RECV_QUEUE ? "rcv" : "snd";
	cleanup_free char *buf = NULL, *name = NULL, *key = NULL;
	uint32_t seq;
	int len = 0, ret;

	if (ioctl(sk, queue == TCP_RECV_QUEUE ? SIOCINQ : SIOCOUTQ, &len) < 0)
		return ckpt_error(err, errno, "queue length");
	ret = seq_of(sk, queue, &seq, err);
	if (fin) {
		seq--;
		if (queue == TCP_SEND_QUEUE && len > 0)
			len--;
	}
	if (ret == 0)
		ret = peek_queue(sk, queue, len, &buf, err);
	if (ret < 0)
		return ret;
	key = xasprintf("%s_seq", tag);
	json_set(e, key, json_int(seq));
	free(key);
	key = xasprintf("%s_len", tag);
	json_set(e, key, json_int(len));
	if (!len)
		return 0;
	name = xasprintf("inet-%lu-%s.img", (unsigned long)id, tag);
	free(key);
	key = xasprintf("%s_image", tag);
	json_set(e, key, json_str(name));
	return files_put_image(dc->bundle, name, buf, len, err);
}

/* Everything TCP_REPAIR needs; sk is already in repair mode, in TCP state. */
static int dump_repair(int sk, int state, uint64_t id, struct json *e, struct files_dctx *dc,
		       ckpt_err_t *err)
{
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int unsent = 0, ret;

	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0)
		return ckpt_error(err, errno, "TCP_INFO");
	sl = sizeof(w);
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &sl) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_WINDOW");
	if (ioctl(sk, SIOCOUTQNSD, &unsent) < 0)
		return ckpt_error(err, errno, "SIOCOUTQNSD");
	ret = dump_queue(sk, TCP_RECV_QUEUE, inet_tcp_fin_rcvd(state), id, e, dc, err);
	if (ret == 0)
		ret = dump_queue(sk, TCP_SEND_QUEUE, inet_tcp_fin_sent(state), id, e, dc, err);
	if (ret < 0)
		return ret;
	/* our FIN not sent yet is counted as unsent */
	if (inet_tcp_fin_sent(state) && unsent > 0)
		unsent--;
	json_set(e, "unsent", json_int(unsent));
	json_set(e, "mss", json_int(files_sock_int(sk, IPPROTO_TCP, TCP_MAXSEG)));
	json_set(e, "timestamp",
		 json_int((uint32_t)files_sock_int(sk, IPPROTO_TCP, TCP_TIMESTAMP)));
	json_set(e, "tcpi_options", json_int(ti.tcpi_options));
	json_set(e, "snd_wscale", json_int(ti.tcpi_snd_wscale));
	json_set(e, "rcv_wscale", json_int(ti.tcpi_rcv_wscale));
	json_set(e, "snd_wl1", json_int(w.snd_wl1));
	json_set(e, "snd_wnd", json_int(w.snd_wnd));
	json_set(e, "max_window", json_int(w.max_window));
	json_set(e, "rcv_wnd", json_int(w.rcv_wnd));
	json_set(e, "rcv_wup", json_int(w.rcv_wup));
	return 0;
}

/* Keep the copy of a repaired socket until the dump ends (see the top). */
static void hold(struct files_dctx *dc, int *sk)
{
	dc->inet_held = xrealloc(dc->inet_held, (dc->ninet_held + 1) * sizeof(int));
	dc->inet_held[dc->ninet_held++] = *sk;
	*sk = -1;
}

static int dump_tcp(int *sk, const struct fd_info *fi, struct json *e, struct files_dctx *dc,
		    ckpt_err_t *err)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);
	int on = 1, off = 0, ret;

	if (getsockopt(*sk, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0)
		return ckpt_error(err, errno, "TCP_INFO");
	json_set(e, "state", json_int(ti.tcpi_state));
	switch (ti.tcpi_state) {
	case TCP_CLOSE:
		return 0;
	case TCP_LISTEN:
		/* for a listener, tcpi_unacked is the accept queue, tcpi_sacked the backlog */
		if (ti.tcpi_unacked && !dc->skip_in_flight)
			return unsupported(fi, err,
					   "listener with connections not yet accepted "
					   "(use --skip-in-flight to leave them out)");
		/* restored without them: their clients see a reset (or nothing, if they left) */
		if (ti.tcpi_unacked)
			pr_warn("listener fd %d of %d: connections not yet accepted left out: "
				"%u (--skip-in-flight)",
				fi->fd, fi->pid, ti.tcpi_unacked);
		json_set(e, "backlog", json_int(ti.tcpi_sacked));
		return 0;
	default:
		if (inet_tcp_connected(ti.tcpi_state))
			break;
		return unsupported(fi, err,
				   "TCP connection in a state other than listening, "
				   "established, closing or closed");
	}
	if (!dc->tcp_established)
		return unsupported(fi, err, "established TCP connection (use --tcp-established)");
	if (setsockopt(*sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR");
	ret = dump_repair(*sk, ti.tcpi_state, fi->st.st_ino, e, dc, err);
	/* out of repair mode again until the dump ends; the tree is stopped */
	if (setsockopt(*sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "leave TCP_REPAIR");
	if (ret == 0)
		hold(dc, sk);
	return ret;
}

/*
 * A datagram socket's shutdown, as sock_diag tells it (INET_DIAG_SHUTDOWN,
 * in the socket's own namespace): the send side alone shows nowhere else,
 * yet a send fails with EPIPE. Where sock_diag does not know the protocol,
 * as poll tells it: receive side (RDHUP) or both (HUP).
 */
static int dump_shutdown(int sk, int fam, int proto, const struct fd_info *fi, struct json *e,
			 struct files_dctx *dc, ckpt_err_t *err)
{
	struct pollfd p = {.fd = sk, .events = POLLIN | POLLRDHUP};
	struct unix_diag_sk *ds;
	int shut = -1;

	if (unix_diag_for(dc, sk, &ds, err) < 0)
		return -err->code;
	if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE)
		shut = inet_diag_shutdown(ds, fam, proto, fi->st.st_ino, err);
	if (shut < 0) {
		ckpt_error_clear(err);
		shut = 0;
		if (poll(&p, 1, 0) == 1)
			shut = p.revents & POLLHUP ? 3 : p.revents & POLLRDHUP ? 1 : 0;
	}
	if (shut & 3)
		json_set(e, "shutdown", json_int(shut & 3));
	return 0;
}

static int dump_sock(int *sk, const struct fd_info *fi, struct json *e, struct files_dctx *dc,
		     ckpt_err_t *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fam = files_sock_int(*sk, SOL_SOCKET, SO_DOMAIN);
	int type = files_sock_int(*sk, SOL_SOCKET, SO_TYPE);
	int proto = files_sock_int(*sk, SOL_SOCKET, SO_PROTOCOL);

	const char *why = NULL;

	if (type == SOCK_DGRAM && inet_dgram_proto(proto))
		why = inet_dgram_dump(*sk, proto, e);
	else if (type == SOCK_RAW)
		why = inet_raw_dump(*sk, fi, fam, proto, e, err);
	else if (!((type == SOCK_STREAM && proto == IPPROTO_TCP) ||
		   (type == SOCK_DGRAM && proto == IPPROTO_UDP)))
		why = "protocol";
	if (why)
		return unsupported(fi, err, why);
	json_set(e, "family", json_int(fam));
	json_set(e, "type", json_int(type));
	if (getsockname(*sk, (struct sockaddr *)&ss, &sl) < 0)
		return ckpt_error(err, errno, "getsockname");
	put_addr(e, "addr", "port", &ss);
	sl = sizeof(ss);
	if (type != SOCK_RAW && getpeername(*sk, (struct sockaddr *)&ss, &sl) == 0)
		put_addr(e, "peer_addr", "peer_port", &ss);
	if (dump_opts(*sk, fam, e, fi, err) < 0)
		return -err->code;
	if (type == SOCK_DGRAM && dump_shutdown(*sk, fam, proto, fi, e, dc, err) < 0)
		return -err->code;
	if (type == SOCK_DGRAM && proto == IPPROTO_UDP)
		return udp_dump_queue(*sk, fi->st.st_ino, fam, e, dc, err);
	if (type != SOCK_STREAM)
		return 0;
	return dump_tcp(sk, fi, e, dc, err);
}

static int inet_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		     ckpt_err_t *err)
{
	cleanup_close int sk = files_steal_fd(fi->pid, fi->fd, err);
	struct json *list, *e;
	int ret;

	if (sk < 0)
		return sk;
	json_set(o, "id", json_int(fi->st.st_ino));
	list = files_dlist(dc, "inet");
	/* another fd on the same socket: it is saved once, by the first */
	if (files_list_find(list, fi->st.st_ino))
		return 0;
	e = json_push(list, json_obj());
	json_set(e, "id", json_int(fi->st.st_ino));
	ret = dump_sock(&sk, fi, e, dc, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "inet socket fd %d of %d", fi->fd, fi->pid);
	return 0;
}

void inet_dump_release(struct files_dctx *dc, bool killed)
{
	int on = 1;

	for (int i = 0; i < dc->ninet_held; i++) {
		/* the last reference of a killed tree's socket: close it silently */
		if (killed &&
		    setsockopt(dc->inet_held[i], IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
			pr_warn("TCP_REPAIR before close: %m, the peer may see a reset");
		close(dc->inet_held[i]);
	}
	free(dc->inet_held);
	dc->inet_held = NULL;
	dc->ninet_held = 0;
}

/* How many fds (of the tree and in flight) hold inet socket id. */
static int holders(const struct files_rctx *rc, uint64_t id)
{
	int n = 0;

	for (int t = 0; t < rc->ntasks; t++)
		for (size_t i = 0; i < rc->tasks[t]->nfds; i++)
			n += inet_holds(&rc->tasks[t]->fds[i], id);
	for (size_t i = 0; i < rc->ninflight; i++)
		n += inet_holds(&rc->inflight[i], id);
	return n;
}

/*
 * Queued bytes are read into memfds here, before the fork (tasks cannot
 * read the bundle); a socket with several holders is made here too, once
 * (the top), in the tree's network namespace.
 */
static int inet_prepare(const struct fd_entry *o, struct files_rctx *rc, ckpt_err_t *err)
{
	struct inet_saved e;
	uint64_t id;
	int ret = inet_get(rc->doc, o, &e, err), sk;

	if (ret < 0)
		return ret;
	id = e.id;
	if (files_shared_find(rc, "inet", id, INET_SHARED))
		return 0;
	for (int q = 0; q < 2; q++) {
		const char *name = q ? e.snd_image : e.rcv_image;
		int fd;

		if (!name || files_shared_find(rc, "inet", id, q))
			continue;
		fd = memfd_create("inet-queue", MFD_CLOEXEC);
		if (fd < 0)
			return ckpt_error(err, errno, "memfd_create");
		ret = pipe_fill_image(fd, name, rc->bundle, err);
		if (ret == 0)
			ret = files_park(rc, "inet", id, q, fd, err);
		else
			close(fd);
		if (ret < 0)
			return ret;
	}
	if (holders(rc, id) < 2)
		return 0;
	ret = files_open_desc(o, rc, &sk, err);
	if (ret == 0)
		ret = files_park(rc, "inet", id, INET_SHARED, sk, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "inet socket %lu shared by several fds",
				       (unsigned long)id);
	return 0;
}

const struct fd_ops fd_inet_ops = {
	.kind = "inet",
	.match = inet_match,
	.dump = inet_dump,
	.prepare = inet_prepare,
	.restore = inet_restore,
	.describe = inet_describe,
	.own_sharing = true,
	/* a shared socket is made where its addresses mean what they meant */
	.prepare_in_tree = true,
};
