/*
 * libckpt/files/inet.h - TCP and UDP sockets, shared by the dump
 * (inet.c) and restore (inet-restore.c) halves.
 */
#ifndef CKPT_FILES_INET_H
#define CKPT_FILES_INET_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "files/files.h"

/* An integer socket option saved by name in "opts". */
struct inet_opt {
	const char *name;
	int level, opt;
};

/* Every integer option dumped and put back, NULL-terminated. */
static const struct inet_opt inet_int_opts[] = {
	{"reuseaddr", SOL_SOCKET, SO_REUSEADDR},
	{"reuseport", SOL_SOCKET, SO_REUSEPORT},
	{"keepalive", SOL_SOCKET, SO_KEEPALIVE},
	{"sndbuf", SOL_SOCKET, SO_SNDBUF},
	{"rcvbuf", SOL_SOCKET, SO_RCVBUF},
	{"broadcast", SOL_SOCKET, SO_BROADCAST},
	{"nodelay", IPPROTO_TCP, TCP_NODELAY},
	{"keepidle", IPPROTO_TCP, TCP_KEEPIDLE},
	{"keepintvl", IPPROTO_TCP, TCP_KEEPINTVL},
	{"keepcnt", IPPROTO_TCP, TCP_KEEPCNT},
	{"v6only", IPPROTO_IPV6, IPV6_V6ONLY},
	{NULL, 0, 0},
};

/* A socket of files.json "inet", read by inet_get. Never copied. */
struct inet_saved {
	uint64_t id;
	int family, type, state, backlog, port, peer_port;
	const char *addr, *peer_addr; /* as inet_ntop writes them */
	/* an established TCP connection (TCP_REPAIR) */
	uint32_t rcv_seq, snd_seq, rcv_len, snd_len, unsent, timestamp;
	uint32_t snd_wl1, snd_wnd, max_window, rcv_wnd, rcv_wup;
	int mss, tcpi_options, snd_wscale, rcv_wscale;
	const char *rcv_image, *snd_image;
	int peek_off; /* UDP: -1 none */
	int proto, send_cscov, recv_cscov; /* 0: TCP or UDP; sock-dgram.c's */
	int hdrincl;          /* sock-raw.c's */
	uint32_t icmp_filter; /* raw ICMP: the types dropped */
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
