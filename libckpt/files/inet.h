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

/* inet-restore.c: a new socket for the fd object obj, in the task's netns. */
int inet_restore(const struct json *obj, const struct files_rctx *rc, int *fd, ckpt_err_t *err);

#endif
