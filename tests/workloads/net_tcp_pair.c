/*
 * net_tcp_pair MODE [4|6|m [PORT]] - both ends of a TCP connection in the
 * tree, over loopback (IPv6 with "6", IPv6 sockets on the IPv4-mapped
 * ::ffff:127.0.0.1 with "m"; port 7310 unless given), left in the
 * state MODE names, with bytes in flight both ways, then checked after
 * restore: every byte arrives once and in order (a pattern per direction,
 * so sequence numbers went on where they were), each end is in the state
 * it should be in (TCP_INFO), and the connection goes on to its end.
 *
 *   flight     ESTABLISHED, each end's send queue larger than the peer's
 *              window (the peer's receive queue full, bytes not yet sent)
 *   shut_wr    the client shut down for writing: FIN_WAIT2 / CLOSE_WAIT,
 *              bytes unread on both sides, the server still sends
 *   fin_wait1  the client shut down with bytes not yet sent: its FIN
 *              waits behind them (FIN_WAIT1), the server's queue full
 *   closing    both shut down with bytes not sent; the client has read
 *              the server's bytes and FIN (CLOSING), the server is in
 *              FIN_WAIT2 with the client's bytes unread
 *   last_ack   the client shut down first (FIN_WAIT2), the server then,
 *              behind a full window (LAST_ACK)
 *   pending    the client connected and sent, the server not accepted yet:
 *              the checkpoint is refused, the program goes on (no restore)
 *   skipped    a client connected, sent and closed, the server not
 *              accepted yet, checkpointed with --skip-in-flight: the
 *              listener comes back with an empty accept queue, and a new
 *              client is accepted and served
 *   closed     established with bytes both ways, restored with --tcp-close:
 *              each end is closed, its next read says ECONNRESET, the one
 *              after reads the end, a write fails with EPIPE
 *
 * Buffers are set small (and so locked) so the windows fill with a few
 * kilobytes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

#define LIMIT 20000 /* ms, every wait */

/* wl_fail's line, and -1 for the helpers' callers. */
#define failed(...) (wl_fail(__VA_ARGS__), -1)

/* Byte i of the stream in direction dir (0 client to server, 1 back). */
static unsigned char pat(int dir, uint64_t i)
{
	return (unsigned char)(wl_pattern(0x7c9 + dir, i / 8) >> (8 * (i % 8)));
}

struct end {
	int sk, dir; /* dir: the direction this end sends */
	uint64_t sent, got;
	bool eof;
};

static const char *state_name(int s)
{
	static const char *n[] = {"?",		"ESTABLISHED", "SYN_SENT",  "SYN_RECV",
				  "FIN_WAIT1",	"FIN_WAIT2",   "TIME_WAIT", "CLOSE",
				  "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};

	return s >= 0 && s < 12 ? n[s] : "?";
}

static int state(int sk)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);

	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0)
		return -1;
	return ti.tcpi_state;
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Wait until sk is in state want (the peer's ack may still be on its way). */
static bool wait_state(int sk, int want)
{
	long end = now_ms() + LIMIT;

	while (state(sk) != want && now_ms() < end)
		poll(NULL, 0, 5);
	return state(sk) == want;
}

/* Send the pattern until the send buffer is full (EAGAIN). */
static int fill(struct end *e)
{
	unsigned char buf[4096];

	for (;;) {
		ssize_t n;

		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(e->dir, e->sent + i);
		n = send(e->sk, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return failed("fill: %m");
		e->sent += n;
	}
}

static int send_some(struct end *e, size_t len)
{
	unsigned char buf[4096];

	if (len > sizeof(buf))
		len = sizeof(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(e->dir, e->sent + i);
	if (send(e->sk, buf, len, 0) != (ssize_t)len)
		return failed("send: %m");
	e->sent += len;
	return 0;
}

/* Read what has arrived, checking each byte; eof when the peer's FIN came. */
static int drain(struct end *e)
{
	unsigned char buf[4096];

	for (;;) {
		ssize_t n = recv(e->sk, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return failed("recv (dir %d, after %llu bytes): %m", !e->dir,
				      (unsigned long long)e->got);
		if (n == 0) {
			e->eof = true;
			return 0;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(!e->dir, e->got + i))
				return failed("byte %llu of dir %d differs",
					      (unsigned long long)(e->got + i), !e->dir);
		e->got += n;
	}
}

/* Read on a until it has want bytes (and the FIN if eof), checking them. */
static int recv_until(struct end *a, uint64_t want, bool eof)
{
	long end = now_ms() + LIMIT;

	while (now_ms() < end) {
		struct pollfd p = {.fd = a->sk, .events = POLLIN};

		if (drain(a) < 0)
			return -1;
		if (a->got > want)
			return failed("dir %d: %llu bytes, more than the %llu sent", !a->dir,
				      (unsigned long long)a->got, (unsigned long long)want);
		if (a->eof && a->got < want)
			return failed("dir %d: end of stream after %llu of %llu bytes", !a->dir,
				      (unsigned long long)a->got, (unsigned long long)want);
		if (a->got == want && (!eof || a->eof))
			return 0;
		poll(&p, 1, 100);
	}
	return failed("dir %d: %llu of %llu bytes%s in time", !a->dir, (unsigned long long)a->got,
		      (unsigned long long)want, eof ? " and the end of stream" : "");
}

static int expect(struct end *e, int want, const char *who)
{
	if (!wait_state(e->sk, want))
		return failed("%s is %s, not %s", who, state_name(state(e->sk)), state_name(want));
	return 0;
}

static int small_bufs(int sk)
{
	int rcv = 4096, snd = 8192;

	if (setsockopt(sk, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) < 0 ||
	    setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)) < 0)
		return failed("buffers: %m");
	return 0;
}

static int lo_up(void)
{
	struct ifreq r = {.ifr_name = "lo"};
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (ioctl(sk, SIOCGIFFLAGS, &r) < 0 ||
	    (r.ifr_flags |= IFF_UP, ioctl(sk, SIOCSIFFLAGS, &r)) < 0)
		ret = wl_fail("lo up: %m");
	close(sk);
	return ret;
}

/* c connected to s over loopback, both with small buffers. */
static int pair(int fam, bool mapped, int port, struct end *c, struct end *s, int *pending)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int ls;

	if (fam == AF_INET6) {
		struct sockaddr_in6 *a = (void *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		if (mapped && inet_pton(AF_INET6, "::ffff:127.0.0.1", &a->sin6_addr) != 1)
			return failed("inet_pton");
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (void *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	ls = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c->sk = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || c->sk < 0 || small_bufs(ls) < 0 || small_bufs(c->sk) < 0)
		return failed("socket: %m");
	if (bind(ls, (void *)&ss, len) < 0 || listen(ls, 1) < 0 ||
	    connect(c->sk, (void *)&ss, len) < 0)
		return failed("listen/connect: %m");
	c->dir = 0;
	s->dir = 1;
	/* the connection left in the listener's accept queue */
	if (pending) {
		*pending = ls;
		return 0;
	}
	s->sk = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (s->sk < 0)
		return failed("accept: %m");
	close(ls);
	s->dir = 1;
	return 0;
}

static int check_states(struct end *c, int cs, struct end *s, int ss)
{
	if (expect(c, cs, "client") < 0 || expect(s, ss, "server") < 0)
		return -1;
	return 0;
}

/* Closed by a reset: ECONNRESET once, then the end; no write. */
static int check_closed(struct end *e, const char *who)
{
	char b;

	if (state(e->sk) != TCP_CLOSE)
		return failed("%s is %s, not CLOSE", who, state_name(state(e->sk)));
	if (recv(e->sk, &b, 1, MSG_DONTWAIT) != -1 || errno != ECONNRESET)
		return failed("%s: first read after restore: %m, not ECONNRESET", who);
	if (recv(e->sk, &b, 1, MSG_DONTWAIT) != 0)
		return failed("%s: second read after restore: %m, not the end", who);
	if (send(e->sk, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
		return failed("%s: a write after restore: %m, not EPIPE", who);
	return 0;
}

/* The listener ls came back without its queued connection; a new one is served. */
static int check_skipped(int ls, int fam, struct end *c, struct end *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pollfd p = {.fd = ls, .events = POLLIN};

	if (poll(&p, 1, 0) != 0)
		return failed("the listener has a connection queued after restore");
	if (getsockname(ls, (void *)&ss, &len) < 0)
		return failed("getsockname: %m");
	c->sk = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c->sent = 0;
	if (c->sk < 0 || connect(c->sk, (void *)&ss, len) < 0)
		return failed("connect after restore: %m");
	s->sk = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (s->sk < 0)
		return failed("accept after restore: %m");
	if (send_some(c, 100) < 0 || recv_until(s, c->sent, false) < 0 || send_some(s, 50) < 0 ||
	    recv_until(c, s->sent, false) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "flight";
	bool mapped = argc > 2 && !strcmp(argv[2], "m");
	int fam = argc > 2 && (!strcmp(argv[2], "6") || mapped) ? AF_INET6 : AF_INET;
	int port = argc > 3 ? atoi(argv[3]) : 7310;
	struct end c = {0}, s = {0};
	int ls = -1;
	bool queued = !strcmp(mode, "pending") || !strcmp(mode, "skipped");

	wl_init(argc, argv);
	if (lo_up() < 0 || pair(fam, mapped, port, &c, &s, queued ? &ls : NULL) < 0)
		return 1;
	if (!strcmp(mode, "flight")) {
		if (fill(&c) < 0 || fill(&s) < 0 || check_states(&c, 1, &s, 1) < 0)
			return 1;
	} else if (!strcmp(mode, "shut_wr")) {
		if (send_some(&c, 1000) < 0 || shutdown(c.sk, SHUT_WR) < 0 ||
		    send_some(&s, 1500) < 0 ||
		    check_states(&c, TCP_FIN_WAIT2, &s, TCP_CLOSE_WAIT) < 0)
			return 1;
	} else if (!strcmp(mode, "pending")) {
		if (send_some(&c, 100) < 0)
			return 1;
	} else if (!strcmp(mode, "skipped")) {
		/* only the listener holds the connection now */
		if (send_some(&c, 100) < 0 || close(c.sk) < 0)
			return 1;
	} else if (!strcmp(mode, "closed")) {
		if (send_some(&c, 100) < 0 || send_some(&s, 200) < 0 ||
		    check_states(&c, 1, &s, 1) < 0)
			return 1;
	} else if (!strcmp(mode, "fin_wait1")) {
		if (fill(&c) < 0 || shutdown(c.sk, SHUT_WR) < 0 || send_some(&s, 700) < 0 ||
		    check_states(&c, TCP_FIN_WAIT1, &s, TCP_ESTABLISHED) < 0)
			return 1;
	} else if (!strcmp(mode, "closing")) {
		if (fill(&c) < 0 || fill(&s) < 0 || shutdown(c.sk, SHUT_WR) < 0 ||
		    shutdown(s.sk, SHUT_WR) < 0 || recv_until(&c, s.sent, true) < 0 ||
		    check_states(&c, TCP_CLOSING, &s, TCP_FIN_WAIT2) < 0)
			return 1;
	} else if (!strcmp(mode, "last_ack")) {
		if (send_some(&c, 300) < 0 || shutdown(c.sk, SHUT_WR) < 0 ||
		    check_states(&c, TCP_FIN_WAIT2, &s, TCP_CLOSE_WAIT) < 0 || fill(&s) < 0 ||
		    shutdown(s.sk, SHUT_WR) < 0 ||
		    check_states(&c, TCP_FIN_WAIT2, &s, TCP_LAST_ACK) < 0)
			return 1;
	} else {
		return wl_fail("unknown mode %s", mode);
	}
	wl_log("%s: client %s sent %llu, server %s sent %llu", mode, state_name(state(c.sk)),
	       (unsigned long long)c.sent, state_name(state(s.sk)), (unsigned long long)s.sent);
	wl_ready();
	wl_wait_restored();

	if (!strcmp(mode, "flight")) {
		if (check_states(&c, 1, &s, 1) < 0 || recv_until(&s, c.sent, false) < 0 ||
		    recv_until(&c, s.sent, false) < 0 || send_some(&c, 100) < 0 ||
		    send_some(&s, 100) < 0 || recv_until(&s, c.sent, false) < 0 ||
		    recv_until(&c, s.sent, false) < 0)
			return 1;
	} else if (!strcmp(mode, "shut_wr")) {
		if (check_states(&c, TCP_FIN_WAIT2, &s, TCP_CLOSE_WAIT) < 0 ||
		    recv_until(&s, c.sent, true) < 0 || recv_until(&c, s.sent, false) < 0 ||
		    send_some(&s, 500) < 0 || recv_until(&c, s.sent, false) < 0)
			return 1;
		if (send(c.sk, "x", 1, MSG_NOSIGNAL) != -1 || errno != EPIPE)
			return wl_fail("the client could send after shutdown: %m");
		if (shutdown(s.sk, SHUT_WR) < 0 || recv_until(&c, s.sent, true) < 0 ||
		    check_states(&c, TCP_CLOSE, &s, TCP_CLOSE) < 0)
			return 1;
	} else if (!strcmp(mode, "pending")) {
		s.sk = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s.sk < 0)
			return wl_fail("accept after the refused checkpoint: %m");
		if (recv_until(&s, c.sent, false) < 0 || send_some(&s, 50) < 0 ||
		    recv_until(&c, s.sent, false) < 0)
			return 1;
	} else if (!strcmp(mode, "skipped")) {
		if (check_skipped(ls, fam, &c, &s) < 0)
			return 1;
	} else if (!strcmp(mode, "closed")) {
		if (check_closed(&c, "client") < 0 || check_closed(&s, "server") < 0)
			return 1;
	} else if (!strcmp(mode, "fin_wait1")) {
		if (check_states(&c, TCP_FIN_WAIT1, &s, TCP_ESTABLISHED) < 0 ||
		    recv_until(&c, s.sent, false) < 0 || recv_until(&s, c.sent, true) < 0 ||
		    check_states(&c, TCP_FIN_WAIT2, &s, TCP_CLOSE_WAIT) < 0 ||
		    send_some(&s, 200) < 0 || recv_until(&c, s.sent, false) < 0)
			return 1;
	} else if (!strcmp(mode, "closing")) {
		if (check_states(&c, TCP_CLOSING, &s, TCP_FIN_WAIT2) < 0 ||
		    recv_until(&s, c.sent, true) < 0 ||
		    check_states(&c, TCP_CLOSE, &s, TCP_CLOSE) < 0)
			return 1;
	} else if (!strcmp(mode, "last_ack")) {
		if (check_states(&c, TCP_FIN_WAIT2, &s, TCP_LAST_ACK) < 0 ||
		    recv_until(&s, c.sent, true) < 0 || recv_until(&c, s.sent, true) < 0 ||
		    check_states(&c, TCP_CLOSE, &s, TCP_CLOSE) < 0)
			return 1;
	}
	return wl_pass();
}
