/*
 * fd_fanotify - fanotify groups with their marks: after restore a write
 * in a marked directory is reported (with the event fd flags asked for),
 * a write to a file under an ignore mask is not, and a group reporting
 * directory fids and names reports a new subdirectory by name.
 *
 * Arguments: "queued" leaves an event unread at checkpoint (the checkpoint
 * must refuse it; after the go the event is still there). "perm": the
 * first group is of the permission class FAN_CLASS_CONTENT (refused). "mount" (run in
 * a mount namespace of its own) also marks a private tmpfs as a mount and
 * as a filesystem: a file written there after restore is reported by both.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd_common.h"
#include "wl.h"

#define G_FD	30 /* notifications with event fds */
#define DFID_FD 31 /* directory fid and name */
#define MNT_FD	32 /* mount and filesystem marks */

static char buf[8192] __attribute__((aligned(8)));
static const char *quiet; /* under an ignore mask: never reported */

static int move_to(int fd, int want)
{
	if (fd < 0 || dup3(fd, want, O_CLOEXEC) < 0)
		return -1;
	return close(fd);
}

static int write_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, "x", 1) != 1)
		return -1;
	return close(fd);
}

/* Events of group fd until none is left: masks or'ed, and the paths seen. */
static int drain(int fd, unsigned long long *mask, const char *want_path, bool *seen)
{
	ssize_t n;

	*mask = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *m = (void *)buf;

		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			char link[64], path[PATH_MAX] = "";

			*mask |= m->mask;
			if (m->fd < 0)
				continue;
			snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
			if (readlink(link, path, sizeof(path) - 1) < 0)
				return wl_fail("readlink event fd: %m");
			if (quiet && !strcmp(path, quiet))
				return wl_fail("event %#llx for `%s`, under an ignore mask",
					       (unsigned long long)m->mask, path);
			if (want_path && !strcmp(path, want_path)) {
				int fl = fcntl(m->fd, F_GETFL);

				if (!(fl & O_NOATIME))
					return wl_fail("event fd flags %#x without O_NOATIME", fl);
				*seen = true;
			}
			close(m->fd);
		}
	}
	if (errno != EAGAIN)
		return wl_fail("read fanotify: %m");
	return 0;
}

/* The name in the first DFID_NAME record of the next event of fd. */
static int dfid_name(int fd, unsigned long long *mask, const char **name)
{
	struct fanotify_event_metadata *m = (void *)buf;
	struct fanotify_event_info_fid *fid;
	struct file_handle *fh;

	if (read(fd, buf, sizeof(buf)) <= 0)
		return wl_fail("no directory event: %m");
	fid = (void *)(m + 1);
	if (fid->hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME)
		return wl_fail("info type %d", fid->hdr.info_type);
	fh = (void *)fid->handle;
	*name = (const char *)fh->f_handle + fh->handle_bytes;
	*mask = m->mask;
	return 0;
}

static int mount_setup(const char *mnt)
{
	int fd;

	if (mkdir(mnt, 0700) < 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
		return wl_fail("tmpfs on %s: %m", mnt);
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK, O_RDONLY);
	if (move_to(fd, MNT_FD) < 0 ||
	    fanotify_mark(MNT_FD, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_CLOSE_WRITE, AT_FDCWD, mnt) <
		    0 ||
	    fanotify_mark(MNT_FD, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, mnt) < 0)
		return wl_fail("mount marks: %m");
	return 0;
}

static int mount_check(const char *mnt)
{
	char file[PATH_MAX];
	unsigned long long mask;
	bool seen = false;

	snprintf(file, sizeof(file), "%s/after", mnt);
	if (write_file(file) < 0)
		return wl_fail("write %s: %m", file);
	if (drain(MNT_FD, &mask, NULL, &seen))
		return 1;
	if ((mask & (FAN_CLOSE_WRITE | FAN_OPEN)) != (FAN_CLOSE_WRITE | FAN_OPEN))
		return wl_fail("mount and filesystem marks: mask %#llx", mask);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = fd_path("fan"), *loud = fd_path("fan/loud");
	const char *mnt = fd_path("fanmnt"), *name = "";
	bool queued = argc > 1 && !strcmp(argv[1], "queued");
	bool mnts = argc > 1 && !strcmp(argv[1], "mount"), seen = false;
	int cls = argc > 1 && !strcmp(argv[1], "perm") ? FAN_CLASS_CONTENT : FAN_CLASS_NOTIF;
	unsigned long long mask;

	wl_init(argc, argv);
	quiet = fd_path("fan/quiet");
	if (mkdir(dir, 0700) < 0 || write_file(loud) < 0 || write_file(quiet) < 0)
		return wl_fail("setup: %m");
	if (move_to(fanotify_init(cls | FAN_NONBLOCK, O_RDONLY | O_NOATIME), G_FD) < 0 ||
	    move_to(fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME, 0), DFID_FD) < 0)
		return wl_fail("fanotify_init: %m");
	if (fanotify_mark(G_FD, FAN_MARK_ADD, FAN_MODIFY | FAN_EVENT_ON_CHILD, AT_FDCWD, dir) < 0 ||
	    fanotify_mark(G_FD, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			  FAN_MODIFY, AT_FDCWD, quiet) < 0 ||
	    fanotify_mark(DFID_FD, FAN_MARK_ADD, FAN_CREATE | FAN_ONDIR, AT_FDCWD, dir) < 0)
		return wl_fail("fanotify_mark: %m");
	if (mnts && mount_setup(mnt))
		return 1;
	if (queued && write_file(loud) < 0)
		return wl_fail("write: %m");
	wl_ready();
	wl_wait_restored();
	if (queued && (drain(G_FD, &mask, loud, &seen) || !seen))
		return wl_fail("the queued event is gone");
	if (write_file(quiet) < 0 || write_file(loud) < 0)
		return wl_fail("write after restore: %m");
	seen = false;
	if (drain(G_FD, &mask, loud, &seen))
		return 1;
	if (!seen || !(mask & FAN_MODIFY))
		return wl_fail("no event for the write after restore (mask %#llx)", mask);
	if (mkdir(fd_path("fan/newdir"), 0700) < 0 || dfid_name(DFID_FD, &mask, &name))
		return wl_fail("mkdir: %m");
	if (!(mask & FAN_CREATE) || !(mask & FAN_ONDIR) || strcmp(name, "newdir"))
		return wl_fail("directory event: mask %#llx name `%s`", mask, name);
	if (mnts && mount_check(mnt))
		return 1;
	return wl_pass();
}
