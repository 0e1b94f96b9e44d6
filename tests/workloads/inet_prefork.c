/*
 * inet_prefork - a pre-fork server: the parent opens a TCP listener (and
 * a dup of it) and a UDP socket, then forks 4 workers that share them. A
 * datagram is left queued on the UDP socket at the checkpoint. After
 * restore the sockets are one description in every holder (kcmp, and
 * O_NONBLOCK set by the parent is seen by each worker), and each worker
 * in turn accepts a new client on the shared listener and answers one
 * datagram (the first: the one queued); every byte arrives once. Runs
 * in the host's network namespace or one of its own (lo brought up).
 */
#include <arpa/inet.h>
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

static int ls, ls2, us;

static int same_desc(pid_t p1, int fd1, pid_t p2, int fd2)
{
	return syscall(SYS_kcmp, p1, p2, KCMP_FILE, fd1, fd2) == 0;
}

static int wait_in(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 10000) == 1 ? 0 : -1;
}

/* One worker: after its go byte, one TCP client and one datagram. */
static int worker(int i, int go)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[64], want[16], out[80];
	ssize_t n;
	int s, k;

	if (read(go, buf, 1) != 1)
		return 10;
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
	int go[WORKERS][2], cu, status;
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
	for (int i = 0; i < WORKERS; i++) {
		if (pipe2(go[i], O_CLOEXEC) < 0)
			return wl_fail("pipe: %m");
		kids[i] = fork();
		if (kids[i] < 0)
			return wl_fail("fork: %m");
		if (kids[i] == 0)
			_exit(worker(i, go[i][0]));
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
