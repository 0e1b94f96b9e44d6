/*
 * libckpt/files/unix-names.c - the names of unix sockets at restore: the
 * address a saved socket was bound to (relative to its "dir" when it was
 * bound so), its bind with the socket file left by the original cleared
 * and the file's owner, mode and times put back, a name whose file was
 * unlinked since bound and unlinked again, and a name taken for an
 * instant (unix_name_take .. unix_name_drop) with whatever is at its
 * path moved aside and put back. A path a live socket holds is never
 * moved aside. Used by unix-restore.c (making the sockets) and
 * unix-fill.c (refilling their queues).
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "files/unix.h"
#include "util/log.h"
#include "util/util.h"

/* The address u's key ("name", "ext_peer") holds; *len 0 when none. */
int unix_addr_key(const struct unix_saved *u, const char *key, const char *hex,
		  struct sockaddr_un *a, socklen_t *len, ckpt_err_t *err)
{
	size_t n = hex ? strlen(hex) / 2 : 0;
	int ret;

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*len = 0;
	if (!n)
		return 0;
	ret = doc_hexbuf(&u->it.at, u->it.obj, key, a->sun_path, n, err);
	if (ret < 0)
		return ret;
	if (a->sun_path[0]) /* a path: up to its NUL */
		n = strnlen(a->sun_path, n);
	*len = offsetof(struct sockaddr_un, sun_path) + n;
	return 0;
}

/*
 * A name relative to "dir" (bound so at checkpoint): bind, connect and
 * sendto it from there, so the name stays relative. *old is the cwd to
 * go back to (unix_leave_dir); -1 when u has no "dir".
 */
int unix_enter_dir(const struct unix_saved *u, int *old, ckpt_err_t *err)
{
	const char *dir = u->dir;
	cleanup_close int d = -1;

	*old = -1;
	if (!dir)
		return 0;
	d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return ckpt_error(err, errno, "open directory `%s` of a unix socket", dir);
	*old = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*old < 0)
		return ckpt_error(err, errno, "open cwd");
	if (fchdir(d) < 0) {
		close(*old);
		*old = -1;
		return ckpt_error(err, errno, "chdir `%s`", dir);
	}
	return 0;
}

/* The address u was bound to; *len 0 when it was not bound. */
int unix_addr_of(const struct unix_saved *u, struct sockaddr_un *a, socklen_t *len, ckpt_err_t *err)
{
	return unix_addr_key(u, "name", u->name, a, len, err);
}

void unix_leave_dir(int old)
{
	if (old < 0)
		return;
	if (fchdir(old) < 0)
		pr_warn("cannot go back to the previous cwd (%m), ignoring");
	close(old);
}

/*
 * A path name's file gets the original's owner, mode and times, and its
 * directory keeps its own times (attr.c).
 */
static int bound_file_attr(int sk, const struct unix_saved *u, ckpt_err_t *err)
{
	cleanup_close int f = -1;

	if (!u->attr.present)
		return 0;
	f = ioctl(sk, SIOCUNIXFILE);
	if (f < 0)
		return ckpt_error(err, errno, "SIOCUNIXFILE");
	return attr_apply(f, &u->attr, err);
}

/* Whether a socket listens (or receives) at a: a connect that is not refused. */
static bool sock_alive(const struct sockaddr_un *a, socklen_t l, int type)
{
	cleanup_close int sk = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (sk < 0)
		return true; /* cannot tell: it stays */
	return connect(sk, (const struct sockaddr *)a, l) == 0 || errno != ECONNREFUSED;
}

/*
 * A file at the name to bind: the socket file of the dead original, left
 * behind, is unlinked; anything else is refused, never unlinked. The very
 * file recorded (device and inode) is the original's; from an
 * authenticated bundle a socket file nobody listens at is one too (the
 * file a killed earlier restore of this bundle left).
 */
static int sock_clear_name(const struct files_rctx *rc, const struct unix_saved *u,
			   const struct sockaddr_un *a, socklen_t l, ckpt_err_t *err)
{
	bool recorded, ours;
	struct stat st;

	if (lstat(a->sun_path, &st) < 0)
		return 0; /* nothing there (or no access: bind says) */
	recorded = u->file_ino && (uint64_t)st.st_dev == (uint64_t)u->file_dev &&
		   (uint64_t)st.st_ino == (uint64_t)u->file_ino;
	ours = recorded ||
	       (bundle_mac_status(rc->bundle) == BUNDLE_MAC_VERIFIED && !sock_alive(a, l, u->type));
	if (!S_ISSOCK(st.st_mode) || !ours)
		return ckpt_error_msg(
			err, EEXIST,
			"bind unix socket to `%s`: a %s is there that is not the "
			"socket file checkpointed (device %#llx, inode %llu): left alone",
			a->sun_path, S_ISSOCK(st.st_mode) ? "socket file" : "file",
			(unsigned long long)u->file_dev, (unsigned long long)u->file_ino);
	if (unlink(a->sun_path) < 0)
		return ckpt_error(err, errno, "unlink the old socket file `%s`", a->sun_path);
	return 0;
}

/*
 * A file at path a about to be moved aside for an instant: refused when
 * it is a socket file something holds (bound, listening or receiving), so
 * a live socket's name is never taken from it, not even for an instant.
 */
static int aside_ok(const struct sockaddr_un *a, socklen_t l, const struct stat *st,
		    ckpt_err_t *err)
{
	int held;

	if (!S_ISSOCK(st->st_mode))
		return 0;
	held = unix_diag_file_held_here(st, err);
	if (held < 0)
		return ckpt_error_wrap(err, "whether a socket holds `%s`", a->sun_path);
	if (held || sock_alive(a, l, SOCK_DGRAM))
		return ckpt_error_msg(err, EADDRINUSE,
				      "unix name `%s` is held by a live socket: its file is not "
				      "moved aside to bind there for an instant",
				      a->sun_path);
	return 0;
}

/*
 * A path name whose file was unlinked since the bind ("deleted"): bind
 * (getsockname gives the name again), then unlink the new file. Whatever
 * took the name since (a FIFO, a file, another socket) is moved aside in
 * its directory for that instant and put back, never touched otherwise.
 */
static int bind_deleted(int sk, const struct sockaddr_un *a, socklen_t l, ckpt_err_t *err)
{
	char aside[sizeof(a->sun_path) + 32];
	bool moved = false;
	struct stat st;
	int ret = 0;

	if (lstat(a->sun_path, &st) == 0) {
		ret = aside_ok(a, l, &st, err);
		if (ret < 0)
			return ret;
		snprintf(aside, sizeof(aside), "%s.ckpt-aside-%d", a->sun_path, (int)getpid());
		if (renameat2(AT_FDCWD, a->sun_path, AT_FDCWD, aside, RENAME_NOREPLACE) < 0)
			return ckpt_error(err, errno, "move `%s` aside to bind a deleted unix name",
					  a->sun_path);
		moved = true;
	}
	if (bind(sk, (const struct sockaddr *)a, l) < 0)
		ret = ckpt_error(err, errno, "bind unix socket to deleted `%s`", a->sun_path);
	else if (unlink(a->sun_path) < 0)
		ret = ckpt_error(err, errno, "unlink the file of deleted unix name `%s`",
				 a->sun_path);
	if (moved && rename(aside, a->sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "put `%s` back in place", a->sun_path);
	return ret;
}

static int sock_bind_at(const struct files_rctx *rc, int sk, const struct unix_saved *u,
			ckpt_err_t *err)
{
	struct attr_dir dir = {.fd = -1};
	struct sockaddr_un a;
	socklen_t l;
	int ret = unix_addr_of(u, &a, &l, err);

	if (ret < 0 || !l)
		return ret;
	if (a.sun_path[0]) {
		char parent[sizeof(a.sun_path) + 1];

		snprintf(parent, sizeof(parent), "%s", a.sun_path);
		(void)attr_dir_save(dirname(parent), &dir);
		if (u->deleted) {
			ret = bind_deleted(sk, &a, l, err);
			attr_dir_put_back(&dir);
			return ret;
		}
		ret = sock_clear_name(rc, u, &a, l, err);
	}
	if (ret == 0 && bind(sk, (struct sockaddr *)&a, l) < 0)
		ret = ckpt_error(err, errno, "bind unix socket to `%s%s`", a.sun_path[0] ? "" : "@",
				 a.sun_path[0] ? a.sun_path : a.sun_path + 1);
	else if (ret == 0 && a.sun_path[0])
		ret = bound_file_attr(sk, u, err);
	attr_dir_put_back(&dir);
	return ret;
}

int unix_bind(const struct files_rctx *rc, int sk, const struct unix_saved *u, ckpt_err_t *err)
{
	int old, ret = unix_enter_dir(u, &old, err);

	if (ret == 0)
		ret = sock_bind_at(rc, sk, u, err);
	unix_leave_dir(old);
	return ret;
}

int unix_connect(int sk, const struct unix_saved *to, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l;
	int old, ret = unix_addr_of(to, &a, &l, err);

	if (ret < 0)
		return ret;
	if (!l)
		return ckpt_error_msg(err, EPROTO, "connect to an unbound unix socket");
	ret = unix_enter_dir(to, &old, err);
	if (ret == 0 && connect(sk, (struct sockaddr *)&a, l) < 0)
		ret = ckpt_error(err, errno, "connect unix socket");
	unix_leave_dir(old);
	return ret;
}

/* Bind sk to a (of length l; 0: none, nothing done), with its file taken care of. */
int unix_name_take_addr(int sk, const struct sockaddr_un *a, socklen_t l, struct unix_name_hold *h,
			ckpt_err_t *err)
{
	struct stat st;

	h->a = *a;
	h->l = l;
	if (!h->l)
		return 0;
	if (h->a.sun_path[0]) {
		char parent[sizeof(h->a.sun_path) + 1];

		snprintf(parent, sizeof(parent), "%s", h->a.sun_path);
		(void)attr_dir_save(dirname(parent), &h->dir);
		if (lstat(h->a.sun_path, &st) == 0) {
			int ret = aside_ok(&h->a, h->l, &st, err);

			if (ret < 0)
				return ret;
			snprintf(h->aside, sizeof(h->aside), "%s.ckpt-aside-%d", h->a.sun_path,
				 (int)getpid());
			if (renameat2(AT_FDCWD, h->a.sun_path, AT_FDCWD, h->aside,
				      RENAME_NOREPLACE) < 0)
				return ckpt_error(err, errno, "move `%s` aside to take its name",
						  h->a.sun_path);
			h->moved = true;
		}
	}
	if (bind(sk, (struct sockaddr *)&h->a, h->l) < 0)
		return ckpt_error(err, errno, "bind unix socket to `%s%s`",
				  h->a.sun_path[0] ? "" : "@",
				  h->a.sun_path[0] ? h->a.sun_path : h->a.sun_path + 1);
	h->bound = true;
	return 0;
}

/* Bind sk to name n (the cwd stays in n's "dir" until unix_name_drop). */
int unix_name_take(int sk, struct unix_name n, struct unix_name_hold *h, ckpt_err_t *err)
{
	struct sockaddr_un a;
	socklen_t l;
	int ret;

	memset(h, 0, sizeof(*h));
	h->dir.fd = -1;
	h->old = -1;
	if (n.peer)
		ret = unix_addr_key(n.u, "peer_name", n.u->peer_name, &a, &l, err);
	else
		ret = unix_enter_dir(n.u, &h->old, err) ?: unix_addr_of(n.u, &a, &l, err);
	return ret < 0 ? ret : unix_name_take_addr(sk, &a, l, h, err);
}

bool unix_has_name(struct unix_name n)
{
	const char *hex = !n.u ? NULL : n.peer ? n.u->peer_name : n.u->name;

	return hex && *hex;
}

/* Give back what unix_name_take moved aside; ret: the caller's result so far. */
int unix_name_drop(struct unix_name_hold *h, int ret, ckpt_err_t *err)
{
	if (h->bound && h->a.sun_path[0] && unlink(h->a.sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "unlink `%s`, bound for an instant", h->a.sun_path);
	if (h->moved && rename(h->aside, h->a.sun_path) < 0 && ret == 0)
		ret = ckpt_error(err, errno, "put `%s` back in place", h->a.sun_path);
	attr_dir_put_back(&h->dir);
	unix_leave_dir(h->old);
	h->old = -1;
	return ret;
}
