/*
 * fd_pty - a pseudo-terminal pair held inside the tree comes back whole:
 * the input queue (a complete line, then one still being edited) and the
 * output queue, termios, window size, packet mode, the slave's owner,
 * group and mode, the lock of a second pair never unlocked, and the slave
 * as the controlling terminal of a child's session whose foreground
 * process group is a grandchild's (TIOCSCTTY, tcsetpgrp, /dev/tty).
 *
 * Mode "orphan-fg": the foreground group's leader has exited, one member
 * of it is left (the root is a subreaper): the checkpoint refuses it.
 * Mode "stopped": the slave's output is stopped (tcflow TCOOFF): it still
 * is after restore, and TCOON starts it (packet mode tells the master).
 * Mode "stopped-ixon": the same stopped by ^S (IXON), started by ^Q and
 * TCOON (a stop comes back as TCOOFF's: ^Q alone does not start it).
 * Mode "pkt-status": a packet-mode status byte (TIOCPKT_FLUSHREAD, after
 * tcflush of the slave's input) waits on the master: the checkpoint
 * refuses it, and the byte is still there when the tree runs on.
 */
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

#include "wl.h"
#include "wl_sys.h"

#define IN_QUEUED   "first line\npartial"
#define OUT_WRITTEN "out bytes\n"
#define OUT_READ    "\0out bytes\r\n" /* packet mode: TIOCPKT_DATA first; ONLCR */

/* The child: a session leader whose controlling terminal is s. */
static void session_leader(int s, int go, int res, bool orphan)
{
	char c, msg[200] = "P";
	struct stat a, b;
	int tty, sync[2];
	pid_t gc, pg;

	if (setsid() < 0 || ioctl(s, TIOCSCTTY, 0) < 0 || pipe(sync) < 0)
		_exit(10);
	gc = fork();
	if (gc == 0) {
		setpgid(0, 0);
		if (orphan && fork() == 0) {
			close(sync[0]);
			close(sync[1]);
			for (;;)
				pause();
		}
		close(sync[0]);
		close(sync[1]);
		if (orphan)
			_exit(0);
		for (;;)
			pause();
	}
	close(sync[1]);
	setpgid(gc, gc);
	/* the grandchild (and in orphan mode its child) is set up: EOF */
	if (read(sync[0], &c, 1) != 0 || tcsetpgrp(s, gc) < 0)
		_exit(11);
	if (orphan)
		waitpid(gc, NULL, 0);
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (tty < 0)
		_exit(12);
	if (write(res, "R", 1) != 1 || read(go, &c, 1) != 1)
		_exit(13);
	pg = tcgetpgrp(s);
	if (getsid(0) != getpid())
		snprintf(msg, sizeof(msg), "child: session %d, want its own %d", getsid(0),
			 getpid());
	else if (!orphan && pg != gc)
		snprintf(msg, sizeof(msg), "child: foreground group %d, want %d", pg, gc);
	else if (ioctl(s, TIOCGSID, &pg) < 0 || pg != getpid())
		snprintf(msg, sizeof(msg), "child: the slave's session %d, want %d", pg, getpid());
	else if (!orphan && (ioctl(tty, TIOCGPGRP, &pg) < 0 || pg != gc))
		snprintf(msg, sizeof(msg), "child: /dev/tty's group %d (%m), want %d", pg, gc);
	else if (fstat(tty, &a) < 0 || a.st_rdev != makedev(5, 0))
		snprintf(msg, sizeof(msg), "child: /dev/tty fd is no longer /dev/tty");
	else if ((tty = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0 || fstat(tty, &a) < 0 ||
		 fstat(s, &b) < 0)
		snprintf(msg, sizeof(msg), "child: no controlling terminal after restore: %m");
	if (write(res, msg, strlen(msg)) < 0)
		_exit(14);
	kill(-gc, SIGKILL);
	_exit(0);
}

static int check_termios(int s, const struct termios *want)
{
	struct termios t;

	if (tcgetattr(s, &t) < 0)
		return wl_fail("tcgetattr: %m");
	if (t.c_iflag != want->c_iflag || t.c_oflag != want->c_oflag ||
	    t.c_cflag != want->c_cflag || t.c_lflag != want->c_lflag)
		return wl_fail("termios flags %#x %#x %#x %#x, want %#x %#x %#x %#x", t.c_iflag,
			       t.c_oflag, t.c_cflag, t.c_lflag, want->c_iflag, want->c_oflag,
			       want->c_cflag, want->c_lflag);
	for (int i = 0; i < VEOL2 + 1; i++)
		if (t.c_cc[i] != want->c_cc[i])
			return wl_fail("c_cc[%d] %#x, want %#x", i, t.c_cc[i], want->c_cc[i]);
	return 0;
}

static int check_queues(int m, int s)
{
	char buf[256];
	struct pollfd p = {.fd = m, .events = POLLIN};
	ssize_t n;

	n = read(s, buf, sizeof(buf));
	if (n != 11 || memcmp(buf, "first line\n", 11))
		return wl_fail("first read of the slave: %zd bytes `%.*s`", n, (int)(n > 0 ? n : 0),
			       buf);
	/* the line being edited, ended now */
	if (write(m, "\n", 1) != 1)
		return wl_fail("write master: %m");
	n = read(s, buf, sizeof(buf));
	if (n != 8 || memcmp(buf, "partial\n", 8))
		return wl_fail("second read of the slave: %zd bytes `%.*s`", n,
			       (int)(n > 0 ? n : 0), buf);
	if (poll(&p, 1, 5000) != 1)
		return wl_fail("the master has nothing to read");
	n = read(m, buf, sizeof(buf));
	if (n != sizeof(OUT_READ) - 1 || memcmp(buf, OUT_READ, n))
		return wl_fail("read of the master: %zd bytes, first %#x", n,
			       n > 0 ? (unsigned char)buf[0] : 0);
	return 0;
}

int main(int argc, char **argv)
{
	bool orphan = argc > 1 && !strcmp(argv[1], "orphan-fg");
	bool ixon = argc > 1 && !strcmp(argv[1], "stopped-ixon");
	bool stopped = ixon || (argc > 1 && !strcmp(argv[1], "stopped"));
	bool pkt_status = argc > 1 && !strcmp(argv[1], "pkt-status");
	struct pollfd pw;
	struct winsize ws = {.ws_row = 33, .ws_col = 101, .ws_xpixel = 7, .ws_ypixel = 9}, w;
	struct termios t;
	struct stat st;
	int m, m2, s, one = 1, v, index, go[2], res[2];
	uid_t owner;
	gid_t group;
	char buf[256];
	pid_t child;
	ssize_t n;

	wl_init(argc, argv);
	if (orphan)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	m2 = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || m2 < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return wl_fail("posix_openpt: %m");
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (ioctl(m, TIOCGPTN, &index) < 0)
		return wl_fail("TIOCGPTN: %m");
	if (s < 0 || tcgetattr(s, &t) < 0)
		return wl_fail("open slave: %m");
	t.c_lflag &= ~(ECHO | ECHOCTL);
	t.c_cc[VINTR] = 7;
	t.c_cc[VEOL] = '@';
	t.c_iflag |= IUTF8;
	if (tcsetattr(s, TCSANOW, &t) < 0 || ioctl(m, TIOCSWINSZ, &ws) < 0)
		return wl_fail("termios: %m");
	/* without CAP_CHOWN (a container's default set) the owner stays */
	if ((fchown(s, 1234, 5) < 0 && errno != EPERM) || fchmod(s, 0640) < 0 || fstat(s, &st) < 0)
		return wl_fail("slave owner: %m");
	owner = st.st_uid;
	group = st.st_gid;
	if (write(m, IN_QUEUED, strlen(IN_QUEUED)) < 0 ||
	    write(s, OUT_WRITTEN, strlen(OUT_WRITTEN)) < 0)
		return wl_fail("queue: %m");
	/* before packet mode: no status byte for it */
	if (stopped && !ixon && tcflow(s, TCOOFF) < 0)
		return wl_fail("tcflow TCOOFF: %m");
	if (ixon && ((t.c_iflag & IXON) == 0 || ioctl(s, TIOCSTI, &t.c_cc[VSTOP]) < 0))
		return wl_fail("^S (IXON %#x): %m", t.c_iflag & IXON);
	if (ioctl(m, TIOCPKT, &one) < 0)
		return wl_fail("packet mode: %m");
	if (pkt_status && (tcflush(s, TCIFLUSH) < 0 || write(m, IN_QUEUED, strlen(IN_QUEUED)) < 0))
		return wl_fail("tcflush: %m");
	if (pipe(go) < 0 || pipe(res) < 0)
		return wl_fail("pipe: %m");
	child = fork();
	if (child == 0) {
		close(go[1]);
		close(res[0]);
		session_leader(s, go[0], res[1], orphan);
	}
	close(go[0]);
	close(res[1]);
	n = read(res[0], buf, 1);
	if (n != 1 || buf[0] != 'R')
		return wl_fail("the child did not set up its session");

	wl_ready();
	wl_wait_restored();

	if (pkt_status && (read(m, buf, sizeof(buf)) != 1 || buf[0] != TIOCPKT_FLUSHREAD))
		return wl_fail("the master's status byte is not TIOCPKT_FLUSHREAD");
	pw = (struct pollfd){.fd = s, .events = POLLOUT};
	if (poll(&pw, 1, 0) != (stopped ? 0 : 1))
		return wl_fail("the slave's output is %s", stopped ? "not stopped" : "stopped");
	if (stopped) {
		if (ixon && ioctl(s, TIOCSTI, &t.c_cc[VSTART]) < 0)
			return wl_fail("^Q: %m");
		if (tcflow(s, TCOON) < 0 || poll(&pw, 1, 0) != 1)
			return wl_fail("TCOON did not start the output: %m");
		if (read(m, buf, sizeof(buf)) != 1 || buf[0] != TIOCPKT_START)
			return wl_fail("the master did not read TIOCPKT_START");
	}

	if (write(go[1], "g", 1) != 1)
		return wl_fail("go: %m");
	n = read(res[0], buf, sizeof(buf) - 1);
	if (n <= 0)
		return wl_fail("no answer from the child");
	buf[n] = '\0';
	if (strcmp(buf, "P"))
		return wl_fail("%s", buf);
	waitpid(child, NULL, 0);
	if (check_termios(s, &t))
		return 1;
	if (ioctl(s, TIOCGWINSZ, &w) < 0 || memcmp(&w, &ws, sizeof(w)))
		return wl_fail("window size %dx%d, want 101x33", w.ws_col, w.ws_row);
	if (ioctl(m, TIOCGPKT, &v) < 0 || v != 1)
		return wl_fail("packet mode %d, want 1", v);
	if (ioctl(m, TIOCGPTLCK, &v) < 0 || v != 0)
		return wl_fail("the first pair is locked");
	if (ioctl(m2, TIOCGPTLCK, &v) < 0 || v != 1)
		return wl_fail("the second pair is not locked (%d)", v);
	if (fstat(s, &st) < 0 || (st.st_mode & 07777) != 0640 || st.st_uid != owner ||
	    st.st_gid != group)
		return wl_fail("slave mode %o owner %d:%d, want 640 %d:%d", st.st_mode & 07777,
			       st.st_uid, st.st_gid, owner, group);
	if (!(fcntl(m, F_GETFD) & FD_CLOEXEC) || (fcntl(m2, F_GETFD) & FD_CLOEXEC))
		return wl_fail("close-on-exec flags changed");
	if (check_queues(m, s))
		return 1;
	/* the same index when the devpts is the tree's own (a container's) */
	if (ioctl(m, TIOCGPTN, &v) == 0)
		wl_log("pty index %d, after restore %d", index, v);
	return wl_pass();
}
