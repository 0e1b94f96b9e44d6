/*
 * fd_unix_inflight - fds in flight (SCM_RIGHTS, sent and not received yet)
 * across checkpoint/restore. The parent receives everything after restore;
 * a child holds the other ends and uses the received fds' twins:
 *   stream   "aa", then "bb" with the write end of pipe P (whose read end
 *            the parent keeps) and a file F (the parent keeps the same
 *            description), then "cc": a read reads "aabb" and both fds (as
 *            before: stream reads stop after a message with fds), then
 *            "cc"; writing the received pipe end shows up at the parent's
 *            read end, seeking the received file moves the parent's offset
 *   dgram    one datagram with two fds: the read end of a pipe no task
 *            holds any more (bytes inside), and one end of a socketpair
 *            the child keeps (what the child writes after restore is read
 *            through the received end); then two datagrams each carrying
 *            the same file G, which no task holds: both received fds share
 *            one offset
 *   nested   a socket only in flight, whose own queue carries a pipe end
 *   cycle    a socket in flight in its own receive queue
 * With argument `epoll`: an epoll fd in flight instead, watching a socket
 * and an eventfd the process holds: once received after restore, its
 * watches are on those descriptions (kcmp KCMP_EPOLL_TFD) and report
 * their events with the saved data. `epoll-late`: the epoll also watches a
 * pipe end that is only in flight, in a later message: the checkpoint
 * refuses it, and the harness lets it go without a restore.
 */
#include <stdbool.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

static int send_fds(int sk, const char *data, const int *fds, int n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)] __attribute__((aligned(8))) = {0};
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	if (n) {
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	return sendmsg(sk, &mh, 0) == (ssize_t)strlen(data) ? 0 : -1;
}

/* Receive up to len bytes into buf (NUL-ended) and the fds with them. */
static int recv_fds(int sk, char *buf, size_t len, int *fds, int max)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)] __attribute__((aligned(8)));
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sk, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	int k = 0;

	if (n < 0)
		return -1;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_type == SCM_RIGHTS) {
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (k > max)
				return -1;
			memcpy(fds, CMSG_DATA(c), k * sizeof(int));
		}
	return k;
}

static int st[2], dg[2], nest[2], cyc[2], pr[2], ctl[2], fpar;
static int kept[2]; /* socketpair: kept[1] in flight, kept[0] with the child */

static int setup(void)
{
	int p2[2], inner[2], q[2], fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, nest) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cyc) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, kept) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inner) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0 ||
	    pipe2(pr, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0 || pipe2(q, O_CLOEXEC) < 0)
		return wl_fail("setup: %m");
	fpar = open(fd_path("inflight.txt"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fpar < 0 || write(fpar, "0123456789", 10) != 10 || lseek(fpar, 2, SEEK_SET) != 2)
		return wl_fail("file: %m");
	/* stream: plain bytes, bytes with fds, plain bytes */
	fds[0] = pr[1];
	fds[1] = fpar;
	if (send_fds(st[1], "aa", NULL, 0) || send_fds(st[1], "bb", fds, 2) ||
	    send_fds(st[1], "cc", NULL, 0))
		return wl_fail("stream send: %m");
	close(pr[1]);
	/* dgram: an orphan pipe's read end (with bytes) and kept[1] */
	if (write(p2[1], "orphan-pipe", 11) != 11)
		return wl_fail("pipe write: %m");
	fds[0] = p2[0];
	fds[1] = kept[1];
	if (send_fds(dg[1], "two", fds, 2))
		return wl_fail("dgram send: %m");
	close(p2[0]);
	close(p2[1]);
	close(kept[1]);
	fds[0] = open(fd_path("inflight-g.txt"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fds[0] < 0 || write(fds[0], "gggggggg", 8) != 8 || send_fds(dg[1], "g1", fds, 1) ||
	    send_fds(dg[1], "g2", fds, 1))
		return wl_fail("file G: %m");
	close(fds[0]);
	/* nested: inner[0] carries q[0] and is itself in flight, only there */
	if (write(q[1], "nested", 6) != 6 || send_fds(inner[1], "i", &q[0], 1) ||
	    send_fds(nest[1], "n", &inner[0], 1))
		return wl_fail("nested send: %m");
	close(q[0]);
	close(q[1]);
	close(inner[0]);
	close(inner[1]);
	/* cycle: cyc[0] in its own queue */
	if (send_fds(cyc[1], "c", &cyc[0], 1))
		return wl_fail("cycle send: %m");
	return 0;
}

static int check_stream(void)
{
	char buf[64];
	int fds[4];
	off_t off;

	if (recv_fds(st[0], buf, sizeof(buf) - 1, fds, 4) != 2 || strcmp(buf, "aabb"))
		return wl_fail("stream: `aabb` with 2 fds expected, got `%s`", buf);
	if (write(fds[0], "via-pipe", 8) != 8 || read(pr[0], buf, sizeof(buf)) != 8 ||
	    memcmp(buf, "via-pipe", 8))
		return wl_fail("received pipe end is not the parent's pipe: %m");
	if (lseek(fpar, 0, SEEK_CUR) != 2 || lseek(fds[1], 7, SEEK_SET) != 7)
		return wl_fail("file offset before: %m");
	off = lseek(fpar, 0, SEEK_CUR);
	if (off != 7)
		return wl_fail("received file does not share the description (offset %lld)",
			       (long long)off);
	if (recv_fds(st[0], buf, sizeof(buf) - 1, fds, 4) != 0 || strcmp(buf, "cc"))
		return wl_fail("stream: `cc` expected, got `%s`", buf);
	return 0;
}

static int check_dgram(pid_t child)
{
	char buf[64];
	int fds[4], status;

	if (recv_fds(dg[0], buf, sizeof(buf) - 1, fds, 4) != 2 || strcmp(buf, "two"))
		return wl_fail("dgram: `two` with 2 fds expected");
	if (read(fds[0], buf, sizeof(buf)) != 11 || memcmp(buf, "orphan-pipe", 11))
		return wl_fail("orphan pipe lost its bytes");
	if (write(ctl[1], "g", 1) != 1) /* tell the child to write on kept[0] */
		return wl_fail("go child: %m");
	if (read(fds[1], buf, sizeof(buf)) != 9 || memcmp(buf, "from-kept", 9))
		return wl_fail("received socket is not the child's peer: %m");
	if (recv_fds(dg[0], buf, sizeof(buf) - 1, fds, 4) != 1 || strcmp(buf, "g1") ||
	    recv_fds(dg[0], buf, sizeof(buf) - 1, fds + 1, 3) != 1 || strcmp(buf, "g2"))
		return wl_fail("dgram: `g1` and `g2` with file G expected");
	if (lseek(fds[0], 5, SEEK_SET) != 5 || lseek(fds[1], 0, SEEK_CUR) != 5)
		return wl_fail("the two copies of G in flight no longer share an offset");
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("child failed");
	return 0;
}

static int check_nested_cycle(void)
{
	struct stat a, b;
	char buf[64];
	int fds[4], inner;

	if (recv_fds(nest[0], buf, sizeof(buf) - 1, fds, 4) != 1 || strcmp(buf, "n"))
		return wl_fail("nested: outer message lost");
	inner = fds[0];
	if (recv_fds(inner, buf, sizeof(buf) - 1, fds, 4) != 1 || strcmp(buf, "i"))
		return wl_fail("nested: inner message lost");
	if (read(fds[0], buf, sizeof(buf)) != 6 || memcmp(buf, "nested", 6))
		return wl_fail("nested: pipe bytes lost");
	if (recv_fds(cyc[0], buf, sizeof(buf) - 1, fds, 4) != 1 || strcmp(buf, "c"))
		return wl_fail("cycle: message lost");
	if (fstat(fds[0], &a) < 0 || fstat(cyc[0], &b) < 0 || a.st_ino != b.st_ino)
		return wl_fail("cycle: received socket is not the socket itself");
	return 0;
}

static bool watch_is(int ep, int tfd, int fd)
{
	struct kcmp_epoll_slot slot = {.efd = ep, .tfd = tfd, .toff = 0};

	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_EPOLL_TFD, fd, (unsigned long)&slot) == 0;
}

/* An epoll fd in flight: restored (late: refused by the checkpoint, intact after it). */
static int epoll_mode(bool late)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x51}, evs[4];
	int ep = epoll_create1(EPOLL_CLOEXEC), efd = eventfd(0, EFD_CLOEXEC), fds[4], p[2], got;
	uint64_t one = 1, seen = 0;
	char buf[8];

	if (ep < 0 || efd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, st[0], &ev) < 0 || pipe2(p, O_CLOEXEC) < 0)
		return wl_fail("epoll setup: %m");
	ev.data.u64 = 0xe5;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0)
		return wl_fail("epoll setup: %m");
	ev.data.u64 = 0x99;
	if (late && (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) < 0 || send_fds(st[1], "e", &ep, 1) ||
		     send_fds(st[1], "p", &p[0], 1) || close(p[0]) < 0))
		return wl_fail("epoll setup: %m");
	if (!late && send_fds(st[1], "e", &ep, 1))
		return wl_fail("epoll setup: %m");
	close(ep);
	wl_ready();
	wl_wait_restored();
	if (recv_fds(st[0], buf, sizeof(buf) - 1, fds, 4) != 1)
		return wl_fail("epoll in flight lost: %m");
	if (!watch_is(fds[0], st[0], st[0]) || !watch_is(fds[0], efd, efd))
		return wl_fail("the epoll's watches are not on the socket and the eventfd");
	if (write(st[1], "x", 1) != 1 || write(efd, &one, 8) != 8)
		return wl_fail("write: %m");
	got = epoll_wait(fds[0], evs, 4, 10000);
	for (int i = 0; i < got; i++)
		seen |= evs[i].data.u64 == 0x51 ? 1 : evs[i].data.u64 == 0xe5 ? 2 : 4;
	if (seen != 3 && !late)
		return wl_fail("epoll in flight: events %#llx, want the socket's and the eventfd's",
			       (unsigned long long)seen);
	return wl_pass();
}

int main(int argc, char **argv)
{
	pid_t child;
	char go;

	wl_init(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "epoll"))
		return epoll_mode(false);
	if (argc > 1 && !strcmp(argv[1], "epoll-late"))
		return epoll_mode(true);
	if (setup())
		return 1;
	child = fork();
	if (child < 0)
		return wl_fail("fork: %m");
	if (child == 0) {
		/* holds kept[0]; after the parent's go, writes into it (EOF: parent gone) */
		close(ctl[1]);
		if (read(ctl[0], &go, 1) != 1 || go != 'g')
			_exit(1);
		_exit(write(kept[0], "from-kept", 9) == 9 ? 0 : 1);
	}
	close(kept[0]);
	wl_ready();
	wl_wait_restored();
	if (check_stream() || check_nested_cycle() || check_dgram(child))
		return 1;
	return wl_pass();
}
