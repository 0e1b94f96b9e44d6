/*
 * tests/unit/test_proc.c - /proc parsers on fixed samples (comm with spaces
 * and parentheses, status with groups and nested NSpid, maps lines with
 * and without paths; mountinfo with octal escapes, optional fields, a
 * mount without superblock options, a bad line; cgroup files with v1
 * combined controllers, named hierarchies and v2, and the lookups built on
 * them; fdinfo of each kind the fd table dumps: common lines, locks,
 * epoll, inotify, fanotify, timerfd, eventfd, signalfd, pidfd; limits,
 * timers, cmdline, cpuinfo and net/tcp lines), plus the live readers on
 * this process.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "tap.h"
#include "util/proc.h"
#include "util/util.h"

static const char stat_sample[] =
	"1234 (a) b (c)) S 1 1234 1234 34816 1234 4194560 155 0 0 0 0 0 0 0 20 0 3 0 "
	"98765 10240000 256 18446744073709551615 94000000000000 94000000100000 "
	"140730000000000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 94000000200000 94000000300000 "
	"94000000400000 140730000001000 140730000001100 140730000001100 140730000002000 0\n";

static const char status_sample[] = "Name:\tbash\n"
				    "Umask:\t0022\n"
				    "State:\tS (sleeping)\n"
				    "Tgid:\t1234\n"
				    "Pid:\t1234\n"
				    "Uid:\t1000\t1001\t1002\t1003\n"
				    "Gid:\t100\t101\t102\t103\n"
				    "Groups:\t4 24 27 \n"
				    "NSpid:\t1234\t56\t1\n"
				    "SigPnd:\t0000000000000000\n"
				    "ShdPnd:\t0000000000000100\n"
				    "SigBlk:\t0000000000010000\n"
				    "SigIgn:\t0000000000384004\n"
				    "SigCgt:\t000000004b813efb\n"
				    "CapInh:\t0000000000000000\n"
				    "CapPrm:\t000001ffffffffff\n"
				    "CapEff:\t000001ffffffffff\n"
				    "CapBnd:\t000001ffffffffff\n"
				    "CapAmb:\t0000000000000000\n"
				    "NoNewPrivs:\t1\n"
				    "Seccomp:\t2\n"
				    "Seccomp_filters:\t3\n";

static const char mountinfo_sample[] =
	"93 52 254:0 /tmp/c1/rootfs / ro,relatime master:1 - ext4 /dev/vda rw,discard\n"
	"95 93 0:49 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"58 94 0:49 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755\n"
	"61 93 0:56 / /mnt/with\\040space rw shared:7 master:3 - tmpfs a\\134b rw\n"
	"62 93 0:57 /sub /mnt/x rw shared:12 unbindable - proc proc\n";

/* cgroup mounts: a v1 freezer bound from inside (root not "/"), then the real ones */
static const char cgroup_mounts[] =
	"30 25 0:26 /docker/x /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
	"31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
	"32 25 0:28 / /sys/fs/cgroup/freezer2 rw - cgroup cgroup rw,nofreezer\n"
	"33 25 0:29 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
	"34 25 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n";

static const char cgroup_sample[] = "12:cpu,cpuacct:/a\n"
				    "9:name=systemd:/b\n"
				    "4:memory:/c/d\n"
				    "3:freezer:/f\n"
				    "0::/e\n";

static const char maps_sample[] =
	"55d0c0000000-55d0c0021000 r--p 00000000 fd:01 131 /usr/bin/cat\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"7ffd00100000-7ffd00102000 r-xp 00000000 00:00 0                          [vdso]\n";

static const char smaps_sample[] =
	"55d0c0000000-55d0c0021000 r--p 00000000 fd:01 131 /usr/bin/cat\n"
	"Size:                132 kB\n"
	"Rss:                 132 kB\n"
	"VmFlags: rd mr mw me dw sd\n"
	"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n"
	"Size:                132 kB\n"
	"VmFlags: rd wr mr mw me gd ac\n";

struct seen {
	int n, stop_at;
	char last[64], flags[64];
};

static int count_vma(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%.63s", v->path);
	snprintf(s->flags, sizeof(s->flags), "%.63s", v->vmflags);
	return s->n == s->stop_at ? 42 : 0;
}

static void test_maps(void)
{
	struct proc_vma *v = xzalloc(sizeof(*v));
	struct seen s = {0};
	ckpt_err_t err = {0};

	is_int(proc_parse_maps(maps_sample, false, count_vma, &s, &err), 0, "maps text walked");
	ok(s.n == 3 && !strcmp(s.last, "[vdso]") && !s.flags[0], "three VMAs, last [vdso]");
	s = (struct seen){.stop_at = 2};
	is_int(proc_parse_maps(maps_sample, false, count_vma, &s, &err), 42,
	       "fn's non-zero return ends the walk");
	ok(s.n == 2 && !strcmp(s.last, "[stack]"), "stopped at the second");
	s = (struct seen){0};
	is_int(proc_parse_maps(smaps_sample, true, count_vma, &s, &err), 0, "smaps text walked");
	ok(s.n == 2 && !strcmp(s.last, "[stack]"), "two VMAs, each once");
	is_str(s.flags, "rd wr mr mw me gd ac", "VmFlags with its VMA");
	s = (struct seen){0};
	ok(proc_parse_maps("55d0c0000000 r--p\n", false, count_vma, &s, &err) == -EPROTO &&
		   s.n == 0,
	   "a bad line is refused");
	is_int(proc_maps_find(AT_FDCWD, "/proc/self/maps", "[stack]", v, &err), 1,
	       "own [stack] found");
	ok(v->start < (uintptr_t)&s && (uintptr_t)&s < v->end, "and a local lies in it");
	is_int(proc_maps_find(AT_FDCWD, "/proc/self/maps", "[nothing]", v, &err), 0,
	       "no such mapping");
	s = (struct seen){0};
	is_int(proc_read_maps(AT_FDCWD, "/proc/self/smaps", count_vma, &s, &err), 0, "own smaps");
	ok(s.n > 3 && s.flags[0], "VMAs with VmFlags");
	free(v);
}

static void test_mountinfo(void)
{
	struct proc_mount *m = NULL;
	ckpt_err_t err = {0};
	int n = 0;

	is_int(proc_parse_mountinfo(mountinfo_sample, &m, &n, &err), 0, "mountinfo sample parsed");
	is_int(n, 5, "five mounts");
	is_int(m[0].id, 93, "id");
	is_int(m[0].parent, 52, "parent id");
	is_int(m[0].major * 1000 + m[0].minor, 254000, "device");
	is_str(m[0].root, "/tmp/c1/rootfs", "root inside the filesystem");
	is_str(m[0].options, "ro,relatime", "per-mount options");
	is_int(proc_mount_tag(&m[0], "master"), 1, "master group");
	is_int(proc_mount_tag(&m[0], "shared"), 0, "no peer group");
	is_str(m[2].root, "/null", "a file bound: its root");
	is_str(m[3].mountpoint, "/mnt/with space", "\\040 undone in the mount point");
	is_str(m[3].source, "a\\b", "\\134 undone in the source");
	is_int(proc_mount_tag(&m[3], "shared"), 7, "shared:7 with master:3 after it");
	is_int(proc_mount_tag(&m[3], "master"), 3, "master:3");
	is_str(m[4].super, "", "no superblock options");
	is_int(proc_mount_tag(&m[4], "shared"), 12, "shared:12 before unbindable");
	proc_mounts_free(m, n);
	ok(proc_parse_mountinfo("93 52 254:0 / / rw\n", &m, &n, &err) < 0,
	   "a line without its separator is refused");
}

static void test_cgroup(void)
{
	static const struct {
		const char *fstype, *super, *want;
	} cases[] = {
		{"cgroup", "rw,cpu,cpuacct", "/a"}, {"cgroup", "rw,name=systemd", "/b"},
		{"cgroup", "rw,memory", "/c/d"},    {"cgroup2", "rw,nsdelegate", "/e"},
		{"cgroup", "rw,cpu", NULL}, /* cpu alone is not that hierarchy */
		{"cgroup", "rw,pids", NULL},	    {"tmpfs", "rw", NULL},
	};
	struct proc_cgroup *v = NULL;
	struct proc_mount *m = NULL;
	const struct proc_mount *hit;
	const struct proc_cgroup *cg;
	ckpt_err_t err = {0};
	int n = 0, nm = 0;

	is_int(proc_parse_cgroup(cgroup_sample, &v, &n, &err), 0, "cgroup sample parsed");
	is_int(n, 5, "five hierarchies");
	ok(v[0].id == 12 && !strcmp(v[0].controllers, "cpu,cpuacct") && !strcmp(v[0].path, "/a"),
	   "id, controllers, path");
	ok(v[4].id == 0 && !*v[4].controllers && !strcmp(v[4].path, "/e"), "v2 line");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		cg = proc_cgroup_of_mount(v, n, cases[i].fstype, cases[i].super);
		if (cases[i].want)
			is_str(cg ? cg->path : "(none)", cases[i].want, "mount %s %s",
			       cases[i].fstype, cases[i].super);
		else
			ok(!cg, "mount %s %s: no cgroup", cases[i].fstype, cases[i].super);
	}
	cg = proc_cgroup_find(v, n, "freezer");
	is_str(cg ? cg->path : "(none)", "/f", "freezer hierarchy by controller");
	cg = proc_cgroup_find(v, n, "");
	is_str(cg ? cg->path : "(none)", "/e", "v2 hierarchy for \"\"");
	cg = proc_cgroup_find(v, n, "cpu");
	is_str(cg ? cg->path : "(none)", "/a", "cpu found in cpu,cpuacct");
	ok(!proc_cgroup_find(v, n, "pids"), "no pids hierarchy");
	cg = proc_cgroup_named(v, n, "cpu,cpuacct");
	is_str(cg ? cg->path : "(none)", "/a", "named: the very controllers");
	ok(!proc_cgroup_named(v, n, "cpu"), "named: cpu is not cpu,cpuacct");
	cg = proc_cgroup_named(v, n, "");
	is_str(cg ? cg->path : "(none)", "/e", "named: \"\" is v2");
	proc_cgroups_free(v, n);
	ok(proc_parse_cgroup("12-cpu-/a\n", &v, &n, &err) < 0, "a line without colons is refused");

	is_int(proc_parse_mountinfo(cgroup_mounts, &m, &nm, &err), 0, "cgroup mounts parsed");
	hit = proc_cgroup_mount_in(m, nm, "freezer");
	is_str(hit ? hit->mountpoint : "(none)", "/sys/fs/cgroup/freezer",
	       "freezer: the hierarchy's root, by whole option word");
	ok(hit && hit->id == 33, "not the bound part of it, nor `nofreezer`");
	hit = proc_cgroup_mount_in(m, nm, "cpu,cpuacct");
	ok(hit && hit->id == 31, "combined controllers");
	hit = proc_cgroup_mount_in(m, nm, "");
	ok(hit && hit->id == 34, "v2");
	ok(!proc_cgroup_mount_in(m, nm, "memory"), "memory not mounted");
	proc_mounts_free(m, nm);
}

#define FDINFO_HEAD "pos:\t0\nflags:\t02004002\nmnt_id:\t15\nino:\t1057\n"

static void test_fdinfo(void)
{
	struct proc_fdinfo fi;
	struct proc_lock *l = NULL;
	struct proc_epoll_tfd *t = NULL;
	struct proc_inotify_mark *w = NULL;
	struct proc_fanotify f;
	struct proc_timerfd tf;
	struct proc_eventfd ev;
	ckpt_err_t err = {0};
	uint64_t mask = 0;
	int n = 0;

	is_int(proc_parse_fdinfo("pos:\t4096\nflags:\t0100002\nmnt_id:\t31\n", &fi, &err), 0,
	       "fdinfo parses");
	ok(fi.pos == 4096 && fi.flags == 0100002 && fi.mnt_id == 31, "pos, octal flags, mnt_id");
	is_int(proc_parse_fdinfo("pos:\t0\nflags:\t02\n", &fi, &err), 0, "fdinfo without mnt_id");
	is_int(fi.mnt_id, -1, "mnt_id -1 when absent");

	is_int(proc_parse_locks(FDINFO_HEAD
				"lock:\t1: POSIX  ADVISORY  WRITE 10607 fe:00:123 0 EOF\n"
				"lock:\t1: -> POSIX  ADVISORY  WRITE 10608 fe:00:123 0 EOF\n"
				"lock:\t2: FLOCK  ADVISORY  READ 10607 fe:00:123 0 EOF\n"
				"lock:\t3: OFDLCK ADVISORY  WRITE -1 fe:00:123 10 20\n",
				&l, &n, &err),
	       0, "locks parse");
	is_int(n, 3, "three locks, the waiter left out");
	ok(!strcmp(l[0].kind, "POSIX") && !strcmp(l[0].mode, "ADVISORY") && l[0].write &&
		   l[0].pid == 10607 && l[0].start == 0 && l[0].end == -1,
	   "POSIX write lock to EOF");
	ok(!strcmp(l[1].kind, "FLOCK") && !l[1].write, "flock read lock");
	ok(!strcmp(l[2].kind, "OFDLCK") && l[2].pid == -1 && l[2].start == 10 && l[2].end == 20,
	   "OFD lock with a range");
	free(l);
	is_int(proc_parse_locks(FDINFO_HEAD, &l, &n, &err), 0, "no locks");
	ok(n == 0 && !l, "none");

	is_int(proc_parse_epoll(FDINFO_HEAD "tfd:        5 events:       19 data: 0000000000000005"
					    "  pos:0 ino:61af sdev:7\n"
					    "tfd:       12 events: 80000001 data: ffffffffffffffff"
					    "  pos:0 ino:2 sdev:f\n",
				&t, &n, &err),
	       0, "epoll parses");
	ok(n == 2 && t[0].tfd == 5 && t[0].events == 0x19 && t[0].data == 5 && t[0].ino == 0x61af,
	   "first watch");
	ok(t[1].tfd == 12 && t[1].events == 0x80000001 && t[1].data == UINT64_MAX,
	   "EPOLLET and all-ones data");
	free(t);
	is_int(proc_parse_epoll(FDINFO_HEAD "tfd: x\n", &t, &n, &err), -EPROTO,
	       "bad tfd line refused");

	is_int(proc_parse_inotify(FDINFO_HEAD "inotify wd:3 ino:9e7e sdev:800013 mask:800afce "
					      "ignored_mask:0 fhandle-bytes:8 fhandle-type:1 "
					      "f_handle:7e9e0000640d1b6d\n",
				  &w, &n, &err),
	       0, "inotify parses");
	ok(n == 1 && w[0].wd == 3 && w[0].sdev == 0x800013 && w[0].mask == 0x800afce &&
		   w[0].fh_type == 1 && !strcmp(w[0].fhandle, "7e9e0000640d1b6d"),
	   "watch: wd, sdev, mask, handle");
	free(w);
	is_int(proc_parse_inotify(FDINFO_HEAD "inotify wd:3 ino:9e7e\n", &w, &n, &err), -EPROTO,
	       "short inotify line refused");

	is_int(proc_parse_fanotify(FDINFO_HEAD
				   "fanotify flags:10 event-flags:0\n"
				   "fanotify mnt_id:12 mflags:40 mask:38 ignored_mask:40000003\n"
				   "fanotify ino:4f969 sdev:800013 mflags:0 mask:3b "
				   "ignored_mask:40000000 fhandle-bytes:8 fhandle-type:1 "
				   "f_handle:69f90400c275b5b4\n"
				   "fanotify sdev:800013 mflags:0 mask:3b ignored_mask:0\n"
				   "fanotify something:1\n",
				   &f, &err),
	       0, "fanotify parses");
	ok(f.flags == 0x10 && f.event_flags == 0 && f.nmarks == 4, "flags and four marks");
	ok(f.marks[0].kind == PROC_FANOTIFY_MOUNT && f.marks[0].mnt_id == 0x12 &&
		   f.marks[0].mflags == 0x40 && f.marks[0].ignored_mask == 0x40000003,
	   "mount mark (mnt_id in hex)");
	ok(f.marks[1].kind == PROC_FANOTIFY_INODE && f.marks[1].sdev == 0x800013 &&
		   !strcmp(f.marks[1].fhandle, "69f90400c275b5b4"),
	   "inode mark");
	ok(f.marks[2].kind == PROC_FANOTIFY_FILESYSTEM && f.marks[2].mask == 0x3b,
	   "filesystem mark");
	is_int(f.marks[3].kind, PROC_FANOTIFY_UNKNOWN, "unknown mark kept as unknown");
	proc_fanotify_free(&f);
	is_int(proc_parse_fanotify(FDINFO_HEAD, &f, &err), -EPROTO, "fanotify without flags");

	is_int(proc_parse_timerfd(FDINFO_HEAD "clockid: 0\nticks: 3\nsettime flags: 01\n"
					      "it_value: (0, 49406829)\nit_interval: (1, 5)\n",
				  &tf, &err),
	       0, "timerfd parses");
	ok(tf.clockid == 0 && tf.ticks == 3 && tf.settime_flags == 1, "clock, ticks, flags");
	ok(tf.value.tv_sec == 0 && tf.value.tv_nsec == 49406829 && tf.interval.tv_sec == 1 &&
		   tf.interval.tv_nsec == 5,
	   "it_value and it_interval");
	is_int(proc_parse_timerfd(FDINFO_HEAD "clockid: 1\nit_value: (0, 0)\n", &tf, &err), -EPROTO,
	       "timerfd without it_interval refused");

	is_int(proc_parse_eventfd(FDINFO_HEAD "eventfd-count:                5\n"
					      "eventfd-id: 1\neventfd-semaphore: 1\n",
				  &ev, &err),
	       0, "eventfd parses");
	ok(ev.count == 5 && ev.semaphore, "count and semaphore");
	is_int(proc_parse_eventfd(FDINFO_HEAD "eventfd-count: fffffffffffffffe\n", &ev, &err), 0,
	       "eventfd at its maximum");
	ok(ev.count == 0xfffffffffffffffeULL && !ev.semaphore, "no wrap, no semaphore");
	is_int(proc_parse_eventfd(FDINFO_HEAD, &ev, &err), -EPROTO, "eventfd without count");

	is_int(proc_parse_tty_index(FDINFO_HEAD "ino:\t90\ntty-index:\t17\n"), 17, "tty-index");
	is_int(proc_parse_tty_index(FDINFO_HEAD "ino:\t90\n"), -1, "no tty-index");
	is_int(proc_parse_tty_index(FDINFO_HEAD "tty-index:\t-3\n"), -1, "tty-index below 0");
	is_int(proc_parse_tty_index(FDINFO_HEAD "tty-index:\t99999999\n"), -1,
	       "tty-index out of range");

	is_int(proc_parse_signalfd(FDINFO_HEAD "sigmask:\t0000000000000202\n", &mask, &err), 0,
	       "signalfd parses");
	is_int(mask, 0x202, "sigmask");
	is_int(proc_parse_signalfd(FDINFO_HEAD, &mask, &err), -EPROTO, "signalfd without mask");

	is_int(proc_parse_pidfd(FDINFO_HEAD "Pid:\t1234\nNSpid:\t1234\t1\n"), 1234, "pidfd pid");
	is_int(proc_parse_pidfd(FDINFO_HEAD "Pid:\t-1\n"), -1, "pidfd of a reaped process");
	is_int(proc_parse_pidfd(FDINFO_HEAD "Pid:\t0\n"), 0, "pidfd of a process outside");
	is_int(proc_parse_pidfd(FDINFO_HEAD), 0, "pidfd without Pid");
}

static const char limits_sample[] =
	"Limit                     Soft Limit           Hard Limit           Units     \n"
	"Max cpu time              unlimited            unlimited            seconds   \n"
	"Max file size             1048576              unlimited            bytes     \n"
	"Max open files            1024                 4096                 files     \n";

static const char timers_sample[] = "ID: 0\n"
				    "signal: 14/0000000000000000\n"
				    "notify: signal/pid.1234\n"
				    "ClockID: 0\n"
				    "ID: 7\n"
				    "signal: 10/00007f0000001000\n"
				    "notify: thread/tid.1240\n"
				    "ClockID: 1\n"
				    "ID: 9\n"
				    "notify: none/pid.1234\n";

/* limits, timers, cmdline (proc-task.c); cpuinfo, net/tcp (proc-host.c); TracerPid. */
static void test_task_host(void)
{
	static const char cmd[] = "runc\0--log\0/x\0-root\0/run/r\0create\0id";
	static const char cmd_eq[] = "runc\0--root=state\0--root\0/other";
	static const char cmd_none[] = "runc\0create\0--root";
	struct proc_limit lim[4];
	struct proc_timer *tm = NULL;
	struct proc_tcp_sock sk;
	struct proc_status ss;
	ckpt_err_t err = {0};
	char model[64];
	int n = 0;

	is_int(proc_parse_limits(limits_sample, lim, 4, &n, &err), 0, "limits parse");
	is_int(n, 3, "three limits after the header");
	ok(lim[0].soft == RLIM_INFINITY && lim[0].hard == RLIM_INFINITY, "unlimited");
	ok(lim[1].soft == 1048576 && lim[1].hard == RLIM_INFINITY, "a number and unlimited");
	ok(lim[2].soft == 1024 && lim[2].hard == 4096, "soft and hard");
	is_int(proc_parse_limits(limits_sample, lim, 2, &n, &err), 0, "limits up to max");
	is_int(n, 2, "at most max");
	is_int(proc_parse_limits("Limit\nshort\n", lim, 4, &n, &err), -EPROTO,
	       "a short limits line refused");

	{
		struct proc_timens off;

		is_int(proc_parse_timens_offsets("monotonic       -10    5000\n"
						 "boottime     86400       7\n",
						 &off, &err),
		       0, "timens offsets parse");
		ok(off.mono_s == -10 && off.mono_ns == 5000 && off.boot_s == 86400 &&
			   off.boot_ns == 7,
		   "both clocks' offsets");
		is_int(proc_parse_timens_offsets("", &off, &err), 0, "no offsets listed");
		ok(!off.mono_s && !off.boot_ns, "a clock not listed is 0");
		is_int(proc_parse_timens_offsets("monotonic 1 1000000000\n", &off, &err), -EPROTO,
		       "nanoseconds out of range refused");
		is_int(proc_parse_timens_offsets("monotonic x\n", &off, &err), -EPROTO,
		       "a bad line refused");
	}

	is_int(proc_parse_timers(timers_sample, &tm, &n, &err), 0, "timers parse");
	is_int(n, 3, "three timers");
	ok(tm[0].id == 0 && tm[0].has_signal && tm[0].signo == 14 && tm[0].sigval == 0,
	   "timer 0: signal");
	ok(tm[0].has_notify && !strcmp(tm[0].notify, "signal") && !tm[0].notify_thread &&
		   tm[0].notify_pid == 1234,
	   "timer 0: notifies a process");
	ok(tm[1].id == 7 && tm[1].sigval == 0x7f0000001000ULL && tm[1].notify_thread &&
		   tm[1].notify_pid == 1240 && tm[1].has_clock && tm[1].clock == 1,
	   "timer 7: a thread, CLOCK_MONOTONIC");
	ok(tm[2].id == 9 && !tm[2].has_signal && !tm[2].has_clock && !strcmp(tm[2].notify, "none"),
	   "timer 9: only what its lines say");
	free(steal_pointer(&tm));
	is_int(proc_parse_timers("signal: 1/0\n", &tm, &n, &err), 0, "lines before an ID");
	ok(n == 0 && !tm, "are not a timer");

	is_str(proc_cmdline_option(cmd, sizeof(cmd), "root") ?: "(none)", "/run/r", "-root VALUE");
	is_str(proc_cmdline_option(cmd_eq, sizeof(cmd_eq), "root") ?: "(none)", "state",
	       "--root=VALUE, the first");
	ok(!proc_cmdline_option(cmd_none, sizeof(cmd_none), "root"), "--root without a value");
	ok(!proc_cmdline_option(cmd, sizeof(cmd), "log-format"), "an option not given");
	{
		unsigned long long ino = 0;

		ok(proc_parse_fd_link("socket:[4242]", "socket", &ino) && ino == 4242,
		   "fd link socket:[INO]");
		ok(!proc_parse_fd_link("socket:[4242]x", "socket", &ino), "nothing after the ]");
		ok(!proc_parse_fd_link("pipe:[7]", "socket", &ino), "another type");
		ok(!proc_parse_fd_link("/dev/null", "socket", &ino), "a path");
	}

	ok(proc_parse_cpu_model("processor\t: 0\nvendor_id\t: X\nmodel name\t: Some CPU @ 2GHz\n"
				"model name\t: second\n",
				model, sizeof(model)),
	   "cpuinfo has a model");
	is_str(model, "Some CPU @ 2GHz", "the first model name, without the newline");
	ok(!proc_parse_cpu_model("processor\t: 0\n", model, sizeof(model)), "no model name");
	proc_cpu_model(model, sizeof(model));
	ok(model[0], "this host's model (or unknown)");

	ok(!proc_parse_tcp_line("  sl  local_address rem_address   st tx_queue rx_queue tr "
				"tm->when retrnsmt   uid  timeout inode\n",
				AF_INET, &sk),
	   "tcp header is no socket");
	ok(proc_parse_tcp_line("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
			       "00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n",
			       AF_INET, &sk),
	   "tcp listener line");
	ok(sk.state == 10 && sk.inode == 4242 && sk.lport == 8080 && sk.pport == 0,
	   "state, inode, ports");
	ok(sk.local[0] == 127 && sk.local[3] == 1, "the raw word: 127.0.0.1");
	ok(proc_parse_tcp_line("   1: 0000000000000000FFFF00000100007F:0050 "
			       "0000000000000000FFFF00000200007F:C350 01 00000000:00000000 "
			       "00:00000000 00000000     0        0 77 1 0 20 4 30 10 -1\n",
			       AF_INET6, &sk),
	   "tcp6 line");
	ok(sk.state == 1 && sk.lport == 80 && sk.pport == 50000 && sk.inode == 77 &&
		   sk.local[10] == 0xff && sk.local[12] == 127 && sk.peer[15] == 2,
	   "tcp6 mapped addresses");
	ok(!proc_parse_tcp_line(
		   "   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 "
		   "00000000     0        0 4242\n",
		   AF_INET6, &sk),
	   "a tcp line read as tcp6 is refused");

	is_int(proc_parse_status("State:\tt (tracing stop)\nTracerPid:\t321\nUid:\t0\t0\t0\t0\n"
				 "Gid:\t0\t0\t0\t0\n",
				 &ss, &err),
	       0, "traced status");
	is_int(ss.tracer, 321, "TracerPid");
	proc_status_free(&ss);
}

int main(void)
{
	struct proc_stat st;
	struct proc_status ss;
	struct proc_vma v;
	ckpt_err_t err = {0};
	cleanup_free pid_t *pids = NULL;
	cleanup_close int self = -1;
	int n = 0;

	is_int(proc_parse_stat(stat_sample, &st, &err), 0, "stat parses");
	is_str(st.comm, "a) b (c)", "comm with spaces and parentheses");
	is_int(st.pid, 1234, "pid");
	is_int(st.state, 'S', "state");
	ok(st.ppid == 1 && st.pgid == 1234 && st.sid == 1234, "ppid, pgid, sid");
	ok(st.tty_nr == 34816 && st.tpgid == 1234, "tty_nr and tpgid");
	is_int(st.num_threads, 3, "num_threads");
	is_int(st.starttime, 98765, "starttime");
	is_int(st.vsize, 10240000, "vsize");
	is_int(st.start_stack, 140730000000000ULL, "start_stack");
	is_int(st.exit_signal, 17, "exit_signal");
	is_int(st.start_brk, 94000000400000ULL, "start_brk");
	is_int(st.env_end, 140730000002000ULL, "env_end");
	is_int(proc_parse_stat("5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 1 1 1 1 1 1", &st,
			       &err),
	       0, "stat of a task without a terminal");
	is_int(st.tpgid, -1, "tpgid -1");
	is_int(proc_parse_stat("12 (x S 1", &st, &err), -EPROTO, "unterminated comm refused");
	is_int(proc_parse_stat("12 (x) S 1 2 3", &st, &err), -EPROTO, "short stat refused");

	is_int(proc_parse_status(status_sample, &ss, &err), 0, "status parses");
	ok(ss.uid[0] == 1000 && ss.uid[3] == 1003 && ss.gid[1] == 101, "uids and gids");
	ok(ss.ngroups == 3 && ss.groups[2] == 27, "groups");
	ok(ss.nspid_count == 3 && ss.nspid[0] == 1234 && ss.nspid[2] == 1, "NSpid levels");
	is_int(ss.cap_eff, 0x1ffffffffffULL, "CapEff");
	is_int(ss.sig_blk, 0x10000, "SigBlk");
	is_int(ss.shd_pnd, 0x100, "ShdPnd");
	ok(ss.nonewprivs && ss.seccomp == 2 && ss.seccomp_filters == 3, "NoNewPrivs, seccomp");
	is_int(ss.umask, 022, "umask is octal");
	ok(ss.state == 'S' && ss.tgid == 1234, "state, tgid");
	proc_status_free(&ss);
	is_int(proc_parse_status("Name:\tx\n", &ss, &err), -EPROTO, "status without Uid refused");

	is_int(proc_parse_maps_line("7f0000000000-7f0000021000 r-xp 00001000 fd:01 131 "
				    "                      /usr/lib/libc.so.6 (deleted)\n",
				    &v, &err),
	       0, "maps line with path");
	ok(v.start == 0x7f0000000000ULL && v.end == 0x7f0000021000ULL, "maps range");
	ok(v.prot == (PROT_READ | PROT_EXEC) && !v.shared, "prot and private");
	ok(v.pgoff == 0x1000 && v.dev_major == 0xfd && v.dev_minor == 1 && v.ino == 131,
	   "pgoff, dev, inode");
	is_str(v.path, "/usr/lib/libc.so.6 (deleted)", "path with (deleted)");
	is_int(proc_parse_maps_line("7ffd0000-7ffd1000 rw-s 00000000 00:00 0", &v, &err), 0,
	       "anonymous shared line");
	ok(v.shared && v.prot == (PROT_READ | PROT_WRITE) && v.path[0] == '\0', "no path");
	is_int(proc_parse_maps_line("garbage", &v, &err), -EPROTO, "garbage maps line refused");

	is_int(proc_parse_pid_list("5 17 300 \n", &pids, &n, &err), 0, "pid list");
	ok(n == 3 && pids[2] == 300, "pid list values");
	free(steal_pointer(&pids));
	is_int(proc_parse_pid_list("5 x", &pids, &n, &err), -EPROTO, "bad pid list refused");

	self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	is_int(proc_read_stat(self, &st, &err), 0, "read own stat");
	is_int(st.pid, getpid(), "own pid");
	is_int(proc_read_status(self, &ss, &err), 0, "read own status");
	is_int(ss.uid[0], getuid(), "own uid");
	proc_status_free(&ss);
	is_int(proc_list_threads(self, &pids, &n, &err), 0, "list own threads");
	ok(n == 1 && pids[0] == getpid(), "one thread, the main one");
	free(steal_pointer(&pids));
	is_int(proc_list_children(self, getpid(), &pids, &n, &err), 0, "list own children");
	is_int(n, 0, "no children");
	free(steal_pointer(&pids));
	{
		cleanup_free char *own = proc_cgroup_path(0, "");
		cleanup_free char *pid_own = proc_cgroup_path(getpid(), "");

		/* NULL on a host without cgroup v2, then for both */
		ok(own ? pid_own && own[0] == '/' && !strcmp(own, pid_own) : !pid_own,
		   "own v2 cgroup, by 0 and by pid");
	}

	test_maps();
	test_fdinfo();
	test_mountinfo();
	test_cgroup();
	test_task_host();
	return done_testing();
}
