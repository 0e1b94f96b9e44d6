/*
 * libckpt/files/inet-udp.c - datagrams sitting in a UDP socket's receive
 * queue ("dgrams" of the socket in files.json, payloads one after the
 * other in inet-ID-rcv.img).
 *
 * Dump peeks each datagram in turn without taking it: SO_PEEK_OFF (UDP
 * has it since 4.11) makes every MSG_PEEK start after the datagram the
 * last one returned, and IP_PKTINFO / IPV6_RECVPKTINFO give the address
 * each was sent to (the socket may be bound to a wildcard). Both options
 * are the tree's socket's own, so they are put back as they were.
 *
 * Restore runs in the restored task once the socket is bound (and
 * connected): each datagram is built again, IP and UDP headers included,
 * and sent through a raw socket (IPPROTO_RAW), so its source address and
 * port are the saved ones whatever sockets exist; nothing is bound, no
 * port can collide with the tree's own sockets. Over loopback the packet
 * reaches the socket through the ordinary receive path, in order. The
 * network lock of a tree with its own namespace drops everything, so the
 * raw socket marks its packets (INET_UDP_INJECT_MARK), which the lock
 * accepts. An IPv6 destination is first waited for until its local route
 * is in (a new namespace's address gets it a moment after it can be
 * bound). Restore then waits (bounded) until every datagram is queued;
 * a datagram the kernel still drops is lost the way a network loses one,
 * with a warning, never silently.
 */
#define LOG_PREFIX "inet: "
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files/files.h"
#include "files/inet.h"
#include "files/inet-udp.h"
#include "util/log.h"
#include "util/util.h"

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif

#define UDP_QUEUE_MAX  (64u << 20) /* bytes of payload, all datagrams */
#define UDP_DGRAMS_MAX 65536
#define UDP_DGRAM_MAX  65535
#define UDP_ARRIVAL_MS 2000 /* how long restore waits for its datagrams */

/* A socket option changed for the dump and put back afterwards. */
struct udp_opt {
	int level, opt, old;
	bool set;
};

static int opt_set(int sk, struct udp_opt *o, int v, ckpt_err_t *err)
{
	socklen_t sl = sizeof(o->old);

	if (getsockopt(sk, o->level, o->opt, &o->old, &sl) < 0 ||
	    setsockopt(sk, o->level, o->opt, &v, sizeof(v)) < 0)
		return ckpt_error(err, errno, "setsockopt %d/%d", o->level, o->opt);
	o->set = true;
	return 0;
}

static void opt_put_back(int sk, struct udp_opt *o)
{
	if (o->set && setsockopt(sk, o->level, o->opt, &o->old, sizeof(o->old)) < 0)
		pr_warn("put back socket option %d/%d: %m, ignoring", o->level, o->opt);
}

/* Address as text (v4-mapped v6 addresses stay v6 text) and port. */
static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len, int *port)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, buf, len);
		*port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, buf, len);
		*port = ntohs(a->sin_port);
	}
}

/* The destination address from IP_PKTINFO or IPV6_PKTINFO, "" if none. */
static void pktinfo_dst(struct msghdr *m, char *buf, size_t len)
{
	buf[0] = '\0';
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			inet_ntop(AF_INET, &pi.ipi_addr, buf, len);
		} else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			inet_ntop(AF_INET6, &pi.ipi6_addr, buf, len);
		}
	}
}

/* Peek every datagram: its payload appended to *buf, its addresses into list. */
static int peek_all(int sk, struct json *list, char **buf, size_t *total, ckpt_err_t *err)
{
	cleanup_free char *data = xzalloc(UDP_DGRAM_MAX + 1);

	for (int i = 0;; i++) {
		struct sockaddr_storage src = {0};
		char ctl[256], sbuf[INET6_ADDRSTRLEN], dbuf[INET6_ADDRSTRLEN];
		struct iovec iov = {data, UDP_DGRAM_MAX + 1};
		struct msghdr m = {.msg_name = &src,
				   .msg_namelen = sizeof(src),
				   .msg_iov = &iov,
				   .msg_iovlen = 1,
				   .msg_control = ctl,
				   .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(sk, &m, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		struct json *d;
		int port;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return ckpt_error(err, errno, "peek datagram %d", i);
		if (n > UDP_DGRAM_MAX || i >= UDP_DGRAMS_MAX || *total + n > UDP_QUEUE_MAX)
			return ckpt_error_msg(err, EFBIG,
					      "more than %u datagrams or %u bytes queued",
					      UDP_DGRAMS_MAX, UDP_QUEUE_MAX);
		*buf = xrealloc(*buf, *total + n + 1);
		memcpy(*buf + *total, data, n);
		*total += n;
		addr_str(&src, sbuf, sizeof(sbuf), &port);
		pktinfo_dst(&m, dbuf, sizeof(dbuf));
		d = json_push(list, json_obj());
		json_set(d, "src", json_str(sbuf));
		json_set(d, "sport", json_int(port));
		if (dbuf[0])
			json_set(d, "dst", json_str(dbuf));
		json_set(d, "len", json_int(n));
	}
}

int udp_dump_queue(int sk, uint64_t id, int fam, struct json *e, struct files_dctx *dc,
		   ckpt_err_t *err)
{
	struct udp_opt peek = {SOL_SOCKET, SO_PEEK_OFF}, pi4 = {SOL_IP, IP_PKTINFO},
		       pi6 = {SOL_IPV6, IPV6_RECVPKTINFO};
	struct json *list = json_arr();
	cleanup_free char *buf = NULL, *name = NULL;
	size_t total = 0;
	int ret;

	ret = opt_set(sk, &peek, 0, err);
	if (ret == 0)
		ret = opt_set(sk, &pi4, 1, err);
	if (ret == 0 && fam == AF_INET6)
		ret = opt_set(sk, &pi6, 1, err);
	if (ret == 0)
		ret = peek_all(sk, list, &buf, &total, err);
	opt_put_back(sk, &pi6);
	opt_put_back(sk, &pi4);
	opt_put_back(sk, &peek);
	if (ret == 0 && peek.old >= 0)
		json_set(e, "peek_off", json_int(peek.old));
	if (ret < 0 || !json_len(list)) {
		json_free(list);
		return ret < 0 ? ckpt_error_wrap(err, "UDP receive queue") : 0;
	}
	json_set(e, "dgrams", list);
	json_set(e, "rcv_len", json_int(total));
	pr_info("socket %lu: %zu datagrams queued, %zu bytes", (unsigned long)id, json_len(list),
		total);
	if (!total)
		return 0;
	name = xasprintf("inet-%lu-rcv.img", (unsigned long)id);
	json_set(e, "rcv_image", json_str(name));
	return files_put_image(dc->bundle, name, buf, total, err);
}

/* ---- restore ----------------------------------------------------------- */

/* An address of either family: v4-mapped v6 addresses count as v4. */
struct udp_addr {
	int fam;
	struct in_addr a4;
	struct in6_addr a6;
};

static int parse_addr(const char *s, struct udp_addr *a)
{
	if (s && inet_pton(AF_INET, s, &a->a4) == 1) {
		a->fam = AF_INET;
		return 0;
	}
	if (!s || inet_pton(AF_INET6, s, &a->a6) != 1)
		return -1;
	a->fam = AF_INET6;
	if (IN6_IS_ADDR_V4MAPPED(&a->a6)) {
		a->fam = AF_INET;
		memcpy(&a->a4, &a->a6.s6_addr[12], 4);
	}
	return 0;
}

/* Where a datagram goes: its saved destination, else the socket's address. */
static int dgram_dst(int sk, const char *saved, int fam, struct udp_addr *dst, int *port,
		     ckpt_err_t *err)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	char buf[INET6_ADDRSTRLEN];

	if (getsockname(sk, (struct sockaddr *)&ss, &sl) < 0)
		return ckpt_error(err, errno, "getsockname");
	addr_str(&ss, buf, sizeof(buf), port);
	if (parse_addr(saved, dst) == 0 && dst->fam == fam)
		return 0;
	if (parse_addr(buf, dst) < 0)
		return ckpt_error_msg(err, EPROTO, "socket address `%s`", buf);
	/* bound to a wildcard: any local address of the right family will do */
	if (dst->fam != fam || (fam == AF_INET && dst->a4.s_addr == htonl(INADDR_ANY)) ||
	    (fam == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&dst->a6))) {
		dst->fam = fam;
		dst->a4.s_addr = htonl(INADDR_LOOPBACK);
		dst->a6 = in6addr_loopback;
	}
	return 0;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (b[i] << 8) | b[i + 1];
	if (len & 1)
		sum += b[len - 1] << 8;
	return sum;
}

/* UDP over IPv6 must carry a checksum: pseudo-header, UDP header, payload. */
static uint16_t udp6_csum(const struct ip6_hdr *ip, const void *udp, size_t len)
{
	uint32_t sum = 0, l = htonl(len), nxt = htonl(IPPROTO_UDP);

	sum = csum_add(sum, &ip->ip6_src, 16);
	sum = csum_add(sum, &ip->ip6_dst, 16);
	sum = csum_add(sum, &l, 4);
	sum = csum_add(sum, &nxt, 4);
	sum = csum_add(sum, udp, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	return htons(sum ? sum : 0xffff);
}

/*
 * Whether a is an address of this network namespace. A raw packet to any
 * other address would leave through a link, with a forged source: such a
 * datagram (a multicast or broadcast one, or one whose address is gone)
 * is not sent again.
 */
static bool addr_is_local(const struct udp_addr *a)
{
	struct ifaddrs *all, *i;
	bool found = false;

	if (a->fam == AF_INET && (ntohl(a->a4.s_addr) >> 24) == 127)
		return true;
	if (getifaddrs(&all) < 0)
		return false;
	for (i = all; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != a->fam)
			continue;
		if (a->fam == AF_INET)
			found = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
				a->a4.s_addr;
		else
			found = IN6_ARE_ADDR_EQUAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
						   &a->a6);
	}
	freeifaddrs(all);
	return found;
}

/* An RTM_NEWROUTE for a local route to the address at data: MNL_CB_STOP. */
static int local_route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET6 ||
	    rt->rtm_type != RTN_LOCAL || rt->rtm_dst_len != 128)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*rt))
	{
		if (mnl_attr_get_type(a) == RTA_DST && mnl_attr_get_payload_len(a) == 16 &&
		    !memcmp(mnl_attr_get_payload(a), data, 16))
			return MNL_CB_STOP;
	}
	return MNL_CB_OK;
}

/*
 * A new IPv6 address (the restored namespace's, lo's ::1 too) is made
 * usable by the kernel's DAD work once its link is up, under one hold of
 * RTNL: "tentative" is cleared (bind works from then on), then the local
 * route of the address goes in. A packet sent in between is routed as to
 * another host and dropped (Ip6InAddrErrors), and a loaded machine hits
 * that window. So wait for the route: subscribe to route notifications,
 * then ask for the route to a; either the answer is local or the
 * insertion's notification follows. Only an address that can be bound is
 * waited for: the route of a tentative one comes with its link, maybe never.
 * False when the route did not come within ROUTE6_WAIT_MS (or could not be
 * asked for).
 */
#define ROUTE6_WAIT_MS 10000

bool inet_wait_local_route6(const struct in6_addr *a)
{
	struct sockaddr_in6 probe = {.sin6_family = AF_INET6, .sin6_addr = *a};
	cleanup_close int sk = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct rtmsg *rt;
	int64_t deadline = (int64_t)(now_ns() / 1000000) + ROUTE6_WAIT_MS;
	char name[INET6_ADDRSTRLEN];
	ssize_t n;
	int ret = MNL_CB_ERROR;

	if (sk < 0 || bind(sk, (struct sockaddr *)&probe, sizeof(probe)) < 0)
		return true;
	nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl || mnl_socket_bind(nl, 1u << (RTNLGRP_IPV6_ROUTE - 1), MNL_SOCKET_AUTOPID) < 0)
		goto out;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = 1;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = AF_INET6;
	rt->rtm_dst_len = 128;
	mnl_attr_put(nlh, RTA_DST, 16, a);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto out;
	/* the answer (seq 1) and notifications (seq 0) come on the one socket */
	ret = MNL_CB_OK;
	while (ret == MNL_CB_OK) {
		struct pollfd p = {.fd = mnl_socket_get_fd(nl), .events = POLLIN};
		int64_t left = deadline - (int64_t)(now_ns() / 1000000);

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			ret = MNL_CB_ERROR;
			break;
		}
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		ret = n > 0 ? mnl_cb_run(buf, n, 0, 0, local_route_cb, (void *)a) : MNL_CB_ERROR;
	}
out:
	if (nl)
		mnl_socket_close(nl);
	if (ret == MNL_CB_STOP)
		return true;
	pr_warn("no local route to %s, an address of this namespace, after %d ms",
		inet_ntop(AF_INET6, a, name, sizeof(name)) ? name : "?", ROUTE6_WAIT_MS);
	return false;
}

/* The raw socket of family fam (made on first use), marked for the network lock. */
static int raw_socket(int *raw, int fam, ckpt_err_t *err)
{
	int mark = INET_UDP_INJECT_MARK, on = 1;

	if (*raw >= 0)
		return *raw;
	*raw = socket(fam, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (*raw < 0)
		return ckpt_error(err, errno, "raw socket to re-send datagrams");
	if (setsockopt(*raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		return ckpt_error(err, errno, "SO_MARK on the raw socket");
	if (fam == AF_INET6 && setsockopt(*raw, SOL_IPV6, IPV6_HDRINCL, &on, sizeof(on)) < 0)
		return ckpt_error(err, errno, "IPV6_HDRINCL");
	return *raw;
}

/*
 * One datagram from src:sport to dst:dport, headers and all, through raw:
 * 0, or the errno of the send. A datagram the stack refuses (EPERM from a
 * firewall rule such as a network lock without the mark's rule, no route,
 * an address gone) is lost the way a network loses one: not an error.
 */
static int send_one(int raw, const struct udp_addr *src, int sport, const struct udp_addr *dst,
		    int dport, const char *data, size_t len)
{
	size_t hl = src->fam == AF_INET ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	cleanup_free char *pkt = xzalloc(hl + sizeof(struct udphdr) + len);
	struct udphdr *u = (void *)(pkt + hl);
	struct sockaddr_storage to = {0};
	socklen_t tl;

	u->source = htons(sport);
	u->dest = htons(dport);
	u->len = htons(sizeof(*u) + len);
	memcpy(u + 1, data, len);
	if (src->fam == AF_INET) {
		struct iphdr *ip = (void *)pkt;
		struct sockaddr_in *t = (void *)&to;

		/* the kernel fills id and the header checksum; UDP checksum 0 is "none" */
		*ip = (struct iphdr){.version = 4,
				     .ihl = 5,
				     .ttl = 64,
				     .protocol = IPPROTO_UDP,
				     .tot_len = htons(hl + sizeof(*u) + len),
				     .saddr = src->a4.s_addr,
				     .daddr = dst->a4.s_addr};
		*t = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = dst->a4};
		tl = sizeof(*t);
	} else {
		struct ip6_hdr *ip = (void *)pkt;
		struct sockaddr_in6 *t = (void *)&to;

		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons(sizeof(*u) + len);
		ip->ip6_nxt = IPPROTO_UDP;
		ip->ip6_hlim = 64;
		ip->ip6_src = src->a6;
		ip->ip6_dst = dst->a6;
		u->check = udp6_csum(ip, u, sizeof(*u) + len);
		*t = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = dst->a6};
		tl = sizeof(*t);
	}
	if (sendto(raw, pkt, hl + sizeof(*u) + len, 0, (struct sockaddr *)&to, tl) < 0)
		return errno;
	return 0;
}

/* How many datagrams sk holds, counted by peeking through them. */
static size_t count_queued(int sk, char *scratch)
{
	int zero = 0;
	size_t n = 0;

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return 0;
	while (recv(sk, scratch, UDP_DGRAM_MAX + 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0)
		n++;
	return n;
}

/* The socket's peek offset as saved (-1, off, when there was none). */
static int peek_off_restore(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	int off = e->peek_off;

	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return ckpt_error(err, errno, "SO_PEEK_OFF %d", off);
	return 0;
}

/*
 * Loopback delivery finishes in softirq context, maybe just after sendto
 * returns: wait (bounded) until the sent datagrams are queued on sk.
 */
static void wait_arrival(int sk, const struct inet_saved *e, size_t want, size_t saved, int lost)
{
	cleanup_free char *scratch = xzalloc(UDP_DGRAM_MAX + 1);
	ckpt_err_t e2 = {0};
	size_t got = 0;

	for (int ms = 0; ms < UDP_ARRIVAL_MS; ms++) {
		got = count_queued(sk, scratch);
		if (got >= want)
			break;
		(void)poll(NULL, 0, 1);
	}
	if (got < saved)
		pr_warn("socket %lld: %zu of %zu queued datagrams arrived, the rest were lost%s%s",
			(long long)e->id, got, saved, lost ? ": " : "", lost ? strerror(lost) : "");
	if (peek_off_restore(sk, e, &e2) < 0)
		pr_warn("%s, ignoring", e2.msg);
}

/* One datagram of "dgrams". */
struct udp_dgram {
	const char *src, *dst;
	int sport, len;
};

static const struct doc_field dgram_fields[] = {
	DOC_STR(struct udp_dgram, src, "src", INET6_ADDRSTRLEN),
	DOC_OPT_STR(struct udp_dgram, dst, "dst", INET6_ADDRSTRLEN),
	DOC_INT(struct udp_dgram, sport, "sport", 0, 65535),
	DOC_INT(struct udp_dgram, len, "len", 0, UDP_DGRAM_MAX),
	DOC_END,
};

/* The saved queue's bytes (the image the prepare step parked), into *buf. */
static int queue_bytes(const struct inet_saved *e, const struct files_rctx *rc, char **buf,
		       ckpt_err_t *err)
{
	size_t total = e->rcv_len;
	uint64_t id = e->id;
	struct fd_shared *sh = files_shared_find(rc, "inet", id, 0);

	if (total > UDP_QUEUE_MAX)
		return doc_error(err, &e->it.at, "%zu bytes of datagrams, at most %u", total,
				 UDP_QUEUE_MAX);
	if (total && !sh)
		return ckpt_error_msg(err, EPROTO, "datagrams of socket %lu were not prepared",
				      (unsigned long)id);
	*buf = xzalloc(total + 1);
	if (total && pread(sh->fd, *buf, total, 0) != (ssize_t)total)
		return ckpt_error(err, errno ?: EIO, "read queued datagrams");
	return 0;
}

/* Datagram i of "dgrams" (list), off bytes into a queue of total: inside it, from src. */
static int dgram_read(const struct doc_at *lat, const struct json *list, size_t i, size_t off,
		      size_t total, struct udp_dgram *dg, struct udp_addr *src, ckpt_err_t *err)
{
	struct doc_at dat = DOC_IDX(lat, i);
	const struct json *d;
	int ret = doc_elem_obj(lat, list, i, &d, err);

	if (ret == 0)
		ret = doc_read(&dat, d, dgram_fields, dg, err);
	if (ret < 0)
		return ret;
	if (off + dg->len > total || parse_addr(dg->src, src) < 0)
		return doc_error(err, &dat, "past the queue, or source `%s` no address", dg->src);
	return 0;
}

int udp_restore_queue(int sk, const struct inet_saved *e, const struct files_rctx *rc,
		      ckpt_err_t *err)
{
	struct doc_at lat = DOC_KEY(&e->it.at, "dgrams");
	const struct json *list;
	size_t total = e->rcv_len, off = 0, n;
	cleanup_free char *buf = NULL;
	cleanup_close int raw4 = -1, raw6 = -1;
	struct udp_addr last;
	size_t sent = 0;
	bool local = false;
	int lost = 0, ret;

	ret = doc_opt_arr(&e->it.at, e->it.obj, "dgrams", UDP_DGRAMS_MAX, &list, &n, err);
	if (ret < 0)
		return ret;
	/* no datagram, but maybe a peek offset the program set */
	if (!n)
		return peek_off_restore(sk, e, err);
	ret = queue_bytes(e, rc, &buf, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct udp_dgram dg = {0};
		size_t len;
		struct udp_addr src = {0}, dst = {0};
		int dport = 0, raw;

		ret = dgram_read(&lat, list, i, off, total, &dg, &src, err);
		if (ret < 0)
			return ret;
		len = dg.len;
		if (dgram_dst(sk, dg.dst, src.fam, &dst, &dport, err) < 0)
			return -err->code;
		raw = raw_socket(src.fam == AF_INET ? &raw4 : &raw6, src.fam, err);
		if (raw < 0)
			return raw;
		/* one address lookup per run of datagrams to the same destination */
		if (i == 0 || memcmp(&dst, &last, sizeof(dst))) {
			local = addr_is_local(&dst);
			if (local && dst.fam == AF_INET6 && !inet_wait_local_route6(&dst.a6))
				local = false; /* counted lost below */
		}
		last = dst;
		ret = local ? send_one(raw, &src, dg.sport, &dst, dport, buf + off, len)
			    : EADDRNOTAVAIL;
		if (ret)
			pr_debug("datagram %zu from %s: %s", i, dg.src, strerror(ret));
		lost = ret ?: lost;
		sent += ret == 0;
		off += len;
	}
	wait_arrival(sk, e, sent, n, lost);
	return 0;
}
