/*
 * libckpt/check/check-net.c - probes for socket state: TCP_REPAIR on a loopback
 * connection and NETLINK_SOCK_DIAG lookups (through libmnl) for unix and
 * inet sockets. Only 127.0.0.1 is ever bound or connected.
 */
#define LOG_PREFIX "check: "
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "check/check.h"
#include "util/util.h"

/* A listening socket on 127.0.0.1, kernel-chosen port. */
static int listen_loopback(struct sockaddr_in *sa, struct probe_out *o)
{
	socklen_t len = sizeof(*sa);
	int fd;

	*sa = (struct sockaddr_in){.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return probe_errno(o, "socket"), -1;
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)sa, &len) < 0) {
		probe_errno(o, "listen on 127.0.0.1");
		close(fd);
		return -1;
	}
	return fd;
}

/* Put fd in repair mode and read the sequence number of one queue. */
static int repair_seq(int fd, int queue, uint32_t *seq, struct probe_out *o)
{
	socklen_t len = sizeof(*seq);
	int on = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return probe_errno(o, "TCP_REPAIR"), -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)) < 0)
		return probe_errno(o, "TCP_REPAIR_QUEUE"), -1;
	if (getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len) < 0)
		return probe_errno(o, "TCP_QUEUE_SEQ"), -1;
	return 0;
}

void probe_tcp_repair(struct probe_out *o)
{
	cleanup_close int lfd = -1, cfd = -1, afd = -1;
	struct sockaddr_in sa;
	uint32_t snd, rcv;

	lfd = listen_loopback(&sa, o);
	if (lfd < 0)
		return;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0 || connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return (void)probe_errno(o, "connect to 127.0.0.1");
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		return (void)probe_errno(o, "accept");
	if (write(cfd, "ckpt", 4) != 4)
		return (void)probe_errno(o, "write");
	/* loopback delivers during the write: the peer's rcv_nxt now matches */
	if (repair_seq(cfd, TCP_SEND_QUEUE, &snd, o) < 0 ||
	    repair_seq(afd, TCP_RECV_QUEUE, &rcv, o) < 0)
		return;
	if (snd != rcv)
		return (void)probe_fail(o, "send seq 0x%x != peer's receive seq 0x%x", snd, rcv);
	/* closing in repair mode sends nothing to the peer, which is what we want */
	probe_detail(o, "queue sequence numbers read on both ends (0x%x)", snd);
}

/* Send one SOCK_DIAG_BY_FAMILY dump request; run cb on every answer. */
static int diag_dump(void *req, size_t req_len, mnl_cb_t cb, void *data, struct probe_out *o)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	unsigned int seq = time(NULL), portid;
	ssize_t n;
	int ret;

	nl = mnl_socket_open(NETLINK_SOCK_DIAG);
	if (!nl)
		return probe_errno(o, "netlink socket"), -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		probe_errno(o, "netlink bind");
		mnl_socket_close(nl);
		return -1;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	memcpy(mnl_nlmsg_put_extra_header(nlh, req_len), req, req_len);
	ret = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -1 : MNL_CB_OK;
	while (ret > MNL_CB_STOP) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n <= 0) {
			ret = -1;
			break;
		}
		ret = mnl_cb_run(buf, n, seq, portid, cb, data);
	}
	if (ret < 0)
		probe_errno(o, "sock_diag dump");
	mnl_socket_close(nl);
	return ret < 0 ? -1 : 0;
}

struct unix_find {
	uint32_t ino, peer;
	bool found;
	uint32_t seen_peer;
};

static int unix_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct unix_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct unix_find *f = data;
	const struct nlattr *a;

	if (m->udiag_ino != f->ino)
		return MNL_CB_OK;
	f->found = true;
	mnl_attr_for_each(a, nlh, sizeof(*m))
	{
		if (mnl_attr_get_type(a) == UNIX_DIAG_PEER)
			f->seen_peer = mnl_attr_get_u32(a);
	}
	return MNL_CB_OK;
}

void probe_sock_diag_unix(struct probe_out *o)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = -1,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER,
	};
	struct unix_find f = {0};
	struct stat a, b;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return (void)probe_errno(o, "socketpair");
	if (fstat(sv[0], &a) < 0 || fstat(sv[1], &b) < 0)
		return (void)probe_errno(o, "fstat");
	f.ino = a.st_ino;
	f.peer = b.st_ino;
	if (diag_dump(&req, sizeof(req), unix_cb, &f, o) < 0)
		return;
	if (!f.found)
		return (void)probe_fail(o, "socket inode %u not in the dump", f.ino);
	if (f.seen_peer != f.peer)
		return (void)probe_fail(o, "peer inode %u reported, expected %u", f.seen_peer,
					f.peer);
	probe_detail(o, "socketpair found by inode %u, peer %u", f.ino, f.peer);
}

struct inet_find {
	uint32_t ino;
	uint16_t port; /* network order */
	bool found;
};

static int inet_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct inet_find *f = data;

	if (m->idiag_inode == f->ino && m->id.idiag_sport == f->port &&
	    m->idiag_state == TCP_LISTEN)
		f->found = true;
	return MNL_CB_OK;
}

void probe_sock_diag_inet(struct probe_out *o)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = AF_INET,
		.sdiag_protocol = IPPROTO_TCP,
		.idiag_states = 1 << TCP_LISTEN,
	};
	cleanup_close int fd = -1;
	struct inet_find f = {0};
	struct sockaddr_in sa;
	struct stat st;

	fd = listen_loopback(&sa, o);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0)
		return (void)probe_errno(o, "fstat");
	f.ino = st.st_ino;
	f.port = sa.sin_port;
	if (diag_dump(&req, sizeof(req), inet_cb, &f, o) < 0)
		return;
	if (!f.found)
		return (void)probe_fail(o, "listening socket 127.0.0.1:%u not in the dump",
					ntohs(sa.sin_port));
	probe_detail(o, "listening socket 127.0.0.1:%u found by inode %u", ntohs(sa.sin_port),
		     f.ino);
}
