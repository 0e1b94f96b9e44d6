/*
 * libckpt/files/inet-udp.h - datagrams queued on a UDP socket, saved by
 * the dump (inet.c) and sent again at restore (inet-restore.c).
 */
#ifndef CKPT_FILES_INET_UDP_H
#define CKPT_FILES_INET_UDP_H

#include "files/files.h"

/*
 * Mark carried by re-injected datagrams ("ckpt"), so the network lock can
 * let them through (namespaces/net-lock.c accepts it on both hooks).
 */
#define INET_UDP_INJECT_MARK 0x636b7074

/*
 * Every datagram in the receive queue of sk (a copy of the tree's socket),
 * with its source and destination, into e ("dgrams", image rcv_image).
 * Nothing is taken: the socket's peek offset and pktinfo options are put
 * back as they were.
 */
int udp_dump_queue(int sk, uint64_t id, int fam, struct json *e, struct files_dctx *dc,
		   ckpt_err_t *err);

/*
 * In the restored task, sk bound (and connected) as saved: send every
 * saved datagram again so that sk receives it from its saved source, in
 * order; waits until they are queued.
 */
struct inet_saved;
int udp_restore_queue(int sk, const struct inet_saved *e, const struct files_rctx *rc,
		      ckpt_err_t *err);

/*
 * Until a, an IPv6 address of this namespace that can be bound, has its
 * local route: a packet sent to it before is routed away and dropped.
 * False (and a warning) when it has none after 10 s.
 */
struct in6_addr;
bool inet_wait_local_route6(const struct in6_addr *a);

#endif
