/*
 * fd_unix_relative - unix sockets bound to relative paths, the cwd changed
 * since the bind: a stream listener "l.sock" with a pending (not accepted)
 * client, and a datagram socket "sub/d.sock" with a client connected to it
 * by that name and one datagram queued. After restore: both names read
 * back relative from getsockname, the pending client is accepted and
 * talks, the queued datagram is there, the client still reaches the
 * datagram socket, and a new client connects to "l.sock" from the
 * directory it was bound in.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static int lsk, pend, dsk, dcl;

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", name);
	return sizeof(*a);
}

static int setup(void)
{
	struct sockaddr_un a;

	if (chdir(fd_path(".")) < 0 || (mkdir("rel", 0700) < 0 && errno != EEXIST) ||
	    chdir("rel") < 0 || (mkdir("sub", 0700) < 0 && errno != EEXIST))
		return wl_fail("directories: %m");
	(void)unlink("l.sock");
	(void)unlink("sub/d.sock");
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pend = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	dsk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	dcl = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (bind(lsk, (struct sockaddr *)&a, addr(&a, "l.sock")) < 0 || listen(lsk, 4) < 0 ||
	    connect(pend, (struct sockaddr *)&a, addr(&a, "l.sock")) < 0)
		return wl_fail("stream setup: %m");
	if (bind(dsk, (struct sockaddr *)&a, addr(&a, "sub/d.sock")) < 0 ||
	    connect(dcl, (struct sockaddr *)&a, addr(&a, "sub/d.sock")) < 0 ||
	    send(dcl, "queued", 6, 0) != 6)
		return wl_fail("dgram setup: %m");
	/* the cwd the names were bound in is gone from the task */
	if (chdir("/") < 0)
		return wl_fail("chdir /: %m");
	return 0;
}

static int check_name(int sk, const char *want)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	if (getsockname(sk, (struct sockaddr *)&a, &l) < 0)
		return wl_fail("getsockname: %m");
	if (l <= offsetof(struct sockaddr_un, sun_path) || strcmp(a.sun_path, want))
		return wl_fail("bound to `%s`, want `%s`", a.sun_path, want);
	return 0;
}

static int check(void)
{
	struct sockaddr_un a;
	char buf[64], cwd[64];
	int c, s;

	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/"))
		return wl_fail("cwd is not / after restore");
	if (check_name(lsk, "l.sock") || check_name(dsk, "sub/d.sock"))
		return 1;
	s = accept4(lsk, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (s < 0 || write(pend, "hi", 2) != 2 || read(s, buf, sizeof(buf)) != 2)
		return wl_fail("pending client lost: %m");
	if (recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 6 || memcmp(buf, "queued", 6))
		return wl_fail("queued datagram lost: %m");
	if (send(dcl, "again", 5, 0) != 5 || recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 5)
		return wl_fail("datagram client no longer reaches sub/d.sock: %m");
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (chdir(fd_path("rel")) < 0 || connect(c, (struct sockaddr *)&a, addr(&a, "l.sock")) < 0)
		return wl_fail("connect to l.sock by its relative name: %m");
	if (accept4(lsk, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK) < 0)
		return wl_fail("accept the new client: %m");
	return 0;
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	if (setup())
		return 1;
	wl_ready();
	wl_wait_restored();
	if (check())
		return 1;
	return wl_pass();
}
