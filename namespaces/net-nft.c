/*
 * namespaces/net-nft.c - nftables without a shell: whether a namespace
 * has any table at all (one NFT_MSG_GETTABLE dump over nfnetlink, so a
 * namespace without tables costs no `nft` run), nft itself run by
 * posix_spawnp with pipes.
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
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

extern char **environ;

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
 * nft with argv (argv[0] "nft"), stdin fed from in (or /dev/null), stdout
 * into *out when out is given (else inherited), stderr to /dev/null when
 * quiet. Returns the wait status, or a negative errno.
 */
int nft_run(char *const argv[], const char *in, char **out, bool quiet, ckpt_err_t *err)
{
	posix_spawn_file_actions_t fa;
	int ip[2] = { -1, -1 }, op[2] = { -1, -1 }, status, ret;
	size_t len = 0, cap = 0;
	pid_t pid;

	if ((in && pipe2(ip, O_CLOEXEC) < 0) || (out && pipe2(op, O_CLOEXEC) < 0)) {
		ret = ckpt_error(err, errno, "pipe");
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	if (in)
		posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	ret = posix_spawnp(&pid, "nft", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		ret = ckpt_error(err, ret, "run nft");
		goto fail;
	}
	if (in) {
		close(steal_fd(&ip[0]));
		/* nft reads all its input before it answers: no deadlock with out */
		if (write_all(ip[1], in, strlen(in)) < 0)
			pr_warn("write to nft: %m");
		close(steal_fd(&ip[1]));
	}
	if (out) {
		ssize_t n;

		close(steal_fd(&op[1]));
		do {
			if (len + 4096 > cap)
				*out = xrealloc(*out, cap = cap * 2 + 4096);
			n = read(op[0], *out + len, cap - len - 1);
			if (n > 0)
				len += n;
		} while (n > 0 || (n < 0 && errno == EINTR));
		(*out)[len] = '\0';
		close(steal_fd(&op[0]));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
fail:
	for (int i = 0; i < 2; i++) {
		closep(&ip[i]);
		closep(&op[i]);
	}
	return ret;
}

