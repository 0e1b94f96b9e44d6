/*
 * fd_unix_names - connected unix stream and seqpacket sockets keep the
 * names they had: the accepted end its listener's (getsockname), the
 * connecting end that name as its peer's and its own if it bound one.
 *   live    stream, listener live.sock kept; one client unbound (it shut
 *           down its sending side), one bound to client.sock
 *   seq     seqpacket, abstract listener kept, client bound to an abstract
 *           name, records queued both ways
 *   gone    stream, listener gone.sock closed and its file unlinked
 *   fifo    stream, listener fifo.sock closed, its name now a FIFO
 *   abs     stream, abstract listener closed
 *   orphan  accepted from live.sock, its client closed after sending
 *   server gone  a client of live.sock whose accepted end sent and closed:
 *           it still names live.sock as its peer
 * (relative: see relative().)
 * After restore every end reads back both names and every byte queued,
 * SO_PEERCRED gives our uid and gid, nothing is left at gone.sock, the
 * FIFO and client.sock stay, and both listeners kept take new clients.
 */
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

struct name {
	struct sockaddr_un a;
	socklen_t l; /* offsetof(sun_path): unbound */
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

	snprintf(n.a.sun_path + 1, sizeof(n.a.sun_path) - 1, "ckpt-names-%d-%s", (int)getpid(),
		 tag);
	n.l = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n.a.sun_path + 1);
	return n;
}

static const struct name unbound = {.a.sun_family = AF_UNIX,
				    .l = offsetof(struct sockaddr_un, sun_path)};

/* A connection: c connected to a listener that accepted s. */
struct conn {
	const char *what;
	int c, s;
	struct name cn, sn; /* c's own name, s's (its listener's) */
};

static struct conn conns[8];
static int nconns, live_l, seq_l;

static int listener(int type, const struct name *n)
{
	int l = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (n->a.sun_path[0])
		(void)unlink(n->a.sun_path);
	if (l < 0 || bind(l, (const struct sockaddr *)&n->a, n->l) < 0 || listen(l, 8) < 0)
		return -1;
	return l;
}

static struct conn *connect_to(const char *what, int type, int l, const struct name *sn,
			       const struct name *cn)
{
	struct conn *k = &conns[nconns++];

	*k = (struct conn){what, socket(AF_UNIX, type | SOCK_CLOEXEC, 0), -1, *cn, *sn};
	if (cn->a.sun_path[0])
		(void)unlink(cn->a.sun_path);
	if (k->c < 0 || (cn->l > unbound.l && bind(k->c, (const struct sockaddr *)&cn->a, cn->l)))
		return NULL;
	if (connect(k->c, (const struct sockaddr *)&sn->a, sn->l) < 0)
		return NULL;
	k->s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	return k->s < 0 ? NULL : k;
}

static bool same(const struct sockaddr_un *a, socklen_t l, const struct name *want)
{
	return l == want->l && !memcmp(a->sun_path, want->a.sun_path, l - unbound.l);
}

/* fd's own name is own and its peer's peer (NULL: fd's peer is gone) */
static int check_names(const char *what, const char *end, int fd, const struct name *own,
		       const struct name *peer)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	struct ucred uc;
	socklen_t ul = sizeof(uc);

	memset(&a, 0, sizeof(a));
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0 || !same(&a, l, own))
		return wl_fail("%s: the %s end's name is lost (length %u, `%s`)", what, end,
			       (unsigned)l, a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	l = sizeof(a);
	memset(&a, 0, sizeof(a));
	if (peer && (getpeername(fd, (struct sockaddr *)&a, &l) < 0 || !same(&a, l, peer)))
		return wl_fail("%s: the %s end's peer name is lost (length %u, `%s`)", what, end,
			       (unsigned)l, a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &ul) < 0 || uc.uid != getuid() ||
	    uc.gid != getgid())
		return wl_fail("%s: the %s end's SO_PEERCRED is %u:%u", what, end, uc.uid, uc.gid);
	return 0;
}

/* fd holds exactly want, one record or stream chunk, then nothing */
static int expect(const char *what, int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return wl_fail("%s: read %zd bytes, not `%s`", what, n, want);
	return 0;
}

static int setup(void)
{
	struct name live = path_name("live.sock"), seqn = abstract_name("seq");
	struct name gone = path_name("gone.sock"), fifo = path_name("fifo.sock");
	struct name absn = abstract_name("abs"), client = path_name("client.sock");
	struct name seqc = abstract_name("seq-client");
	struct conn *k[6];
	int l[3], orphan_c;

	live_l = listener(SOCK_STREAM, &live);
	seq_l = listener(SOCK_SEQPACKET, &seqn);
	l[0] = listener(SOCK_STREAM, &gone);
	l[1] = listener(SOCK_STREAM, &fifo);
	l[2] = listener(SOCK_STREAM, &absn);
	if (live_l < 0 || seq_l < 0 || l[0] < 0 || l[1] < 0 || l[2] < 0)
		return wl_fail("listeners: %m");
	k[0] = connect_to("live", SOCK_STREAM, live_l, &live, &unbound);
	k[1] = connect_to("live bound", SOCK_STREAM, live_l, &live, &client);
	k[2] = connect_to("seq", SOCK_SEQPACKET, seq_l, &seqn, &seqc);
	k[3] = connect_to("gone", SOCK_STREAM, l[0], &gone, &unbound);
	k[4] = connect_to("fifo", SOCK_STREAM, l[1], &fifo, &unbound);
	k[5] = connect_to("abs", SOCK_STREAM, l[2], &absn, &unbound);
	for (int i = 0; i < 6; i++)
		if (!k[i])
			return wl_fail("connection %d: %m", i);
	if (write(k[0]->c, "to-server", 9) != 9 || write(k[0]->s, "to-client", 9) != 9 ||
	    shutdown(k[0]->c, SHUT_WR) < 0 || send(k[2]->c, "r1", 2, 0) != 2 ||
	    send(k[2]->s, "r2", 2, 0) != 2 || write(k[5]->s, "abs", 3) != 3)
		return wl_fail("queue: %m");
	/* the orphan: accepted, its client sent and closed */
	orphan_c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (orphan_c < 0 || connect(orphan_c, (struct sockaddr *)&live.a, live.l) < 0 ||
	    write(orphan_c, "last", 4) != 4)
		return wl_fail("orphan: %m");
	conns[nconns] = (struct conn){"orphan", -1, accept4(live_l, NULL, NULL, SOCK_CLOEXEC),
				      unbound, live};
	if (conns[nconns++].s < 0)
		return wl_fail("accept the orphan: %m");
	close(orphan_c);
	/* the client whose server end closed after sending */
	k[0] = connect_to("server gone", SOCK_STREAM, live_l, &live, &unbound);
	if (!k[0] || write(k[0]->s, "bye", 3) != 3)
		return wl_fail("server gone: %m");
	close(k[0]->s);
	k[0]->s = -1;
	for (int i = 0; i < 3; i++)
		close(l[i]);
	if (unlink(gone.a.sun_path) < 0 || unlink(fifo.a.sun_path) < 0 ||
	    mkfifo(fifo.a.sun_path, 0600) < 0)
		return wl_fail("names: %m");
	return 0;
}

/* A new client of listener l (at n) is accepted and heard. */
static int new_client(const char *what, int type, int l, const struct name *n)
{
	int c = socket(AF_UNIX, type | SOCK_CLOEXEC, 0), s;
	char buf[8];

	if (c < 0 || connect(c, (const struct sockaddr *)&n->a, n->l) < 0)
		return wl_fail("%s: a new client cannot connect: %m", what);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || send(c, "hi", 2, 0) != 2 || recv(s, buf, sizeof(buf), 0) != 2)
		return wl_fail("%s: the new client is not heard: %m", what);
	close(c);
	close(s);
	return 0;
}

static int verify_names(void)
{
	for (int i = 0; i < nconns; i++) {
		struct conn *k = &conns[i];

		if ((k->s >= 0 &&
		     check_names(k->what, "accepted", k->s, &k->sn, k->c >= 0 ? &k->cn : NULL)) ||
		    (k->c >= 0 && check_names(k->what, "connecting", k->c, &k->cn, &k->sn)))
			return 1;
	}
	return 0;
}

static int verify(void)
{
	struct name live = path_name("live.sock"), seqn = abstract_name("seq");
	struct stat st;
	char buf[8];

	if (verify_names())
		return 1;
	if (expect("live", conns[0].s, "to-server") || expect("live", conns[0].c, "to-client") ||
	    expect("seq", conns[2].s, "r1") || expect("seq", conns[2].c, "r2") ||
	    expect("abs", conns[5].c, "abs") || expect("orphan", conns[6].s, "last"))
		return 1;
	if (recv(conns[0].s, buf, sizeof(buf), MSG_DONTWAIT) != 0)
		return wl_fail("live: no EOF after the client's shutdown");
	if (recv(conns[6].s, buf, sizeof(buf), MSG_DONTWAIT) != 0)
		return wl_fail("orphan: no EOF after the data");
	if (expect("server gone", conns[7].c, "bye") ||
	    recv(conns[7].c, buf, sizeof(buf), MSG_DONTWAIT) != 0)
		return wl_fail("server gone: data or EOF lost");
	if (write(conns[1].c, "ping", 4) != 4 || recv(conns[1].s, buf, sizeof(buf), 0) != 4 ||
	    write(conns[3].s, "pong", 4) != 4 || recv(conns[3].c, buf, sizeof(buf), 0) != 4)
		return wl_fail("the connections no longer carry data: %m");
	if (lstat(fd_path("gone.sock"), &st) == 0)
		return wl_fail("a file was left at gone.sock");
	if (lstat(fd_path("fifo.sock"), &st) < 0 || !S_ISFIFO(st.st_mode))
		return wl_fail("the FIFO at fifo.sock is gone");
	if (lstat(fd_path("client.sock"), &st) < 0 || !S_ISSOCK(st.st_mode))
		return wl_fail("client.sock is gone");
	if (new_client("live", SOCK_STREAM, live_l, &live) ||
	    new_client("seq", SOCK_SEQPACKET, seq_l, &seqn))
		return 1;
	return 0;
}

/*
 * relative: a client of a listener bound to a relative path, whose server
 * end sent and closed, names that relative path as its peer's: refused at
 * checkpoint (the directory is not known); after the go the data is read.
 */
static int relative(void)
{
	struct name rel = {.a.sun_family = AF_UNIX};
	struct conn *k;
	char buf[8];
	int l;

	if (chdir(fd_path(".")) < 0)
		return wl_fail("chdir: %m");
	snprintf(rel.a.sun_path, sizeof(rel.a.sun_path), "rel.sock");
	rel.l = offsetof(struct sockaddr_un, sun_path) + strlen(rel.a.sun_path) + 1;
	l = listener(SOCK_STREAM, &rel);
	k = l < 0 ? NULL : connect_to("relative", SOCK_STREAM, l, &rel, &unbound);
	if (!k || write(k->s, "bye", 3) != 3)
		return wl_fail("relative: %m");
	close(k->s);
	close(l);
	wl_ready();
	wl_wait_restored();
	if (read(k->c, buf, sizeof(buf)) != 3 ||
	    check_names("relative", "connecting", k->c, &unbound, &rel))
		return wl_fail("relative: the data or the peer's name is lost");
	return wl_pass();
}

int main(int argc, char **argv)
{
	wl_init(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "relative"))
		return relative();
	if (setup())
		return 1;
	if (verify_names()) /* what the kernel gives before any checkpoint */
		return 1;
	wl_ready();
	wl_wait_restored();
	return verify() ? 1 : wl_pass();
}
