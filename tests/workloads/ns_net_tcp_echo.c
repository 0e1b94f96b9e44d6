/*
 * ns_net_tcp_echo - an established TCP connection kept across checkpoint
 * and restore (--tcp-established) without losing or duplicating a byte.
 *
 *   ns_net_tcp_echo server PORT [MODE]        the workload (inside the tree)
 *   ns_net_tcp_echo client ADDR PORT [MODE]   the peer, outside the tree
 *
 * Before the checkpoint the client sends HALF bytes the server leaves
 * unread, and the server writes until its send queue is full (the client
 * reads nothing and has a small receive buffer): unread data both ways.
 * After restore the client sends HALF more and shuts down its side; the
 * server writes up to TOTAL and shuts down its side. Each checks every
 * byte of its stream against a pattern that depends on the position.
 * The server's connection carries socket, TCP and IP options (keepalive
 * times, user timeout, congestion control, priority, mark, TOS, TTL),
 * read back after restore. MODE (the same on both ends):
 *
 *   peer_fin   the client shuts down after its first HALF, before the
 *              checkpoint: the server is in CLOSE_WAIT (the peer outside
 *              in FIN_WAIT2) with those bytes and the FIN unread; after
 *              restore it reads them and the end, then sends the rest
 *   our_fin    the server queues SHUT_BYTES (more than the client's window
 *              takes) and shuts down before the checkpoint: FIN_WAIT1, its
 *              FIN behind bytes not sent; the client sends HALF more after
 *              restore as usual and reads exactly SHUT_BYTES, then the end
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "wl.h"

#define HALF	   50000
#define TOTAL	   (1 << 20)
#define SHUT_BYTES 200000

static enum { PLAIN, PEER_FIN, OUR_FIN } mode;

static int tcp_state(int sk)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	return getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 ? -1 : ti.tcpi_state;
}

/* Until sk is in state want (ten seconds at most): 0, or -1. */
static int wait_state(int sk, int want)
{
	for (int i = 0; i < 1000 && tcp_state(sk) != want; i++)
		poll(NULL, 0, 10);
	return tcp_state(sk) == want ? 0 : -1;
}

static unsigned char pat_c(size_t i)
{
	return (i * 131 + (i >> 8)) & 0xff;
}
static unsigned char pat_s(size_t i)
{
	return (i * 17 + (i >> 9) * 3 + 1) & 0xff;
}

static int send_pat(int sk, size_t *off, size_t end, unsigned char (*pat)(size_t), int flags)
{
	unsigned char buf[8192];

	while (*off < end) {
		size_t n = end - *off < sizeof(buf) ? end - *off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = pat(*off + i);
		w = send(sk, buf, n, flags);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		*off += w;
	}
	return 0;
}

/* Read what is there; returns 0 at EOF, 1 if more may come, -1 on error or mismatch. */
static int recv_check(int sk, size_t *off, unsigned char (*pat)(size_t), int flags)
{
	unsigned char buf[8192];
	ssize_t n = recv(sk, buf, sizeof(buf), flags);

	if (n < 0)
		return errno == EAGAIN ? 1 : -1;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] != pat(*off + i)) {
			wl_log("byte %zu is %u, want %u", *off + i, buf[i], pat(*off + i));
			return -1;
		}
	*off += n;
	return n ? 1 : 0;
}

/* Options set on the accepted connection, read back after restore. */
static const struct {
	int level, opt, v;
	const char *name;
} conn_opts[] = {
	{SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
	{SOL_SOCKET, SO_MARK, 7, "SO_MARK"},
	{IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"},
	{IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE"},
	{IPPROTO_TCP, TCP_KEEPINTVL, 11, "TCP_KEEPINTVL"},
	{IPPROTO_TCP, TCP_KEEPCNT, 4, "TCP_KEEPCNT"},
	{IPPROTO_TCP, TCP_USER_TIMEOUT, 120000, "TCP_USER_TIMEOUT"},
	{IPPROTO_IP, IP_TOS, 0x08, "IP_TOS"},
	{IPPROTO_IP, IP_TTL, 21, "IP_TTL"},
	/* after IP_TOS, which sets it */
	{SOL_SOCKET, SO_PRIORITY, 3, "SO_PRIORITY"},
};

/* SO_MARK needs CAP_NET_ADMIN, which a container's process may lack: not checked then. */
static bool conn_opt_unset[sizeof(conn_opts) / sizeof(conn_opts[0])];

static int conn_opts_set(int sk)
{
	for (size_t i = 0; i < sizeof(conn_opts) / sizeof(conn_opts[0]); i++)
		if (setsockopt(sk, conn_opts[i].level, conn_opts[i].opt, &conn_opts[i].v,
			       sizeof(int)) < 0) {
			if (errno == EPERM && conn_opts[i].opt == SO_MARK) {
				wl_log("SO_MARK not permitted here, not checked");
				conn_opt_unset[i] = true;
				continue;
			}
			return wl_fail("set %s: %m", conn_opts[i].name);
		}
	if (setsockopt(sk, IPPROTO_TCP, TCP_CONGESTION, "reno", 4) < 0)
		return wl_fail("set TCP_CONGESTION: %m");
	return 0;
}

static int conn_opts_check(int sk)
{
	char cc[16] = "";
	socklen_t sl = sizeof(cc);

	for (size_t i = 0; i < sizeof(conn_opts) / sizeof(conn_opts[0]); i++) {
		int v = -1;

		if (conn_opt_unset[i])
			continue;
		sl = sizeof(v);
		if (getsockopt(sk, conn_opts[i].level, conn_opts[i].opt, &v, &sl) < 0 ||
		    v != conn_opts[i].v)
			return wl_fail("%s is %d, was %d", conn_opts[i].name, v, conn_opts[i].v);
	}
	sl = sizeof(cc);
	if (getsockopt(sk, IPPROTO_TCP, TCP_CONGESTION, cc, &sl) < 0 || strcmp(cc, "reno"))
		return wl_fail("TCP_CONGESTION is %s, was reno", cc);
	return 0;
}

static int server(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int ls, sk, one = 1, eof = 0;
	size_t sent = 0, got = 0;
	char peek[HALF];

	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (void *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0)
		return wl_fail("listen: %m");
	sk = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0)
		return wl_fail("accept: %m");
	if (conn_opts_set(sk))
		return 1;
	/* every byte of the first half has arrived, none is read */
	if (recv(sk, peek, HALF, MSG_PEEK | MSG_WAITALL) != HALF)
		return wl_fail("peek the first half: %m");
	if (mode == PEER_FIN && wait_state(sk, TCP_CLOSE_WAIT) < 0)
		return wl_fail("not in CLOSE_WAIT after the client's FIN: %d", tcp_state(sk));
	if (mode == OUR_FIN) {
		int big = 1 << 20;

		if (setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) < 0 ||
		    send_pat(sk, &sent, SHUT_BYTES, pat_s, MSG_DONTWAIT) < 0)
			return wl_fail("send: %m");
		if (sent != SHUT_BYTES)
			return wl_fail("only %zu of %d bytes queued", sent, SHUT_BYTES);
		if (shutdown(sk, SHUT_WR) < 0 || tcp_state(sk) != TCP_FIN_WAIT1)
			return wl_fail("not in FIN_WAIT1 after shutdown: %d", tcp_state(sk));
	} else if (send_pat(sk, &sent, TOTAL, pat_s, MSG_DONTWAIT) < 0) {
		return wl_fail("send: %m");
	} else if (sent >= TOTAL) {
		return wl_fail("the send queue never filled");
	}
	wl_log("before checkpoint: %zu bytes sent, state %d", sent, tcp_state(sk));
	wl_ready();
	wl_wait_restored();
	if (conn_opts_check(sk))
		return 1;
	if (mode == PEER_FIN && tcp_state(sk) != TCP_CLOSE_WAIT)
		return wl_fail("restored in state %d, not CLOSE_WAIT", tcp_state(sk));
	if (mode == OUR_FIN && tcp_state(sk) != TCP_FIN_WAIT1)
		return wl_fail("restored in state %d, not FIN_WAIT1", tcp_state(sk));
	if (mode == OUR_FIN) {
		int r;

		/* the rest goes out behind our FIN; read theirs to the end */
		while ((r = recv_check(sk, &got, pat_c, 0)) > 0)
			;
		if (r < 0)
			return wl_fail("receive: %m (%zu bytes in)", got);
		if (got != 2 * HALF)
			return wl_fail("got %zu bytes, want %d", got, 2 * HALF);
		return wl_pass();
	}
	while (!eof || sent < TOTAL) {
		struct pollfd p = {sk, (eof ? 0 : POLLIN) | (sent < TOTAL ? POLLOUT : 0), 0};
		int r;

		if (poll(&p, 1, 30000) <= 0)
			return wl_fail("stalled: %zu bytes read, %zu sent", got, sent);
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			r = recv_check(sk, &got, pat_c, MSG_DONTWAIT);
			if (r < 0)
				return wl_fail("receive: %m (%zu bytes in)", got);
			eof = r == 0;
		}
		if ((p.revents & POLLOUT) && send_pat(sk, &sent, TOTAL, pat_s, MSG_DONTWAIT) < 0)
			return wl_fail("send after restore: %m");
		if (sent == TOTAL && shutdown(sk, SHUT_WR) < 0)
			return wl_fail("shutdown: %m");
	}
	if (got != (mode == PEER_FIN ? HALF : 2 * HALF))
		return wl_fail("got %zu bytes, want %d", got, mode == PEER_FIN ? HALF : 2 * HALF);
	return wl_pass();
}

static int client(const char *addr, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int sk = -1, small = 4096, r;
	size_t sent = 0, got = 0;

	inet_pton(AF_INET, addr, &a.sin_addr);
	/* the server may not listen yet: try for ten seconds */
	for (int i = 0; i < 1000; i++) {
		struct pollfd none = {-1, 0, 0};

		sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(sk, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		if (connect(sk, (void *)&a, sizeof(a)) == 0)
			break;
		close(sk);
		sk = -1;
		poll(&none, 0, 10);
	}
	if (sk < 0)
		return wl_fail("connect: %m");
	if (send_pat(sk, &sent, HALF, pat_c, 0) < 0)
		return wl_fail("send: %m");
	if (mode == PEER_FIN && shutdown(sk, SHUT_WR) < 0)
		return wl_fail("shutdown: %m");
	wl_ready();
	wl_wait_restored();
	if (mode != PEER_FIN &&
	    (send_pat(sk, &sent, 2 * HALF, pat_c, 0) < 0 || shutdown(sk, SHUT_WR) < 0))
		return wl_fail("send after restore: %m");
	while ((r = recv_check(sk, &got, pat_s, 0)) > 0)
		;
	if (r < 0)
		return wl_fail("receive: %m (%zu bytes in)", got);
	if (got != (mode == OUR_FIN ? SHUT_BYTES : TOTAL))
		return wl_fail("got %zu bytes, want %d", got, mode == OUR_FIN ? SHUT_BYTES : TOTAL);
	return wl_pass();
}

static int set_mode(const char *m)
{
	if (!m)
		mode = PLAIN;
	else if (!strcmp(m, "peer_fin"))
		mode = PEER_FIN;
	else if (!strcmp(m, "our_fin"))
		mode = OUR_FIN;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "server") &&
	    set_mode(argc == 4 ? argv[3] : NULL) == 0)
		return server(atoi(argv[2]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "client") &&
	    set_mode(argc == 5 ? argv[4] : NULL) == 0)
		return client(argv[2], atoi(argv[3]));
	return wl_fail("usage: ns_net_tcp_echo server PORT [MODE] | client ADDR PORT [MODE]");
}
