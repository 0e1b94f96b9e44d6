/*
 * fd_unix_ctr - unix sockets and a FIFO of a tree with its own mount and
 * network namespaces, as in a container.
 *
 * Run in new mount, network and pid namespaces (unshare --mount --net
 * --pid --fork) with DIR, a directory of the host: a private tmpfs is
 * mounted on DIR, so every name below exists only inside the tree. The
 * root binds a stream listener to DIR/l.sock and another to an abstract
 * name (abstract names are per network namespace), and a datagram socket
 * to a second abstract name, with one message queued by an unbound sender.
 * A child connects to both listeners (accepted, bytes queued both ways,
 * the fd of the tmpfs file DIR/f in flight with the path client's bytes)
 * and once more to the abstract listener (pending, not accepted). A FIFO
 * DIR/fifo holds queued bytes. The host may hold a regular file at
 * DIR/fifo: the FIFO restored must be the tree's.
 *
 * With --no-mount (a tree with its own network namespace only): no tmpfs,
 * DIR is the host's and must be empty; the abstract names still are the
 * tree's network namespace's.
 *
 * After restore, from inside: every queue, the fd in flight, the pending
 * connection, the datagram; the socket file and the FIFO are on the
 * tmpfs; new clients connect by path and by abstract name; the child reads
 * its queued bytes.
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <stddef.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define ABS_STREAM "ckpt-wl-ctr-stream"
#define ABS_DGRAM  "ckpt-wl-ctr-dgram"

static char dir[80]; /* with a name, fits a sun_path */
static int own_tmpfs = 1;

static socklen_t addr(struct sockaddr_un *a, const char *name, int abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (abstract)
		snprintf(a->sun_path + 1, sizeof(a->sun_path) - 1, "%s", name);
	else
		snprintf(a->sun_path, sizeof(a->sun_path), "%s/%.16s", dir, name);
	return offsetof(struct sockaddr_un, sun_path) + abstract + strlen(a->sun_path + abstract) +
	       !abstract;
}

static int sock_to(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	int sk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (sk < 0 || connect(sk, (struct sockaddr *)&a, l) < 0)
		return -1;
	return sk;
}

static int listener(int type, const char *name, int abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	int sk = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	if (sk < 0 || bind(sk, (struct sockaddr *)&a, l) < 0 ||
	    (type == SOCK_STREAM && listen(sk, 8) < 0))
		return -1;
	return sk;
}

/* path names a file on the tmpfs (of type mode), and fd is it when fd >= 0 */
static int on_tmpfs(const char *name, mode_t mode, int fd)
{
	char path[4096];
	struct stat a, b;
	struct statfs fs;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &b) < 0 || (b.st_mode & S_IFMT) != mode || statfs(path, &fs) < 0 ||
	    (own_tmpfs && fs.f_type != TMPFS_MAGIC))
		return 0;
	return fd < 0 || (fstat(fd, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino);
}

/* Send "c1-data" with fd attached. */
static int send_fd(int sk, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))) = {0};
	struct iovec iov = {"c1-data", 7};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sk, &mh, 0) == 7 ? 0 : -1;
}

/* Receive "c1-data" and the fd in flight with it. */
static int recv_fd(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))] __attribute__((aligned(8))), buf[16];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sk, &mh, MSG_CMSG_CLOEXEC) != 7 || memcmp(buf, "c1-data", 7))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The child: clients of both listeners; after go, reads what the root queued. */
static int child(int ready, int go)
{
	char path[4096], buf[16], ch;
	int c1 = sock_to(SOCK_STREAM, "l.sock", 0), c2 = sock_to(SOCK_STREAM, ABS_STREAM, 1), f;

	snprintf(path, sizeof(path), "%s/f", dir);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (c1 < 0 || c2 < 0 || f < 0 || send_fd(c1, f) < 0 || write(c2, "c2-data", 7) != 7)
		return 2;
	close(f);
	/* pending: never accepted before the checkpoint */
	if (sock_to(SOCK_STREAM, ABS_STREAM, 1) < 0 || write(ready, "k", 1) != 1)
		return 3;
	if (read(go, &ch, 1) != 1)
		return 4;
	if (read(c1, buf, sizeof(buf)) != 5 || memcmp(buf, "to-c1", 5) ||
	    read(c2, buf, sizeof(buf)) != 5 || memcmp(buf, "to-c2", 5))
		return 5;
	return 0;
}

static int setup_fifo(int *fr)
{
	char path[4096];
	int fw;

	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) < 0)
		return -1;
	*fr = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	fw = open(path, O_WRONLY | O_CLOEXEC);
	if (*fr < 0 || fw < 0 || write(fw, "fifo-data", 9) != 9)
		return -1;
	return fw;
}

/* New clients by path and by abstract name reach the restored listeners. */
static int new_clients(int lsk, int asl)
{
	int c, a, ok;
	char ch;

	c = sock_to(SOCK_STREAM, "l.sock", 0);
	a = c < 0 ? -1 : accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	ok = a >= 0 && write(c, "p", 1) == 1 && read(a, &ch, 1) == 1 && ch == 'p';
	if (!ok)
		return wl_fail("a new client cannot reach the listener by path: %m");
	c = sock_to(SOCK_STREAM, ABS_STREAM, 1);
	a = c < 0 ? -1 : accept4(asl, NULL, NULL, SOCK_CLOEXEC);
	ok = a >= 0 && write(c, "a", 1) == 1 && read(a, &ch, 1) == 1 && ch == 'a';
	if (!ok)
		return wl_fail("a new client cannot reach the listener by abstract name: %m");
	return 0;
}

/* a1, a2: accepted before the checkpoint, from the child's c1 and c2 */
static int check_after(int lsk, int asl, int a1, int a2, int dsk, int fr)
{
	int a3, f, c;
	char buf[32];

	f = recv_fd(a1);
	if (f < 0 || !on_tmpfs("f", S_IFREG, f) || read(f, buf, 4) != 4 || memcmp(buf, "tree", 4))
		return wl_fail("the fd in flight is not the tmpfs file %s/f", dir);
	if (read(a2, buf, sizeof(buf)) != 7 || memcmp(buf, "c2-data", 7))
		return wl_fail("the abstract connection lost its bytes");
	a3 = accept4(asl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (a3 < 0)
		return wl_fail("the pending connection is lost: %m");
	if (recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "dgram", 5))
		return wl_fail("the queued datagram is lost: %m");
	c = sock_to(SOCK_DGRAM, ABS_DGRAM, 1);
	if (c < 0 || send(c, "new", 3, 0) != 3 || recv(dsk, buf, sizeof(buf), MSG_DONTWAIT) != 3)
		return wl_fail("a new datagram by abstract name does not arrive: %m");
	if (!on_tmpfs("l.sock", S_IFSOCK, -1))
		return wl_fail("%s/l.sock is not a socket on the tmpfs", dir);
	if (!on_tmpfs("fifo", S_IFIFO, fr) || read(fr, buf, sizeof(buf)) != 9 ||
	    memcmp(buf, "fifo-data", 9))
		return wl_fail("the FIFO is not the tmpfs one with its bytes: %m");
	if (write(a1, "to-c1", 5) != 5 || write(a2, "to-c2", 5) != 5)
		return wl_fail("write to the child: %m");
	return new_clients(lsk, asl);
}

int main(int argc, char **argv)
{
	int lsk, asl, dsk, snd, fr, fw, f, a1, a2, ready[2], go[2], status;
	struct sockaddr_un a;
	socklen_t al;
	pid_t kid;
	char ch, path[128];

	wl_init(argc, argv);
	if (argc < 2)
		return wl_fail("usage: fd_unix_ctr DIR [--no-mount]");
	own_tmpfs = argc < 3 || strcmp(argv[2], "--no-mount");
	if (strlen(argv[1]) >= sizeof(dir))
		return wl_fail("%s: too long for a socket name", argv[1]);
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	if (own_tmpfs && mount("ctr", dir, "tmpfs", 0, NULL) < 0)
		return wl_fail("mount tmpfs on %s: %m", dir);
	lsk = listener(SOCK_STREAM, "l.sock", 0);
	asl = listener(SOCK_STREAM, ABS_STREAM, 1);
	dsk = listener(SOCK_DGRAM, ABS_DGRAM, 1);
	snd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	al = addr(&a, ABS_DGRAM, 1);
	if (lsk < 0 || asl < 0 || dsk < 0 || snd < 0 ||
	    sendto(snd, "dgram", 5, 0, (struct sockaddr *)&a, al) != 5)
		return wl_fail("sockets: %m");
	close(snd);
	snprintf(path, sizeof(path), "%s/f", dir);
	f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f < 0 || write(f, "tree", 4) != 4)
		return wl_fail("create %s: %m", path);
	close(f);
	fw = setup_fifo(&fr);
	if (fw < 0 || pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return wl_fail("fifo: %m");
	kid = fork();
	if (kid == 0)
		_exit(child(ready[1], go[0]));
	if (read(ready[0], &ch, 1) != 1)
		return wl_fail("the child did not connect");
	a1 = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	a2 = accept4(asl, NULL, NULL, SOCK_CLOEXEC);
	if (a1 < 0 || a2 < 0)
		return wl_fail("accept: %m");
	wl_ready();
	wl_wait_restored();
	if (check_after(lsk, asl, a1, a2, dsk, fr))
		return 1;
	if (write(go[1], "g", 1) != 1 || waitpid(kid, &status, 0) != kid)
		return wl_fail("child: %m");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return wl_fail("child failed (status %#x)", status);
	return wl_pass();
}
