/*
 * fd_unix_listen - a stream listener bound to a path with one connection
 * accepted (bytes queued both ways) and one still pending (not accepted);
 * a datagram server bound to an abstract name with two messages queued by
 * an unbound sender; a client datagram socket connected to that server.
 * After restore: the pending connection is accepted and works, the queued
 * bytes and messages are there, new clients can connect by name.
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static socklen_t addr(struct sockaddr_un *a, const char *path, int abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path + abstract, sizeof(a->sun_path) - 1, "%s", path);
	return offsetof(struct sockaddr_un, sun_path) + abstract + strlen(path) + !abstract;
}

int main(int argc, char **argv)
{
	struct sockaddr_un la, da;
	socklen_t ll, dl;
	int lsk, c1, a1, c2, srv, snd, cli, a2, c3;
	char buf[64], abs_name[64];

	wl_init(argc, argv);
	snprintf(abs_name, sizeof(abs_name), "ckpt-wl-%d", getpid());
	ll = addr(&la, fd_path("listen.sock"), 0);
	dl = addr(&da, abs_name, 1);
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&la, ll) < 0 || listen(lsk, 8) < 0)
		return wl_fail("listen: %m");
	c1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c1, (struct sockaddr *)&la, ll) < 0 ||
	    (a1 = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return wl_fail("connect/accept: %m");
	c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c2, (struct sockaddr *)&la, ll) < 0)
		return wl_fail("pending connect: %m");
	if (write(c1, "c->s", 4) != 4 || write(a1, "s->c", 4) != 4)
		return wl_fail("write: %m");
	srv = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cli = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bind(srv, (struct sockaddr *)&da, dl) < 0 ||
	    sendto(snd, "m1", 2, 0, (struct sockaddr *)&da, dl) != 2 ||
	    sendto(snd, "msg2", 4, 0, (struct sockaddr *)&da, dl) != 4 ||
	    connect(cli, (struct sockaddr *)&da, dl) < 0)
		return wl_fail("datagram setup: %m");
	wl_ready();
	wl_wait_restored();
	if (read(a1, buf, sizeof(buf)) != 4 || memcmp(buf, "c->s", 4) ||
	    read(c1, buf, sizeof(buf)) != 4 || memcmp(buf, "s->c", 4))
		return wl_fail("accepted connection lost its data");
	a2 = accept4(lsk, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (a2 < 0)
		return wl_fail("pending connection lost: %m");
	if (write(c2, "late", 4) != 4 || read(a2, buf, sizeof(buf)) != 4)
		return wl_fail("pending connection does not carry data: %m");
	if (recv(srv, buf, sizeof(buf), 0) != 2 || recv(srv, buf, sizeof(buf), 0) != 4 ||
	    memcmp(buf, "msg2", 4))
		return wl_fail("queued datagrams lost");
	if (send(cli, "via-connect", 11, 0) != 11 || recv(srv, buf, sizeof(buf), 0) != 11)
		return wl_fail("connected datagram client broken: %m");
	c3 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(c3, (struct sockaddr *)&la, ll) < 0)
		return wl_fail("new client cannot connect by path: %m");
	return wl_pass();
}
