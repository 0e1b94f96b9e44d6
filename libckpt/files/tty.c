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
 * Restore opens the pair where the tree's paths are (prepare_in_tree): the
 * master's path, opened again and again until it gets the saved index
 * while that index is free (a devpts of the tree's own), else with the
 * first index it got; the slave through TIOCGPTPEER. Queues, termios and
 * the rest are put back before anything is forked. A session leader makes
 * the slave its controlling terminal right after setsid, before it forks
 * (pty_set_ctty); the foreground group and the lock are set once every
 * task is in its group (pty_late_read, then restore.c).
 *
 * A slave whose master is outside the tree but which lives on a devpts of
 * the tree's own (a runtime's console: runc's terminal: true) is an
 * "orphan": the pair is made again in the tree's devpts at the same index
 * (before the mounts that bind the slave, /dev/console: pty_make_early),
 * the slave's side restored as above, and its master passed to ckpt-oci
 * (files_rctx console_sk) for the caller: the runtime's console socket.
 * Any other slave whose master is not in the tree (the caller's terminal)
 * is dev.c's: an external terminal. Indexes are per devpts: a slave is a
 * master's only on the filesystem of that master's slave.
 *
 * Refused at checkpoint (one line, the tree runs on): a pair that is the
 * controlling terminal of a session whose leader is not in the tree, or
 * whose foreground group has no leader in the tree; two masters of one
 * index (two devpts); a master not below /dev; more than 128 KiB queued.
 * Restored differently (no error): a pair on a devpts shared with others
 * (the host's) gets a new index when its own is taken; a status byte of
 * packet mode waiting to be read, and the ^S/^Q stop state, are lost; a
 * slave no task holds, opened to refill the queues, reads as closed on
 * the master once they are.
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
#include "util/log.h"
#include "util/util.h"

/* A queue holds at most N_TTY_BUF_SIZE bytes, its flip buffers up to 64 KiB more. */
#define PTY_QUEUE_MAX (1 << 17)
/* Opens of the master's path tried for one index. */
#define PTY_INDEX_TRIES 256
/* The kernel's termios has 19 control characters (glibc's struct more). */
#define PTY_NCC 19

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

static bool pty_match(const struct fd_info *fi)
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
static int refill(int fd, const char *buf, size_t len, ckpt_err_t *err)
{
	for (size_t i = 0; i < len; i++)
		if (ioctl(fd, TIOCSTI, &buf[i]) < 0)
			return ckpt_error(err, errno, "put %zu queued bytes back (TIOCSTI)", len);
	return 0;
}

/* termios with nothing a refill should do besides queueing (canonical mode kept). */
static struct termios quiet(const struct termios *t)
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
	q = quiet(&t);
	ret = 0;
	if (tcsetattr(s, TCSANOW, &q) < 0)
		ret = ckpt_error(err, errno, "termios to put the input queue back");
	if (ret == 0)
		ret = refill(s, buf, len, err);
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
	if (pkt && ioctl(m, TIOCPKT, &off) < 0)
		return ckpt_error(err, errno, "packet mode off");
	len = drain(m, buf, PTY_QUEUE_MAX);
	ret = refill(m, buf, len, err);
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

static int pty_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		    ckpt_err_t *err)
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
	return 0;
}

/* A pair of files.json "ptys". */
struct pty_saved {
	const char *ptmx;
	uint32_t uid, gid;
	unsigned int mode;
	bool lock, pkt, orphan;
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

/* The pair of e, made once and parked: master (end 0) and a slave (end 1). */
static int pty_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	cleanup_close int m = -1, s = -1;
	cleanup_free char *in = NULL, *out = NULL;
	struct pty_saved p;
	struct files_item it;
	struct termios t, q;
	struct winsize ws;
	int index, got, unlock = 0, ret;

	if (json_get(e->obj, "ctty"))
		return 0;
	ret = pty_saved_read(e, rc->doc, &index, &p, &it, err);
	if (ret < 0 || files_shared_find(rc, "pty", index, 0))
		return ret;
	if (strncmp(p.ptmx, "/dev/", 5))
		return doc_error(err, &it.at, "ptmx: `%s` is not below /dev", p.ptmx);
	in = xzalloc(p.input_len + 1);
	out = xzalloc(p.output_len + 1);
	if (p.input_len)
		ret = doc_hexbuf(&it.at, it.obj, "input", in, p.input_len, err);
	if (ret == 0 && p.output_len)
		ret = doc_hexbuf(&it.at, it.obj, "output", out, p.output_len, err);
	memset(&t, 0, sizeof(t));
	if (ret == 0)
		ret = doc_hexbuf(&it.at, it.obj, "cc", t.c_cc, PTY_NCC, err);
	if (ret < 0)
		return ret;
	t.c_iflag = p.iflag;
	t.c_oflag = p.oflag;
	t.c_cflag = p.cflag;
	t.c_lflag = p.lflag;
	t.c_line = p.line;
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
	q = quiet(&t);
	if (tcsetattr(s, TCSANOW, &q) < 0)
		return ckpt_error(err, errno, "termios of pty %d", got);
	ret = refill(s, in, p.input_len, err);
	if (ret == 0)
		ret = refill(m, out, p.output_len, err);
	if (ret < 0)
		return ret;
	if (tcsetattr(s, TCSANOW, &t) < 0)
		return ckpt_error(err, errno, "termios of pty %d", got);
	ws = (struct winsize){p.rows, p.cols, p.xpixel, p.ypixel};
	if (ioctl(m, TIOCSWINSZ, &ws) < 0)
		return ckpt_error(err, errno, "window size of pty %d", got);
	if (p.pkt && ioctl(m, TIOCPKT, &(int){1}) < 0)
		return ckpt_error(err, errno, "packet mode of pty %d", got);
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
			int64_t idx, p;

			if (strcmp(e->kind, "pty") || !json_get(e->obj, "master") ||
			    doc_int(&e->at, e->obj, "pty", 0, (1 << 20) - 1, &idx, err) < 0 ||
			    idx != index ||
			    doc_int(&DOC_TOP("task"), ft->doc, "pid", 1, DOC_PID_MAX, &p, err) <
				    0) {
				ckpt_error_clear(err);
				continue;
			}
			*pid = p;
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
