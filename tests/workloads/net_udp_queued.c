/*
 * net_udp_queued - datagrams queued, unread, on UDP sockets at checkpoint:
 * after restore each receiver reads them all, in order, with the right
 * source address and port and the same payload, and keeps working.
 *
 * R (IPv4, bound to the wildcard) holds 3 datagrams from two senders:
 * S1 (127.0.0.1, still open) and S2 (127.0.0.2, closed before the
 * checkpoint, so its port is free). R6 (IPv6, bound to ::1) holds a
 * datagram and an empty one from S3. RC is connected to S1 and holds one
 * of its datagrams; RD (IPv6, bound to ::, dual stack) holds one from S2,
 * seen as ::ffff:127.0.0.2. All ports are ephemeral, so the
 * workload runs in the host's namespace as well as in its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

#define BIG 3000

struct dgram {
	int from; /* index into the senders */
	size_t len;
	char data[BIG];
};

static struct dgram want4[3], want6[2], wantc[1], wantd[1];

static int lo_up(void)
{
	struct ifreq r = {.ifr_name = "lo"};
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &r) < 0)
		return -1;
	r.ifr_flags |= IFF_UP;
	ret = ioctl(sk, SIOCSIFFLAGS, &r);
	close(sk);
	return ret;
}

/* A UDP socket of family fam bound to addr, any port; its address in *ss. */
static int bound(int fam, const char *addr, struct sockaddr_storage *ss)
{
	socklen_t sl = sizeof(*ss);
	int sk = socket(fam, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = fam;
	if (fam == AF_INET)
		inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr);
	else
		inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr);
	if (sk < 0 || bind(sk, (struct sockaddr *)ss, sizeof(*ss)) < 0 ||
	    getsockname(sk, (struct sockaddr *)ss, &sl) < 0)
		return -1;
	return sk;
}

static int send_to(int sk, const struct dgram *d, const struct sockaddr_storage *to, int port)
{
	struct sockaddr_storage t = *to;

	if (t.ss_family == AF_INET) {
		((struct sockaddr_in *)&t)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&t)->sin_port = htons(port);
	} else {
		((struct sockaddr_in6 *)&t)->sin6_port = htons(port);
	}
	return sendto(sk, d->data, d->len, 0, (struct sockaddr *)&t, sizeof(t)) == (ssize_t)d->len
		       ? 0
		       : -1;
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family || port_of(a) != port_of(b))
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

/* Read n datagrams from sk without waiting: each as wanted, then nothing. */
static int check(int sk, const char *what, const struct dgram *want, int n,
		 const struct sockaddr_storage *senders)
{
	static char buf[BIG + 1];

	for (int i = 0; i < n; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t got = recvfrom(sk, buf, sizeof(buf), MSG_DONTWAIT, (void *)&from, &fl);

		if (got < 0)
			return wl_fail("%s: datagram %d missing: %m", what, i);
		if ((size_t)got != want[i].len || memcmp(buf, want[i].data, got))
			return wl_fail("%s: datagram %d: %zd bytes, want %zu", what, i, got,
				       want[i].len);
		if (!same_addr(&from, &senders[want[i].from]))
			return wl_fail("%s: datagram %d from the wrong source (port %d)", what, i,
				       port_of(&from));
	}
	if (recv(sk, buf, sizeof(buf), MSG_DONTWAIT) >= 0 || errno != EAGAIN)
		return wl_fail("%s: more datagrams than sent", what);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage rs, r6s, rcs, rds, snd[4], v4 = {.ss_family = AF_INET};
	struct sockaddr_in6 *mapped = (struct sockaddr_in6 *)&snd[3];
	int r, r6, rc, rd, s[3];

	wl_init(argc, argv);
	if (lo_up() < 0)
		return wl_fail("lo up: %m");
	r = bound(AF_INET, "0.0.0.0", &rs);
	r6 = bound(AF_INET6, "::1", &r6s);
	rc = bound(AF_INET, "127.0.0.1", &rcs);
	rd = bound(AF_INET6, "::", &rds);
	s[0] = bound(AF_INET, "127.0.0.1", &snd[0]);
	s[1] = bound(AF_INET, "127.0.0.2", &snd[1]);
	s[2] = bound(AF_INET6, "::1", &snd[2]);
	if (r < 0 || r6 < 0 || rc < 0 || rd < 0 || s[0] < 0 || s[1] < 0 || s[2] < 0)
		return wl_fail("sockets: %m");
	/* rc only hears S1; rd (dual stack) sees S2 as ::ffff:127.0.0.2 */
	if (connect(rc, (struct sockaddr *)&snd[0], sizeof(struct sockaddr_in)) < 0)
		return wl_fail("connect: %m");
	*mapped = (struct sockaddr_in6){.sin6_family = AF_INET6,
					.sin6_port = ((struct sockaddr_in *)&snd[1])->sin_port};
	mapped->sin6_addr.s6_addr[10] = mapped->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&mapped->sin6_addr.s6_addr[12], &((struct sockaddr_in *)&snd[1])->sin_addr, 4);
	wantc[0] = (struct dgram){0, 9, "connected"};
	wantd[0] = (struct dgram){3, 10, "dual stack"};
	if (send_to(s[0], &wantc[0], &v4, port_of(&rcs)) < 0 ||
	    send_to(s[1], &wantd[0], &v4, port_of(&rds)) < 0)
		return wl_fail("send to rc, rd: %m");
	want4[0] = (struct dgram){0, 5, "first"};
	want4[1] = (struct dgram){1, 6, "second"};
	want4[2] = (struct dgram){0, BIG, ""};
	for (int i = 0; i < BIG; i++)
		want4[2].data[i] = (char)wl_pattern(7, i);
	want6[0] = (struct dgram){2, 7, "v6 dgram"};
	want6[1] = (struct dgram){2, 0, ""};
	for (int i = 0; i < 3; i++)
		if (send_to(s[want4[i].from], &want4[i], &rs, port_of(&rs)) < 0)
			return wl_fail("send %d: %m", i);
	for (int i = 0; i < 2; i++)
		if (send_to(s[2], &want6[i], &r6s, port_of(&r6s)) < 0)
			return wl_fail("send v6 %d: %m", i);
	close(s[1]);
	wl_ready();
	wl_wait_restored();
	if (check(r, "IPv4", want4, 3, snd) || check(r6, "IPv6", want6, 2, snd) ||
	    check(rc, "connected", wantc, 1, snd) || check(rd, "dual stack", wantd, 1, snd))
		return 1;
	/* the restored sockets still talk */
	if (send_to(s[0], &want4[0], &rs, port_of(&rs)) < 0)
		return wl_fail("send after restore: %m");
	if (check(r, "after", want4, 1, snd))
		return 1;
	return wl_pass();
}
