/*
 * libckpt/files/unix-diag.c - one unix socket as sock_diag sees it: type,
 * state, bound name, peer inode, queue lengths, pending connections of a
 * listener, shutdown state. The one place of libckpt/files that talks
 * netlink (libmnl).
 *
 * sock_diag answers only about sockets of the network namespace its own
 * socket was made in: a tree in a container has its unix sockets in the
 * container's netns. So each socket's netns is asked of the socket itself
 * (SIOCGSKNS) and the sock_diag socket is made there (setns there and back
 * in ckpt-oci's thread), once per namespace for the whole dump; the
 * sockets live in files_dctx until files_dump_finish.
 */
#define LOG_PREFIX "unix-diag: "
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <linux/inet_diag.h>
#include <linux/unix_diag.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "files/files.h"
#include "files/unix.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/util.h"

/* A sock_diag socket made in the network namespace whose inode is netns. */
struct unix_diag_sk {
	uint64_t netns;
	struct mnl_socket *nl;
	unsigned int seq;
};

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

/* Ask the sock_diag socket ds about socket ino. */
int unix_diag_get(struct unix_diag_sk *ds, uint32_t ino, struct unix_diag_info *ui, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(MNL_SOCKET_BUFFER_SIZE);
	struct unix_diag_req *req;
	struct nlmsghdr *nlh;
	unsigned int seq = ++ds->seq;
	ssize_t n;

	memset(ui, 0, sizeof(*ui));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = AF_UNIX;
	req->udiag_ino = ino;
	req->udiag_cookie[0] = req->udiag_cookie[1] = ~0U; /* no cookie: look up by inode */
	req->udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;
	if (mnl_socket_sendto(ds->nl, nlh, nlh->nlmsg_len) < 0)
		return ckpt_error(err, errno, "sock_diag request");
	n = mnl_socket_recvfrom(ds->nl, buf, MNL_SOCKET_BUFFER_SIZE);
	if (n < 0 || mnl_cb_run(buf, n, seq, mnl_socket_get_portid(ds->nl), msg_cb, ui) < 0) {
		free(ui->icons);
		ui->icons = NULL;
		return ckpt_error(err, errno, "sock_diag of unix socket %u", ino);
	}
	if (ui->ino != ino) {
		free(ui->icons);
		ui->icons = NULL;
		return ckpt_error_msg(err, ENOENT, "sock_diag: no unix socket %u", ino);
	}
	return 0;
}

/*
 * A bound NETLINK_SOCK_DIAG socket made in the namespace behind nsfd (-1:
 * ckpt-oci's own). setns() changes the calling thread only, and it goes
 * back before anything else runs: the rest of the dump never sees it.
 */
static int diag_socket_in(int nsfd, struct mnl_socket **out, ckpt_err_t *err)
{
	cleanup_close int own = -1;
	struct mnl_socket *nl;
	int e;

	if (nsfd >= 0) {
		own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return ckpt_error(err, errno, "open own network namespace");
		if (setns(nsfd, CLONE_NEWNET) < 0)
			return ckpt_error(err, errno, "join the socket's network namespace");
	}
	nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	e = errno;
	if (own >= 0 && setns(own, CLONE_NEWNET) < 0) {
		/* the dump must not go on in the tree's namespace */
		e = errno;
		if (nl)
			mnl_socket_close(nl);
		return ckpt_error(err, e, "back to ckpt-oci's network namespace");
	}
	if (!nl)
		return ckpt_error(err, e, "sock_diag socket");
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		e = errno;
		mnl_socket_close(nl);
		return ckpt_error(err, e, "bind sock_diag socket");
	}
	*out = nl;
	return 0;
}

int unix_diag_for(struct files_dctx *dc, int sk, struct unix_diag_sk **out, ckpt_err_t *err)
{
	cleanup_close int nsfd = ioctl(sk, SIOCGSKNS);
	struct stat st, own;
	struct mnl_socket *nl = NULL;
	int ret;

	if (nsfd < 0)
		return ckpt_error(err, errno, "network namespace of the socket (SIOCGSKNS)");
	if (fstat(nsfd, &st) < 0)
		return ckpt_error(err, errno, "stat the socket's network namespace");
	for (int i = 0; i < dc->nunix_diag; i++)
		if (dc->unix_diag[i]->netns == st.st_ino) {
			*out = dc->unix_diag[i];
			return 0;
		}
	if (stat("/proc/thread-self/ns/net", &own) < 0)
		return ckpt_error(err, errno, "stat own network namespace");
	ret = diag_socket_in(own.st_ino == st.st_ino ? -1 : nsfd, &nl, err);
	if (ret < 0)
		return ret;
	pr_debug("sock_diag socket for network namespace %lu%s", (unsigned long)st.st_ino,
		 own.st_ino == st.st_ino ? " (own)" : "");
	dc->unix_diag = xrealloc(dc->unix_diag, (dc->nunix_diag + 1) * sizeof(*dc->unix_diag));
	*out = xzalloc(sizeof(**out));
	**out = (struct unix_diag_sk){st.st_ino, nl, time(NULL)};
	dc->unix_diag[dc->nunix_diag++] = *out;
	return 0;
}

int unix_diag_find(struct files_dctx *dc, uint32_t ino, struct unix_diag_info *ui, ckpt_err_t *err)
{
	for (int i = 0; i < dc->nunix_diag; i++) {
		if (unix_diag_get(dc->unix_diag[i], ino, ui, err) == 0)
			return 0;
		ckpt_error_clear(err);
	}
	return ckpt_error_msg(err, ENOENT, "sock_diag: no unix socket %u", ino);
}

/* One unix_diag_msg of a dump: does it hold the name *arg looks for? */
struct name_find {
	const char *name;
	int len, type;
	const struct json *skip; /* sockets not counted (the tree's) */
	uint32_t ino;		 /* of the message being parsed */
	bool found;
};

static int name_attr_cb(const struct nlattr *a, void *data)
{
	struct name_find *f = data;

	if (mnl_attr_get_type(a) == UNIX_DIAG_NAME && mnl_attr_get_payload_len(a) == f->len &&
	    !memcmp(mnl_attr_get_payload(a), f->name, f->len) &&
	    !(f->skip && files_list_find(f->skip, f->ino)))
		f->found = true;
	return MNL_CB_OK;
}

static int name_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct unix_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct name_find *f = data;

	/* an abstract name is one per socket type */
	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || m->udiag_type != f->type)
		return MNL_CB_OK;
	f->ino = m->udiag_ino;
	return mnl_attr_parse(nlh, sizeof(struct unix_diag_msg), name_attr_cb, data);
}

/*
 * A dump of every unix socket of ds's namespace, each message to cb. A
 * failed receive is an error, never "none found": a caller refusing on
 * what it finds must not go on on what it did not read.
 */
static int diag_dump(struct unix_diag_sk *ds, uint32_t show, mnl_cb_t cb, void *data,
		     ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(MNL_SOCKET_BUFFER_SIZE);
	struct unix_diag_req *req;
	struct nlmsghdr *nlh;
	unsigned int seq = ++ds->seq;
	bool fault_recv = ckpt_fault_is("unix-diag-recv");
	int ret = MNL_CB_OK;
	ssize_t n = 0;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = AF_UNIX;
	req->udiag_states = ~0U;
	req->udiag_show = show;
	if (mnl_socket_sendto(ds->nl, nlh, nlh->nlmsg_len) < 0)
		return ckpt_error(err, errno, "sock_diag request");
	while (ret > MNL_CB_STOP) {
		n = mnl_socket_recvfrom(ds->nl, buf, MNL_SOCKET_BUFFER_SIZE);
		if (n > 0 && fault_recv) { /* CKPT_OCI_FAULT=unix-diag-recv (util/fault.h) */
			n = -1;
			errno = ENOBUFS;
		}
		if (n <= 0)
			break;
		ret = mnl_cb_run(buf, n, seq, mnl_socket_get_portid(ds->nl), cb, data);
	}
	if (n < 0)
		return ckpt_error(err, errno, "sock_diag dump of unix sockets: receive");
	if (n == 0 && ret > MNL_CB_STOP)
		return ckpt_error_msg(err, EIO, "sock_diag dump of unix sockets: cut short");
	if (ret < 0)
		return ckpt_error(err, errno, "sock_diag dump of unix sockets");
	return 0;
}

static int diag_name_held(struct unix_diag_sk *ds, struct name_find *f, ckpt_err_t *err)
{
	return diag_dump(ds, UDIAG_SHOW_NAME, name_msg_cb, f, err);
}

/* One unix_diag_msg of a dump: is it bound to the file v looks for? */
struct vfs_find {
	uint32_t dev, ino;	 /* the kernel's encoding of the device */
	const struct json *skip; /* sockets not counted (the tree's) */
	uint32_t found;		 /* the socket's inode, 0: none */
};

static int vfs_attr_cb(const struct nlattr *a, void *data)
{
	const struct unix_diag_vfs *v = mnl_attr_get_payload(a);
	struct unix_diag_vfs *out = data;

	if (mnl_attr_get_type(a) == UNIX_DIAG_VFS && mnl_attr_get_payload_len(a) >= sizeof(*v))
		*out = *v;
	return MNL_CB_OK;
}

static int vfs_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct unix_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct unix_diag_vfs v = {0};
	struct vfs_find *f = data;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*m), vfs_attr_cb, &v);
	if (v.udiag_vfs_ino == f->ino && v.udiag_vfs_dev == f->dev &&
	    !(f->skip && files_list_find(f->skip, m->udiag_ino)))
		f->found = m->udiag_ino;
	return MNL_CB_OK;
}

static void vfs_find_init(struct vfs_find *f, const struct stat *st, const struct json *skip)
{
	*f = (struct vfs_find){.dev = (major(st->st_dev) << 20) | minor(st->st_dev),
			       .ino = st->st_ino,
			       .skip = skip};
}

int unix_diag_file_held(struct files_dctx *dc, const struct stat *st, const struct json *skip,
			ckpt_err_t *err)
{
	struct vfs_find f;

	vfs_find_init(&f, st, skip);
	for (int i = 0; i < dc->nunix_diag && !f.found; i++) {
		int ret = diag_dump(dc->unix_diag[i], UDIAG_SHOW_VFS, vfs_msg_cb, &f, err);

		if (ret < 0)
			return ret;
	}
	return f.found;
}

int unix_diag_file_held_here(const struct stat *st, ckpt_err_t *err)
{
	struct unix_diag_sk ds = {.seq = time(NULL)};
	struct vfs_find f;
	int ret = diag_socket_in(-1, &ds.nl, err);

	if (ret < 0)
		return ret;
	vfs_find_init(&f, st, NULL);
	ret = diag_dump(&ds, UDIAG_SHOW_VFS, vfs_msg_cb, &f, err);
	mnl_socket_close(ds.nl);
	return ret < 0 ? ret : f.found != 0;
}

int unix_diag_name_held(struct files_dctx *dc, const char *name, int len, int type,
			const struct json *skip, ckpt_err_t *err)
{
	struct name_find f = {name, len, type, skip, 0, false};

	for (int i = 0; i < dc->nunix_diag && !f.found; i++) {
		int ret = diag_name_held(dc->unix_diag[i], &f, err);

		if (ret < 0)
			return ret;
	}
	return f.found;
}

void unix_diag_close_all(struct files_dctx *dc)
{
	for (int i = 0; i < dc->nunix_diag; i++) {
		mnl_socket_close(dc->unix_diag[i]->nl);
		free(dc->unix_diag[i]);
	}
	free(dc->unix_diag);
	dc->unix_diag = NULL;
	dc->nunix_diag = 0;
}

/* One inet_diag_msg of a dump: its shutdown bits when it is socket *arg's inode. */
struct inet_shut {
	uint32_t ino;
	int shutdown; /* -1: not found yet */
};

static int inet_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == INET_DIAG_SHUTDOWN && mnl_attr_get_payload_len(a) >= 1)
		*(int *)data = *(const uint8_t *)mnl_attr_get_payload(a);
	return MNL_CB_OK;
}

static int inet_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
	struct inet_shut *s = data;
	int shut = 0;

	if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || m->idiag_inode != s->ino)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*m), inet_attr_cb, &shut);
	s->shutdown = shut;
	return MNL_CB_OK;
}

int inet_diag_shutdown(struct unix_diag_sk *ds, int fam, int proto, uint32_t ino, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(MNL_SOCKET_BUFFER_SIZE);
	struct inet_shut s = {ino, -1};
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	unsigned int seq = ++ds->seq;
	int ret = MNL_CB_OK;
	ssize_t n;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = fam;
	req->sdiag_protocol = proto;
	req->idiag_states = ~0U;
	if (mnl_socket_sendto(ds->nl, nlh, nlh->nlmsg_len) < 0)
		return ckpt_error(err, errno, "sock_diag request");
	while (ret > MNL_CB_STOP &&
	       (n = mnl_socket_recvfrom(ds->nl, buf, MNL_SOCKET_BUFFER_SIZE)) > 0)
		ret = mnl_cb_run(buf, n, seq, mnl_socket_get_portid(ds->nl), inet_msg_cb, &s);
	if (ret < 0)
		return ckpt_error(err, errno, "sock_diag of inet socket %u", ino);
	if (s.shutdown < 0)
		return ckpt_error_msg(err, ENOENT, "sock_diag: no inet socket %u", ino);
	return s.shutdown;
}
