/*
 * libckpt/files/unix-diag.c - one unix socket as sock_diag sees it: type,
 * state, bound name, peer inode, queue lengths, pending connections of a
 * listener, shutdown state. The one place of libckpt/files that talks
 * netlink (libmnl).
 */
#define LOG_PREFIX "unix-diag: "
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "files/unix.h"
#include "util/util.h"

static int attr_cb(const struct nlattr *a, void *data)
{
	struct unix_diag_info *ui = data;
	const void *p = mnl_attr_get_payload(a);
	uint16_t len = mnl_attr_get_payload_len(a);

	switch (mnl_attr_get_type(a)) {
	case UNIX_DIAG_NAME:
		ui->name_len = MIN(len, sizeof(ui->name));
		memcpy(ui->name, p, ui->name_len);
		break;
	case UNIX_DIAG_PEER:
		if (len >= 4)
			ui->peer = *(const uint32_t *)p;
		break;
	case UNIX_DIAG_RQLEN:
		if (len >= sizeof(struct unix_diag_rqlen)) {
			ui->rqueue = ((const struct unix_diag_rqlen *)p)->udiag_rqueue;
			ui->wqueue = ((const struct unix_diag_rqlen *)p)->udiag_wqueue;
		}
		break;
	case UNIX_DIAG_ICONS:
		ui->nicons = len / 4;
		ui->icons = xzalloc(len + 4);
		memcpy(ui->icons, p, ui->nicons * 4);
		break;
	case UNIX_DIAG_SHUTDOWN:
		if (len >= 1)
			ui->shutdown = *(const uint8_t *)p;
		break;
	}
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct unix_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct unix_diag_info *ui = data;

	ui->type = m->udiag_type;
	ui->state = m->udiag_state;
	ui->ino = m->udiag_ino;
	return mnl_attr_parse(nlh, sizeof(*m), attr_cb, ui);
}

int unix_diag_get(uint32_t ino, struct unix_diag_info *ui, ckpt_err_t *err)
{
	char *buf = xzalloc(MNL_SOCKET_BUFFER_SIZE);
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	struct unix_diag_req *req;
	struct nlmsghdr *nlh;
	unsigned int seq = time(NULL);
	ssize_t n;
	int ret = 0;

	memset(ui, 0, sizeof(*ui));
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = ckpt_error(err, errno, "sock_diag socket");
		goto out;
	}
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = AF_UNIX;
	req->udiag_ino = ino;
	req->udiag_cookie[0] = req->udiag_cookie[1] = ~0U; /* no cookie: look up by inode */
	req->udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = ckpt_error(err, errno, "sock_diag request");
		goto out;
	}
	n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE);
	if (n < 0 || mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), msg_cb, ui) < 0)
		ret = ckpt_error(err, errno,
				 "sock_diag of unix socket %u (in another network "
				 "namespace?)",
				 ino);
	else if (ui->ino != ino)
		ret = ckpt_error_msg(err, ENOENT, "sock_diag: no unix socket %u", ino);
out:
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return ret;
}
