/*
 * tests/unit/test_task.c - the task state rooms read task-PID.json: a
 * document as dump writes it parses; a missing, mistyped or out-of-range
 * member is one line naming the file and the key path; a seccomp filter
 * that accepts only another architecture is refused, one that only turns
 * a foreign architecture away is not; inspect names the syscalls a filter
 * tests.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tap.h"
#include "task/task.h"
#include "util/util.h"

static const char *good =
	"{\"pid\": 12, \"comm\": \"app\", \"exit_signal\": 17, \"personality\": \"0x0\","
	" \"oom_score_adj\": 0, \"cwd\": \"/\", \"root\": \"/\", \"pdeathsig\": 0,"
	" \"child_subreaper\": false, \"dumpable\": 1, \"umask\": 18,"
	" \"sigactions\": [{\"sig\": 10, \"handler\": \"0x401000\", \"flags\": \"0x4000000\","
	"   \"restorer\": \"0x0\", \"mask\": \"0x0\"}],"
	" \"shared_pending\": [], \"itimers\": [{\"value_us\": 0, \"interval_us\": 0}],"
	" \"posix_timers\": [], \"rlimits\": [[\"0x400\", \"0x1000\"]],"
	" \"threads\": [{\"tid\": 12, \"sigmask\": \"0x0\", \"pending\": [],"
	"   \"sigaltstack\": {\"sp\": \"0x0\", \"flags\": 2, \"size\": 0},"
	"   \"robust_list\": \"0x7f0000\", \"robust_list_len\": 24, \"clear_child_tid\": \"0x0\","
	"   \"comm\": \"app\", \"nice\": 0, \"timer_slack_ns\": 50000, \"sched_policy\": 0,"
	"   \"sched_priority\": 0, \"seccomp_mode\": 0,"
	"   \"creds\": {\"uids\": [0, 0, 0, 0], \"gids\": [0, 0, 0, 0], \"groups\": [1, 2],"
	"     \"cap_inh\": \"0x0\", \"cap_prm\": \"0x1ff\", \"cap_eff\": \"0x1ff\","
	"     \"cap_bnd\": \"0x1ff\", \"cap_amb\": \"0x0\", \"no_new_privs\": false,"
	"     \"securebits\": 0}}]}";

static struct json *doc(void)
{
	struct json *j = NULL;
	ckpt_err_t err = {0};

	if (json_parse(good, strlen(good), &j, &err) < 0) {
		fprintf(stderr, "bad test document: %s\n", err.msg);
		exit(1);
	}
	return j;
}

/* Parse d; the error message, or "" when it parsed. */
static const char *parse(struct json *d)
{
	static char msg[CKPT_ERR_MSG_MAX];
	ckpt_err_t err = {0};
	struct task_state *ts = task_state_parse("task-12.json", d, &err);

	snprintf(msg, sizeof(msg), "%s", ts ? "" : err.msg);
	task_state_free(ts);
	json_free(d);
	return msg;
}

static struct json *with_filter(const struct sock_filter *f, size_t n)
{
	struct json *d = doc(), *th = json_at(json_get(d, "threads"), 0), *arr;

	json_set(th, "seccomp_mode", json_int(SECCOMP_MODE_FILTER));
	arr = json_set(th, "seccomp_filters", json_arr());
	json_push(arr, json_hexbuf(f, n * sizeof(*f)));
	return d;
}

#define LD(field)    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v)	     BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

int main(void)
{
	struct sock_filter only_i386[] = {
		LD(arch),
		JEQ(AUDIT_ARCH_I386, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_filter deny_i386[] = {
		LD(arch),
		JEQ(AUDIT_ARCH_I386, 0, 1),
		RET(SECCOMP_RET_KILL_PROCESS),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_filter native[] = {
		LD(arch),
		JEQ(AUDIT_ARCH_X86_64, 1, 0),
		RET(SECCOMP_RET_KILL_PROCESS),
		LD(nr),
		JEQ(SYS_uname, 0, 1),
		RET(SECCOMP_RET_ERRNO | EPERM),
		JEQ(SYS_mincore, 0, 1),
		RET(SECCOMP_RET_ERRNO | E2BIG),
		RET(SECCOMP_RET_ALLOW),
	};
	struct json *d;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	plan(19);
	is_str(parse(doc()), "", "a document as dump writes it parses");

	d = doc();
	json_set(d, "sigactions", json_null());
	is_str(parse(d), "task-12.json: sigactions: expected an array", "sigactions not an array");

	d = doc();
	json_set(json_at(json_get(d, "sigactions"), 0), "sig", json_int(9));
	is_str(parse(d), "task-12.json: sigactions[0]: no action can be set for signal 9",
	       "an action for SIGKILL");

	d = doc();
	json_set(json_get(json_at(json_get(d, "threads"), 0), "creds"), "uids", json_arr());
	is_str(parse(d),
	       "task-12.json: threads[0].creds.uids: 0 ids, not 4 (real, effective, saved, fs)",
	       "uids without their 4 entries");

	d = doc();
	json_set(json_at(json_get(d, "threads"), 0), "nice", json_int(40));
	is_str(parse(d), "task-12.json: threads[0].nice: 40 is out of range -20..19",
	       "nice out of range");

	d = doc();
	json_set(d, "rlimits", json_arr());
	json_push(json_push(json_get(d, "rlimits"), json_arr()), json_hex(8));
	is_str(parse(d), "task-12.json: rlimits[0]: expected [soft, hard]", "rlimit pair");

	d = doc();
	json_set(d, "shared_pending", json_arr());
	json_push(json_get(d, "shared_pending"), json_str("00ff"));
	ok(strstr(parse(d), "task-12.json: shared_pending[0]: 4 hex digits") != NULL,
	   "a siginfo of the wrong size");

	is_str(parse(with_filter(only_i386, ARRAY_SIZE(only_i386))),
	       "task-12.json: threads[0].seccomp_filters[0]: filter accepts only architecture x86, "
	       "this host is x86_64",
	       "a filter accepting only i386 is refused");
	is_str(parse(with_filter(deny_i386, ARRAY_SIZE(deny_i386))), "",
	       "a filter turning i386 away is kept");
	is_str(parse(with_filter(native, ARRAY_SIZE(native))), "", "a native filter is kept");
	{
		/* as podman's and docker's default profiles are built: libseccomp */
		scmp_filter_ctx sc = seccomp_init(SCMP_ACT_ERRNO(EPERM));
		int mfd = memfd_create("bpf", MFD_CLOEXEC);
		static struct sock_filter prog[8192];
		ssize_t n = -1;
		int bad = !sc || mfd < 0 || seccomp_arch_add(sc, SCMP_ARCH_X86) < 0 ||
			  seccomp_arch_add(sc, SCMP_ARCH_X32) < 0;

		/* enough rules that its jumps need `ja` (offsets past 255) */
		for (int nr = 0; nr < 300 && !bad; nr++)
			if (nr != SYS_kill && nr != SYS_tkill && nr != SYS_tgkill)
				bad = seccomp_rule_add(sc, SCMP_ACT_ALLOW, nr, 0) < 0;
		if (!bad && seccomp_export_bpf(sc, mfd) == 0)
			n = pread(mfd, prog, sizeof(prog), 0);
		ok(n > 0 && n % sizeof(prog[0]) == 0, "libseccomp exports a filter");
		is_str(parse(with_filter(prog, n > 0 ? n / sizeof(prog[0]) : 0)), "",
		       "a libseccomp filter for x86_64, x86 and x32 is kept");
		seccomp_release(sc);
		if (mfd >= 0)
			close(mfd);
	}

	d = doc();
	json_set(d, "stop_signal", json_int(SIGKILL));
	is_str(parse(d), "task-12.json: stop_signal: signal 9 does not stop a task",
	       "a stop signal that stops nothing");

	d = doc();
	json_set(json_at(json_get(d, "threads"), 0), "loginuid", json_int(-2));
	is_str(parse(d), "task-12.json: threads[0].loginuid: -2 is out of range 0..4294967295",
	       "a loginuid out of range");

	d = doc();
	json_set(d, "mlock_future", json_int(3));
	is_str(parse(d), "task-12.json: mlock_future: 3 is not 0, 2 or 6",
	       "mlock_future with MCL_CURRENT would lock everything");

	d = doc();
	json_set(json_at(json_get(d, "threads"), 0), "timens_children", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(json_get(json_at(json_get(d, "threads"), 0), "timens_children"),
			  json_int(i == 3 ? 1000000000 : 5));
	ok(strstr(parse(d), "threads[0].timens_children[3]: 1000000000 is out of range") != NULL,
	   "a children's time namespace offset of a whole second in nanoseconds");

	d = doc();
	json_set(json_at(json_get(d, "threads"), 0), "timens_children", json_arr());
	json_push(json_get(json_at(json_get(d, "threads"), 0), "timens_children"), json_int(1));
	is_str(parse(d), "task-12.json: threads[0].timens_children: 1 elements, want 4",
	       "a children's time namespace without its 4 offsets");

	f = open_memstream(&text, &len);
	seccomp_describe_filter(f, native, ARRAY_SIZE(native));
	fclose(f);
	is_str(text, "9 insns; arch x86_64; 2 syscalls tested: uname mincore",
	       "inspect names the syscalls a filter tests");
	free(text);

	d = with_filter(native, ARRAY_SIZE(native));
	json_set(json_at(json_get(d, "threads"), 0), "seccomp_filters", json_arr());
	json_push(json_get(json_at(json_get(d, "threads"), 0), "seccomp_filters"),
		  json_str("0600"));
	ok(strstr(parse(d), "threads[0].seccomp_filters[0]: 4 hex digits") != NULL,
	   "a filter that is not whole instructions");
	return done_testing();
}
