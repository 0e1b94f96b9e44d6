/*
 * libckpt/files/sock-dgram.c - the datagram inet sockets that are not UDP:
 * ICMP echo ("ping") sockets (IPPROTO_ICMP, IPPROTO_ICMPV6) and UDP-Lite
 * (IPPROTO_UDPLITE, with its checksum coverage). They are bound and
 * connected as UDP is (inet.c, inet-restore.c); a ping socket's port is
 * its echo identifier. Nothing queued is carried: a socket holding unread
 * datagrams is refused at checkpoint.
 */
#define LOG_PREFIX "inet: "

#include <errno.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "files/inet.h"
#include "util/json.h"

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#ifndef UDPLITE_SEND_CSCOV
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11
#endif

bool inet_dgram_proto(int proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6 || proto == IPPROTO_UDPLITE;
}

const char *inet_dgram_name(int proto)
{
	switch (proto) {
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return "ping";
	case IPPROTO_UDPLITE:
		return "udplite";
	}
	return "udp";
}

static int cscov(int sk, int opt)
{
	int v = 0;
	socklen_t sl = sizeof(v);

	if (getsockopt(sk, IPPROTO_UDPLITE, opt, &v, &sl) < 0)
		return -1;
	return v;
}

/* Anything to read on sk (ping sockets have no SIOCINQ: peek). */
static bool queued(int sk)
{
	int n = 0;
	char c;

	if (ioctl(sk, SIOCINQ, &n) == 0)
		return n > 0;
	return recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0;
}

const char *inet_dgram_dump(int sk, int proto, struct json *e)
{
	if (queued(sk))
		return proto == IPPROTO_UDPLITE ? "UDP-Lite socket with datagrams queued"
						: "ping socket with replies queued";
	json_set(e, "proto", json_int(proto));
	if (proto != IPPROTO_UDPLITE)
		return NULL;
	json_set(e, "send_cscov", json_int(cscov(sk, UDPLITE_SEND_CSCOV)));
	json_set(e, "recv_cscov", json_int(cscov(sk, UDPLITE_RECV_CSCOV)));
	return NULL;
}

int inet_dgram_restore(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	if (e->proto != IPPROTO_UDPLITE)
		return 0;
	if (e->send_cscov && setsockopt(sk, IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV, &e->send_cscov,
					sizeof(e->send_cscov)) < 0)
		return ckpt_error(err, errno, "UDPLITE_SEND_CSCOV %d", e->send_cscov);
	if (e->recv_cscov && setsockopt(sk, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, &e->recv_cscov,
					sizeof(e->recv_cscov)) < 0)
		return ckpt_error(err, errno, "UDPLITE_RECV_CSCOV %d", e->recv_cscov);
	return 0;
}
