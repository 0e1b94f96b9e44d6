/*
 * libckpt/files/unix.h - what sock_diag says about one unix socket.
 */
#ifndef CKPT_FILES_UNIX_H
#define CKPT_FILES_UNIX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "ckpt/error.h"

struct unix_diag_info {
	uint8_t type, state; /* SOCK_*, TCP_ESTABLISHED / TCP_LISTEN / TCP_CLOSE */
	uint32_t ino, peer;  /* peer 0: none */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int name_len;		 /* 0: unbound; name[0] == 0: abstract */
	uint32_t rqueue, wqueue; /* listeners: pending and backlog */
	uint32_t *icons;	 /* listeners: peers (clients) of pending connections */
	int nicons;
	uint8_t shutdown; /* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2 */
};

/* Ask NETLINK_SOCK_DIAG about socket ino (in ckpt-oci's network namespace). */
int unix_diag_get(uint32_t ino, struct unix_diag_info *ui, ckpt_err_t *err);

struct json;
struct fd_info;
struct files_dctx;
bool unix_match(const struct fd_info *fi);
int unix_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc, ckpt_err_t *err);
/* The listener of list that has client among its pending connections. */
const struct json *unix_listener_of(const struct json *list, uint64_t client);

#endif
