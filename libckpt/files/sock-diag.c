/*
 * libckpt/files/sock-diag.c - one socket as sock_diag describes it, for
 * the kinds whose state shows nowhere else: a packet socket's memberships
 * (sock-packet.c), a netlink dump in progress (sock-netlink.c).
 *
 * sock_diag answers about the sockets of the network namespace its own
 * socket was made in: the query socket is made in the socket's namespace
 * (SIOCGSKNS; setns there and back in ckpt-oci's thread), once per call
 * (these kinds are few in a tree). Unix and inet sockets have theirs in
 * unix-diag.c.
 */
#define LOG_PREFIX "sock-diag: "
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "files/files.h"
#include "util/util.h"

/*
 * A NETLINK_SOCK_DIAG socket in the network namespace of sk. setns()
 * changes the calling thread only, and it goes back before anything else
 * runs.
 */
static int diag_socket_for(int sk, ckpt_err_t *err)
{
	cleanup_close int ns = ioctl(sk, SIOCGSKNS), own = -1;
	struct stat a, b;
	bool here;
	int nl, e;

	if (ns < 0)
		return ckpt_error(err, errno, "SIOCGSKNS");
	own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0 || fstat(own, &a) < 0 || fstat(ns, &b) < 0)
		return ckpt_error(err, errno, "open own network namespace");
	here = a.st_ino == b.st_ino && a.st_dev == b.st_dev;
	if (!here && setns(ns, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "join the socket's network namespace");
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	e = errno;
	if (!here && setns(own, CLONE_NEWNET) < 0) {
		/* the dump must not go on in the tree's namespace */
		e = errno;
		if (nl >= 0)
			close(nl);
		return ckpt_error(err, e, "back to ckpt-oci's network namespace");
	}
	if (nl < 0)
		return ckpt_error(err, e, "sock_diag socket");
	return nl;
}

int sock_diag_query(int sk, const void *req, size_t len,
		    int (*cb)(const struct nlmsghdr *h, void *arg), void *arg, ckpt_err_t *err)
{
	cleanup_close int nl = diag_socket_for(sk, err);
	struct {
		struct nlmsghdr h;
		char req[64];
	} msg = {0};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	static char buf[1 << 16];
	int found = 0;

	if (nl < 0)
		return nl;
	if (len > sizeof(msg.req))
		return ckpt_error_msg(err, EINVAL, "sock_diag request of %zu bytes", len);
	msg.h.nlmsg_len = NLMSG_LENGTH(len);
	msg.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.h.nlmsg_seq = 1;
	memcpy(msg.req, req, len);
	if (sendto(nl, &msg, msg.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return ckpt_error(err, errno, "sock_diag request");
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);

		if (n < 0)
			return ckpt_error(err, errno, "sock_diag answer");
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return found;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				return ckpt_error(err, e->error ? -e->error : EPROTO,
						  "sock_diag answer");
			}
			if (!found)
				found = cb(h, arg);
			if (found < 0)
				return ckpt_error_msg(err, EPROTO, "a bad sock_diag answer");
		}
	}
}
