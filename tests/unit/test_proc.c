/*
 * tests/unit/test_proc.c - /proc parsers on fixed samples (comm with spaces
 * and parentheses, status with groups and nested NSpid, maps lines with
 * and without paths), plus the live readers on this process.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

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
	is_int(st.num_threads, 3, "num_threads");
	is_int(st.starttime, 98765, "starttime");
	is_int(st.vsize, 10240000, "vsize");
	is_int(st.start_stack, 140730000000000ULL, "start_stack");
	is_int(st.exit_signal, 17, "exit_signal");
	is_int(st.start_brk, 94000000400000ULL, "start_brk");
	is_int(st.env_end, 140730000002000ULL, "env_end");
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
	return done_testing();
}
