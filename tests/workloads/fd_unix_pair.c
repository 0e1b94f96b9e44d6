/*
 * fd_unix_pair - socketpairs across two processes: a stream pair with bytes
 * queued in both directions, a datagram pair with three messages queued
 * (boundaries kept), and a stream pair with SO_PASSCRED on an end with
 * nothing queued. After restore each side reads exactly what was queued,
 * new data flows both ways and the SO_PASSCRED end reads the writer's
 * credentials.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int child(int s, int d)
{
	char buf[64];

	/* after restore: the queued bytes, then a reply */
	if (read(s, buf, sizeof(buf)) != 9 || memcmp(buf, "to-child!", 9))
		return 1;
	if (write(s, "reply", 5) != 5)
		return 2;
	if (recv(d, buf, sizeof(buf), 0) != 2 || memcmp(buf, "d1", 2))
		return 3;
	return 0;
}

int main(int argc, char **argv)
{
	int s[2], d[2], c[2], sync[2], on = 1, st;
	char cbuf[CMSG_SPACE(sizeof(struct ucred))] __attribute__((aligned(8)));
	struct iovec iov = {cbuf, 0};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	struct ucred uc;
	socklen_t l = sizeof(on);
	char buf[64];
	pid_t kid;

	wl_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c) < 0 || pipe(sync) < 0)
		return wl_fail("socketpair: %m");
	if (setsockopt(c[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return wl_fail("SO_PASSCRED: %m");
	if (write(s[0], "to-child!", 9) != 9 || write(s[1], "to-parent", 9) != 9 ||
	    send(d[1], "one", 3, 0) != 3 || send(d[1], "two!", 4, 0) != 4 ||
	    send(d[1], "three", 5, 0) != 5 || send(d[0], "d1", 2, 0) != 2)
		return wl_fail("queue: %m");
	kid = fork();
	if (kid == 0) {
		close(s[0]);
		close(d[0]);
		if (read(sync[0], buf, 1) != 1)
			_exit(9);
		_exit(child(s[1], d[1]));
	}
	close(s[1]);
	close(d[1]);
	wl_ready();
	wl_wait_restored();
	if (read(s[0], buf, sizeof(buf)) != 9 || memcmp(buf, "to-parent", 9))
		return wl_fail("stream data to the parent lost");
	if (recv(d[0], buf, sizeof(buf), 0) != 3 || recv(d[0], buf, sizeof(buf), 0) != 4 ||
	    recv(d[0], buf, sizeof(buf), 0) != 5 || memcmp(buf, "three", 5))
		return wl_fail("datagrams lost or merged");
	if (getsockopt(c[0], SOL_SOCKET, SO_PASSCRED, &on, &l) < 0 || !on)
		return wl_fail("SO_PASSCRED lost");
	/* the bytes written now carry the writer's credentials */
	iov = (struct iovec){buf, sizeof(buf)};
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof(cbuf);
	if (write(c[1], "cred", 4) != 4 || recvmsg(c[0], &mh, 0) != 4)
		return wl_fail("SO_PASSCRED pair: %m");
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_CREDENTIALS)
		return wl_fail("no credentials on the SO_PASSCRED end");
	memcpy(&uc, CMSG_DATA(cm), sizeof(uc));
	if (uc.pid != getpid() || uc.uid != getuid() || uc.gid != getgid())
		return wl_fail("credentials name %d (%u:%u), not the writer %d", uc.pid, uc.uid,
			       uc.gid, getpid());
	if (write(sync[1], "g", 1) != 1)
		return wl_fail("sync: %m");
	if (read(s[0], buf, sizeof(buf)) != 5 || memcmp(buf, "reply", 5))
		return wl_fail("no reply from the child");
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child status %#x", st);
	return wl_pass();
}
