/*
 * tests/unit/test_mnt.c - the mount namespace's parsers on fixed samples:
 * mountinfo lines (octal escapes, optional fields, a mount without
 * superblock options, a bad line) and the lookup of a process's cgroup
 * for a cgroup mount (v1 with combined controllers, named hierarchies, v2).
 * mnt-info.c is built into this test: it has no other engine dependency.
 */
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"
#include "namespaces/mnt-info.c"

static const char mountinfo_sample[] =
	"93 52 254:0 /tmp/c1/rootfs / ro,relatime master:1 - ext4 /dev/vda rw,discard\n"
	"95 93 0:49 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"58 94 0:49 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"61 93 0:56 / /mnt/with\\040space rw shared:7 master:3 - tmpfs a\\134b rw\n"
	"62 93 0:57 /sub /mnt/x rw shared:12 unbindable - proc proc\n";

static const char cgroup_sample[] = "12:cpu,cpuacct:/a\n"
				    "9:name=systemd:/b\n"
				    "4:memory:/c/d\n"
				    "0::/e\n";

/* A temporary file holding text; its path, to unlink. */
static char *sample(const char *text)
{
	char *path = xstrdup("/tmp/test_mnt.XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

static void test_mountinfo(void)
{
	cleanup_free char *path = sample(mountinfo_sample);
	struct mnt_info *m = NULL;
	ckpt_err_t err = { 0 };
	int n = 0;

	is_int(mnt_info_read(path, &m, &n, &err), 0, "mountinfo sample parsed");
	is_int(n, 5, "five mounts");
	is_int(m[0].id, 93, "id");
	is_int(m[0].parent, 52, "parent id");
	is_int(m[0].major * 1000 + m[0].minor, 254000, "device");
	is_str(m[0].root, "/tmp/c1/rootfs", "root inside the filesystem");
	is_str(m[0].options, "ro,relatime", "per-mount options");
	is_int(mnt_info_tag(&m[0], "master"), 1, "master group");
	is_int(mnt_info_tag(&m[0], "shared"), 0, "no peer group");
	is_str(m[2].root, "/null", "a file bound: its root");
	is_str(m[3].mountpoint, "/mnt/with space", "\\040 undone in the mount point");
	is_str(m[3].source, "a\\b", "\\134 undone in the source");
	is_int(mnt_info_tag(&m[3], "shared"), 7, "shared:7 with master:3 after it");
	is_int(mnt_info_tag(&m[3], "master"), 3, "master:3");
	is_str(m[4].super, "", "no superblock options");
	is_int(mnt_info_tag(&m[4], "shared"), 12, "shared:12 before unbindable");
	mnt_info_free(m, n);
	unlink(path);
}

static void test_bad_line(void)
{
	cleanup_free char *path = sample("93 52 254:0 / / rw\n");
	struct mnt_info *m = NULL;
	ckpt_err_t err = { 0 };
	int n = 0;

	ok(mnt_info_read(path, &m, &n, &err) < 0, "a line without its separator is refused");
	unlink(path);
}

static void test_cgroup_of(void)
{
	cleanup_free char *path = sample(cgroup_sample);
	static const struct {
		const char *fstype, *super, *want;
	} cases[] = {
		{ "cgroup", "rw,cpu,cpuacct", "/a" },
		{ "cgroup", "rw,name=systemd", "/b" },
		{ "cgroup", "rw,memory", "/c/d" },
		{ "cgroup2", "rw,nsdelegate", "/e" },
		{ "cgroup", "rw,cpu", NULL },	/* cpu alone is not that hierarchy */
		{ "cgroup", "rw,pids", NULL },
		{ "tmpfs", "rw", NULL },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cleanup_free char *got = mnt_cgroup_of(path, cases[i].fstype, cases[i].super);

		if (cases[i].want)
			is_str(got ?: "(none)", cases[i].want, "%s %s", cases[i].fstype,
			       cases[i].super);
		else
			ok(!got, "%s %s: no cgroup", cases[i].fstype, cases[i].super);
	}
	ok(!mnt_cgroup_of("/nonexistent/cgroup", "cgroup2", ""), "no file: no cgroup");
	unlink(path);
}

int main(void)
{
	plan(25);
	test_mountinfo();
	test_bad_line();
	test_cgroup_of();
	return done_testing();
}
