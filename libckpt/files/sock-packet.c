/*
 * libckpt/files/sock-packet.c - packet sockets (AF_PACKET, SOCK_RAW or
 * SOCK_DGRAM): protocol, the interface index it is bound to (in the
 * tree's network namespace, whose links restore makes again with their
 * indexes) and its PACKET_VERSION, PACKET_AUXDATA, PACKET_ORIGDEV and
 * PACKET_IGNORE_OUTGOING options, its classic BPF filter (sock-filter.c),
 * and its memberships (PACKET_ADD_MEMBERSHIP: promiscuous, all-multicast,
 * a multicast or unicast address on an interface), which only sock_diag
 * shows (PACKET_DIAG_MCLIST, sock-diag.c): each is added again at restore
 * as many times as it was, on the same interface index.
 *
 * Refused at checkpoint, one line each: an RX or TX ring (PACKET_MMAP:
 * PACKET_VERSION cannot be set again while one exists, which is how it is
 * seen), a fanout group, frames queued, an eBPF filter.
 */
#define LOG_PREFIX "packet: "
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/packet_diag.h>
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

#define PK_MC_MAX	4096 /* memberships of one socket saved */
#define PK_MC_COUNT_MAX 4096 /* times one was added */
#define PK_MC_ADDR_MAX	32   /* MAX_ADDR_LEN */

/* PACKET_ADD_MEMBERSHIP's argument with the longest address it takes. */
struct pk_mreq {
	int ifindex;
	unsigned short type, alen;
	unsigned char addr[PK_MC_ADDR_MAX];
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

struct mc_find {
	uint32_t ino;
	struct json *list;
	int n;
};

/* The answer about socket f->ino: its memberships into f->list. */
static int mclist_cb(const struct nlmsghdr *h, void *arg)
{
	struct mc_find *f = arg;
	const struct packet_diag_msg *m = NLMSG_DATA(h);
	const struct nlattr *a = (const void *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	size_t left;

	if (h->nlmsg_len < NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*m))))
		return -1;
	if (m->pdiag_ino != f->ino)
		return 0;
	left = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*m)));
	while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
		const struct packet_diag_mclist *mc = (const void *)((const char *)a + NLA_HDRLEN);
		size_t n = (a->nla_len - NLA_HDRLEN) / sizeof(*mc);

		for (size_t i = 0; (a->nla_type & NLA_TYPE_MASK) == PACKET_DIAG_MCLIST && i < n;
		     i++) {
			struct json *j = json_push(f->list, json_obj());

			if (mc[i].pdmc_alen > PK_MC_ADDR_MAX)
				return -1;
			json_set(j, "ifindex", json_int(mc[i].pdmc_index));
			json_set(j, "type", json_int(mc[i].pdmc_type));
			json_set(j, "count", json_int(mc[i].pdmc_count));
			json_set(j, "addr", json_hexbuf(mc[i].pdmc_addr, mc[i].pdmc_alen));
			f->n++;
		}
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= (size_t)NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return 1;
}

/* The memberships of sk (fd fi) as sock_diag lists them, into o. */
static int dump_memberships(int sk, const struct fd_info *fi, struct json *o, ckpt_err_t *err)
{
	struct packet_diag_req req = {.sdiag_family = AF_PACKET, .pdiag_show = PACKET_SHOW_MCLIST};
	struct mc_find f = {.ino = fi->st.st_ino, .list = json_arr()};
	int ret = sock_diag_query(sk, &req, sizeof(req), mclist_cb, &f, err);

	/* sock_diag has no handler for the family: a kernel without packet_diag */
	if (ret == -ENOENT) {
		ckpt_error_clear(err);
		ret = refuse(fi, err, "memberships unreadable (the kernel has no packet_diag)");
	}
	if (ret == 0)
		ret = ckpt_error_msg(err, ENOENT, "packet socket %u: not in sock_diag's list",
				     f.ino);
	if (ret > 0 && f.n > PK_MC_MAX)
		ret = refuse(fi, err, "more than 4096 memberships");
	if (ret > 0 && f.n) {
		json_set(o, "memberships", f.list);
		return 0;
	}
	json_free(f.list);
	return ret < 0 ? ret : 0;
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
	/* the protocol it receives (bind may have changed it; SO_PROTOCOL reads 0) */
	json_set(o, "proto", json_int(a.sll_protocol));
	json_set(o, "ifindex", json_int(a.sll_ifindex));
	json_set(o, "version", json_int(version));
	for (size_t i = 1; i < ARRAY_SIZE(pk_opts); i++) /* the flags after the version */
		if (files_sock_int(sk, SOL_PACKET, pk_opts[i].opt) > 0)
			json_set(o, pk_opts[i].name, json_int(1));
	if (dump_memberships(sk, fi, o, err) < 0)
		return -err->code;
	return sock_filter_dump(sk, o, fi, "packet", err);
}

static int pk_get(const struct fd_entry *e, struct pk_saved *s, ckpt_err_t *err)
{
	memset(s, 0, sizeof(*s));
	return doc_read(&e->at, e->obj, pk_fields, s, err);
}

/* Every membership saved, added as many times as it was. */
static int add_memberships(int sk, const struct fd_entry *e, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "memberships");
	const struct json *list, *m;
	size_t n;
	int ret = doc_opt_arr(&e->at, e->obj, "memberships", PK_MC_MAX, &list, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at mat = DOC_IDX(&at, i);
		const char *addr;
		int64_t ifindex, type, count;
		struct pk_mreq r = {0};

		ret = doc_elem_obj(&at, list, i, &m, err);
		if (ret == 0)
			ret = doc_int(&mat, m, "ifindex", 1, INT32_MAX, &ifindex, err);
		if (ret == 0)
			ret = doc_int(&mat, m, "type", 0, PACKET_MR_UNICAST, &type, err);
		if (ret == 0)
			ret = doc_int(&mat, m, "count", 1, PK_MC_COUNT_MAX, &count, err);
		if (ret == 0)
			ret = doc_str(&mat, m, "addr", 2 * PK_MC_ADDR_MAX, &addr, err);
		if (ret == 0)
			ret = doc_hexbuf(&mat, m, "addr", r.addr, strlen(addr) / 2, err);
		if (ret < 0)
			return ret;
		r.ifindex = ifindex;
		r.type = type;
		r.alen = strlen(addr) / 2;
		for (int64_t k = 0; k < count; k++)
			if (setsockopt(sk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &r, sizeof(r)) < 0)
				return ckpt_error(err, errno,
						  "PACKET_ADD_MEMBERSHIP type %d on interface %d",
						  r.type, r.ifindex);
	}
	return ret;
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
	ret = sock_filter_restore(sk, &e->at, e->obj, err);
	if (ret < 0)
		return ret;
	a.sll_protocol = (uint16_t)s.proto;
	a.sll_ifindex = s.ifindex;
	if (s.ifindex && bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
		return ckpt_error(err, errno, "bind to interface %d", s.ifindex);
	ret = add_memberships(sk, e, err);
	if (ret < 0)
		return ret;
	*fd = steal_fd(&sk);
	return 0;
}

static int packet_describe(const struct fd_entry *e, const struct json *files, bool lines,
			   FILE *out, ckpt_err_t *err)
{
	struct pk_saved s;
	const struct json *mc;
	size_t n = 0;
	int ret = lines ? 0 : pk_get(e, &s, err);

	if (ret == 0 && !lines)
		ret = doc_opt_arr(&e->at, e->obj, "memberships", PK_MC_MAX, &mc, &n, err);
	if (ret == 0 && !lines)
		fprintf(out, " %s protocol %#06x interface %d, %zu memberships",
			s.type == SOCK_RAW ? "raw" : "dgram", ntohs((uint16_t)s.proto), s.ifindex,
			n);
	return ret;
}

const struct fd_ops fd_packet_ops = {
	.kind = "packet",
	.match = packet_match,
	.dump = packet_dump,
	.restore = packet_restore,
	.describe = packet_describe,
};
