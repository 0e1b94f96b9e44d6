/*
 * libckpt/files/tty.c - pseudo-terminal pairs whose master (/dev/ptmx) a
 * task of the tree holds: the master, its slave (/dev/pts/N) and /dev/tty
 * when a task's controlling terminal is that slave. One object per pair in
 * files.json "ptys" (id: the pty index): the master's path, termios,
 * window size, packet mode, lock, the slave's owner, group and mode, the
 * bytes queued each way, the session whose controlling terminal it is and
 * that session's foreground process group.
 *
 * Dump reads each queue by draining it through a copy of the task's fd and
 * puts the bytes back at once with TIOCSTI, which goes through the line
 * discipline synchronously (echo, signals and input mapping off while it
 * does): the tree finds its terminal as it was, whether the checkpoint
 * goes on or not. The input queue (what the slave reads) is drained in
 * non-canonical mode, so a line being edited comes too, through a slave a
 * task holds; a pair whose slave no task holds keeps no input.
 *
 * Restore: tty-restore.c.
 *
 * A slave whose master is outside the tree but which lives on a devpts of
 * the tree's own (a runtime's console: runc's terminal: true) is an
 * "orphan": the pair is made again in the tree's devpts at the same index
 * (before the mounts that bind the slave, /dev/console: pty_make_early),
 * the slave's side restored as any pair's, and its master passed to ckpt-oci
 * (files_rctx console_sk) for the caller: the runtime's console socket.
 * Any other slave whose master is not in the tree (the caller's terminal)
 * is dev.c's: an external terminal. Indexes are per devpts: a slave is a
 * master's only on the filesystem of that master's slave.
 *
 * Refused at checkpoint (one line, the tree runs on): a pair that is the
 * controlling terminal of a session whose leader is not in the tree, or
 * whose foreground group has no leader in the tree; two masters of one
 * index (two devpts); a master not below /dev; more than 128 KiB queued.
 * A status byte of packet mode waiting to be read on the master is refused
 * too (it can be neither read back nor made again as it was). The output
 * stopped (^S, tcflow TCOOFF), seen as a slave that cannot be written
 * while the master's queue has room, is stopped again with TCOOFF.
 * Restored differently (no error): a pair on a devpts shared with others
 * (the host's) gets a new index when its own is taken; a stop made by ^S
 * comes back as TCOOFF's (TCOON starts it, ^Q does not); a stop on a pair
 * whose slave no task holds is lost; a slave no task holds, opened to
 * refill the queues, reads as closed on the master once they are.
 */
#define LOG_PREFIX "tty: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "files/files.h"
#include "files/tty.h"
#include "util/log.h"
#include "util/util.h"

struct pty_master {
	pid_t pid;
	int fd;
	int index;
	dev_t devpts; /* its slave's filesystem: indexes are per devpts */
};

static bool is_ptmx(dev_t rdev)
{
	return major(rdev) == 5 && minor(rdev) == 2;
}

static bool is_pts(dev_t rdev)
{
	return major(rdev) >= 136 && major(rdev) < 144;
}

static int pts_index(dev_t rdev)
{
	return (major(rdev) - 136) * 256 + minor(rdev);
}

/* The slave's inode of pid's master at fd, without opening it (O_PATH: a locked one too). */
static int slave_dev(pid_t pid, int fd, struct stat *st)
{
	ckpt_err_t e = {0};
	cleanup_close int m = files_steal_fd(pid, fd, &e), peer = -1;

	if (m < 0)
		return -1;
	peer = ioctl(m, TIOCGPTPEER, O_PATH | O_CLOEXEC);
	return peer < 0 || fstat(peer, st) < 0 ? -1 : 0;
}

/* Every master the tree's tasks hold (read once, at the first terminal). */
static void masters_scan(struct files_dctx *dc)
{
	if (dc->pty_scanned)
		return;
	dc->pty_scanned = true;
	for (int i = 0; i < dc->ntree_pids; i++) {
		char path[320];
		cleanup_dir DIR *d = NULL;
		struct dirent *de;
		int dfd;

		snprintf(path, sizeof(path), "/proc/%d/fd", dc->tree_pids[i]);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || !(d = fdopendir(dfd))) {
			if (dfd >= 0)
				close(dfd);
			continue;
		}
		while ((de = readdir(d))) {
			cleanup_free char *text = NULL;
			ckpt_err_t e = {0};
			struct stat st;
			long long idx;

			if (de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st, 0) < 0 ||
			    !S_ISCHR(st.st_mode) || !is_ptmx(st.st_rdev))
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", dc->tree_pids[i],
				 de->d_name);
			if (read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL, &e) < 0)
				continue;
			idx = proc_parse_tty_index(text);
			if (idx < 0 || slave_dev(dc->tree_pids[i], atoi(de->d_name), &st) < 0)
				continue;
			dc->pty_masters = xrealloc(
				dc->pty_masters, (dc->npty_masters + 1) * sizeof(*dc->pty_masters));
			dc->pty_masters[dc->npty_masters++] = (struct pty_master){
				dc->tree_pids[i], atoi(de->d_name), (int)idx, st.st_dev};
		}
	}
}

/* The master of slave index on the devpts devpts (NULL: any), if the tree holds it. */
static const struct pty_master *master_of(struct files_dctx *dc, int index, const dev_t *devpts)
{
	masters_scan(dc);
	for (int i = 0; i < dc->npty_masters; i++)
		if (dc->pty_masters[i].index == index &&
		    (!devpts || dc->pty_masters[i].devpts == *devpts))
			return &dc->pty_masters[i];
	return NULL;
}

static bool orphan_at(int procfd, const char *link, dev_t rdev, const dev_t *devpts);

/*
 * The task's controlling terminal, if a slave of a master in the tree or
 * an orphan's (at /dev/pts/N in the tree's root): its index, else -1.
 */
static int ctty_index(const struct fd_info *fi)
{
	struct proc_stat st;
	ckpt_err_t e = {0};
	struct stat sl;
	char link[64];
	bool known;
	dev_t dev;

	if (proc_read_stat(fi->procfd, &st, &e) < 0 || !st.tty_nr)
		return -1;
	dev = makedev(((unsigned int)st.tty_nr >> 8) & 0xfff,
		      ((unsigned int)st.tty_nr & 0xff) |
			      (((unsigned int)st.tty_nr >> 12) & 0xfff00));
	if (!is_pts(dev))
		return -1;
	/* its devpts: the one at /dev/pts in the task's root, if the slave is there */
	snprintf(link, sizeof(link), "root/dev/pts/%d", pts_index(dev));
	known = fstatat(fi->procfd, link, &sl, 0) == 0 && sl.st_rdev == dev;
	if (!master_of(fi->dc, pts_index(dev), known ? &sl.st_dev : NULL) &&
	    !orphan_at(fi->procfd, link + 4, dev, NULL))
		return -1;
	return pts_index(dev);
}

/*
 * A slave of a devpts of the tree's own, its master outside: the tree has
 * a mount namespace of its own, where the slave's path leads to it, and
 * the devpts is not ckpt-oci's /dev/pts.
 */
static bool orphan_at(int procfd, const char *link, dev_t rdev, const dev_t *devpts)
{
	char path[PATH_MAX + 8];
	struct stat ns, mine, st;

	if (fstatat(procfd, "ns/mnt", &ns, 0) < 0 || stat("/proc/self/ns/mnt", &mine) < 0 ||
	    ns.st_ino == mine.st_ino || strncmp(link, "/dev/", 5))
		return false;
	snprintf(path, sizeof(path), "root%s", link);
	if (fstatat(procfd, path, &st, 0) < 0 || st.st_rdev != rdev ||
	    (devpts && st.st_dev != *devpts))
		return false;
	/* not ckpt-oci's own devpts (the caller's terminal, seen in a copy of our mounts) */
	return stat("/dev/pts", &mine) < 0 || mine.st_dev != st.st_dev;
}

static bool orphan_slave(const struct fd_info *fi)
{
	return orphan_at(fi->procfd, fi->link, fi->st.st_rdev, &fi->st.st_dev);
}

bool pty_match(const struct fd_info *fi)
{
	dev_t rdev = fi->st.st_rdev;

	if (!S_ISCHR(fi->st.st_mode) || !fi->dc)
		return false;
	if (is_ptmx(rdev))
		return true;
	if (is_pts(rdev))
		return master_of(fi->dc, pts_index(rdev), &fi->st.st_dev) || orphan_slave(fi);
	/* /dev/tty, when it leads to a pair of the tree */
	return major(rdev) == 5 && minor(rdev) == 0 && ctty_index(fi) >= 0;
}

/* The object of pty index in files.json "ptys", made on first use. */
static struct json *pty_obj(struct files_dctx *dc, int index)
{
	struct json *list = files_dlist(dc, "ptys"), *p = files_list_find(list, index);

	if (p)
		return p;
	p = json_push(list, json_obj());
	json_set(p, "id", json_int(index));
	return p;
}

/* Read what fd has queued (poll says so) into buf, at most max bytes. */
static ssize_t drain(int fd, char *buf, size_t max)
{
	size_t len = 0;

	while (len < max) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			break;
		n = read(fd, buf + len, max - len);
		if (n <= 0)
			break;
		len += n;
	}
	return len;
}

/* Put buf back in the queue fd reads, byte by byte, through its line discipline. */
int pty_refill(int fd, const char *buf, size_t len, ckpt_err_t *err)
{
	for (size_t i = 0; i < len; i++)
		if (ioctl(fd, TIOCSTI, &buf[i]) < 0)
			return ckpt_error(err, errno, "put %zu queued bytes back (TIOCSTI)", len);
	return 0;
}

/* termios with nothing a refill should do besides queueing (canonical mode kept). */
struct termios pty_quiet(const struct termios *t)
{
	struct termios q = *t;

	q.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOKE | ECHOPRT | ISIG | IEXTEN);
	q.c_iflag &= ~(ICRNL | INLCR | IGNCR | ISTRIP | IUCLC | IMAXBEL | BRKINT | PARMRK | INPCK);
	return q;
}

/* The slave's input queue (s: a copy of a slave fd), drained and put back. */
static int input_dump(int s, struct json *p, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(PTY_QUEUE_MAX);
	struct termios t, raw, q;
	ssize_t len;
	int ret;

	if (tcgetattr(s, &t) < 0)
		return ckpt_error(err, errno, "termios");
	raw = t;
	raw.c_lflag &= ~(ICANON | ECHO | ISIG | IEXTEN);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(s, TCSANOW, &raw) < 0)
		return ckpt_error(err, errno, "termios to read the input queue");
	len = 0;
	for (;;) {
		ssize_t n = read(s, buf + len, PTY_QUEUE_MAX - len);

		if (n <= 0 || (len += n) == PTY_QUEUE_MAX)
			break;
	}
	q = pty_quiet(&t);
	ret = 0;
	if (tcsetattr(s, TCSANOW, &q) < 0)
		ret = ckpt_error(err, errno, "termios to put the input queue back");
	if (ret == 0)
		ret = pty_refill(s, buf, len, err);
	if (tcsetattr(s, TCSANOW, &t) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "termios put back");
	if (ret < 0)
		return ret;
	if (len == PTY_QUEUE_MAX)
		return ckpt_error_msg(err, ENOTSUP, "more than %d bytes queued", PTY_QUEUE_MAX);
	json_set(p, "input_len", json_int(len));
	if (len)
		json_set(p, "input", json_hexbuf(buf, len));
	return 0;
}

/* The master's input (what the slave wrote): drained and put back. */
static int output_dump(int m, struct json *p, ckpt_err_t *err)
{
	cleanup_free char *buf = xzalloc(PTY_QUEUE_MAX);
	int pkt = 0, off = 0, ret;
	ssize_t len;

	/* packet mode would put a header before each read */
	if (ioctl(m, TIOCGPKT, &pkt) < 0)
		return ckpt_error(err, errno, "packet mode");
	/* a status byte (flush, stop, start) can be neither read back nor made again as it was */
	if (pkt && poll(&(struct pollfd){.fd = m, .events = POLLPRI}, 1, 0) == 1)
		return ckpt_error_msg(err, ENOTSUP,
				      "a packet-mode status byte waits to be read on the master");
	if (pkt && ioctl(m, TIOCPKT, &off) < 0)
		return ckpt_error(err, errno, "packet mode off");
	len = drain(m, buf, PTY_QUEUE_MAX);
	ret = pty_refill(m, buf, len, err);
	if (pkt && ioctl(m, TIOCPKT, &pkt) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "packet mode on");
	if (ret < 0)
		return ret;
	if (len == PTY_QUEUE_MAX)
		return ckpt_error_msg(err, ENOTSUP, "more than %d bytes queued", PTY_QUEUE_MAX);
	json_set(p, "pkt", json_bool(pkt));
	json_set(p, "output_len", json_int(len));
	if (len)
		json_set(p, "output", json_hexbuf(buf, len));
	return 0;
}

static bool in_tree(const struct files_dctx *dc, pid_t pid)
{
	for (int i = 0; i < dc->ntree_pids; i++)
		if (dc->tree_pids[i] == pid)
			return true;
	return false;
}

/* The session and foreground group of the slave, as the tree's namespace numbers them. */
static int session_dump(int m, int index, struct json *p, struct files_dctx *dc, ckpt_err_t *err)
{
	pid_t sid = 0, pgrp = 0, ns;
	char path[64];

	if (ioctl(m, TIOCGSID, &sid) < 0)
		return 0; /* nobody's controlling terminal */
	if (!in_tree(dc, sid))
		return ckpt_error_msg(err, ENOTSUP,
				      "pty %d is the controlling terminal of session %d, whose "
				      "leader is not in the tree",
				      index, sid);
	snprintf(path, sizeof(path), "/proc/%d", sid);
	ns = proc_ns_pid(AT_FDCWD, path);
	if (ns <= 0)
		return ckpt_error_msg(err, ESRCH, "pty %d: session leader %d", index, sid);
	json_set(p, "sid", json_int(ns));
	if (ioctl(m, TIOCGPGRP, &pgrp) < 0 || pgrp <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", pgrp);
	ns = in_tree(dc, pgrp) ? proc_ns_pid(AT_FDCWD, path) : -1;
	if (ns <= 0)
		return ckpt_error_msg(err, ENOTSUP,
				      "pty %d: its foreground process group %d has no leader in "
				      "the tree",
				      index, pgrp);
	json_set(p, "fg", json_int(ns));
	return 0;
}

/* The slave's termios and window size (fd: either end). */
static int termios_dump(int fd, int index, struct json *p, ckpt_err_t *err)
{
	struct termios t;
	struct winsize ws;

	if (tcgetattr(fd, &t) < 0 || ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return ckpt_error(err, errno, "pty %d termios", index);
	json_set(p, "iflag", json_hex(t.c_iflag));
	json_set(p, "oflag", json_hex(t.c_oflag));
	json_set(p, "cflag", json_hex(t.c_cflag));
	json_set(p, "lflag", json_hex(t.c_lflag));
	json_set(p, "line", json_int(t.c_line));
	json_set(p, "cc", json_hexbuf(t.c_cc, PTY_NCC));
	json_set(p, "rows", json_int(ws.ws_row));
	json_set(p, "cols", json_int(ws.ws_col));
	json_set(p, "xpixel", json_int(ws.ws_xpixel));
	json_set(p, "ypixel", json_int(ws.ws_ypixel));
	return 0;
}

/*
 * An orphan's session: a session leader of the tree whose controlling
 * terminal it is, and that terminal's foreground group (from stat).
 */
static int orphan_session(dev_t rdev, int index, struct json *p, struct files_dctx *dc,
			  ckpt_err_t *err)
{
	for (int i = 0; i < dc->ntree_pids; i++) {
		struct proc_stat st;
		ckpt_err_t e = {0};
		char path[64];
		pid_t ns;

		cleanup_close int pfd = -1;

		snprintf(path, sizeof(path), "/proc/%d", dc->tree_pids[i]);
		pfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0 || proc_read_stat(pfd, &st, &e) < 0)
			continue;
		if (st.sid != dc->tree_pids[i] || (dev_t)st.tty_nr != rdev)
			continue;
		snprintf(path, sizeof(path), "/proc/%d", st.sid);
		ns = proc_ns_pid(AT_FDCWD, path);
		if (ns <= 0)
			return ckpt_error_msg(err, ESRCH, "pty %d: session leader %d", index,
					      st.sid);
		json_set(p, "sid", json_int(ns));
		if (st.tpgid <= 0)
			return 0;
		snprintf(path, sizeof(path), "/proc/%d", st.tpgid);
		ns = in_tree(dc, st.tpgid) ? proc_ns_pid(AT_FDCWD, path) : -1;
		if (ns <= 0)
			return ckpt_error_msg(err, ENOTSUP,
					      "pty %d: its foreground process group %d has no "
					      "leader in the tree",
					      index, st.tpgid);
		json_set(p, "fg", json_int(ns));
		return 0;
	}
	return 0;
}

/* An orphan slave (s: a copy of its fd): the pair as the slave sees it. */
static int orphan_dump(const struct fd_info *fi, int s, int index, struct json *p,
		       struct files_dctx *dc, ckpt_err_t *err)
{
	char ptmx[PATH_MAX];
	const char *slash = strrchr(fi->link, '/');
	int ret;

	snprintf(ptmx, sizeof(ptmx), "%.*s/ptmx", (int)(slash - fi->link), fi->link);
	json_set(p, "orphan", json_bool(true));
	json_set(p, "ptmx", json_str(ptmx));
	json_set(p, "uid", json_int(fi->st.st_uid));
	json_set(p, "gid", json_int(fi->st.st_gid));
	json_set(p, "mode", json_int(fi->st.st_mode & 07777));
	json_set(p, "lock", json_bool(false));
	json_set(p, "pkt", json_bool(false));
	json_set(p, "output_len", json_int(0));
	ret = termios_dump(s, index, p, err);
	return ret < 0 ? ret : orphan_session(fi->st.st_rdev, index, p, dc, err);
}

static int master_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		       ckpt_err_t *err)
{
	cleanup_close int m = -1, peer = -1;
	struct stat st;
	struct json *p;
	int index, lock = 0, ret;

	m = files_steal_fd(fi->pid, fi->fd, err);
	if (m < 0)
		return m;
	if (ioctl(m, TIOCGPTN, &index) < 0)
		return ckpt_error(err, errno, "pty index");
	json_set(o, "pty", json_int(index));
	json_set(o, "master", json_bool(true));
	p = pty_obj(dc, index);
	if (json_get(p, "ptmx"))
		return ckpt_error_msg(err, ENOTSUP,
				      "two pty masters of index %d in the tree (two devpts)",
				      index);
	if (strncmp(fi->link, "/dev/", 5))
		return ckpt_error_msg(err, ENOTSUP, "pty master `%s` is not below /dev", fi->link);
	json_set(p, "ptmx", json_str(fi->link));
	/* the slave's inode, without opening it (no open: a locked one too) */
	peer = ioctl(m, TIOCGPTPEER, O_PATH | O_CLOEXEC);
	if (peer < 0 || fstat(peer, &st) < 0)
		return ckpt_error(err, errno, "slave of pty %d", index);
	json_set(p, "uid", json_int(st.st_uid));
	json_set(p, "gid", json_int(st.st_gid));
	json_set(p, "mode", json_int(st.st_mode & 07777));
	if (ioctl(m, TIOCGPTLCK, &lock) < 0)
		return ckpt_error(err, errno, "pty %d lock", index);
	json_set(p, "lock", json_bool(lock));
	ret = termios_dump(m, index, p, err);
	if (ret == 0)
		ret = session_dump(m, index, p, dc, err);
	if (ret == 0)
		ret = output_dump(m, p, err);
	return ret < 0 ? ckpt_error_wrap(err, "pty %d", index) : 0;
}

/*
 * The slave's output stopped (^S with IXON, tcflow TCOOFF): it cannot be
 * written while the master's queue has room (a full one, the tree's
 * master holding 4 KiB unread, is not a stop).
 */
static bool output_stopped(const struct fd_info *fi, int s, int index, struct files_dctx *dc)
{
	const struct pty_master *pm = master_of(dc, index, &fi->st.st_dev);
	cleanup_close int m = -1;
	ckpt_err_t e = {0};
	int queued = 0;

	if (poll(&(struct pollfd){.fd = s, .events = POLLOUT}, 1, 0) != 0)
		return false;
	if (pm && ((m = files_steal_fd(pm->pid, pm->fd, &e)) < 0 ||
		   ioctl(m, FIONREAD, &queued) < 0 || queued >= PTY_N_TTY_BUF - 1))
		return false;
	return true;
}

int pty_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc, ckpt_err_t *err)
{
	cleanup_close int s = -1;
	struct json *p;
	int index;

	if (is_ptmx(fi->st.st_rdev))
		return master_dump(fi, o, dc, err);
	if (!is_pts(fi->st.st_rdev)) {
		json_set(o, "pty", json_int(ctty_index(fi)));
		json_set(o, "ctty", json_bool(true));
		return 0;
	}
	index = pts_index(fi->st.st_rdev);
	json_set(o, "pty", json_int(index));
	p = pty_obj(dc, index);
	if (json_get(p, "input_len"))
		return 0;
	/* the first slave of the pair: its input queue */
	s = files_steal_fd(fi->pid, fi->fd, err);
	if (s < 0)
		return s;
	if (!master_of(dc, index, &fi->st.st_dev) && orphan_dump(fi, s, index, p, dc, err) < 0)
		return ckpt_error_wrap(err, "pty %d", index);
	if (input_dump(s, p, err) < 0)
		return ckpt_error_wrap(err, "pty %d", index);
	if (output_stopped(fi, s, index, dc))
		json_set(p, "stopped", json_bool(true));
	return 0;
}
