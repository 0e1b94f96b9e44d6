/*
 * inet_prefork - a pre-fork server: the parent opens a TCP listener (and
 * a dup of it) and a UDP socket, then forks 4 workers that share them.
 * Each worker accepts one client of the parent's and both ends write to
 * the connection, without reading, as much of 1 MiB as it takes: at the
 * checkpoint bytes are in flight both ways (the peer's receive queue,
 * the writer's send queue). A datagram is left queued on the UDP socket.
 * After restore each connection carries the rest of its MiB both ways and
 * every byte is checked (none lost, none doubled); the sockets are one
 * description in every holder (kcmp, and O_NONBLOCK set by the parent is
 * seen by each worker), and each worker in turn accepts a new client on
 * the shared listener and answers one datagram (the first: the one
 * queued); every byte arrives once. Runs in the host's network namespace
 * or one of its own (lo brought up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

#define WORKERS 4
#define HELD	(1 << 20) /* bytes each way on each held connection */

static int ls, ls2, us;

/* Byte off of the stream one way (up: client to worker) on held connection i. */
static uint8_t held_byte(int i, int up, size_t off)
{
	return (uint8_t)(wl_pattern(i * 2 + up, off / 8) >> (off % 8 * 8));
}

/* Write up to HELD bytes of the stream from *off on, without blocking. */
static int held_fill(int s, int i, int up, size_t *off)
{
	uint8_t buf[16384];

	while (*off < HELD) {
		size_t k = HELD - *off < sizeof(buf) ? HELD - *off : sizeof(buf);
		ssize_t n;

		for (size_t j = 0; j < k; j++)
			buf[j] = held_byte(i, up, *off + j);
		n = send(s, buf, k, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		*off += n;
	}
	return 0;
}

/*
 * The rest of held connection i both ways: write ours from *sent on, read
 * the peer's whole stream (every byte checked) to its end, then close.
 */
static int held_finish(int s, int i, int up, size_t sent)
{
	size_t got = 0;
	uint8_t buf[16384];

	while (got < HELD || sent < HELD) {
		struct pollfd p = {.fd = s, .events = POLLIN | (sent < HELD ? POLLOUT : 0)};
		ssize_t n;

		if (poll(&p, 1, 10000) != 1)
			return wl_fail("held %d: stalled at %zu read, %zu written", i, got, sent);
		if ((p.revents & POLLOUT) && held_fill(s, i, up, &sent) < 0)
			return wl_fail("held %d: send: %m", i);
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return wl_fail("held %d: %s after %zu bytes", i, n ? "recv failed" : "EOF",
				       got);
		if (got + n > HELD)
			return wl_fail("held %d: %zu bytes, more than sent", i, got + n);
		for (ssize_t j = 0; j < n; j++)
			if (buf[j] != held_byte(i, !up, got + j))
				return wl_fail("held %d: byte %zu differs", i, got + j);
		got += n;
	}
	/* nothing after the stream: the peer closes once it has read ours */
	shutdown(s, SHUT_WR);
	if (poll(&(struct pollfd){.fd = s, .events = POLLIN}, 1, 10000) != 1 ||
	    recv(s, buf, sizeof(buf), 0) != 0)
		return wl_fail("held %d: bytes after the stream", i);
	close(s);
	return 0;
}

static int same_desc(pid_t p1, int fd1, pid_t p2, int fd2)
{
	return syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2) == 0;
}

static int wait_in(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/*
 * One worker: accept the held connection, fill it, say so on done; after
 * its go byte the rest of the held connection, then one TCP client and
 * one datagram.
 */
static int worker(int i, int go, int done)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[64], want[16], out[80];
	size_t sent = 0;
	ssize_t n;
	int s, k, h;

	if ((h = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0 || held_fill(h, i, 0, &sent) < 0 ||
	    write(done, "d", 1) != 1)
		return 9;
	if (read(go, buf, 1) != 1)
		return 10;
	if (held_finish(h, i, 0, sent))
		return 20;
	if (!same_desc(getpid(), ls, getppid(), ls) || !same_desc(getpid(), us, getppid(), us) ||
	    !same_desc(getpid(), ls, getpid(), ls2))
		return 11;
	if (!(fcntl(ls, F_GETFL) & O_NONBLOCK) || !(fcntl(us, F_GETFL) & O_NONBLOCK))
		return 12; /* the parent set it after restore: not the same description */
	if (wait_in(ls) < 0 || (s = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return 13;
	k = snprintf(want, sizeof(want), "ping %d", i);
	for (n = 0; n < k;) {
		ssize_t r = read(s, buf + n, k - n);

		if (r <= 0)
			return 14;
		n += r;
	}
	if (memcmp(buf, want, k))
		return 15;
	k = snprintf(out, sizeof(out), "pong %d", i);
	if (write(s, out, k) != k)
		return 16;
	close(s);
	if (wait_in(us) < 0)
		return 17;
	n = recvfrom(us, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
	if (n <= 0)
		return 18;
	buf[n] = '\0';
	k = snprintf(out, sizeof(out), "%s|%d", buf, i);
	if (sendto(us, out, k, 0, (struct sockaddr *)&from, fl) != k)
		return 19;
	return 0;
}

/* lo up, in a network namespace of the workload's own. */
static int lo_up(void)
{
	struct ifreq r = {.ifr_name = "lo"};
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &r) < 0)
		ret = -1;
	else if (!(r.ifr_flags & IFF_UP) &&
		 (r.ifr_flags |= IFF_UP, ioctl(sk, SIOCSIFFLAGS, &r)) < 0)
		ret = -1;
	if (sk >= 0)
		close(sk);
	return ret;
}

static int bound(int type, struct sockaddr_in *a)
{
	socklen_t al = sizeof(*a);
	int sk = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->sin_port = 0;
	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(sk, (struct sockaddr *)a, sizeof(*a)) < 0 ||
	    getsockname(sk, (struct sockaddr *)a, &al) < 0)
		return -1;
	return sk;
}

/* Client i: connect, send "ping i", the whole answer until EOF is "pong i". */
static int client(const struct sockaddr_in *la, int i)
{
	char buf[64], want[16];
	ssize_t n = 0, r;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), k;

	k = snprintf(buf, sizeof(buf), "ping %d", i);
	if (c < 0 || connect(c, (const struct sockaddr *)la, sizeof(*la)) < 0 ||
	    write(c, buf, k) != k)
		return wl_fail("client %d: %m", i);
	while ((r = read(c, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	close(c);
	k = snprintf(want, sizeof(want), "pong %d", i);
	if (r < 0 || n != k || memcmp(buf, want, k))
		return wl_fail("client %d got %zd bytes `%.*s`", i, n, (int)n, buf);
	return 0;
}

/* The datagram cu gets back: exactly `want`, and nothing after it yet. */
static int dgram_back(int cu, const char *want)
{
	char buf[64];
	ssize_t n;

	if (wait_in(cu) < 0)
		return wl_fail("no answer `%s`", want);
	n = recv(cu, buf, sizeof(buf), 0);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return wl_fail("answer `%.*s`, want `%s`", (int)(n < 0 ? 0 : n), buf, want);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, ua, ca;
	int go[WORKERS][2], done[2], held[WORKERS], cu, status;
	size_t held_sent[WORKERS] = {0};
	pid_t kids[WORKERS];
	char buf[64], want[80];

	wl_init(argc, argv);
	if (lo_up() < 0)
		return wl_fail("lo up: %m");
	ls = bound(SOCK_STREAM, &la);
	us = bound(SOCK_DGRAM, &ua);
	cu = bound(SOCK_DGRAM, &ca);
	if (ls < 0 || us < 0 || cu < 0 || listen(ls, 16) < 0 || (ls2 = dup(ls)) < 0)
		return wl_fail("sockets: %m");
	if (pipe2(done, O_CLOEXEC) < 0)
		return wl_fail("pipe: %m");
	for (int i = 0; i < WORKERS; i++) {
		/* one pending connection at a time: worker i accepts its own */
		held[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (held[i] < 0 || connect(held[i], (struct sockaddr *)&la, sizeof(la)) < 0)
			return wl_fail("held %d: connect: %m", i);
		if (pipe2(go[i], O_CLOEXEC) < 0)
			return wl_fail("pipe: %m");
		kids[i] = fork();
		if (kids[i] < 0)
			return wl_fail("fork: %m");
		if (kids[i] == 0) {
			for (int k = 0; k <= i; k++)
				close(held[k]);
			_exit(worker(i, go[i][0], done[1]));
		}
		if (read(done[0], buf, 1) != 1)
			return wl_fail("worker %d did not take its connection", i);
		if (held_fill(held[i], i, 1, &held_sent[i]) < 0)
			return wl_fail("held %d: send: %m", i);
	}
	/* left queued on the shared socket: one worker gets it, once */
	if (sendto(cu, "queued", 6, 0, (struct sockaddr *)&ua, sizeof(ua)) != 6 || wait_in(us) < 0)
		return wl_fail("queue a datagram: %m");
	wl_ready();
	wl_wait_restored();
	if (!same_desc(getpid(), ls, getpid(), ls2))
		return wl_fail("the listener and its dup are two descriptions");
	if (fcntl(ls, F_SETFL, O_NONBLOCK) < 0 || fcntl(us, F_SETFL, O_NONBLOCK) < 0)
		return wl_fail("O_NONBLOCK: %m");
	for (int i = 0; i < WORKERS; i++) {
		int k = snprintf(buf, sizeof(buf), "d%d", i);

		if (write(go[i][1], "g", 1) != 1)
			return wl_fail("go %d: %m", i);
		if (held_finish(held[i], i, 1, held_sent[i]))
			return 1;
		if (client(&la, i))
			return 1;
		if (i > 0 && sendto(cu, buf, k, 0, (struct sockaddr *)&ua, sizeof(ua)) != k)
			return wl_fail("sendto: %m");
		snprintf(want, sizeof(want), "%s|%d", i ? buf : "queued", i);
		if (dgram_back(cu, want))
			return 1;
		if (waitpid(kids[i], &status, 0) != kids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			return wl_fail("worker %d: status %#x", i, status);
	}
	if (recv(cu, buf, sizeof(buf), MSG_DONTWAIT) >= 0 ||
	    recv(us, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		return wl_fail("a datagram came twice");
	return wl_pass();
}
