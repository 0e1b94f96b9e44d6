/*
 * fd_unix_kinds MODE - unix sockets beyond connected pairs and listeners,
 * each verified after restore:
 *   unconnected  stream, datagram and seqpacket sockets, unbound and bound
 *                (a path and an abstract name), never connected; the bound
 *                datagram one receives by its name afterwards
 *   seqpacket    a seqpacket pair and an accepted seqpacket connection with
 *                records queued both ways (boundaries kept), and the
 *                listener still taking new clients
 *   orphan       stream, seqpacket and datagram sockets holding queued data
 *                whose peer is closed: the data, then EOF (or no more)
 *   gone         sockets bound to a path since deleted and to a path now
 *                taken by a FIFO: both keep their name, the FIFO stays
 *   external     connected to a server outside the tree (ext.sock, made by
 *                the harness, which echoes what it gets): the checkpoint
 *                is refused; after the go the connection still works
 *   ext-dgram    a datagram socket bound to extc.sock, connected to a
 *                server outside the tree (extd.sock, made by the harness,
 *                which answers "pong" to each message): after restore
 *                with --ext-unix-sk, it still talks to that server
 */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* fd has type and is bound to a (len l; 0: unbound) */
static int same_sock(int fd, int type, const struct sockaddr_un *a, socklen_t l)
{
	struct sockaddr_un got;
	socklen_t gl = sizeof(got), tl = sizeof(int);
	int t = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) < 0 || t != type)
		return 0;
	memset(&got, 0, sizeof(got));
	if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0)
		return 0;
	if (!l)
		return gl == offsetof(struct sockaddr_un, sun_path);
	return gl == l &&
	       !memcmp(got.sun_path, a->sun_path, l - offsetof(struct sockaddr_un, sun_path));
}

static int expect(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n == (ssize_t)strlen(want) && !memcmp(buf, want, n);
}

static const int types[3] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};

static int unconnected(void)
{
	struct sockaddr_un a[6];
	socklen_t l[6];
	int fd[9], s;
	char n[64];

	for (int i = 0; i < 3; i++) {
		snprintf(n, sizeof(n), "u%d.sock", i);
		l[i] = addr(&a[i], fd_path(n), 0);
		snprintf(n, sizeof(n), "ckpt-wl-%d-u%d", getpid(), i);
		l[3 + i] = addr(&a[3 + i], n, 1);
		for (int k = 0; k < 3; k++) {
			fd[3 * k + i] = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
			if (fd[3 * k + i] < 0)
				return wl_fail("socket: %m");
		}
		if (bind(fd[3 + i], (struct sockaddr *)&a[i], l[i]) < 0 ||
		    bind(fd[6 + i], (struct sockaddr *)&a[3 + i], l[3 + i]) < 0)
			return wl_fail("bind: %m");
	}
	wl_ready();
	wl_wait_restored();
	for (int i = 0; i < 3; i++)
		if (!same_sock(fd[i], types[i], NULL, 0) ||
		    !same_sock(fd[3 + i], types[i], &a[i], l[i]) ||
		    !same_sock(fd[6 + i], types[i], &a[3 + i], l[3 + i]))
			return wl_fail("unconnected socket of type %d changed", types[i]);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sendto(s, "p", 1, 0, (struct sockaddr *)&a[1], l[1]) != 1 || !expect(fd[4], "p") ||
	    sendto(s, "q", 1, 0, (struct sockaddr *)&a[4], l[4]) != 1 || !expect(fd[7], "q"))
		return wl_fail("bound datagram socket does not receive by name: %m");
	/* the unbound stream one can still connect and listen like any */
	if (listen(fd[3], 2) < 0 || connect(fd[0], (struct sockaddr *)&a[0], l[0]) < 0)
		return wl_fail("unconnected stream sockets unusable: %m");
	return wl_pass();
}

static int seqpacket(void)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, fd_path("seq.sock"), 0);
	int sv[2], lsk, c, s, c2;

	lsk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 || lsk < 0 || c < 0 ||
	    bind(lsk, (struct sockaddr *)&a, l) < 0 || listen(lsk, 4) < 0 ||
	    connect(c, (struct sockaddr *)&a, l) < 0 ||
	    (s = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return wl_fail("seqpacket setup: %m");
	if (send(sv[0], "one", 3, 0) != 3 || send(sv[0], "second", 6, 0) != 6 ||
	    send(sv[1], "back", 4, 0) != 4 || send(c, "c1", 2, 0) != 2 ||
	    send(c, "c-two", 5, 0) != 5 || send(s, "s1", 2, 0) != 2)
		return wl_fail("seqpacket send: %m");
	wl_ready();
	wl_wait_restored();
	if (!expect(sv[1], "one") || !expect(sv[1], "second") || !expect(sv[0], "back") ||
	    !expect(s, "c1") || !expect(s, "c-two") || !expect(c, "s1"))
		return wl_fail("seqpacket records lost or merged");
	c2 = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (connect(c2, (struct sockaddr *)&a, l) < 0 || send(c2, "new", 3, 0) != 3 ||
	    (s = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0 || !expect(s, "new") ||
	    send(sv[0], "x", 1, 0) != 1 || !expect(sv[1], "x"))
		return wl_fail("seqpacket sockets unusable after restore: %m");
	return wl_pass();
}

static int orphan(void)
{
	int sv[3][2];
	char buf[8];

	for (int i = 0; i < 3; i++) {
		if (socketpair(AF_UNIX, types[i] | SOCK_CLOEXEC, 0, sv[i]) < 0 ||
		    send(sv[i][1], "left", 4, 0) != 4 || send(sv[i][1], "behind", 6, 0) != 6)
			return wl_fail("orphan setup: %m");
		close(sv[i][1]);
	}
	wl_ready();
	wl_wait_restored();
	if (recv(sv[0][0], buf, sizeof(buf), MSG_DONTWAIT) != 8 || memcmp(buf, "leftbehi", 8) ||
	    !expect(sv[0][0], "nd") || recv(sv[0][0], buf, 1, MSG_DONTWAIT) != 0)
		return wl_fail("stream orphan: bytes or EOF lost");
	if (!expect(sv[1][0], "left") || !expect(sv[1][0], "behind"))
		return wl_fail("datagram orphan: messages lost");
	if (!expect(sv[2][0], "left") || !expect(sv[2][0], "behind") ||
	    recv(sv[2][0], buf, 1, MSG_DONTWAIT) != 0)
		return wl_fail("seqpacket orphan: records or EOF lost");
	if (send(sv[1][0], "x", 1, MSG_DONTWAIT) >= 0)
		return wl_fail("datagram orphan sends to a closed peer");
	return wl_pass();
}

static int gone(void)
{
	struct sockaddr_un a[2];
	socklen_t l[2];
	struct stat st;
	int fd[2], s;

	l[0] = addr(&a[0], fd_path("deleted.sock"), 0);
	l[1] = addr(&a[1], fd_path("fifo.sock"), 0);
	for (int i = 0; i < 2; i++) {
		fd[i] = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd[i] < 0 || bind(fd[i], (struct sockaddr *)&a[i], l[i]) < 0 ||
		    unlink(a[i].sun_path) < 0)
			return wl_fail("bind/unlink: %m");
	}
	if (mkfifo(a[1].sun_path, 0600) < 0)
		return wl_fail("mkfifo: %m");
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (connect(s, (struct sockaddr *)&a[0], l[0]) == 0)
		return wl_fail("deleted name still reachable");
	wl_ready();
	wl_wait_restored();
	for (int i = 0; i < 2; i++)
		if (!same_sock(fd[i], SOCK_DGRAM, &a[i], l[i]))
			return wl_fail("socket %d lost its name", i);
	if (lstat(a[0].sun_path, &st) == 0)
		return wl_fail("deleted name came back as a file");
	if (lstat(a[1].sun_path, &st) < 0 || !S_ISFIFO(st.st_mode))
		return wl_fail("the FIFO at the name is gone");
	return wl_pass();
}

static int external(void)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, fd_path("ext.sock"), 0);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[8];

	if (c < 0 || connect(c, (struct sockaddr *)&a, l) < 0 || send(c, "hi", 2, 0) != 2)
		return wl_fail("connect to the server outside: %m");
	wl_ready();
	wl_wait_restored();
	if (recv(c, buf, sizeof(buf), 0) != 2 || memcmp(buf, "hi", 2))
		return wl_fail("connection to the server outside broken: %m");
	return wl_pass();
}

static int ext_dgram(void)
{
	struct sockaddr_un a, me;
	socklen_t l = addr(&a, fd_path("extd.sock"), 0), ml = addr(&me, fd_path("extc.sock"), 0);
	int c = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char buf[8];

	if (c < 0 || bind(c, (struct sockaddr *)&me, ml) < 0 ||
	    connect(c, (struct sockaddr *)&a, l) < 0 || send(c, "ping", 4, 0) != 4 ||
	    recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		return wl_fail("talk to the server outside: %m");
	wl_ready();
	wl_wait_restored();
	if (!same_sock(c, SOCK_DGRAM, &me, ml) || send(c, "ping", 4, 0) != 4 ||
	    recv(c, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		return wl_fail("no answer from the server outside after restore: %m");
	return wl_pass();
}

int main(int argc, char **argv)
{
	const char *mode;

	wl_init(argc, argv);
	mode = argc > 1 ? argv[1] : "";
	if (!strcmp(mode, "unconnected"))
		return unconnected();
	if (!strcmp(mode, "seqpacket"))
		return seqpacket();
	if (!strcmp(mode, "orphan"))
		return orphan();
	if (!strcmp(mode, "gone"))
		return gone();
	if (!strcmp(mode, "external"))
		return external();
	if (!strcmp(mode, "ext-dgram"))
		return ext_dgram();
	return wl_fail("unknown mode `%s`", mode);
}
