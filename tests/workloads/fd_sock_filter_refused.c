/*
 * fd_sock_filter_refused MODE - a socket holding what ckpt-oci cannot
 * carry; the checkpoint must fail in one line naming the fd and leave the
 * tree running, and after the go the socket is as it was:
 *
 *   ebpf      a UDP socket with an eBPF filter (SO_ATTACH_BPF, a program
 *             dropping every datagram): still attached (SO_GET_FILTER
 *             still says EACCES), a datagram sent to it is not received
 *   ebpf_nl   a NETLINK_ROUTE socket with the same eBPF filter: still
 *             attached
 *   unix      a unix datagram pair with a classic BPF filter on one end:
 *             still attached, it still passes what is sent
 *   nldump    a NETLINK_GENERIC socket with a family dump (CTRL_CMD_
 *             GETFAMILY, many answers) asked and not read: read to its
 *             NLMSG_DONE after the go
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"

static int drop_all_prog(void)
{
	struct bpf_insn insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr a = {.prog_type = BPF_PROG_TYPE_SOCKET_FILTER,
			    .insn_cnt = 2,
			    .insns = (uintptr_t)insns,
			    .license = (uintptr_t) "GPL"};

	return syscall(__NR_bpf, BPF_PROG_LOAD, &a, sizeof(a));
}

static int ebpf(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a), n = 0;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int prog = drop_all_prog();
	struct pollfd p = {.fd = sk, .events = POLLIN};

	if (prog < 0)
		return wl_fail("BPF_PROG_LOAD: %m");
	if (sk < 0 || bind(sk, (void *)&a, sizeof(a)) < 0 || getsockname(sk, (void *)&a, &al) < 0 ||
	    setsockopt(sk, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0)
		return wl_fail("SO_ATTACH_BPF: %m");
	close(prog);
	wl_ready();
	wl_wait_restored();
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &n) == 0 || errno != EACCES)
		return wl_fail("the eBPF filter is gone (SO_GET_FILTER: %m, %u)", n);
	if (sendto(tx, "x", 1, 0, (void *)&a, al) != 1)
		return wl_fail("sendto: %m");
	if (poll(&p, 1, 200) != 0)
		return wl_fail("a datagram passed the filter dropping every one");
	return wl_pass();
}

static int ebpf_netlink(void)
{
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	int prog = drop_all_prog();
	socklen_t n = 0;

	if (prog < 0)
		return wl_fail("BPF_PROG_LOAD: %m");
	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0)
		return wl_fail("SO_ATTACH_BPF: %m");
	close(prog);
	wl_ready();
	wl_wait_restored();
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &n) == 0 || errno != EACCES)
		return wl_fail("the eBPF filter is gone (SO_GET_FILTER: %m, %u)", n);
	return wl_pass();
}

static int unix_filter(void)
{
	struct sock_filter take_all[] = {BPF_STMT(BPF_RET | BPF_K, 0xffff)};
	struct sock_fprog prog = {.len = 1, .filter = take_all};
	struct sock_filter f[2];
	socklen_t n = 2;
	int sv[2];
	char c;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return wl_fail("SO_ATTACH_FILTER: %m");
	wl_ready();
	wl_wait_restored();
	if (getsockopt(sv[0], SOL_SOCKET, SO_GET_FILTER, f, &n) < 0 || n != 1)
		return wl_fail("the filter is gone: %u: %m", n);
	if (send(sv[1], "y", 1, 0) != 1 || recv(sv[0], &c, 1, 0) != 1 || c != 'y')
		return wl_fail("send/recv through the filter: %m");
	return wl_pass();
}

static int nldump(void)
{
	struct {
		struct nlmsghdr h;
		struct genlmsghdr g;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = GENL_ID_CTRL,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 1},
		 .g = {.cmd = CTRL_CMD_GETFAMILY, .version = 1}};
	static char buf[1 << 16];
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC), families = 0;

	if (sk < 0 || send(sk, &req, sizeof(req), 0) != sizeof(req))
		return wl_fail("socket/send: %m");
	wl_ready();
	wl_wait_restored();
	for (;;) {
		ssize_t n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);

		if (n <= 0)
			return wl_fail("the dump stopped after %d families: %zd: %m", families, n);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				wl_log("%d families", families);
				return families > 1 ? wl_pass() : wl_fail("%d families", families);
			}
			if (h->nlmsg_type != GENL_ID_CTRL)
				return wl_fail("answer of type %d", h->nlmsg_type);
			families++;
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "ebpf";

	wl_init(argc, argv);
	if (!strcmp(mode, "ebpf"))
		return ebpf();
	if (!strcmp(mode, "ebpf_nl"))
		return ebpf_netlink();
	if (!strcmp(mode, "unix"))
		return unix_filter();
	if (!strcmp(mode, "nldump"))
		return nldump();
	return wl_fail("unknown mode %s", mode);
}
