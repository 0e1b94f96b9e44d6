/*
 * ns_mnt_runc: the mounts runc's full default config makes, and mount
 * propagation inside the tree, survive, seen from inside.
 *
 * Run as pid 1 of new pid, mount and cgroup namespaces (unshare --fork
 * --pid --mount --cgroup), in a pids cgroup of its own, with ROOT (an
 * empty directory). Builds: the host's / bound on ROOT, proc, a tmpfs /dev
 * with a null node, runc's masked paths (/dev/null bound over /proc/keys
 * and /proc/timer_list, a read-only tmpfs over /proc/acpi), crun's (the
 * host's /dev/null over /proc/kallsyms and /proc/kmsg), runc's read-only
 * paths (/proc/bus and /proc/sys bound read-only onto themselves), the
 * pids cgroup mounted inside the cgroup namespace (and cgroup2, given
 * `v2`, when it runs in a v2 cgroup of its own too, with a cgroup below
 * its own bound on /sys/sub), a tmpfs with content
 * whose superblock is read-only, and peer groups: a shared tmpfs /mnt/a,
 * its peer /mnt/b, /mnt/c a slave of them (a bind of a subdirectory) and
 * shared itself, /mnt/d a peer of /mnt/c, /mnt/e only a slave of /mnt/a;
 * an unbindable tmpfs /mnt/u.
 * After restore: mountinfo equals the saved copy but for mount ids, with
 * device numbers and peer group ids renumbered in order of appearance (so
 * peers must still be peers); the masked files read empty, the read-only
 * paths refuse writes, the cgroup mount shows our own cgroup, and a mount
 * made now propagates as the groups say.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "wl.h"

static char saved[65536];
/* in a cgroup v2 cgroup of its own as well: cgroup2 mounted in the namespace */
static int with_v2;

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			return wl_fail("%s: %m", #x);                                              \
	} while (0)

/* The number for KEY in a small table, given in order of first appearance. */
static int renumber(char keys[][32], int *n, const char *key)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(keys[i], key))
			return i + 1;
	if (*n == 256)
		return 0;
	snprintf(keys[*n], 32, "%s", key);
	return ++*n;
}

/* mountinfo without mount ids; device and peer group numbers renumbered */
static int mountinfo_norm(char *out, size_t cap)
{
	static char devs[256][32], groups[256][32];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ndev = 0, ngroup = 0;
	char line[4096];
	size_t len = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *tok, *save = NULL, *colon;
		int i = 0;

		for (tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save), i++) {
			if (i < 2)
				continue;
			if (i == 2)
				len += snprintf(out + len, cap - len, "dev%d ",
						renumber(devs, &ndev, tok));
			else if ((!strncmp(tok, "shared:", 7) || !strncmp(tok, "master:", 7)) &&
				 (colon = strchr(tok, ':')))
				len += snprintf(out + len, cap - len, "%.*s:%d ",
						(int)(colon - tok), tok,
						renumber(groups, &ngroup, colon + 1));
			else
				len += snprintf(out + len, cap - len, "%s ", tok);
			if (len >= cap) {
				fclose(f);
				return -1;
			}
		}
		len += snprintf(out + len, cap - len, "\n");
	}
	fclose(f);
	return 0;
}

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return -1;
	return close(fd);
}

static int in_root(char *p, size_t cap, const char *root, const char *path)
{
	return snprintf(p, cap, "%s%s", root, path) >= (int)cap ? -1 : 0;
}

static int setup_root(const char *root, const char *tdir)
{
	char p[4096], q[4096];

	TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	TRY(mount("/", root, NULL, MS_BIND, NULL));
	TRY(in_root(p, sizeof(p), root, "/proc"));
	TRY(mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	TRY(in_root(p, sizeof(p), root, "/dev"));
	TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"));
	TRY(in_root(p, sizeof(p), root, "/dev/null"));
	TRY(mknod(p, S_IFCHR | 0666, makedev(1, 3)));
	/* the pids hierarchy inside our cgroup namespace: its root is our cgroup */
	TRY(in_root(p, sizeof(p), root, "/sys"));
	TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755"));
	TRY(in_root(p, sizeof(p), root, "/sys/pids"));
	TRY(mkdir(p, 0755));
	TRY(mount("cgroup", p, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "pids"));
	if (with_v2) {
		TRY(in_root(p, sizeof(p), root, "/sys/unified"));
		TRY(mkdir(p, 0755));
		TRY(mount("cgroup2", p, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
		/* a cgroup below ours, bound elsewhere: restore must make it again */
		TRY(in_root(q, sizeof(q), root, "/sys/unified/sub"));
		TRY(mkdir(q, 0755));
		TRY(in_root(p, sizeof(p), root, "/sys/sub"));
		TRY(mkdir(p, 0755));
		TRY(mount(q, p, NULL, MS_BIND, NULL));
	}
	/* runc's masked paths: its own /dev/null over files, a read-only tmpfs over dirs */
	TRY(in_root(q, sizeof(q), root, "/dev/null"));
	TRY(in_root(p, sizeof(p), root, "/proc/keys"));
	TRY(mount(q, p, NULL, MS_BIND, NULL));
	TRY(in_root(p, sizeof(p), root, "/proc/timer_list"));
	TRY(mount(q, p, NULL, MS_BIND, NULL));
	/* crun's: the host's /dev/null, twice (the second is a bind of the first) */
	TRY(in_root(p, sizeof(p), root, "/proc/kallsyms"));
	TRY(mount("/dev/null", p, NULL, MS_BIND, NULL));
	TRY(in_root(p, sizeof(p), root, "/proc/kmsg"));
	TRY(mount("/dev/null", p, NULL, MS_BIND, NULL));
	TRY(in_root(p, sizeof(p), root, "/proc/acpi"));
	TRY(mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL));
	/* runc's read-only paths: bound onto themselves, then remounted read-only */
	for (int i = 0; i < 2; i++) {
		TRY(in_root(p, sizeof(p), root, i ? "/proc/sys" : "/proc/bus"));
		TRY(mount(p, p, NULL, MS_BIND | MS_REC, NULL));
		TRY(mount(p, p, NULL, MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY, NULL));
	}
	TRY(in_root(p, sizeof(p), root, tdir));
	TRY(mount(tdir, p, NULL, MS_BIND, NULL));
	TRY(chdir(root));
	TRY(syscall(SYS_pivot_root, ".", "."));
	TRY(umount2(".", MNT_DETACH));
	TRY(chdir("/"));
	return 0;
}

/* A tmpfs with content and a read-only superblock; peer groups and a slave. */
static int runtime_mounts(void)
{
	TRY(mount("rosb", "/media", "tmpfs", 0, "size=1m"));
	TRY(write_file("/media/kept", "kept\n"));
	TRY(mount(NULL, "/media", NULL, MS_REMOUNT | MS_RDONLY, NULL));
	TRY(mount("peers", "/mnt", "tmpfs", 0, "size=1m"));
	TRY(mkdir("/mnt/a", 0755));
	TRY(mkdir("/mnt/b", 0755));
	TRY(mkdir("/mnt/c", 0755));
	TRY(mkdir("/mnt/d", 0755));
	TRY(mount("group", "/mnt/a", "tmpfs", 0, "size=1m"));
	TRY(mkdir("/mnt/a/sub", 0755));
	TRY(mount(NULL, "/mnt/a", NULL, MS_SHARED, NULL));
	TRY(mount("/mnt/a", "/mnt/b", NULL, MS_BIND, NULL));
	TRY(mount("/mnt/a/sub", "/mnt/c", NULL, MS_BIND, NULL));
	TRY(mount(NULL, "/mnt/c", NULL, MS_SLAVE, NULL));
	TRY(mount(NULL, "/mnt/c", NULL, MS_SHARED, NULL));
	TRY(mount("/mnt/c", "/mnt/d", NULL, MS_BIND, NULL));
	TRY(mkdir("/mnt/e", 0755));
	TRY(mount("/mnt/a", "/mnt/e", NULL, MS_BIND, NULL));
	TRY(mount(NULL, "/mnt/e", NULL, MS_SLAVE, NULL));
	TRY(mkdir("/mnt/u", 0755));
	TRY(mount("unbindable", "/mnt/u", "tmpfs", 0, "size=1m"));
	TRY(mount(NULL, "/mnt/u", NULL, MS_UNBINDABLE, NULL));
	return 0;
}

static int is_mounted(const char *path, const char *than)
{
	struct stat a, b;

	return !stat(path, &a) && !stat(than, &b) && a.st_dev != b.st_dev;
}

static int verify_propagation(void)
{
	TRY(mkdir("/mnt/a/sub/x", 0755));
	TRY(mount("x", "/mnt/a/sub/x", "tmpfs", 0, "size=1m"));
	if (!is_mounted("/mnt/b/sub/x", "/mnt/b") || !is_mounted("/mnt/c/x", "/mnt/c") ||
	    !is_mounted("/mnt/d/x", "/mnt/d") || !is_mounted("/mnt/e/sub/x", "/mnt/e"))
		return wl_fail("a mount on /mnt/a did not reach its peer and its slaves");
	if (mount("/mnt/u", "/mnt/b/sub", NULL, MS_BIND, NULL) == 0 || errno != EINVAL)
		return wl_fail("/mnt/u is not unbindable");
	TRY(mkdir("/mnt/c/y", 0755));
	TRY(mount("y", "/mnt/c/y", "tmpfs", 0, "size=1m"));
	if (!is_mounted("/mnt/d/y", "/mnt/d"))
		return wl_fail("a mount on /mnt/c did not reach its peer /mnt/d");
	if (is_mounted("/mnt/a/sub/y", "/mnt/a"))
		return wl_fail("a mount on the slave /mnt/c reached its master");
	return 0;
}

static int verify(void)
{
	static char now[65536];
	char buf[256], *a, *b;
	int fd;

	if (mountinfo_norm(now, sizeof(now)) < 0)
		return wl_fail("read mountinfo: %m");
	if (strcmp(now, saved)) {
		for (a = saved, b = now; *a && *a == *b; a++, b++)
			;
		while (a > saved && a[-1] != '\n')
			a--, b--;
		return wl_fail("mountinfo differs: was `%.*s`, now `%.*s`", (int)strcspn(a, "\n"),
			       a, (int)strcspn(b, "\n"), b);
	}
	for (int i = 0; i < 4; i++) {
		static const char *const masked[] = {"/proc/keys", "/proc/timer_list",
						     "/proc/kallsyms", "/proc/kmsg"};

		fd = open(masked[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || read(fd, buf, sizeof(buf)) != 0)
			return wl_fail("%s is not masked", masked[i]);
		close(fd);
	}
	if (open("/proc/acpi/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EROFS)
		return wl_fail("/proc/acpi is not a read-only tmpfs");
	if (open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC) >= 0 || errno != EROFS)
		return wl_fail("/proc/sys is writable");
	fd = open("/media/kept", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 5 || memcmp(buf, "kept\n", 5))
		return wl_fail("/media/kept lost");
	close(fd);
	fd = open("/sys/pids/cgroup.procs", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) < 2 || strncmp(buf, "1\n", 2))
		return wl_fail("/sys/pids does not show our own cgroup");
	close(fd);
	/* v2 lists every process of the cgroup, pid 1 among them */
	fd = with_v2 ? open("/sys/unified/cgroup.procs", O_RDONLY | O_CLOEXEC) : -2;
	if (fd == -1 || (fd >= 0 && read(fd, buf, sizeof(buf)) < 2))
		return wl_fail("/sys/unified does not show our own cgroup");
	if (fd >= 0 && !strstr(buf, "1\n"))
		return wl_fail("/sys/unified: pid 1 not in our cgroup");
	if (fd >= 0)
		close(fd);
	if (with_v2 && access("/sys/sub/cgroup.procs", F_OK) < 0)
		return wl_fail("/sys/sub is not a cgroup: %m");
	if (verify_propagation())
		return 1;
	return wl_pass();
}

int main(int argc, char **argv)
{
	char tdir[4096], *slash;

	wl_init(argc, argv);
	if (argc < 2 || !getenv("WL_READY"))
		return wl_fail("usage: ns_mnt_runc ROOT [v2] (with WL_READY)");
	with_v2 = argc > 2 && !strcmp(argv[2], "v2");
	snprintf(tdir, sizeof(tdir), "%s", getenv("WL_READY"));
	slash = strrchr(tdir, '/');
	if (slash)
		*slash = '\0';
	if (setup_root(argv[1], tdir) || runtime_mounts())
		return 1;
	if (mountinfo_norm(saved, sizeof(saved)) < 0)
		return wl_fail("read mountinfo: %m");
	wl_ready();
	wl_wait_restored();
	return verify();
}
