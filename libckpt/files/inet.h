/*
 * libckpt/files/inet.h - TCP and UDP sockets, shared by the dump
 * (inet.c) and restore (inet-restore.c) halves.
 */
#ifndef CKPT_FILES_INET_H
#define CKPT_FILES_INET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "files/files.h"

/* An integer socket option saved by name in "opts". */
struct inet_opt {
	const char *name;
	int level, opt;
	int fam;   /* 0: both families, else only this one */
	int proto; /* 0: TCP and UDP, else only this one */
	int flags;
};

#define INET_OPT_BUF	     1	/* a buffer size: only when locked (set by the program) */
#define INET_OPT_UNCONNECTED 2	/* TCP: read back as the path's value once connected */
#define INET_OPT_SIGNED	     4	/* any int (an address, -1 for the default) */
#define INET_OPT_DGRAM	     8	/* not on TCP sockets (multicast) */
#define INET_OPT_PREBIND     16 /* only before bind (which may change it: v6only) */

/*
 * Every integer option dumped and put back, NULL-terminated, in the order
 * set: all before bind (v6only, freebind, reuse*, the device are needed
 * by bind itself). SO_BUF_LOCK comes after the sizes (setting one locks it).
 */
static const struct inet_opt inet_int_opts[] = {
	{"reuseaddr", SOL_SOCKET, SO_REUSEADDR, 0, 0, 0},
	{"reuseport", SOL_SOCKET, SO_REUSEPORT, 0, 0, 0},
	{"keepalive", SOL_SOCKET, SO_KEEPALIVE, 0, 0, 0},
	{"sndbuf", SOL_SOCKET, SO_SNDBUF, 0, 0, INET_OPT_BUF},
	{"rcvbuf", SOL_SOCKET, SO_RCVBUF, 0, 0, INET_OPT_BUF},
	{"buf_lock", SOL_SOCKET, SO_BUF_LOCK, 0, 0, 0},
	{"broadcast", SOL_SOCKET, SO_BROADCAST, 0, 0, 0},
	{"mark", SOL_SOCKET, SO_MARK, 0, 0, INET_OPT_SIGNED},
	{"rcvlowat", SOL_SOCKET, SO_RCVLOWAT, 0, 0, 0},
	{"nodelay", IPPROTO_TCP, TCP_NODELAY, 0, IPPROTO_TCP, 0},
	{"cork", IPPROTO_TCP, TCP_CORK, 0, IPPROTO_TCP, 0},
	{"keepidle", IPPROTO_TCP, TCP_KEEPIDLE, 0, IPPROTO_TCP, 0},
	{"keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, 0, IPPROTO_TCP, 0},
	{"keepcnt", IPPROTO_TCP, TCP_KEEPCNT, 0, IPPROTO_TCP, 0},
	{"user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT, 0, IPPROTO_TCP, 0},
	{"maxseg", IPPROTO_TCP, TCP_MAXSEG, 0, IPPROTO_TCP, INET_OPT_UNCONNECTED},
	{"notsent_lowat", IPPROTO_TCP, TCP_NOTSENT_LOWAT, 0, IPPROTO_TCP, 0},
	{"udp_cork", IPPROTO_UDP, UDP_CORK, 0, IPPROTO_UDP, 0},
	{"freebind", IPPROTO_IP, IP_FREEBIND, 0, 0, 0}, /* IPV6_FREEBIND is the same flag */
	{"tos", IPPROTO_IP, IP_TOS, AF_INET, 0, 0},
	{"ttl", IPPROTO_IP, IP_TTL, AF_INET, 0, 0},
	{"recverr", IPPROTO_IP, IP_RECVERR, AF_INET, 0, 0},
	{"pktinfo", IPPROTO_IP, IP_PKTINFO, AF_INET, 0, 0},
	{"mtu_discover", IPPROTO_IP, IP_MTU_DISCOVER, AF_INET, 0, 0},
	{"multicast_ttl", IPPROTO_IP, IP_MULTICAST_TTL, AF_INET, 0, INET_OPT_DGRAM},
	{"multicast_loop", IPPROTO_IP, IP_MULTICAST_LOOP, AF_INET, 0, INET_OPT_DGRAM},
	{"multicast_if", IPPROTO_IP, IP_MULTICAST_IF, AF_INET, 0, INET_OPT_SIGNED | INET_OPT_DGRAM},
	{"v6only", IPPROTO_IPV6, IPV6_V6ONLY, AF_INET6, 0, INET_OPT_PREBIND},
	{"tclass", IPPROTO_IPV6, IPV6_TCLASS, AF_INET6, 0, INET_OPT_SIGNED},
	{"unicast_hops", IPPROTO_IPV6, IPV6_UNICAST_HOPS, AF_INET6, 0, INET_OPT_SIGNED},
	{"recverr6", IPPROTO_IPV6, IPV6_RECVERR, AF_INET6, 0, 0},
	{"recvpktinfo6", IPPROTO_IPV6, IPV6_RECVPKTINFO, AF_INET6, 0, 0},
	{"mtu_discover6", IPPROTO_IPV6, IPV6_MTU_DISCOVER, AF_INET6, 0, 0},
	{"multicast_hops6", IPPROTO_IPV6, IPV6_MULTICAST_HOPS, AF_INET6, 0,
	 INET_OPT_SIGNED | INET_OPT_DGRAM},
	{"multicast_loop6", IPPROTO_IPV6, IPV6_MULTICAST_LOOP, AF_INET6, 0, INET_OPT_DGRAM},
	{"multicast_if6", IPPROTO_IPV6, IPV6_MULTICAST_IF, AF_INET6, 0, INET_OPT_DGRAM},
	/* after IP_TOS, which sets the priority from the TOS */
	{"priority", SOL_SOCKET, SO_PRIORITY, 0, 0, 0},
	{NULL, 0, 0, 0, 0, 0},
};

/* The longest device or congestion control name saved (IFNAMSIZ, TCP_CA_NAME_MAX). */
#define INET_OPT_STR_MAX 16

/* A socket of files.json "inet", read by inet_get. Never copied. */
struct inet_saved {
	uint64_t id;
	int family, type, state, backlog, port, peer_port;
	const char *addr, *peer_addr; /* as inet_ntop writes them */
	/* a TCP connection (TCP_REPAIR): bytes only, FINs are in state */
	uint32_t rcv_seq, snd_seq, rcv_len, snd_len, unsent, timestamp;
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
	int mss, tcpi_options, snd_wscale, rcv_wscale;
	const char *rcv_image, *snd_image;
	int peek_off;			   /* UDP: -1 none */
	int shutdown;			   /* datagram sockets: 1 receive, 2 send, 3 both */
	int proto, send_cscov, recv_cscov; /* 0: TCP or UDP; sock-dgram.c's */
	int hdrincl;			   /* sock-raw.c's */
	uint32_t icmp_filter;		   /* raw ICMP: the types dropped */
	struct files_item it;
};

/* The end under which a socket held by several fds is parked (0, 1: queues). */
#define INET_SHARED 2

/* inet-restore.c: fd e is an inet socket saved as id. */
bool inet_holds(const struct fd_entry *e, uint64_t id);
/* inet-restore.c: socket id of files.json (the socket of fd e), checked, into s. */
int inet_get(const struct json *doc, const struct fd_entry *e, struct inet_saved *s,
	     ckpt_err_t *err);
/* inet-restore.c: a new socket for the fd e, in the task's netns. */
int inet_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd, ckpt_err_t *err);
/* inet-restore.c: inspect's words for the socket of fd e. */
int inet_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
		  ckpt_err_t *err);

/* inet-tcp.c: a TCP state restored with TCP_REPAIR (established, or past it with an fd). */
bool inet_tcp_connected(int state);
/* inet-tcp.c: in this state our FIN was sent (counted by the send queue's sequence). */
bool inet_tcp_fin_sent(int state);
/* inet-tcp.c: in this state the peer's FIN came (counted by the receive queue's). */
bool inet_tcp_fin_rcvd(int state);
/* inet-tcp.c: in repair mode, queues and window back: the FINs of e's state. */
int inet_tcp_fins(int sk, const struct inet_saved *e, ckpt_err_t *err);
/* inet-tcp.c: in repair mode, connected and empty: reset as by the peer (--tcp-close). */
int inet_tcp_reset(int sk, const struct inet_saved *e, ckpt_err_t *err);

/* sock-dgram.c: proto is a datagram protocol other than UDP handled there. */
bool inet_dgram_proto(int proto);
/* sock-dgram.c: "ping", "udplite" or "udp". */
const char *inet_dgram_name(int proto);
/* sock-dgram.c: proto and its options into e; NULL, or why sk is refused. */
const char *inet_dgram_dump(int sk, int proto, struct json *e);
/* sock-dgram.c: the options of e on sk, bound or not. */
int inet_dgram_restore(int sk, const struct inet_saved *e, ckpt_err_t *err);
/* sock-raw.c: a raw socket's protocol, peer and options into e; NULL, or why refused. */
const char *inet_raw_dump(int sk, const struct fd_info *fi, int fam, int proto, struct json *e,
			  ckpt_err_t *err);
/* sock-raw.c: the options of e on the raw socket sk. */
int inet_raw_restore(int sk, const struct inet_saved *e, ckpt_err_t *err);

#endif
