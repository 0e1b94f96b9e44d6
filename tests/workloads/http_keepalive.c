/*
 * http_keepalive ADDR PORT PATH BODY - an HTTP/1.1 client on the other
 * side of a server being checkpointed (tests/integration/nginx.bats):
 * one keep-alive connection gets PATH, whose body must be BODY; ready;
 * after go the same connection (not a new one: its local port is checked)
 * gets PATH twice more, then a new connection gets it once. Every answer
 * must be "200" with BODY and no "Connection: close".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

static const char *path, *body;

/* The end of the header block in buf[0..n), NULL until it is there. */
static char *headers_end(char *buf, size_t n)
{
	buf[n] = '\0';
	return strstr(buf, "\r\n\r\n");
}

/* One GET on s and its answer, checked: 0, or wl_fail's 1. */
static int get(int s, const char *what)
{
	char req[512], buf[8192], *end, *cl;
	size_t n = 0, blen = strlen(body), want;
	ssize_t r;
	int k;

	k = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
	if (write(s, req, k) != k)
		return wl_fail("%s: send: %m", what);
	while (!(end = headers_end(buf, n))) {
		struct pollfd p = {.fd = s, .events = POLLIN};

		if (n == sizeof(buf) - 1 || poll(&p, 1, 20000) != 1)
			return wl_fail("%s: no answer (%zu bytes)", what, n);
		r = read(s, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			return wl_fail("%s: %s after %zu bytes", what, r ? "read failed" : "EOF",
				       n);
		n += r;
	}
	if (strncmp(buf, "HTTP/1.1 200 ", 13))
		return wl_fail("%s: answer `%.40s`", what, buf);
	*end = '\0';
	if (strcasestr(buf, "\r\nConnection: close"))
		return wl_fail("%s: the server closes the connection", what);
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (!cl || (size_t)atol(cl + 17) != blen)
		return wl_fail("%s: Content-Length not %zu", what, blen);
	want = (size_t)(end + 4 - buf) + blen;
	while (n < want) {
		r = read(s, buf + n, want - n);
		if (r <= 0)
			return wl_fail("%s: body cut at %zu bytes", what, n);
		n += r;
	}
	if (n != want || memcmp(end + 4, body, blen))
		return wl_fail("%s: body `%.*s`, want `%s`", what, (int)blen, end + 4, body);
	return 0;
}

static int connected(const struct sockaddr_in *a)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || connect(s, (const struct sockaddr *)a, sizeof(*a)) < 0)
		return -1;
	return s;
}

static int local_port(int s)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	return getsockname(s, (struct sockaddr *)&a, &l) < 0 ? -1 : ntohs(a.sin_port);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int s, s2, port;

	wl_init(argc, argv);
	if (argc != 5 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
		return wl_fail("usage: http_keepalive ADDR PORT PATH BODY");
	a.sin_port = htons(atoi(argv[2]));
	path = argv[3];
	body = argv[4];
	s = connected(&a);
	if (s < 0)
		return wl_fail("connect %s:%s: %m", argv[1], argv[2]);
	port = local_port(s);
	if (get(s, "before"))
		return 1;
	wl_ready();
	wl_wait_restored();
	if (get(s, "after, same connection") || get(s, "after, same connection again"))
		return 1;
	if (local_port(s) != port)
		return wl_fail("the connection's port changed");
	s2 = connected(&a);
	if (s2 < 0)
		return wl_fail("new connection after restore: %m");
	if (get(s2, "new connection"))
		return 1;
	close(s2);
	close(s);
	return wl_pass();
}
