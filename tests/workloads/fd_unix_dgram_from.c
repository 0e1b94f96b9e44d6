/*
 * fd_unix_dgram_from [passcred] - queued unix datagrams keep their
 * senders' names (recvfrom):
 *   r.sock   bound, unconnected: datagrams from s1.sock (held), from an
 *            unbound socket, from an abstract name since closed, from
 *            s4.sock closed and unlinked, from s1.sock again, from itself
 *   r2       abstract, connected to s5.sock, which sent to it
 *   pair     a socketpair end, a datagram from its unbound peer
 *   orphan   a socketpair end whose peer bound an abstract name, sent and
 *            closed: the datagram, then nothing; it still names that peer
 * After restore each datagram reads back its bytes and its sender's name
 * (none for an unbound one), in order, and s4.sock is not made again.
 * outside: out.sock holds a datagram the harness sent from an abstract
 * name its socket outside the tree still holds: the checkpoint is
 * refused; after the go the datagram names that socket. outside-path: the
 * same from ext.sock, a path: refused while that socket holds it (restore
 * would move its file aside); once it is closed, a restore made while
 * another socket holds ext.sock is refused and leaves that file alone.
 * relative: see relative().
 * passcred: the receiver has SO_PASSCRED and holds datagrams sent before
 * it had it (no credentials), by a child gone since and by itself: after
 * restore each names its sender's pid (none for the first), uid and gid.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

struct name {
	struct sockaddr_un a;
	socklen_t l; /* 0: unbound */
};

static struct name path_name(const char *file)
{
	struct name n = {.a.sun_family = AF_UNIX};

	snprintf(n.a.sun_path, sizeof(n.a.sun_path), "%s", fd_path(file));
	n.l = offsetof(struct sockaddr_un, sun_path) + strlen(n.a.sun_path) + 1;
	return n;
}

static struct name abstract_name(const char *tag)
{
	struct name n = {.a.sun_family = AF_UNIX};

	snprintf(n.a.sun_path + 1, sizeof(n.a.sun_path) - 1, "ckpt-from-%d-%s", (int)getpid(), tag);
	n.l = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n.a.sun_path + 1);
	return n;
}

static const struct name none;

static int dgram(const struct name *n)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s >= 0 && n->l && n->a.sun_path[0])
		(void)unlink(n->a.sun_path);
	if (s < 0 || (n->l && bind(s, (const struct sockaddr *)&n->a, n->l) < 0))
		return -1;
	return s;
}

/* One datagram of fd: want, from the socket named from. */
static int expect(const char *what, int fd, const char *want, const struct name *from)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	char buf[64];
	ssize_t n;

	memset(&a, 0, sizeof(a));
	n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&a, &l);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return wl_fail("%s: read %zd bytes, not `%s`", what, n, want);
	if (l != from->l ||
	    (l && memcmp(a.sun_path, from->a.sun_path, l - offsetof(struct sockaddr_un, sun_path))))
		return wl_fail("%s: `%s` came from `%s` (length %u), not `%s` (length %u)", what,
			       want, a.sun_path[0] ? a.sun_path : a.sun_path + 1, (unsigned)l,
			       from->a.sun_path[0] ? from->a.sun_path : from->a.sun_path + 1,
			       (unsigned)from->l);
	return 0;
}

static int sendto_name(int s, const char *m, const struct name *to)
{
	return sendto(s, m, strlen(m), 0, (const struct sockaddr *)&to->a, to->l) ==
			       (ssize_t)strlen(m)
		       ? 0
		       : -1;
}

/* The next datagram of r: want, with credentials naming pid (0: none). */
static int expect_cred(int r, const char *want, pid_t pid)
{
	char buf[16], cbuf[CMSG_SPACE(sizeof(struct ucred))] __attribute__((aligned(8)));
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	struct ucred uc;
	ssize_t n = recvmsg(r, &mh, MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return wl_fail("pc.sock: read %zd bytes, not `%s`", n, want);
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_CREDENTIALS)
		return wl_fail("`%s` came without credentials", want);
	memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	if (uc.pid != pid || (pid && (uc.uid != getuid() || uc.gid != getgid())))
		return wl_fail("`%s` came from %d (%u:%u), not %d (%u:%u)", want, uc.pid, uc.uid,
			       uc.gid, pid, getuid(), getgid());
	return 0;
}

static int passcred(void)
{
	struct name rn = path_name("pc.sock");
	int r = dgram(&rn), s = dgram(&none), on = 1, st;
	pid_t kid;

	/* sent before SO_PASSCRED: it carries no credentials */
	if (r < 0 || s < 0 || sendto_name(s, "none", &rn) < 0 ||
	    setsockopt(r, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
		return wl_fail("receiver: %m");
	kid = fork();
	if (kid == 0)
		_exit(sendto_name(s, "child", &rn) < 0);
	if (kid < 0 || waitpid(kid, &st, 0) != kid || st)
		return wl_fail("the child did not send");
	if (sendto_name(s, "self", &rn) < 0)
		return wl_fail("send: %m");
	wl_ready();
	wl_wait_restored();
	if (expect_cred(r, "none", 0) || expect_cred(r, "child", kid) ||
	    expect_cred(r, "self", getpid()))
		return 1;
	return wl_pass();
}

static int outside(bool path)
{
	struct name rn = path_name("out.sock");
	struct name from = path ? path_name("ext.sock") : abstract_name("outside");
	int r = dgram(&rn);
	char buf[16];
	ssize_t n;

	if (r < 0)
		return wl_fail("receiver: %m");
	wl_ready();
	wl_wait_restored();
	n = recv(r, buf, sizeof(buf), MSG_PEEK);
	if (n != 3)
		return wl_fail("no datagram from outside: %m");
	return expect("out.sock", r, "out", &from) ? 1 : wl_pass();
}

/*
 * relative: a datagram queued from a socket bound to a relative path,
 * closed since: refused at checkpoint (the directory is not known); after
 * the go it reads back that name.
 */
static int relative(void)
{
	struct name rn = path_name("rr.sock"), from = {.a.sun_family = AF_UNIX};
	int r = dgram(&rn), s;

	if (chdir(fd_path(".")) < 0)
		return wl_fail("chdir: %m");
	snprintf(from.a.sun_path, sizeof(from.a.sun_path), "rel-sender.sock");
	from.l = offsetof(struct sockaddr_un, sun_path) + strlen(from.a.sun_path) + 1;
	s = dgram(&from);
	if (r < 0 || s < 0 || sendto_name(s, "rel", &rn) < 0)
		return wl_fail("relative: %m");
	close(s);
	wl_ready();
	wl_wait_restored();
	return expect("rr.sock", r, "rel", &from) ? 1 : wl_pass();
}

/*
 * retaken: a1 (a socketpair end) and a2 are connected to @n1 and @n2,
 * whose sockets closed (b1 after sending to a1); c1 and c2 bound those names since (a daemon
 * restarted). After restore a1 reads what b1 sent, sends from a1 and a2
 * are refused (ECONNREFUSED) as before, and c1 and c2 keep the names.
 */
static int retaken(void)
{
	struct name n1 = abstract_name("n1"), n2 = abstract_name("n2");
	int b2 = dgram(&n2), a2 = dgram(&none), p[2], c1, c2;
	struct sockaddr_un a;
	socklen_t l;
	char buf[8];

	if (b2 < 0 || a2 < 0 || socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, p) < 0 ||
	    bind(p[1], (struct sockaddr *)&n1.a, n1.l) < 0 || send(p[1], "hi", 2, 0) != 2 ||
	    connect(a2, (struct sockaddr *)&n2.a, n2.l) < 0)
		return wl_fail("retaken: %m");
	close(p[1]);
	close(b2);
	c1 = dgram(&n1);
	c2 = dgram(&n2);
	if (c1 < 0 || c2 < 0)
		return wl_fail("bind the names again: %m");
	wl_ready();
	wl_wait_restored();
	if (recv(p[0], buf, sizeof(buf), MSG_DONTWAIT) != 2 || memcmp(buf, "hi", 2))
		return wl_fail("a1: the datagram from its closed peer is lost: %m");
	if (send(p[0], "x", 1, MSG_DONTWAIT) >= 0 || errno != ECONNREFUSED)
		return wl_fail("a1: send not refused: %m");
	if (send(a2, "x", 1, MSG_DONTWAIT) >= 0 || errno != ECONNREFUSED)
		return wl_fail("a2: send not refused: %m");
	for (int i = 0; i < 2; i++) {
		const struct name *n = i ? &n2 : &n1;

		l = sizeof(a);
		if (getsockname(i ? c2 : c1, (struct sockaddr *)&a, &l) < 0 || l != n->l ||
		    memcmp(a.sun_path, n->a.sun_path, l - offsetof(struct sockaddr_un, sun_path)))
			return wl_fail("c%d lost its name", i + 1);
	}
	return wl_pass();
}

int main(int argc, char **argv)
{
	struct name rn = path_name("r.sock"), s1n = path_name("s1.sock");
	struct name s3n = abstract_name("s3"), s4n = path_name("s4.sock");
	struct name r2n = abstract_name("r2"), s5n = path_name("s5.sock");
	struct name on = abstract_name("orphan");
	int r, s1, s2, s3, s4, r2, s5, p[2], o[2];
	struct sockaddr_un a;
	socklen_t l;
	char c;
	struct stat st;

	wl_init(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "passcred"))
		return passcred();
	if (argc > 1 && !strcmp(argv[1], "outside"))
		return outside(false);
	if (argc > 1 && !strcmp(argv[1], "outside-path"))
		return outside(true);
	if (argc > 1 && !strcmp(argv[1], "retaken"))
		return retaken();
	if (argc > 1 && !strcmp(argv[1], "relative"))
		return relative();
	r = dgram(&rn);
	s1 = dgram(&s1n);
	s2 = dgram(&none);
	s3 = dgram(&s3n);
	s4 = dgram(&s4n);
	r2 = dgram(&r2n);
	s5 = dgram(&s5n);
	if (r < 0 || s1 < 0 || s2 < 0 || s3 < 0 || s4 < 0 || r2 < 0 || s5 < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, p) < 0 ||
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, o) < 0)
		return wl_fail("sockets: %m");
	if (sendto_name(s1, "one", &rn) || sendto_name(s2, "two", &rn) ||
	    sendto_name(s3, "three", &rn) || sendto_name(s4, "four", &rn) ||
	    sendto_name(s1, "five", &rn) || sendto_name(r, "self", &rn))
		return wl_fail("send to r.sock: %m");
	if (connect(r2, (struct sockaddr *)&s5n.a, s5n.l) < 0 || sendto_name(s5, "r2", &r2n) ||
	    send(p[1], "pair", 4, 0) != 4)
		return wl_fail("send to r2 or the pair: %m");
	if (bind(o[1], (struct sockaddr *)&on.a, on.l) < 0 || send(o[1], "orphan", 6, 0) != 6)
		return wl_fail("orphan: %m");
	close(o[1]);
	close(s3);
	close(s4);
	if (unlink(s4n.a.sun_path) < 0)
		return wl_fail("unlink s4.sock: %m");
	wl_ready();
	wl_wait_restored();
	if (expect("r.sock", r, "one", &s1n) || expect("r.sock", r, "two", &none) ||
	    expect("r.sock", r, "three", &s3n) || expect("r.sock", r, "four", &s4n) ||
	    expect("r.sock", r, "five", &s1n) || expect("r.sock", r, "self", &rn) ||
	    expect("r2", r2, "r2", &s5n) || expect("pair", p[0], "pair", &none) ||
	    expect("orphan", o[0], "orphan", &on))
		return 1;
	if (recv(r, &c, 1, MSG_DONTWAIT) >= 0 || recv(o[0], &c, 1, MSG_DONTWAIT) >= 0)
		return wl_fail("more datagrams than queued");
	l = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (getpeername(o[0], (struct sockaddr *)&a, &l) < 0 || l != on.l ||
	    memcmp(a.sun_path, on.a.sun_path, l - offsetof(struct sockaddr_un, sun_path)))
		return wl_fail("orphan: its closed peer's name is lost (length %u)", (unsigned)l);
	if (lstat(s4n.a.sun_path, &st) == 0)
		return wl_fail("s4.sock was made again");
	/* the names still receive */
	if (sendto_name(s2, "new", &rn) || expect("r.sock", r, "new", &none) ||
	    sendto_name(r, "back", &s1n) || expect("s1.sock", s1, "back", &rn))
		return wl_fail("new datagrams: %m");
	return wl_pass();
}
