/*
 * libckpt/files/tty.c's restore half: the pairs of files.json "ptys" made
 * again, their fds, the controlling terminals and what is set once every
 * task is in its group; also how an orphan's master reaches ckpt-oci and
 * the runtime's console socket. What is saved, and what is refused or
 * restored differently, is in tty.c.
 *
 * Restore opens the pair where the tree's paths are (prepare_in_tree): the
 * master's path, opened again and again until it gets the saved index
 * while that index is free (a devpts of the tree's own), else with the
 * first index it got; the slave through TIOCGPTPEER. Queues, termios and
 * the rest are put back before anything is forked. A session leader makes
 * the slave its controlling terminal right after setsid, before it forks
 * (pty_set_ctty); the foreground group and the lock are set once every
 * task is in its group (pty_late_read, then restore.c).
 */
#define LOG_PREFIX "tty: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "files/files.h"
#include "files/tty.h"
#include "util/log.h"
#include "util/util.h"

/* Opens of the master's path tried for one index. */
#define PTY_INDEX_TRIES 256

/* A pair of files.json "ptys". */
struct pty_saved {
	const char *ptmx;
	uint32_t uid, gid;
	unsigned int mode;
	bool lock, pkt, orphan, stopped;
	uint32_t iflag, oflag, cflag, lflag;
	int line;
	int rows, cols, xpixel, ypixel;
	int sid, fg;
	int input_len, output_len;
};

static const struct doc_field pty_fields[] = {
	DOC_STR(struct pty_saved, ptmx, "ptmx", PATH_MAX),
	DOC_INT(struct pty_saved, uid, "uid", 0, UINT32_MAX),
	DOC_INT(struct pty_saved, gid, "gid", 0, UINT32_MAX),
	DOC_INT(struct pty_saved, mode, "mode", 0, 07777),
	DOC_BOOL(struct pty_saved, lock, "lock"),
	DOC_BOOL(struct pty_saved, pkt, "pkt"),
	DOC_OPT_BOOL(struct pty_saved, orphan, "orphan"),
	DOC_OPT_BOOL(struct pty_saved, stopped, "stopped"),
	DOC_HEX(struct pty_saved, iflag, "iflag", UINT32_MAX),
	DOC_HEX(struct pty_saved, oflag, "oflag", UINT32_MAX),
	DOC_HEX(struct pty_saved, cflag, "cflag", UINT32_MAX),
	DOC_HEX(struct pty_saved, lflag, "lflag", UINT32_MAX),
	DOC_INT(struct pty_saved, line, "line", 0, 255),
	DOC_INT(struct pty_saved, rows, "rows", 0, UINT16_MAX),
	DOC_INT(struct pty_saved, cols, "cols", 0, UINT16_MAX),
	DOC_INT(struct pty_saved, xpixel, "xpixel", 0, UINT16_MAX),
	DOC_INT(struct pty_saved, ypixel, "ypixel", 0, UINT16_MAX),
	DOC_OPT_INT(struct pty_saved, sid, "sid", 1, DOC_PID_MAX),
	DOC_OPT_INT(struct pty_saved, fg, "fg", 1, DOC_PID_MAX),
	DOC_OPT_INT(struct pty_saved, input_len, "input_len", 0, PTY_QUEUE_MAX - 1),
	DOC_INT(struct pty_saved, output_len, "output_len", 0, PTY_QUEUE_MAX - 1),
	DOC_END,
};

/* The pair of fd e: its index, and its object read from files.json. */
static int pty_saved_read(const struct fd_entry *e, const struct json *files, int *index,
			  struct pty_saved *p, struct files_item *it, ckpt_err_t *err)
{
	int64_t v;
	int ret = doc_int(&e->at, e->obj, "pty", 0, (1 << 20) - 1, &v, err);

	*p = (struct pty_saved){0};
	if (ret < 0)
		return ret;
	*index = v;
	ret = files_need(files, "ptys", v, e, it, err);
	return ret < 0 ? ret : doc_read(&it->at, it->obj, pty_fields, p, err);
}

/* The master's path opened until it gives index, while that index is free. */
static int open_at_index(int dirfd, const char *ptmx, int index, ckpt_err_t *err)
{
	int held[PTY_INDEX_TRIES], n = 0, got = -1;

	for (int i = 0; i < PTY_INDEX_TRIES; i++) {
		int fd = openat(dirfd, ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC), idx;

		if (fd < 0) {
			if (!n)
				return ckpt_error(err, errno, "open `%s`", ptmx);
			break;
		}
		if (ioctl(fd, TIOCGPTN, &idx) < 0) {
			close(fd);
			break;
		}
		held[n++] = fd;
		if (idx >= index) {
			got = idx == index ? n - 1 : 0;
			break;
		}
	}
	if (got < 0)
		got = 0;
	for (int i = 0; i < n; i++)
		if (i != got)
			close(held[i]);
	return held[got];
}

/* Masters made before the fds (a bind of the slave): index, fd. */
static struct {
	int index, fd;
} early[16];
static int nearly;

int pty_make_early(int dir, int index, ckpt_err_t *err)
{
	int fd;

	if (nearly == (int)ARRAY_SIZE(early))
		return ckpt_error_msg(err, ENOSPC, "more than %d ptys bound", nearly);
	fd = open_at_index(dir, "ptmx", index, err);
	if (fd < 0)
		return fd;
	early[nearly].index = index;
	early[nearly++].fd = fd;
	return 0;
}

/* The master of index made early, -1 if none. */
static int early_take(int index)
{
	for (int i = 0; i < nearly; i++) {
		if (early[i].index == index && early[i].fd >= 0) {
			int fd = early[i].fd;

			early[i].fd = -1;
			return fd;
		}
	}
	return -1;
}

/* An orphan's master, to ckpt-oci (SCM_RIGHTS, with its index). */
static int send_master(int sk, int m, int index, ckpt_err_t *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &index, .iov_len = sizeof(index)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m, sizeof(int));
	if (sendmsg(sk, &msg, MSG_NOSIGNAL) < 0)
		return ckpt_error(err, errno, "pass the master of pty %d", index);
	return 0;
}

int pty_send_console(const char *path, int master, ckpt_err_t *err)
{
	static const char name[] = "/dev/ptmx";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = (void *)name, .iov_len = sizeof(name) - 1};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	cleanup_close int sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		return ckpt_error_msg(err, ENAMETOOLONG, "console socket `%s`", path);
	strcpy(sa.sun_path, path);
	if (sk < 0 || connect(sk, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return ckpt_error(err, errno, "console socket `%s`", path);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sk, &msg, MSG_NOSIGNAL) < 0)
		return ckpt_error(err, errno, "pass the console to `%s`", path);
	return 0;
}

int pty_recv_master(int sk)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {0};
	int index, fd = -1;
	struct iovec iov = {.iov_base = &index, .iov_len = sizeof(index)};
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;

	if (recvmsg(sk, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* The queued bytes (in, out: malloc'd) and the termios of pair p, from its object it. */
static int pty_saved_queues(const struct pty_saved *p, const struct files_item *it, char **in,
			    char **out, struct termios *t, ckpt_err_t *err)
{
	int ret = 0;

	*in = xzalloc(p->input_len + 1);
	*out = xzalloc(p->output_len + 1);
	if (p->input_len)
		ret = doc_hexbuf(&it->at, it->obj, "input", *in, p->input_len, err);
	if (ret == 0 && p->output_len)
		ret = doc_hexbuf(&it->at, it->obj, "output", *out, p->output_len, err);
	memset(t, 0, sizeof(*t));
	if (ret == 0)
		ret = doc_hexbuf(&it->at, it->obj, "cc", t->c_cc, PTY_NCC, err);
	if (ret < 0)
		return ret;
	t->c_iflag = p->iflag;
	t->c_oflag = p->oflag;
	t->c_cflag = p->cflag;
	t->c_lflag = p->lflag;
	t->c_line = p->line;
	return 0;
}

/* The queues, termios, window size and packet mode of pair got (m, s) put back. */
static int pty_put_back(int m, int s, int got, const struct pty_saved *p, const struct termios *t,
			const char *in, const char *out, ckpt_err_t *err)
{
	struct termios q = pty_quiet(t);
	struct winsize ws;
	int ret;

	if (tcsetattr(s, TCSANOW, &q) < 0)
		return ckpt_error(err, errno, "termios of pty %d", got);
	ret = pty_refill(s, in, p->input_len, err);
	if (ret == 0)
		ret = pty_refill(m, out, p->output_len, err);
	if (ret < 0)
		return ret;
	if (tcsetattr(s, TCSANOW, t) < 0)
		return ckpt_error(err, errno, "termios of pty %d", got);
	ws = (struct winsize){p->rows, p->cols, p->xpixel, p->ypixel};
	if (ioctl(m, TIOCSWINSZ, &ws) < 0)
		return ckpt_error(err, errno, "window size of pty %d", got);
	/* stopped before packet mode, which starts with no status byte */
	if (p->stopped && tcflow(s, TCOOFF) < 0)
		return ckpt_error(err, errno, "stop the output of pty %d", got);
	if (p->pkt && ioctl(m, TIOCPKT, &(int){1}) < 0)
		return ckpt_error(err, errno, "packet mode of pty %d", got);
	return 0;
}

/* The pair of e, made once and parked: master (end 0) and a slave (end 1). */
static int pty_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	cleanup_close int m = -1, s = -1;
	cleanup_free char *in = NULL, *out = NULL;
	struct pty_saved p;
	struct files_item it;
	struct termios t;
	int index, got, unlock = 0, ret;

	if (json_get(e->obj, "ctty"))
		return 0;
	ret = pty_saved_read(e, rc->doc, &index, &p, &it, err);
	if (ret < 0 || files_shared_find(rc, "pty", index, 0))
		return ret;
	if (strncmp(p.ptmx, "/dev/", 5))
		return doc_error(err, &it.at, "ptmx: `%s` is not below /dev", p.ptmx);
	ret = pty_saved_queues(&p, &it, &in, &out, &t, err);
	if (ret < 0)
		return ret;
	m = p.orphan ? early_take(index) : -1;
	if (m < 0)
		m = open_at_index(AT_FDCWD, p.ptmx, index, err);
	if (m < 0)
		return m;
	if (ioctl(m, TIOCGPTN, &got) < 0)
		return ckpt_error(err, errno, "pty index");
	if (got != index)
		pr_info("pty %d made as pty %d (index taken)", index, got);
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return ckpt_error(err, errno, "unlock pty %d", got);
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return ckpt_error(err, errno, "slave of pty %d", got);
	if (fchown(s, p.uid, p.gid) < 0 || fchmod(s, p.mode) < 0)
		return ckpt_error(err, errno, "owner and mode of pty %d", got);
	ret = pty_put_back(m, s, got, &p, &t, in, out, err);
	if (ret < 0)
		return ret;
	if (p.orphan && rc->console_sk >= 0) {
		ret = send_master(rc->console_sk, m, index, err);
		if (ret < 0)
			return ret;
	}
	ret = files_park(rc, "pty", index, 0, steal_fd(&m), err);
	return ret < 0 ? ret : files_park(rc, "pty", index, 1, steal_fd(&s), err);
}

static int pty_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
		       ckpt_err_t *err)
{
	int64_t index;
	struct fd_shared *sh;
	int ret;

	if (json_get(e->obj, "ctty")) {
		/* the session's controlling terminal is set by now (pty_set_ctty) */
		*fd = open("/dev/tty", (e->flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC);
		if (*fd < 0)
			return ckpt_error(err, errno, "open /dev/tty");
		return 0;
	}
	ret = doc_int(&e->at, e->obj, "pty", 0, (1 << 20) - 1, &index, err);
	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "pty", index, 0);
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "pty %d was not prepared", (int)index);
	if (json_get(e->obj, "master")) {
		*fd = fcntl(sh->fd, F_DUPFD_CLOEXEC, 0);
		if (*fd < 0)
			return ckpt_error(err, errno, "dup pty master %d", (int)index);
		return 0;
	}
	*fd = ioctl(sh->fd, TIOCGPTPEER, (e->flags & O_ACCMODE) | O_NOCTTY | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "open slave of pty %d", (int)index);
	return 0;
}

static int pty_describe(const struct fd_entry *e, const struct json *files, bool lines, FILE *out,
			ckpt_err_t *err)
{
	struct pty_saved p;
	struct files_item it;
	int index, ret;

	if (lines)
		return 0;
	if (json_get(e->obj, "ctty")) {
		fprintf(out, " controlling terminal");
		return 0;
	}
	if (!files) {
		fprintf(out, " pty");
		return 0;
	}
	ret = pty_saved_read(e, files, &index, &p, &it, err);
	if (ret < 0)
		return ret;
	fprintf(out, " pty %d %s %dx%d%s%s", index, json_get(e->obj, "master") ? "master" : "slave",
		p.cols, p.rows, p.lock ? " locked" : "", p.pkt ? " packet" : "");
	if (p.sid)
		fprintf(out, " ctty of session %d", p.sid);
	if (p.fg)
		fprintf(out, " foreground %d", p.fg);
	if (p.input_len || p.output_len)
		fprintf(out, " queued in %d out %d", p.input_len, p.output_len);
	if (p.stopped)
		fprintf(out, " output stopped");
	return 0;
}

int pty_set_ctty(const struct files_rctx *rc, pid_t sid, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json"), at = DOC_KEY(&top, "ptys");
	const struct json *list = rc->doc ? json_get(rc->doc, "ptys") : NULL;

	for (size_t i = 0; i < json_len(list); i++) {
		struct doc_at el = DOC_IDX(&at, i);
		const struct json *p = json_at(list, i);
		struct fd_shared *sh;
		int64_t id, s = 0;
		int ret = doc_int(&el, p, "id", 0, (1 << 20) - 1, &id, err);

		if (ret == 0)
			ret = doc_opt_int(&el, p, "sid", 1, DOC_PID_MAX, 0, &s, err);
		if (ret < 0)
			return ret;
		if (s != sid)
			continue;
		sh = files_shared_find(rc, "pty", id, 1);
		if (!sh)
			return ckpt_error_msg(err, EPROTO, "pty %d was not prepared", (int)id);
		if (ioctl(sh->fd, TIOCSCTTY, 0) < 0)
			return ckpt_error(err, errno, "pty %d as controlling terminal of %d",
					  (int)id, sid);
	}
	return 0;
}

/* A task holding the master of pty index, and the fd: false if none. */
static bool master_holder(const struct files_rctx *rc, int64_t index, pid_t *pid, int *fd,
			  ckpt_err_t *err)
{
	for (int t = 0; t < rc->ntasks; t++) {
		const struct files_task *ft = rc->tasks[t];

		for (size_t i = 0; i < ft->nfds; i++) {
			const struct fd_entry *e = &ft->fds[i];
			int64_t idx;

			if (strcmp(e->kind, "pty") || !json_get(e->obj, "master") ||
			    doc_int(&e->at, e->obj, "pty", 0, (1 << 20) - 1, &idx, err) < 0 ||
			    idx != index) {
				ckpt_error_clear(err);
				continue;
			}
			*pid = ft->pid;
			*fd = e->fd;
			return true;
		}
	}
	return false;
}

int pty_late_read(const struct files_rctx *rc, struct pty_late **out, int *n, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json"), at = DOC_KEY(&top, "ptys");
	const struct json *list = rc->doc ? json_get(rc->doc, "ptys") : NULL;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < json_len(list); i++) {
		struct doc_at el = DOC_IDX(&at, i);
		const struct json *o = json_at(list, i);
		struct pty_late l = {0};
		struct pty_saved p = {0};
		int64_t id;
		int ret = doc_int(&el, o, "id", 0, (1 << 20) - 1, &id, err);

		if (ret == 0)
			ret = doc_read(&el, o, pty_fields, &p, err);
		if (ret < 0)
			return ret;
		if (p.lock && !master_holder(rc, id, &l.holder, &l.fd, err))
			p.lock = false;
		if (!p.lock && !p.fg)
			continue;
		l.index = id;
		l.sid = p.sid;
		l.fg = p.fg;
		l.lock = p.lock;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = l;
	}
	return 0;
}

const struct fd_ops fd_pty_ops = {
	.kind = "pty",
	.match = pty_match,
	.dump = pty_dump,
	.prepare = pty_prepare,
	.restore = pty_restore,
	.describe = pty_describe,
	.prepare_in_tree = true,
};
