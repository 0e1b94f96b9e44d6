/*
 * net_tcp_host_lock - a TCP connection of a tree in the host's network
 * namespace, its peer sending while the tree is checkpointed and gone:
 * the network lock must hold the peer's segments back (no reset) until the
 * restored connection takes them, every byte once and in order.
 *
 *   net_tcp_host_lock server ADDR PORT    the workload (inside the tree)
 *   net_tcp_host_lock client ADDR PORT    the peer, outside the tree
 *
 * The client sends part A and says ready; the harness checkpoints the
 * server, then lets the client go once: it sends part B at once, while
 * the server is gone; after the restore, once more: it sends part C and
 * shuts down its side. The server reads A+B+C, checks every byte, answers
 * with the count; the client checks the answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

#define PART 20000

static unsigned char pat(size_t i)
{
	return (i * 29 + (i >> 7)) & 0xff;
}

static int send_part(int sk, size_t from, size_t n)
{
	unsigned char buf[4096];

	for (size_t off = from; off < from + n;) {
		size_t len = from + n - off < sizeof(buf) ? from + n - off : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < len; i++)
			buf[i] = pat(off + i);
		w = send(sk, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += w;
	}
	return 0;
}

static int addr_of(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *b = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a->sin_addr) == 1) {
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*len = sizeof(*a);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, ip, &b->sin6_addr) == 1) {
		b->sin6_family = AF_INET6;
		b->sin6_port = htons(port);
		*len = sizeof(*b);
		return AF_INET6;
	}
	return -1;
}

static int server(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam = addr_of(ip, port, &ss, &len), ls, sk, one = 1;
	unsigned char buf[4096];
	size_t got = 0;
	char answer[32];

	if (fam < 0)
		return wl_fail("bad address %s", ip);
	ls = socket(fam, SOCK_STREAM, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&ss, len) < 0 || listen(ls, 4) < 0)
		return wl_fail("listen on %s:%d: %m", ip, port);
	sk = accept(ls, NULL, NULL);
	if (sk < 0)
		return wl_fail("accept: %m");
	/* part A is under way: the peer said ready once it was sent */
	wl_ready();
	wl_wait_restored();
	for (;;) {
		ssize_t n = recv(sk, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wl_fail("recv after %zu bytes: %m", got);
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pat(got + i))
				return wl_fail("byte %zu is %u, want %u", got + i, buf[i],
					       pat(got + i));
		got += n;
	}
	if (got != 3 * PART)
		return wl_fail("%zu bytes, want %d", got, 3 * PART);
	snprintf(answer, sizeof(answer), "%zu\n", got);
	if (send(sk, answer, strlen(answer), MSG_NOSIGNAL) != (ssize_t)strlen(answer))
		return wl_fail("answer: %m");
	close(sk);
	close(ls);
	return wl_pass();
}

static int client(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam = addr_of(ip, port, &ss, &len), sk;
	char answer[32] = "";
	ssize_t n;

	if (fam < 0)
		return wl_fail("bad address %s", ip);
	sk = socket(fam, SOCK_STREAM, 0);
	for (int i = 0; sk >= 0 && connect(sk, (struct sockaddr *)&ss, len) < 0; i++) {
		if (errno != ECONNREFUSED || i == 500)
			return wl_fail("connect to %s:%d: %m", ip, port);
		usleep(10000); /* the server is starting: poll its port */
	}
	if (sk < 0 || send_part(sk, 0, PART) < 0)
		return wl_fail("send part A: %m");
	wl_ready();
	wl_wait_restored(); /* the server was checkpointed and is gone */
	if (send_part(sk, PART, PART) < 0)
		return wl_fail("send part B while the server is gone: %m");
	wl_log("part B sent");
	wl_wait_restored(); /* the server is back */
	if (send_part(sk, 2 * PART, PART) < 0)
		return wl_fail("send part C after restore: %m");
	if (shutdown(sk, SHUT_WR) < 0)
		return wl_fail("shutdown: %m");
	n = recv(sk, answer, sizeof(answer) - 1, MSG_WAITALL);
	if (n < 0)
		return wl_fail("answer: %m");
	answer[n > 0 ? n : 0] = '\0';
	if (atoi(answer) != 3 * PART)
		return wl_fail("the server got `%s`, want %d bytes", answer, 3 * PART);
	return wl_pass();
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	if (argc != 4)
		return wl_fail("usage: %s server|client ADDR PORT", argv[0]);
	if (!strcmp(argv[1], "server"))
		return server(argv[2], atoi(argv[3]));
	return client(argv[2], atoi(argv[3]));
}
