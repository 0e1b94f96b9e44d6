/*
 * libckpt/files/sock-raw.c - raw inet sockets (SOCK_RAW, any protocol):
 * made again with their protocol, bound and connected where they were
 * (the peer of a raw socket has no port, so getpeername does not tell it:
 * /proc/PID/net/raw does), with IP_HDRINCL and, for raw ICMP, the
 * ICMP_FILTER mask. Refused at checkpoint: a socket with packets queued,
 * an ICMPv6 socket with a type filter.
 */
#define LOG_PREFIX "inet: "

#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <linux/sockios.h>
#include <netinet/icmp6.h>
#include <string.h>
#include <sys/ioctl.h>

#include "files/inet.h"
#include "util/json.h"
#include "util/proc.h"

#ifndef SOL_RAW
#define SOL_RAW 255
#endif

struct raw_find {
	unsigned long ino;
	bool found, connected;
	uint8_t peer[16];
};

static int raw_line(const struct proc_tcp_sock *s, void *arg, ckpt_err_t *err)
{
	struct raw_find *f = arg;

	if (s->inode != f->ino)
		return 0;
	f->found = true;
	f->connected = s->state == 1; /* TCP_ESTABLISHED: connect() */
	memcpy(f->peer, s->peer, sizeof(f->peer));
	return 1;
}

static bool pass_all(const struct icmp6_filter *f)
{
	for (size_t i = 0; i < 8; i++)
		if (f->icmp6_filt[i])
			return false;
	return true;
}

const char *inet_raw_dump(int sk, const struct fd_info *fi, int fam, int proto, struct json *e,
			  ckpt_err_t *err)
{
	struct raw_find f = {.ino = fi->st.st_ino};
	char buf[INET6_ADDRSTRLEN] = "";
	int n = 0, v = 0;
	socklen_t sl = sizeof(v);
	uint32_t mask = 0;
	char c;

	if (ioctl(sk, SIOCINQ, &n) == 0 ? n > 0
					: recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0)
		return "raw socket with packets queued";
	if (fam == AF_INET6 && proto == IPPROTO_ICMPV6) {
		struct icmp6_filter filt;

		sl = sizeof(filt);
		if (getsockopt(sk, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, &sl) < 0 ||
		    !pass_all(&filt))
			return "raw ICMPv6 socket with a type filter";
	}
	n = proc_read_tcp(fi->pid, fam == AF_INET6 ? "raw6" : "raw", fam, raw_line, &f, err);
	if (n < 0 || !f.found)
		return "raw socket not found in /proc/PID/net/raw";
	json_set(e, "proto", json_int(proto));
	if (f.connected) {
		inet_ntop(fam, f.peer, buf, sizeof(buf));
		json_set(e, "peer_addr", json_str(buf));
		json_set(e, "peer_port", json_int(0));
	}
	sl = sizeof(v);
	if (fam == AF_INET && getsockopt(sk, IPPROTO_IP, IP_HDRINCL, &v, &sl) == 0)
		json_set(e, "hdrincl", json_int(!!v));
	sl = sizeof(mask);
	if (fam == AF_INET && proto == IPPROTO_ICMP &&
	    getsockopt(sk, SOL_RAW, ICMP_FILTER, &mask, &sl) == 0)
		json_set(e, "icmp_filter", json_int(mask));
	return NULL;
}

int inet_raw_restore(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	if (e->hdrincl &&
	    setsockopt(sk, IPPROTO_IP, IP_HDRINCL, &e->hdrincl, sizeof(e->hdrincl)) < 0)
		return ckpt_error(err, errno, "IP_HDRINCL");
	if (e->icmp_filter &&
	    setsockopt(sk, SOL_RAW, ICMP_FILTER, &e->icmp_filter, sizeof(e->icmp_filter)) < 0)
		return ckpt_error(err, errno, "ICMP_FILTER %#x", e->icmp_filter);
	return 0;
}
