/*
 * libckpt/files/sock-packet.c - packet sockets (AF_PACKET, SOCK_RAW or
 * SOCK_DGRAM): protocol, the interface index it is bound to (in the
 * tree's network namespace, whose links restore makes again with their
 * indexes) and its PACKET_VERSION, PACKET_AUXDATA, PACKET_ORIGDEV and
 * PACKET_IGNORE_OUTGOING options.
 *
 * Refused at checkpoint, one line each: an RX or TX ring (PACKET_MMAP:
 * PACKET_VERSION cannot be set again while one exists, which is how it is
 * seen), a fanout group, frames queued.
 * Not carried: PACKET_ADD_MEMBERSHIP (promiscuous, multicast) and
 * attached filters.
 */
#define LOG_PREFIX "packet: "
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <string.h>
#include <sys/socket.h>

#include "files/files.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/util.h"

struct pk_saved {
	int type, proto, ifindex, version, auxdata, origdev, ignore_outgoing;
};

static const struct doc_field pk_fields[] = {
	DOC_INT(struct pk_saved, type, "type", SOCK_DGRAM, SOCK_RAW),
	DOC_INT(struct pk_saved, proto, "proto", 0, 65535),
	DOC_INT(struct pk_saved, ifindex, "ifindex", 0, INT32_MAX),
	DOC_OPT_INT(struct pk_saved, version, "version", TPACKET_V1, TPACKET_V3),
	DOC_OPT_INT(struct pk_saved, auxdata, "auxdata", 0, 1),
	DOC_OPT_INT(struct pk_saved, origdev, "origdev", 0, 1),
	DOC_OPT_INT(struct pk_saved, ignore_outgoing, "ignore_outgoing", 0, 1),
	DOC_END,
};

/* The options restored, by their offset in struct pk_saved. */
static const struct {
	const char *name;
	int opt;
	size_t off;
} pk_opts[] = {
	{"version", PACKET_VERSION, offsetof(struct pk_saved, version)},
	{"auxdata", PACKET_AUXDATA, offsetof(struct pk_saved, auxdata)},
	{"origdev", PACKET_ORIGDEV, offsetof(struct pk_saved, origdev)},
	{"ignore_outgoing", PACKET_IGNORE_OUTGOING, offsetof(struct pk_saved, ignore_outgoing)},
};

static bool packet_match(const struct fd_info *fi)
{
	return fi->sk_family == AF_PACKET;
}

static int refuse(const struct fd_info *fi, ckpt_err_t *err, const char *why)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (packet socket) in pid %d: %s",
			      fi->fd, fi->pid, why);
}

static int packet_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		       ckpt_err_t *err)
{
	cleanup_close int sk = files_steal_fd(fi->pid, fi->fd, err);
	struct sockaddr_ll a = {0};
	socklen_t al = sizeof(a);
	int version;
	char c;

	if (sk < 0)
		return sk;
	version = files_sock_int(sk, SOL_PACKET, PACKET_VERSION);
	/* the same version again: EBUSY while a ring is set up */
	if (version < 0 ||
	    setsockopt(sk, SOL_PACKET, PACKET_VERSION, &version, sizeof(version)) < 0)
		return refuse(fi, err, errno == EBUSY ? "PACKET_MMAP ring" : "PACKET_VERSION");
	if (files_sock_int(sk, SOL_PACKET, PACKET_FANOUT) > 0)
		return refuse(fi, err, "fanout group");
	if (recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0)
		return refuse(fi, err, "frames queued");
	if (getsockname(sk, (struct sockaddr *)&a, &al) < 0)
		return ckpt_error(err, errno, "getsockname");
	json_set(o, "type", json_int(files_sock_int(sk, SOL_SOCKET, SO_TYPE)));
	json_set(o, "proto", json_int(files_sock_int(sk, SOL_SOCKET, SO_PROTOCOL) & 0xffff));
	json_set(o, "ifindex", json_int(a.sll_ifindex));
	json_set(o, "version", json_int(version));
	for (size_t i = 1; i < ARRAY_SIZE(pk_opts); i++) /* the flags after the version */
		if (files_sock_int(sk, SOL_PACKET, pk_opts[i].opt) > 0)
			json_set(o, pk_opts[i].name, json_int(1));
	return 0;
}

static int pk_get(const struct fd_entry *e, struct pk_saved *s, ckpt_err_t *err)
{
	memset(s, 0, sizeof(*s));
	return doc_read(&e->at, e->obj, pk_fields, s, err);
}

static int packet_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			  ckpt_err_t *err)
{
	cleanup_close int sk = -1;
	struct sockaddr_ll a = {.sll_family = AF_PACKET};
	struct pk_saved s;
	int ret = pk_get(e, &s, err);

	if (ret < 0)
		return ret;
	/* the saved protocol is in network order already */
	sk = socket(AF_PACKET, s.type | SOCK_CLOEXEC, s.proto);
	if (sk < 0)
		return ckpt_error(err, errno, "socket(AF_PACKET, %d, %#x)", s.type, s.proto);
	for (size_t i = 0; i < ARRAY_SIZE(pk_opts); i++) {
		int v = *(const int *)((const char *)&s + pk_opts[i].off);

		if (v && setsockopt(sk, SOL_PACKET, pk_opts[i].opt, &v, sizeof(v)) < 0)
			return ckpt_error(err, errno, "%s %d", pk_opts[i].name, v);
	}
	a.sll_protocol = (uint16_t)s.proto;
	a.sll_ifindex = s.ifindex;
	if (s.ifindex && bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
		return ckpt_error(err, errno, "bind to interface %d", s.ifindex);
	*fd = steal_fd(&sk);
	return 0;
}

static int packet_describe(const struct fd_entry *e, const struct json *files, bool lines,
			   FILE *out, ckpt_err_t *err)
{
	struct pk_saved s;
	int ret = lines ? 0 : pk_get(e, &s, err);

	if (ret == 0 && !lines)
		fprintf(out, " %s protocol %#06x interface %d",
			s.type == SOCK_RAW ? "raw" : "dgram", ntohs((uint16_t)s.proto), s.ifindex);
	return ret;
}

const struct fd_ops fd_packet_ops = {
	.kind = "packet",
	.match = packet_match,
	.dump = packet_dump,
	.restore = packet_restore,
	.describe = packet_describe,
};
