/*
 * fd_netlink_queued - holds a NETLINK_ROUTE socket whose answer to an
 * RTM_GETLINK request is still unread, which this version cannot carry:
 * the checkpoint must fail naming the fd and leave it running; it still
 * passes when told to go without any restore, the answer still there.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "wl.h"

int main(int argc, char **argv)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {.h = {.nlmsg_len = sizeof(req),
		       .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP}};
	char buf[8192];
	struct nlmsghdr *h = (void *)buf;
	ssize_t n;
	int sk;

	wl_init(argc, argv);
	sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (sk < 0 || send(sk, &req, sizeof(req), 0) != sizeof(req))
		return wl_fail("socket/send: %m");
	wl_ready();
	wl_wait_restored();
	n = recv(sk, buf, sizeof(buf), MSG_DONTWAIT);
	if (n <= 0 || !NLMSG_OK(h, n) || h->nlmsg_type != RTM_NEWLINK)
		return wl_fail("the queued answer is gone: %zd: %m", n);
	return wl_pass();
}
