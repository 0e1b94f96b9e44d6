/*
 * ns_mnt_tree: a container-like mount tree survives, seen from inside.
 *
 * Run as pid 1 of new pid and mount namespaces (unshare --fork --pid
 * --mount) with ROOT (an empty directory) and DATA (a host directory with
 * a file `hello`). Like runc: the host's / bound read-only on ROOT, proc,
 * sysfs, a tmpfs /dev with device nodes, devpts with its ptmx, mqueue,
 * cgroup2, DATA bound on /media, the test's directory bound where it was
 * (for the harness FIFOs), pivot_root. Then, at run time: a shared tmpfs
 * on /mnt with files, a symlink, a FIFO and a device node, a bind of a
 * directory of it, a tmpfs remounted read-only. After restore: every file
 * is there, /media shows DATA, /proc shows the new pid namespace, and
 * /proc/self/mountinfo equals the saved copy but for mount ids, device
 * numbers and peer group numbers (and roots inside filesystems, with
 * `any-root`: for a test that moves DATA and restores with --mount-map).
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
/* the source moved (restore --mount-map): roots within filesystems may differ */
static int any_root;

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			return wl_fail("%s: %m", #x);                                              \
	} while (0)

/* mountinfo without ids, device numbers and peer group numbers */
static int mountinfo_norm(char *out, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	size_t len = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *tok, *save = NULL;
		int i = 0;

		for (tok = strtok_r(p, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save), i++) {
			if (i < 3 || (i == 3 && any_root))
				continue;
			if (!strncmp(tok, "shared:", 7))
				tok[6] = '\0';
			else if (!strncmp(tok, "master:", 7))
				tok[6] = '\0';
			len += snprintf(out + len, cap - len, "%s ", tok);
			if (len >= cap)
				return -1;
		}
		len += snprintf(out + len, cap - len, "\n");
	}
	fclose(f);
	return 0;
}

static int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return -1;
	return close(fd);
}

static int read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int setup_root(const char *root, const char *data, const char *tdir)
{
	char p[4096];

	TRY(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	TRY(mount("/", root, NULL, MS_BIND, NULL));
	snprintf(p, sizeof(p), "%s/proc", root);
	TRY(mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	snprintf(p, sizeof(p), "%s/sys", root);
	TRY(mount("sysfs", p, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL));
	snprintf(p, sizeof(p), "%s/sys/fs/cgroup", root);
	TRY(mount("cgroup2", p, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL));
	snprintf(p, sizeof(p), "%s/dev", root);
	TRY(mount("tmpfs", p, "tmpfs", MS_NOSUID, "mode=755,size=65536k"));
	snprintf(p, sizeof(p), "%s/dev/null", root);
	TRY(mknod(p, S_IFCHR | 0666, makedev(1, 3)));
	snprintf(p, sizeof(p), "%s/dev/zero", root);
	TRY(mknod(p, S_IFCHR | 0666, makedev(1, 5)));
	snprintf(p, sizeof(p), "%s/dev/ptmx", root);
	TRY(symlink("pts/ptmx", p));
	snprintf(p, sizeof(p), "%s/dev/pts", root);
	TRY(mkdir(p, 0755));
	TRY(mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=620"));
	snprintf(p, sizeof(p), "%s/dev/mqueue", root);
	TRY(mkdir(p, 0755));
	TRY(mount("mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
	snprintf(p, sizeof(p), "%s/media", root);
	TRY(mount(data, p, NULL, MS_BIND, NULL));
	snprintf(p, sizeof(p), "%s%s", root, tdir);
	TRY(mount(tdir, p, NULL, MS_BIND, NULL));
	/* the root read-only, as a container's image often is */
	TRY(mount(NULL, root, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	TRY(chdir(root));
	TRY(syscall(SYS_pivot_root, ".", "."));
	TRY(umount2(".", MNT_DETACH));
	TRY(chdir("/"));
	return 0;
}

/* What the program mounts itself, at run time. */
static int runtime_mounts(void)
{
	TRY(mount("scratch", "/mnt", "tmpfs", MS_NODEV, "mode=711,size=4m"));
	TRY(mkdir("/mnt/x", 0750));
	TRY(write_file("/mnt/x/file", "tmpfs content\n", 0640));
	TRY(chown("/mnt/x/file", 1234, 5678));
	TRY(symlink("x/file", "/mnt/link"));
	TRY(mkfifo("/mnt/fifo", 0600));
	TRY(mknod("/mnt/null", S_IFCHR | 0666, makedev(1, 3)));
	TRY(mkdir("/mnt/y", 0755));
	TRY(mount("/mnt/x", "/mnt/y", NULL, MS_BIND, NULL));
	TRY(mkdir("/mnt/ro", 0755));
	TRY(mount("rotmp", "/mnt/ro", "tmpfs", 0, "size=1m"));
	TRY(write_file("/mnt/ro/kept", "read-only\n", 0444));
	TRY(mount(NULL, "/mnt/ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
	TRY(mount(NULL, "/mnt", NULL, MS_SHARED, NULL));
	return 0;
}

static int verify(void)
{
	static char now[65536];
	char buf[256], *a, *b;
	struct stat st;

	if (read_file("/mnt/x/file", buf, sizeof(buf)) || strcmp(buf, "tmpfs content\n"))
		return wl_fail("/mnt/x/file lost");
	if (stat("/mnt/x/file", &st) || st.st_uid != 1234 || st.st_gid != 5678 ||
	    (st.st_mode & 07777) != 0640)
		return wl_fail("/mnt/x/file: owner or mode changed");
	if (read_file("/mnt/link", buf, sizeof(buf)) || read_file("/mnt/y/file", buf, sizeof(buf)))
		return wl_fail("symlink or bind into the tmpfs lost");
	if (stat("/mnt/fifo", &st) || !S_ISFIFO(st.st_mode) || stat("/mnt/null", &st) ||
	    st.st_rdev != makedev(1, 3) || stat("/dev/zero", &st) || !S_ISCHR(st.st_mode))
		return wl_fail("fifo or device node lost");
	if (read_file("/mnt/ro/kept", buf, sizeof(buf)) || strcmp(buf, "read-only\n"))
		return wl_fail("/mnt/ro/kept lost");
	if (open("/mnt/ro/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EROFS)
		return wl_fail("/mnt/ro is writable");
	if (read_file("/media/hello", buf, sizeof(buf)) || strcmp(buf, "from the host\n"))
		return wl_fail("/media does not show the host directory");
	if (readlink("/proc/self", buf, sizeof(buf)) != 1 || buf[0] != '1' || getpid() != 1)
		return wl_fail("/proc does not show our pid namespace");
	if (open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) < 0)
		return wl_fail("/dev/ptmx: %m");
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
	return wl_pass();
}

int main(int argc, char **argv)
{
	char tdir[4096], *slash;

	wl_init(argc, argv);
	if (argc < 3 || !getenv("WL_READY"))
		return wl_fail("usage: ns_mnt_tree ROOT DATA [any-root] (with WL_READY)");
	any_root = argc > 3 && !strcmp(argv[3], "any-root");
	snprintf(tdir, sizeof(tdir), "%s", getenv("WL_READY"));
	slash = strrchr(tdir, '/');
	if (slash)
		*slash = '\0';
	if (setup_root(argv[1], argv[2], tdir) || runtime_mounts())
		return 1;
	if (mountinfo_norm(saved, sizeof(saved)) < 0)
		return wl_fail("read mountinfo: %m");
	wl_ready();
	wl_wait_restored();
	return verify();
}
