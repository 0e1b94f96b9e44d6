/*
 * fd_attrs - the files restore makes anew are the originals, owner, group,
 * mode and times included: a unix socket bound to a path (0640, another
 * owner, times in the past), an unlinked file kept open and a memfd (each
 * with its own owner, mode and times). The directory they are in keeps its
 * mode, owner and mtime. After restore, new clients still connect.
 */
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "fd_common.h"
#include "wl.h"
#include "wl_sys.h"

struct want {
	const char *what;
	unsigned int mode;
	uid_t uid;
	gid_t gid;
	struct timespec t[2]; /* atime, mtime */
};

static const struct want sock_w = {
	"socket file", 0640, 1001, 1002, {{1100000000, 111}, {1000000000, 222}}};
static const struct want ghost_w = {
	"unlinked file", 0604, 1003, 1004, {{1200000000, 333}, {1300000000, 444}}};
static const struct want memfd_w = {
	"memfd", 0640, 1005, 1006, {{1400000000, 555}, {1500000000, 666}}};

static int set(int fd, const struct want *w)
{
	if (fchown(fd, w->uid, w->gid) < 0 || fchmod(fd, w->mode) < 0 || futimens(fd, w->t) < 0)
		return wl_fail("%s: set attributes: %m", w->what);
	return 0;
}

static int check(const struct stat *st, const struct want *w)
{
	if ((st->st_mode & 07777) != w->mode || st->st_uid != w->uid || st->st_gid != w->gid)
		return wl_fail("%s: mode %#o owner %u:%u, want %#o %u:%u", w->what,
			       st->st_mode & 07777, st->st_uid, st->st_gid, w->mode, w->uid,
			       w->gid);
	if (st->st_atim.tv_sec != w->t[0].tv_sec || st->st_atim.tv_nsec != w->t[0].tv_nsec ||
	    st->st_mtim.tv_sec != w->t[1].tv_sec || st->st_mtim.tv_nsec != w->t[1].tv_nsec)
		return wl_fail("%s: atime %ld.%09ld mtime %ld.%09ld, want %ld.%09ld %ld.%09ld",
			       w->what, (long)st->st_atim.tv_sec, st->st_atim.tv_nsec,
			       (long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long)w->t[0].tv_sec,
			       w->t[0].tv_nsec, (long)w->t[1].tv_sec, w->t[1].tv_nsec);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = fd_path("attrs");
	char sock[256], ghost[256];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct stat d0, d1, st;
	int lsk, gfd, mfd, cli;

	wl_init(argc, argv);
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(ghost, sizeof(ghost), "%s/ghost", dir);
	if (strlen(sock) >= sizeof(a.sun_path))
		return wl_fail("%s: too long for a socket name", sock);
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	if (mkdir(dir, 0751) < 0 || chmod(dir, 0751) < 0)
		return wl_fail("mkdir %s: %m", dir);
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lsk, 4) < 0)
		return wl_fail("listen on %s: %m", sock);
	if (chmod(sock, sock_w.mode) < 0 || lchown(sock, sock_w.uid, sock_w.gid) < 0 ||
	    utimensat(AT_FDCWD, sock, sock_w.t, AT_SYMLINK_NOFOLLOW) < 0)
		return wl_fail("socket file attributes: %m");
	gfd = open(ghost, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (gfd < 0 || write(gfd, "ghost data", 10) != 10 || set(gfd, &ghost_w) ||
	    unlink(ghost) < 0)
		return wl_fail("unlinked file: %m");
	mfd = memfd_create("attrs", MFD_CLOEXEC);
	if (mfd < 0 || write(mfd, "memfd data", 10) != 10 || set(mfd, &memfd_w))
		return wl_fail("memfd: %m");
	if (stat(dir, &d0) < 0)
		return wl_fail("stat %s: %m", dir);

	wl_ready();
	wl_wait_restored();

	if (lstat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		return wl_fail("%s is not a socket after restore: %m", sock);
	if (check(&st, &sock_w))
		return 1;
	if (fstat(gfd, &st) < 0 || check(&st, &ghost_w) || fstat(mfd, &st) < 0 ||
	    check(&st, &memfd_w))
		return 1;
	if (stat(dir, &d1) < 0 || d1.st_mode != d0.st_mode || d1.st_uid != d0.st_uid ||
	    d1.st_gid != d0.st_gid || d1.st_mtim.tv_sec != d0.st_mtim.tv_sec ||
	    d1.st_mtim.tv_nsec != d0.st_mtim.tv_nsec)
		return wl_fail("%s changed: mode %#o->%#o owner %u:%u->%u:%u mtime %ld->%ld", dir,
			       d0.st_mode, d1.st_mode, d0.st_uid, d0.st_gid, d1.st_uid, d1.st_gid,
			       (long)d0.st_mtim.tv_sec, (long)d1.st_mtim.tv_sec);
	cli = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cli < 0 || connect(cli, (struct sockaddr *)&a, sizeof(a)) < 0)
		return wl_fail("connect to %s after restore: %m", sock);
	return wl_pass();
}
