/*
 * namespaces/net-nft.c - nftables without a shell: whether a namespace
 * has any table at all (one NFT_MSG_GETTABLE dump over nfnetlink, so a
 * namespace without tables costs no ruleset listing), rulesets listed and
 * applied through libnftables, and the network lock's table added or deleted
 * in one nfnetlink batch (net-lock.c says what the table holds).
 *
 * Each of these runs in the caller thread's network namespace; the lock
 * batch goes through a socket net-lock.c made inside the tree's one.
 */
#define LOG_PREFIX "net: "
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "files/inet-udp.h"
#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

static struct nlmsghdr *nft_msg(char *buf, int type, int family, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	/* batch begin/end name the subsystem they carry */
	g->res_id = type < NLMSG_MIN_TYPE + 2 ? htons(NFNL_SUBSYS_NFTABLES) : 0;
	return nlh;
}

#define NFT_TYPE(msg) ((NFNL_SUBSYS_NFTABLES << 8) | (msg))

static int tables_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == NFT_TYPE(NFT_MSG_NEWTABLE))
		(*(int *)data)++;
	return MNL_CB_OK;
}

int nft_has_tables(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	uint32_t seq = 1, portid;
	int ret = -EIO, n = 0;
	ssize_t len;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nft_msg(buf, NFT_TYPE(NFT_MSG_GETTABLE), NFPROTO_UNSPEC, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(nl, buf, ((struct nlmsghdr *)buf)->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	while ((len = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		ret = mnl_cb_run(buf, len, seq, portid, tables_cb, &n);
		if (ret <= MNL_CB_STOP)
			break;
	}
	ret = ret < 0 ? -errno : n > 0;
out:
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

/*
 * libnftables, the library the nft program is made of: cmd read as `nft
 * -f` reads a file, in the caller thread's network namespace (the context's
 * netlink socket is made in it). No program is looked up or run.
 */
int nft_cmd(const char *cmd, char **out, ckpt_err_t *err)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	const char *text;
	int ret = 0;

	if (!nft)
		return ckpt_error_msg(err, ENOMEM, "libnftables: no context");
	if (nft_ctx_buffer_output(nft) || nft_ctx_buffer_error(nft)) {
		nft_ctx_free(nft);
		return ckpt_error_msg(err, ENOMEM, "libnftables: no output buffer");
	}
	if (nft_run_cmd_from_buffer(nft, cmd) != 0) {
		text = nft_ctx_get_error_buffer(nft);
		ret = ckpt_error_msg(err, EIO, "nftables: %.*s", (int)strcspn(text ?: "", "\n"),
				     text ?: "failed without a message");
	} else if (out) {
		text = nft_ctx_get_output_buffer(nft) ?: "";
		if (strlen(text) > BUNDLE_JSON_MAX)
			ret = ckpt_error_msg(err, EFBIG, "the ruleset has more than %u bytes",
					     BUNDLE_JSON_MAX);
		else
			*out = xstrdup(text);
	}
	nft_ctx_free(nft);
	return ret;
}

/* ---- the lock's table in one batch ----------------------------------------- */

struct nft_batch {
	char *buf;
	size_t len, cap;
	uint32_t seq;
	int ncmds; /* each asks for an ack */
};

/* Room for one more message: none of ours passes 2 KiB. */
static struct nlmsghdr *batch_add(struct nft_batch *b, int type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	if (b->cap - b->len < 2048) {
		b->cap = b->cap * 2 + 8192;
		b->buf = xrealloc(b->buf, b->cap);
	}
	memset(b->buf + b->len, 0, 2048);
	nlh = nft_msg(b->buf + b->len, type, NFPROTO_INET, flags, ++b->seq);

	if (type >= NLMSG_MIN_TYPE + 2)
		b->ncmds++;
	return nlh;
}

static void batch_end_msg(struct nft_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static void put_expr(struct nlmsghdr *nlh, const char *name)
{
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
}

/* Load meta key into reg 1 and compare it with len bytes of val. */
static void put_load_cmp(struct nlmsghdr *nlh, const char *kind, uint32_t key_or_base, uint32_t off,
			 const void *val, uint32_t len)
{
	struct nlattr *e, *d, *v;

	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	put_expr(nlh, kind);
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	if (!strcmp(kind, "meta")) {
		mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(key_or_base));
		mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
	} else {
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_DREG, htonl(NFT_REG_1));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_BASE, htonl(key_or_base));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_OFFSET, htonl(off));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_LEN, htonl(len));
	}
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);

	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	put_expr(nlh, "cmp");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(NFT_REG_1));
	mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
	v = mnl_attr_nest_start(nlh, NFTA_CMP_DATA);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, val);
	mnl_attr_nest_end(nlh, v);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

/* An immediate verdict (NF_ACCEPT, NF_DROP). */
static void put_verdict(struct nlmsghdr *nlh, uint32_t code)
{
	struct nlattr *e, *d, *v, *vd;

	e = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	put_expr(nlh, "immediate");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
	v = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
	vd = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(code));
	mnl_attr_nest_end(nlh, vd);
	mnl_attr_nest_end(nlh, v);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, e);
}

/* `meta mark 0x636b7074 accept`: meta load into reg 1, compare, verdict. */
static void put_mark_accept(struct nlmsghdr *nlh, uint32_t mark)
{
	struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);

	/* the mark in host order */
	put_load_cmp(nlh, "meta", NFT_META_MARK, 0, &mark, sizeof(mark));
	put_verdict(nlh, NF_ACCEPT);
	mnl_attr_nest_end(nlh, list);
}

/* A base chain hooked at hook, priority INT_MIN, with the policy given. */
static void batch_base_chain(struct nft_batch *b, const char *table, const char *chain, int hook,
			     uint32_t policy)
{
	struct nlmsghdr *nlh = batch_add(b, NFT_TYPE(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK);
	struct nlattr *h;

	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, chain);
	h = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
	mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(hook));
	mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl((uint32_t)INT_MIN));
	mnl_attr_nest_end(nlh, h);
	mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(policy));
	mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
	batch_end_msg(b, nlh);
}

/* `meta mark MARK accept` appended to chain. */
static void batch_mark_rule(struct nft_batch *b, const char *table, const char *chain,
			    uint32_t mark)
{
	struct nlmsghdr *nlh =
		batch_add(b, NFT_TYPE(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK);

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	put_mark_accept(nlh, mark);
	batch_end_msg(b, nlh);
}

/* A base chain: hooked at hook, priority INT_MIN, policy drop, with the mark rule. */
static void batch_chain(struct nft_batch *b, const char *table, const char *chain, int hook,
			uint32_t mark)
{
	batch_base_chain(b, table, chain, hook, NF_DROP);
	batch_mark_rule(b, table, chain, mark);
}

/* Sends the batch and waits for every command's ack; the first error wins. */
static int batch_send(int fd, struct nft_batch *b)
{
	char rbuf[MNL_SOCKET_BUFFER_SIZE];
	int acks = 0, ret = 0;

	if (send(fd, b->buf, b->len, 0) < 0)
		return -errno;
	while (acks < b->ncmds) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), 0);
		struct nlmsghdr *nlh = (struct nlmsghdr *)rbuf;
		int len = n;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			acks++;
			if (e->error && !ret)
				ret = e->error;
		}
	}
	return ret;
}

/*
 * On the nfnetlink socket fd: add the lock's table (table, its input and
 * output chains) when add, else delete it. One batch, one transaction: the
 * namespace is either fully locked or not at all.
 */
/*
 * One batch: table added, then filled by fill (its chains and rules), or
 * deleted; sent, every command acked.
 */
static int table_batch(int fd, const char *table, bool add,
		       void (*fill)(struct nft_batch *b, const char *table, const void *arg),
		       const void *arg)
{
	struct nft_batch b = {.len = 0};
	struct nlmsghdr *nlh;
	int ret;

	batch_end_msg(&b, batch_add(&b, NFNL_MSG_BATCH_BEGIN, 0));
	nlh = batch_add(&b, NFT_TYPE(add ? NFT_MSG_NEWTABLE : NFT_MSG_DELTABLE),
			(add ? NLM_F_CREATE : 0) | NLM_F_ACK);
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
	batch_end_msg(&b, nlh);
	if (add)
		fill(&b, table, arg);
	batch_end_msg(&b, batch_add(&b, NFNL_MSG_BATCH_END, 0));
	ret = batch_send(fd, &b);
	free(b.buf);
	return ret;
}

/* Input and output drop all but what carries mark. */
static void mark_chains(struct nft_batch *b, const char *table, const void *arg)
{
	uint32_t mark = *(const uint32_t *)arg;

	batch_chain(b, table, "input", NF_INET_LOCAL_IN, mark);
	batch_chain(b, table, "output", NF_INET_LOCAL_OUT, mark);
}

int nft_lock_table(int fd, const char *table, uint32_t mark, bool add)
{
	return table_batch(fd, table, add, mark_chains, &mark);
}

/*
 * One drop rule in chain: TCP from src:sport to dst:dport (family's
 * addresses, ports in network order); src NULL and sport 0 match any
 * source (a listener's incoming SYNs).
 */
static void batch_tuple_rule(struct nft_batch *b, const char *table, const char *chain, int family,
			     const void *src, uint16_t sport, const void *dst, uint16_t dport)
{
	struct nlmsghdr *nlh =
		batch_add(b, NFT_TYPE(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK);
	uint8_t proto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6, l4 = IPPROTO_TCP;
	uint32_t alen = family == AF_INET ? 4 : 16;
	uint32_t soff = family == AF_INET ? 12 : 8, doff = family == AF_INET ? 16 : 24;
	uint16_t ports[2] = {sport, dport};
	struct nlattr *list;

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	put_load_cmp(nlh, "meta", NFT_META_NFPROTO, 0, &proto, 1);
	put_load_cmp(nlh, "meta", NFT_META_L4PROTO, 0, &l4, 1);
	if (src)
		put_load_cmp(nlh, "payload", NFT_PAYLOAD_NETWORK_HEADER, soff, src, alen);
	if (dst)
		put_load_cmp(nlh, "payload", NFT_PAYLOAD_NETWORK_HEADER, doff, dst, alen);
	if (sport)
		put_load_cmp(nlh, "payload", NFT_PAYLOAD_TRANSPORT_HEADER, 0, ports, 4);
	else
		put_load_cmp(nlh, "payload", NFT_PAYLOAD_TRANSPORT_HEADER, 2, &ports[1], 2);
	put_verdict(nlh, NF_DROP);
	mnl_attr_nest_end(nlh, list);
	batch_end_msg(b, nlh);
}

/* The tuples to lock, for tuple_chains. */
struct tuples {
	const struct net_tuple *t;
	size_t n;
};

/*
 * Input and output accept all but these connections (and SYNs to these
 * listeners); what restore sends to the tree's sockets itself (a queued
 * datagram, a TCP FIN) carries INET_UDP_INJECT_MARK and passes first.
 */
static void tuple_chains(struct nft_batch *b, const char *table, const void *arg)
{
	const struct tuples *tu = arg;

	batch_base_chain(b, table, "input", NF_INET_LOCAL_IN, NF_ACCEPT);
	batch_base_chain(b, table, "output", NF_INET_LOCAL_OUT, NF_ACCEPT);
	batch_mark_rule(b, table, "input", INET_UDP_INJECT_MARK);
	batch_mark_rule(b, table, "output", INET_UDP_INJECT_MARK);
	for (size_t i = 0; i < tu->n; i++) {
		const struct net_tuple *x = &tu->t[i];
		bool any = !memcmp(x->local, (char[16]){0}, x->family == AF_INET ? 4 : 16);

		if (!x->pport) { /* a listener: what comes in for it */
			batch_tuple_rule(b, table, "input", x->family, NULL, 0,
					 any ? NULL : x->local, htons(x->lport));
			continue;
		}
		batch_tuple_rule(b, table, "input", x->family, x->peer, htons(x->pport), x->local,
				 htons(x->lport));
		batch_tuple_rule(b, table, "output", x->family, x->local, htons(x->lport), x->peer,
				 htons(x->pport));
	}
}

int nft_lock_tuples(int fd, const char *table, const struct net_tuple *t, size_t n, bool add)
{
	struct tuples tu = {t, n};

	return table_batch(fd, table, add, tuple_chains, &tu);
}

/* An nfnetlink socket of the caller's network namespace, or -errno. */
int nft_socket(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	return fd < 0 ? -errno : fd;
}
