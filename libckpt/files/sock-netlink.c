/*
 * libckpt/files/sock-netlink.c - netlink sockets (any protocol: route,
 * generic, ...): protocol and type, the port id it is bound to, every
 * multicast group it joined (NETLINK_LIST_MEMBERSHIPS), the peer it is
 * connected to and its NETLINK_* flags, its classic BPF filter
 * (sock-filter.c, in "opts"). Restore makes it again in the task's
 * network namespace, binds it to the same port id (to a new one, with a
 * warning, when another socket holds it) and joins the groups.
 *
 * Refused at checkpoint: a dump in progress (an NLM_F_DUMP answer not read
 * to its end, as sock_diag tells it: NDIAG_FLAG_CB_RUNNING), a socket with
 * messages queued (an answer not read yet, notifications), an eBPF filter.
 */
#define LOG_PREFIX "netlink: "
#include <errno.h>
#include <inttypes.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <string.h>
#include <sys/socket.h>

#include "files/files.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/log.h"
#include "util/util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NL_GROUPS_MAX 1024 /* groups a socket may list, in 32-bit words: 32 */

/* The integer NETLINK_* flags dumped and put back. */
static const struct {
	const char *name;
	int opt;
} nl_opts[] = {
	{"pktinfo", NETLINK_PKTINFO},
	{"broadcast_error", NETLINK_BROADCAST_ERROR},
	{"no_enobufs", NETLINK_NO_ENOBUFS},
	{"listen_all_nsid", NETLINK_LISTEN_ALL_NSID},
	{"cap_ack", NETLINK_CAP_ACK},
	{"ext_ack", NETLINK_EXT_ACK},
	{"get_strict_chk", NETLINK_GET_STRICT_CHK},
};

struct nl_saved {
	int type, proto, port, peer_port, peer_groups, rcvbuf, sndbuf;
};

static const struct doc_field nl_fields[] = {
	DOC_INT(struct nl_saved, type, "type", SOCK_DGRAM, SOCK_RAW),
	DOC_INT(struct nl_saved, proto, "proto", 0, 31),
	DOC_INT(struct nl_saved, port, "port", INT32_MIN, INT32_MAX),
	DOC_OPT_INT(struct nl_saved, peer_port, "peer_port", INT32_MIN, INT32_MAX),
	DOC_OPT_INT(struct nl_saved, peer_groups, "peer_groups", INT32_MIN, INT32_MAX),
	DOC_OPT_INT(struct nl_saved, rcvbuf, "rcvbuf", 0, INT32_MAX),
	DOC_OPT_INT(struct nl_saved, sndbuf, "sndbuf", 0, INT32_MAX),
	DOC_END,
};

static bool netlink_match(const struct fd_info *fi)
{
	return fi->sk_family == AF_NETLINK;
}

static int refuse(const struct fd_info *fi, ckpt_err_t *err, const char *why)
{
	return ckpt_error_msg(err, ENOTSUP, "unsupported fd %d (netlink socket) in pid %d: %s",
			      fi->fd, fi->pid, why);
}

struct nl_find {
	uint32_t ino, flags;
};

/* The answer about socket f->ino: its NETLINK_DIAG_FLAGS. */
static int flags_cb(const struct nlmsghdr *h, void *arg)
{
	struct nl_find *f = arg;
	const struct netlink_diag_msg *m = NLMSG_DATA(h);
	const struct nlattr *a = (const void *)((const char *)m + NLMSG_ALIGN(sizeof(*m)));
	size_t left;

	if (h->nlmsg_len < NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*m))))
		return -1;
	if (m->ndiag_ino != f->ino)
		return 0;
	left = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*m)));
	while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
		if ((a->nla_type & NLA_TYPE_MASK) == NETLINK_DIAG_FLAGS &&
		    a->nla_len >= NLA_HDRLEN + sizeof(uint32_t))
			memcpy(&f->flags, (const char *)a + NLA_HDRLEN, sizeof(f->flags));
		if ((size_t)NLA_ALIGN(a->nla_len) >= left)
			break;
		left -= (size_t)NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	return 1;
}

/* Is a dump running on sk (an answer the program has not read to its end)? */
static int dump_running(int sk, const struct fd_info *fi, int proto, ckpt_err_t *err)
{
	struct netlink_diag_req req = {.sdiag_family = AF_NETLINK,
				       .sdiag_protocol = (uint8_t)proto,
				       .ndiag_show = NDIAG_SHOW_FLAGS};
	struct nl_find f = {.ino = fi->st.st_ino};
	int ret = sock_diag_query(sk, &req, sizeof(req), flags_cb, &f, err);

	/* a kernel without netlink_diag: what is queued is all that can be seen */
	if (ret == -ENOENT) {
		ckpt_error_clear(err);
		pr_warn("fd %d of %d: no netlink_diag, a dump in progress with nothing queued "
			"would go unseen",
			fi->fd, fi->pid);
		return 0;
	}
	/* sock_diag lists bound sockets only: one never bound asked for no dump */
	if (ret <= 0)
		return ret;
	return !!(f.flags & NDIAG_FLAG_CB_RUNNING);
}

static int netlink_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	cleanup_close int sk = files_steal_fd(fi->pid, fi->fd, err);
	struct sockaddr_nl a = {0};
	socklen_t al = sizeof(a), gl;
	uint32_t words[NL_GROUPS_MAX / 32] = {0};
	struct json *groups, *opts;
	char c;
	bool queued;
	int ret;

	if (sk < 0)
		return sk;
	ret = dump_running(sk, fi, files_sock_int(sk, SOL_SOCKET, SO_PROTOCOL), err);
	if (ret < 0)
		return ret;
	queued = recv(sk, &c, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC) >= 0;
	if (ret)
		return refuse(
			fi, err,
			queued ? "messages queued (a dump in progress, not read to its end)"
			       : "a dump in progress (NLM_F_DUMP answer not read to its end)");
	if (queued)
		return refuse(fi, err, "messages queued");
	if (getsockname(sk, (struct sockaddr *)&a, &al) < 0)
		return ckpt_error(err, errno, "getsockname");
	json_set(o, "type", json_int(files_sock_int(sk, SOL_SOCKET, SO_TYPE)));
	json_set(o, "proto", json_int(files_sock_int(sk, SOL_SOCKET, SO_PROTOCOL)));
	json_set(o, "port", json_int((int32_t)a.nl_pid));
	json_set(o, "rcvbuf", json_int(files_sock_int(sk, SOL_SOCKET, SO_RCVBUF)));
	json_set(o, "sndbuf", json_int(files_sock_int(sk, SOL_SOCKET, SO_SNDBUF)));
	gl = sizeof(words);
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &gl) < 0)
		return ckpt_error(err, errno, "NETLINK_LIST_MEMBERSHIPS");
	if (gl > sizeof(words))
		return refuse(fi, err, "more than 1024 multicast groups");
	groups = json_set(o, "groups", json_arr());
	for (size_t g = 0; g < gl * 8; g++)
		if (words[g / 32] & (1U << (g % 32)))
			json_push(groups, json_int(g + 1));
	opts = json_set(o, "opts", json_obj());
	for (size_t i = 0; i < ARRAY_SIZE(nl_opts); i++) {
		int v = files_sock_int(sk, SOL_NETLINK, nl_opts[i].opt);

		if (v > 0)
			json_set(opts, nl_opts[i].name, json_int(1));
	}
	if (sock_filter_dump(sk, opts, fi, "netlink", err) < 0)
		return -err->code;
	al = sizeof(a);
	if (getpeername(sk, (struct sockaddr *)&a, &al) == 0 && (a.nl_pid || a.nl_groups)) {
		json_set(o, "peer_port", json_int((int32_t)a.nl_pid));
		json_set(o, "peer_groups", json_int((int32_t)a.nl_groups));
	}
	return 0;
}

static int nl_get(const struct fd_entry *e, struct nl_saved *s, ckpt_err_t *err)
{
	memset(s, 0, sizeof(*s));
	return doc_read(&e->at, e->obj, nl_fields, s, err);
}

static int set_int(int sk, int level, int opt, int v, const char *name, ckpt_err_t *err)
{
	if (setsockopt(sk, level, opt, &v, sizeof(v)) < 0)
		return ckpt_error(err, errno, "%s %d", name, v);
	return 0;
}

static int join_groups(int sk, const struct fd_entry *e, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "groups");
	const struct json *groups;
	size_t n;
	int ret = doc_opt_arr(&e->at, e->obj, "groups", NL_GROUPS_MAX, &groups, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		int64_t g;

		ret = doc_elem_int(&at, groups, i, 1, NL_GROUPS_MAX, &g, err);
		if (ret == 0)
			ret = set_int(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, (int)g,
				      "NETLINK_ADD_MEMBERSHIP", err);
	}
	return ret;
}

static int set_opts(int sk, const struct fd_entry *e, const struct nl_saved *s, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, "opts");
	const struct json *opts = NULL;
	int ret = doc_opt_obj(&e->at, e->obj, "opts", &opts, err);

	if (ret == 0 && s->rcvbuf)
		ret = set_int(sk, SOL_SOCKET, SO_RCVBUFFORCE, s->rcvbuf / 2, "SO_RCVBUF", err);
	if (ret == 0 && s->sndbuf)
		ret = set_int(sk, SOL_SOCKET, SO_SNDBUFFORCE, s->sndbuf / 2, "SO_SNDBUF", err);
	for (size_t i = 0; ret == 0 && opts && i < ARRAY_SIZE(nl_opts); i++) {
		int64_t on = 0;

		ret = doc_opt_int(&at, opts, nl_opts[i].name, 0, 1, 0, &on, err);
		if (ret == 0 && on)
			ret = set_int(sk, SOL_NETLINK, nl_opts[i].opt, 1, nl_opts[i].name, err);
	}
	if (ret == 0 && opts)
		ret = sock_filter_restore(sk, &at, opts, err);
	return ret;
}

static int netlink_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	cleanup_close int sk = -1;
	struct sockaddr_nl a = {.nl_family = AF_NETLINK};
	struct nl_saved s;
	int ret = nl_get(e, &s, err);

	if (ret < 0)
		return ret;
	sk = socket(AF_NETLINK, s.type | SOCK_CLOEXEC, s.proto);
	if (sk < 0)
		return ckpt_error(err, errno, "socket(AF_NETLINK, %d, %d)", s.type, s.proto);
	ret = set_opts(sk, e, &s, err);
	if (ret < 0)
		return ret;
	a.nl_pid = (uint32_t)s.port;
	if (s.port && bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (errno != EADDRINUSE)
			return ckpt_error(err, errno, "bind to port %u", a.nl_pid);
		pr_warn("port %u is taken, a new one is given", a.nl_pid);
		a.nl_pid = 0;
		if (bind(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
			return ckpt_error(err, errno, "bind");
	}
	ret = join_groups(sk, e, err);
	if (ret < 0)
		return ret;
	if (s.peer_port || s.peer_groups) {
		a.nl_pid = (uint32_t)s.peer_port;
		a.nl_groups = (uint32_t)s.peer_groups;
		if (connect(sk, (struct sockaddr *)&a, sizeof(a)) < 0)
			return ckpt_error(err, errno, "connect to port %u", a.nl_pid);
	}
	*fd = steal_fd(&sk);
	return 0;
}

static int netlink_describe(const struct fd_entry *e, const struct json *files, bool lines,
			    FILE *out, ckpt_err_t *err)
{
	struct nl_saved s;
	const struct json *groups;
	size_t n = 0;
	int ret = lines ? 0 : nl_get(e, &s, err);

	if (ret == 0 && !lines)
		ret = doc_opt_arr(&e->at, e->obj, "groups", NL_GROUPS_MAX, &groups, &n, err);
	if (ret == 0 && !lines)
		fprintf(out, " protocol %d port %u, %zu groups", s.proto, (uint32_t)s.port, n);
	return ret;
}

const struct fd_ops fd_netlink_ops = {
	.kind = "netlink",
	.match = netlink_match,
	.dump = netlink_dump,
	.restore = netlink_restore,
	.describe = netlink_describe,
};
