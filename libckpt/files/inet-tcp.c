/*
 * libckpt/files/inet-tcp.c - TCP connections past ESTABLISHED: one side or
 * both shut down for writing (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING,
 * LAST_ACK), restored with TCP_REPAIR as an established connection that
 * then gets its FINs back, the way the kernel got them.
 *
 * Dump (inet.c): a FIN takes a sequence number but is no byte of a queue.
 * TCP_QUEUE_SEQ counts it (the send queue's once this end sent its FIN,
 * the receive queue's once the peer's came), SIOCOUTQ and SIOCOUTQNSD
 * count ours, SIOCINQ never counts the peer's. The saved sequence numbers
 * and lengths are those of the bytes alone; "state" says which FINs there
 * were.
 *
 * Restore, in repair mode, after both queues and the window are back:
 *
 *  - our FIN first (FIN_WAIT1, FIN_WAIT2, CLOSING): shutdown(SHUT_WR)
 *    queues it after the bytes. FIN_WAIT2, where the peer acknowledged it,
 *    queues it as sent (TCP_REPAIR_QUEUE on the send queue, nothing goes
 *    out) and then gets the peer's acknowledgement;
 *  - the peer's FIN (CLOSE_WAIT, CLOSING, LAST_ACK) arrives as a segment
 *    from the peer: no call puts a FIN into a receive queue, so it is
 *    built here, headers and all, and sent through a raw socket to the
 *    restored socket over loopback, marked (INET_UDP_INJECT_MARK) so the
 *    network lock lets it through. It acknowledges only what the peer had
 *    acknowledged, so nothing of ours in flight is taken as delivered;
 *  - our FIN after the peer's (LAST_ACK): shutdown(SHUT_WR) again.
 *
 * --tcp-close: the connection, made established and empty in repair mode,
 * gets a reset from its peer the same way (exactly at the expected
 * sequence, so it is taken): closed, ECONNRESET for the program's next
 * call, and nothing of it ever reaches the peer, whose next segment finds
 * no socket and is answered with a reset.
 *
 * A FIN not yet acknowledged goes out (into the lock, or behind bytes the
 * peer's window holds back) and is sent again once the tree runs, as any
 * segment lost. Bytes never sent are queued (repair mode left for the
 * send, without a window probe) before our FIN, which must follow them.
 */
#define LOG_PREFIX "inet: "
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "files/inet.h"
#include "files/inet-udp.h"
#include "util/log.h"
#include "util/util.h"

#define TCPF(s) (1u << (s))

/* This end sent its FIN (the send queue's sequence counts it). */
#define SND_FIN (TCPF(TCP_FIN_WAIT1) | TCPF(TCP_FIN_WAIT2) | TCPF(TCP_CLOSING) | TCPF(TCP_LAST_ACK))
/* The peer's FIN came (the receive queue's sequence counts it). */
#define RCV_FIN (TCPF(TCP_CLOSE_WAIT) | TCPF(TCP_CLOSING) | TCPF(TCP_LAST_ACK))

/* How long the restored socket may take to see a segment sent to it. */
#define SEGMENT_WAIT_MS 2000

bool inet_tcp_connected(int state)
{
	return state == TCP_ESTABLISHED || (TCPF(state) & (SND_FIN | RCV_FIN));
}

bool inet_tcp_fin_sent(int state)
{
	return state >= 0 && state < 32 && (TCPF(state) & SND_FIN);
}

bool inet_tcp_fin_rcvd(int state)
{
	return state >= 0 && state < 32 && (TCPF(state) & RCV_FIN);
}

/* An address of e (the peer's or its own), v4-mapped IPv6 as IPv4. */
struct tcp_addr {
	int fam;
	union {
		struct in_addr a4;
		struct in6_addr a6;
	};
};

static int parse(const struct inet_saved *e, bool peer, struct tcp_addr *a, ckpt_err_t *err)
{
	const char *s = peer ? e->peer_addr : e->addr;

	a->fam = e->family;
	if (s && e->family == AF_INET && inet_pton(AF_INET, s, &a->a4) == 1)
		return 0;
	if (s && e->family == AF_INET6 && inet_pton(AF_INET6, s, &a->a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a->a6)) {
			struct in_addr v4;

			memcpy(&v4, &a->a6.s6_addr[12], 4);
			a->fam = AF_INET;
			a->a4 = v4;
		}
		return 0;
	}
	return doc_error(err, &e->it.at, "bad %s `%s`", peer ? "peer_addr" : "addr", s ? s : "");
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

/* The TCP checksum: pseudo-header of src and dst, then the segment. */
static uint16_t tcp_csum(const struct tcp_addr *src, const struct tcp_addr *dst, const void *seg,
			 size_t len)
{
	size_t alen = src->fam == AF_INET ? 4 : 16;
	uint32_t sum = 0, l = htonl(len), proto = htonl(IPPROTO_TCP);

	sum = csum_add(sum, &src->a4, alen);
	sum = csum_add(sum, &dst->a4, alen);
	sum = csum_add(sum, &l, 4);
	sum = csum_add(sum, &proto, 4);
	sum = csum_add(sum, seg, len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int tcp_state(int sk)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(ti);

	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0)
		return -1;
	return ti.tcpi_state;
}

/* A raw socket for family fam whose packets carry the lock's mark. */
static int raw_socket(int fam, ckpt_err_t *err)
{
	int mark = INET_UDP_INJECT_MARK, on = 1;
	int raw = socket(fam, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);

	if (raw < 0)
		return ckpt_error(err, errno, "raw socket to restore a FIN");
	if (setsockopt(raw, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ||
	    (fam == AF_INET6 && setsockopt(raw, SOL_IPV6, IPV6_HDRINCL, &on, sizeof(on)) < 0)) {
		close(raw);
		return ckpt_error(err, errno, "raw socket options");
	}
	return raw;
}

/*
 * One segment from the peer to the restored socket sk: seq, ack, flags
 * (ACK always), the window as the peer last said it, a timestamp (0: no
 * PAWS check can drop it, none can drop the peer's next) where the
 * connection has them. Waits until sk leaves the state it was in.
 */
static int inject(int sk, const struct inet_saved *e, uint32_t seq, uint32_t ack, int flags,
		  ckpt_err_t *err)
{
	const char *what = flags & TH_RST ? "RST" : flags & TH_FIN ? "FIN" : "ACK";
	struct tcp_addr src, dst;
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr) + 12] = {0};
	bool ts = e->tcpi_options & TCPI_OPT_TIMESTAMPS;
	size_t hl, tl = sizeof(struct tcphdr) + (ts ? 12 : 0);
	struct sockaddr_storage to = {0};
	cleanup_close int raw = -1;
	struct tcphdr *t;
	int before = tcp_state(sk);
	long end = now_ms() + SEGMENT_WAIT_MS;

	if (parse(e, true, &src, err) < 0 || parse(e, false, &dst, err) < 0)
		return -err->code;
	hl = src.fam == AF_INET ? sizeof(struct iphdr) : sizeof(struct ip6_hdr);
	t = (void *)(pkt + hl);
	t->source = htons(e->peer_port);
	t->dest = htons(e->port);
	t->seq = htonl(seq);
	t->ack_seq = htonl(ack);
	t->doff = tl / 4;
	t->th_flags = TH_ACK | flags;
	t->window = htons(MIN(e->snd_wnd >> e->snd_wscale, 0xffffu));
	if (ts) {
		uint8_t *o = (uint8_t *)(t + 1);

		o[0] = TCPOPT_NOP;
		o[1] = TCPOPT_NOP;
		o[2] = TCPOPT_TIMESTAMP;
		o[3] = TCPOLEN_TIMESTAMP; /* TSval and TSecr 0 */
	}
	t->check = tcp_csum(&src, &dst, t, tl);
	if (src.fam == AF_INET) {
		struct iphdr *ip = (void *)pkt;
		struct sockaddr_in *a = (void *)&to;

		*ip = (struct iphdr){.version = 4,
				     .ihl = 5,
				     .ttl = 64,
				     .protocol = IPPROTO_TCP,
				     .tot_len = htons(hl + tl),
				     .saddr = src.a4.s_addr,
				     .daddr = dst.a4.s_addr};
		*a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr = dst.a4};
	} else {
		struct ip6_hdr *ip = (void *)pkt;
		struct sockaddr_in6 *a = (void *)&to;

		ip->ip6_flow = htonl(6u << 28);
		ip->ip6_plen = htons(tl);
		ip->ip6_nxt = IPPROTO_TCP;
		ip->ip6_hlim = 64;
		ip->ip6_src = src.a6;
		ip->ip6_dst = dst.a6;
		*a = (struct sockaddr_in6){.sin6_family = AF_INET6, .sin6_addr = dst.a6};
	}
	if (dst.fam == AF_INET6 && !inet_wait_local_route6(&dst.a6))
		return ckpt_error_msg(err, ENETUNREACH,
				      "no local route to the connection's address");
	raw = raw_socket(src.fam, err);
	if (raw < 0)
		return raw;
	/* a new namespace's IPv6 address gets its local route a moment after bind */
	while (sendto(raw, pkt, hl + tl, 0, (struct sockaddr *)&to,
		      src.fam == AF_INET ? sizeof(struct sockaddr_in)
					 : sizeof(struct sockaddr_in6)) < 0) {
		if ((errno != ENETUNREACH && errno != EADDRNOTAVAIL && errno != EHOSTUNREACH) ||
		    now_ms() > end)
			return ckpt_error(err, errno, "send the peer's %s to the restored socket",
					  what);
		poll(NULL, 0, 5);
	}
	while (tcp_state(sk) == before && now_ms() < end)
		poll(NULL, 0, 1);
	if (tcp_state(sk) == before)
		return ckpt_error_msg(err, EPROTO, "the restored socket took no %s from its peer",
				      what);
	return 0;
}

/* Our FIN after the bytes; queued as sent (nothing goes out) when acked. */
static int shut_wr(int sk, bool as_sent, ckpt_err_t *err)
{
	int q = TCP_SEND_QUEUE, none = TCP_NO_QUEUE;

	if (as_sent && setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_QUEUE");
	if (shutdown(sk, SHUT_WR) < 0)
		return ckpt_error(err, errno, "shutdown (repair) for our FIN");
	if (as_sent && setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof(none)) < 0)
		return ckpt_error(err, errno, "TCP_REPAIR_QUEUE");
	return 0;
}

int inet_tcp_fins(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	uint32_t snd_una = e->snd_seq - e->snd_len;
	int s = e->state;

	/* ours came first: FIN_WAIT1, FIN_WAIT2, CLOSING */
	if (inet_tcp_fin_sent(s) && s != TCP_LAST_ACK) {
		if (shut_wr(sk, s == TCP_FIN_WAIT2, err) < 0)
			return -err->code;
		/* the peer acknowledged it: FIN_WAIT2 now, as it was */
		if (s == TCP_FIN_WAIT2 && inject(sk, e, e->rcv_seq, e->snd_seq + 1, 0, err) < 0)
			return -err->code;
	}
	if (inet_tcp_fin_rcvd(s) && inject(sk, e, e->rcv_seq, snd_una, TH_FIN, err) < 0)
		return -err->code;
	if (s == TCP_LAST_ACK && shut_wr(sk, false, err) < 0)
		return -err->code;
	if (tcp_state(sk) != s)
		return ckpt_error_msg(err, EPROTO, "TCP state %d restored as %d", s, tcp_state(sk));
	pr_debug("socket %lu back in TCP state %d", (unsigned long)e->id, s);
	return 0;
}

int inet_tcp_reset(int sk, const struct inet_saved *e, ckpt_err_t *err)
{
	/* the receive queue is empty: its sequence is where repair_connect put it */
	if (inject(sk, e, e->rcv_seq - e->rcv_len, e->snd_seq - e->snd_len, TH_RST, err) < 0)
		return -err->code;
	pr_debug("socket %lu restored closed (--tcp-close)", (unsigned long)e->id);
	return 0;
}
