/*
 * fd_unix_passfd - a tree that passes fds over a unix socket after
 * restore: the root and its child share a socketpair made before the
 * checkpoint; after restore the child opens a pipe, sends its read end
 * over the socket (SCM_RIGHTS) and writes into it; the root receives the
 * fd and reads the data through it.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int child(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))) = {0};
	struct iovec iov = {"F", 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	char go;
	int p[2];

	if (read(sk, &go, 1) != 1 || pipe(p) < 0)
		return 1;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));
	if (sendmsg(sk, &mh, 0) != 1 || write(p[1], "through-passed-fd", 17) != 17)
		return 2;
	return 0;
}

int main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))), b, buf[64];
	struct iovec iov = {&b, 1};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int sv[2], fd, st;
	pid_t kid;

	wl_init(argc, argv);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return wl_fail("socketpair: %m");
	kid = fork();
	if (kid == 0) {
		close(sv[0]);
		_exit(child(sv[1]));
	}
	close(sv[1]);
	wl_ready();
	wl_wait_restored();
	if (write(sv[0], "g", 1) != 1 || recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC) != 1)
		return wl_fail("no message from the child: %m");
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return wl_fail("no fd passed");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (read(fd, buf, sizeof(buf)) != 17 || memcmp(buf, "through-passed-fd", 17))
		return wl_fail("passed fd does not carry the data");
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child status %#x", st);
	return wl_pass();
}
