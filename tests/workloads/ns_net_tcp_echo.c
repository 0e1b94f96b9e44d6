/*
 * ns_net_tcp_echo - an established TCP connection kept across checkpoint
 * and restore (--tcp-established) without losing or duplicating a byte.
 *
 *   ns_net_tcp_echo server PORT          the workload (inside the tree)
 *   ns_net_tcp_echo client ADDR PORT     the peer, outside the tree
 *
 * Before the checkpoint the client sends HALF bytes the server leaves
 * unread, and the server writes until its send queue is full (the client
 * reads nothing and has a small receive buffer): unread data both ways.
 * After restore the client sends HALF more and shuts down its side; the
 * server writes up to TOTAL and shuts down its side. Each checks every
 * byte of its stream against a pattern that depends on the position.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "wl.h"

#define HALF 50000
#define TOTAL (1 << 20)

static unsigned char pat_c(size_t i) { return (i * 131 + (i >> 8)) & 0xff; }
static unsigned char pat_s(size_t i) { return (i * 17 + (i >> 9) * 3 + 1) & 0xff; }

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
	setsockopt(sk, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	/* every byte of the first half has arrived, none is read */
	if (recv(sk, peek, HALF, MSG_PEEK | MSG_WAITALL) != HALF)
		return wl_fail("peek the first half: %m");
	if (send_pat(sk, &sent, TOTAL, pat_s, MSG_DONTWAIT) < 0)
		return wl_fail("send: %m");
	if (sent >= TOTAL)
		return wl_fail("the send queue never filled");
	wl_log("before checkpoint: %zu of %d bytes sent", sent, TOTAL);
	wl_ready();
	wl_wait_restored();
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
	if (got != 2 * HALF)
		return wl_fail("got %zu bytes, want %d", got, 2 * HALF);
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
	wl_ready();
	wl_wait_restored();
	if (send_pat(sk, &sent, 2 * HALF, pat_c, 0) < 0 || shutdown(sk, SHUT_WR) < 0)
		return wl_fail("send after restore: %m");
	while ((r = recv_check(sk, &got, pat_s, 0)) > 0)
		;
	if (r < 0)
		return wl_fail("receive: %m (%zu bytes in)", got);
	if (got != TOTAL)
		return wl_fail("got %zu bytes, want %d", got, TOTAL);
	return wl_pass();
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]));
	if (argc == 4 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]));
	return wl_fail("usage: ns_net_tcp_echo server PORT | client ADDR PORT");
}
