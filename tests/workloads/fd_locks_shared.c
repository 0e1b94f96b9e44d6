/*
 * fd_locks_shared - record locks seen by another process of the tree: the
 * parent holds a POSIX write lock through a description it shares with
 * its child (fork), the child a POSIX read lock of its own, and an OFD
 * write lock is held through a second description. After restore each
 * process tests the other's locks with F_GETLK / F_OFD_GETLK and finds
 * them, owner included, and cannot take them.
 */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

/* F_GETLK for a write lock on [start, start+len): the lock in the way. */
static int probe(int fd, int cmd, off_t start, off_t len, struct flock *out)
{
	*out = (struct flock){
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, out);
}

static int child(int fd, const char *path, pid_t parent, int go)
{
	struct flock rd = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 200, .l_len = 10};
	struct flock l;
	int other;
	char c;

	if (fcntl(fd, F_SETLK, &rd) < 0)
		return 10;
	other = open(path, O_RDWR | O_CLOEXEC);
	if (other < 0)
		return 11;
	/* ready, then after restore */
	if (write(go, "r", 1) != 1 || read(go, &c, 1) != 1)
		return 12;
	if (probe(fd, F_GETLK, 0, 10, &l) < 0 || l.l_type != F_WRLCK || l.l_pid != parent)
		return 1; /* the parent's POSIX write lock is gone */
	l = (struct flock){.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	if (fcntl(other, F_SETLK, &l) == 0 || errno != EAGAIN)
		return 2;
	if (probe(other, F_OFD_GETLK, 100, 10, &l) < 0 || l.l_type != F_WRLCK || l.l_pid != -1)
		return 3; /* the OFD lock is gone */
	if (write(go, "c", 1) != 1 || read(go, &c, 1) != 1)
		return 13;
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = fd_path("locks-shared");
	struct flock wr = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	struct flock ofd = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 10};
	struct flock l;
	int fd, ofdfd, sv[2], st;
	pid_t kid;
	char c;

	wl_init(argc, argv);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ofdfd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ofdfd < 0 || fcntl(fd, F_SETLK, &wr) < 0 ||
	    fcntl(ofdfd, F_OFD_SETLK, &ofd) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return wl_fail("set up: %m");
	kid = fork();
	if (kid == 0) {
		close(sv[0]);
		_exit(child(fd, path, getppid(), sv[1]));
	}
	close(sv[1]);
	if (kid < 0 || read(sv[0], &c, 1) != 1)
		return wl_fail("child did not start");
	wl_ready();
	wl_wait_restored();
	if (write(sv[0], "g", 1) != 1 || read(sv[0], &c, 1) != 1) {
		waitpid(kid, &st, 0);
		return wl_fail("child failed after restore: status %#x", st);
	}
	/* the child's read lock, seen from here through another description */
	if (probe(ofdfd, F_GETLK, 200, 10, &l) < 0 || l.l_type != F_RDLCK || l.l_pid != kid)
		return wl_fail("the child's POSIX read lock is gone (type %d pid %d)", l.l_type,
			       l.l_pid);
	if (write(sv[0], "e", 1) != 1 || waitpid(kid, &st, 0) != kid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		return wl_fail("child: status %#x", st);
	return wl_pass();
}
