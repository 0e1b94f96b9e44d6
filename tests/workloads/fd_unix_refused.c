/*
 * fd_unix_refused MODE - unix socket states around what this version
 * refuses to checkpoint. The refused modes (the checkpoint must fail
 * naming the fd and leave the tree running; after the go, without any
 * restore, each is verified intact):
 *   pending-data    a client sent bytes into a connection not accepted yet
 *   pending-closed  the same client then closed its end
 *   listen          a listener at refused.sock; the harness connects to it
 *                   from outside the tree and does not wait to be accepted
 *   passcred        a stream pair whose end with SO_PASSCRED holds bytes:
 *                   read, they name their writer (this pid)
 *   dgram-dead-peer a bound datagram socket connected to another that has
 *                   closed since: a send is refused (ECONNREFUSED)
 * Two modes were refused once and are supported now; they round-trip
 * (checkpoint, restore, go) and verify after restore:
 *   inflight        a pipe's read end in flight (SCM_RIGHTS) in a queue,
 *                   received after restore and still carrying its bytes
 *   relative        a listener bound to a relative path, connected to by
 *                   that name after restore
 * (fd_unix_inflight and fd_unix_relative cover these more fully.)
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static int lsk, sv[2];

static int setup_pending(bool close_client)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int c;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fd_path("refused.sock"));
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || c < 0 || bind(lsk, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lsk, 4) < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(c, "early", 5) != 5)
		return wl_fail("pending connection setup: %m");
	if (close_client)
		close(c);
	return 0;
}

static int check_pending(bool closed)
{
	char buf[16];
	int a = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);

	if (a < 0 || read(a, buf, sizeof(buf)) != 5 || memcmp(buf, "early", 5))
		return wl_fail("bytes of the pending connection lost: %m");
	if (closed && read(a, buf, sizeof(buf)) != 0)
		return wl_fail("no EOF after the closed client's bytes");
	return wl_pass();
}

/* bound as "rel.sock" in the test directory, reached there by the same name */
static int relative(bool connect_now)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX, .sun_path = "rel.sock"};
	int c;

	if (connect_now) {
		c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
			return wl_fail("connect to the relative path: %m");
		return wl_pass();
	}
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (chdir(fd_path(".")) < 0 || bind(lsk, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(lsk, 4) < 0)
		return wl_fail("relative bind: %m");
	return 0;
}

static int listen_only(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fd_path("refused.sock"));
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lsk, 4) < 0)
		return wl_fail("listen: %m");
	return 0;
}

static int setup_inflight(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))) = {0};
	struct iovec iov = {"F", 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int p[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe(p) < 0)
		return wl_fail("setup: %m");
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));
	if (sendmsg(sv[1], &mh, 0) != 1 || write(p[1], "in-flight", 9) != 9)
		return wl_fail("send fd: %m");
	close(p[0]); /* only the copy in flight is left */
	close(p[1]);
	return 0;
}

static int check_inflight(void)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))), b, buf[16];
	struct iovec iov = {&b, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) != 1 || !(c = CMSG_FIRSTHDR(&mh)) ||
	    c->cmsg_type != SCM_RIGHTS)
		return wl_fail("fd in flight lost: %m");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (read(fd, buf, sizeof(buf)) != 9 || memcmp(buf, "in-flight", 9))
		return wl_fail("fd in flight does not carry the data");
	return wl_pass();
}

static int setup_passcred(void)
{
	int on = 1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0 ||
	    write(sv[1], "cred", 4) != 4)
		return wl_fail("passcred: %m");
	return 0;
}

static int check_passcred(void)
{
	char buf[8], cbuf[CMSG_SPACE(sizeof(struct ucred))] __attribute__((aligned(8)));
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	struct ucred uc;

	if (recvmsg(sv[0], &mh, MSG_DONTWAIT) != 4 || memcmp(buf, "cred", 4))
		return wl_fail("passcred: the queued bytes are lost: %m");
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_CREDENTIALS)
		return wl_fail("passcred: no credentials");
	memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	if (uc.pid != getpid() || uc.uid != getuid() || uc.gid != getgid())
		return wl_fail("passcred: credentials name %d (%u:%u), not %d", uc.pid, uc.uid,
			       uc.gid, getpid());
	return wl_pass();
}

static int setup_dead_peer(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX};
	int peer = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fd_path("own.sock"));
	snprintf(b.sun_path, sizeof(b.sun_path), "%s", fd_path("peer.sock"));
	sv[0] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sv[0] < 0 || peer < 0 || bind(sv[0], (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    bind(peer, (struct sockaddr *)&b, sizeof(b)) < 0 ||
	    connect(sv[0], (struct sockaddr *)&b, sizeof(b)) < 0)
		return wl_fail("dgram-dead-peer: %m");
	close(peer);
	return 0;
}

static int check_dead_peer(void)
{
	if (send(sv[0], "x", 1, MSG_DONTWAIT) != -1 || errno != ECONNREFUSED)
		return wl_fail("dgram-dead-peer: send to the closed peer: %m, not ECONNREFUSED");
	return wl_pass();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	bool closed = !strcmp(mode, "pending-closed");
	int ret;

	wl_init(argc, argv);
	if (!strcmp(mode, "inflight"))
		ret = setup_inflight();
	else if (!strcmp(mode, "relative"))
		ret = relative(false);
	else if (!strcmp(mode, "listen"))
		ret = listen_only();
	else if (!strcmp(mode, "passcred"))
		ret = setup_passcred();
	else if (!strcmp(mode, "dgram-dead-peer"))
		ret = setup_dead_peer();
	else if (closed || !strcmp(mode, "pending-data"))
		ret = setup_pending(closed);
	else
		return wl_fail("unknown mode `%s`", mode);
	if (ret)
		return ret;
	wl_ready();
	wl_wait_restored();
	if (!strcmp(mode, "relative"))
		return relative(true);
	if (!strcmp(mode, "passcred"))
		return check_passcred();
	if (!strcmp(mode, "dgram-dead-peer"))
		return check_dead_peer();
	if (!strcmp(mode, "listen"))
		return accept4(lsk, NULL, NULL, SOCK_CLOEXEC) < 0 ? wl_fail("accept: %m")
								  : wl_pass();
	return !strcmp(mode, "inflight") ? check_inflight() : check_pending(closed);
}
