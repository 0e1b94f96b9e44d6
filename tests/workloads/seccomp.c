/*
 * seccomp - two chained raw-BPF filters. Filter 1: uname() -> EPERM,
 * personality(0xdeadbeef) -> SECCOMP_RET_KILL_THREAD. Filter 2: mincore()
 * -> E2BIG, uname() -> ENOSPC. After restore /proc/self/status shows
 * Seccomp: 2 and Seccomp_filters: 2, both filters act, uname() fails with
 * the newer filter's ENOSPC (of equal actions the newest filter's data
 * wins: the filters came back in their order), and a forked child calling
 * the killing syscall dies of SIGSYS.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

#define LD(field)    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v)	     BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

static int install(struct sock_filter *f, unsigned short len)
{
	struct sock_fprog prog = {.len = len, .filter = f};

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

static int status_value(const char *key)
{
	char line[256];
	int v = -1;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atoi(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static const char *verify(void)
{
	struct utsname u;
	pid_t pid;
	int st;

	if (status_value("Seccomp") != 2 || status_value("Seccomp_filters") != 2)
		return "/proc/self/status: not 2 seccomp filters in filter mode";
	if (uname(&u) != -1 || errno != ENOSPC)
		return "uname() is not refused with ENOSPC (the newer filter's errno)";
	if (syscall(SYS_mincore, NULL, 0, NULL) != -1 || errno != E2BIG)
		return "mincore() is not refused with E2BIG (second filter)";
	pid = fork();
	if (pid < 0)
		return "fork failed";
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
		syscall(SYS_personality, 0xdeadbeefUL);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		return "child calling personality(0xdeadbeef) was not killed by SIGSYS";
	return NULL;
}

int main(int argc, char **argv)
{
	struct sock_filter f1[] = {
		LD(arch),
		JEQ(AUDIT_ARCH_X86_64, 1, 0),
		RET(SECCOMP_RET_ALLOW),
		LD(nr),
		JEQ(SYS_uname, 0, 1),
		RET(SECCOMP_RET_ERRNO | EPERM),
		JEQ(SYS_personality, 0, 3),
		LD(args[0]),
		JEQ(0xdeadbeef, 0, 1),
		RET(SECCOMP_RET_KILL_THREAD),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_filter f2[] = {
		LD(nr),
		JEQ(SYS_mincore, 0, 1),
		RET(SECCOMP_RET_ERRNO | E2BIG),
		JEQ(SYS_uname, 0, 1),
		RET(SECCOMP_RET_ERRNO | ENOSPC),
		RET(SECCOMP_RET_ALLOW),
	};
	const char *err;

	wl_init(argc, argv);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return wl_fail("no_new_privs: %m");
	if (install(f1, sizeof(f1) / sizeof(f1[0])) || install(f2, sizeof(f2) / sizeof(f2[0])))
		return wl_fail("seccomp: %m");
	err = verify();
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = verify();
	return err ? wl_fail("after restore: %s", err) : wl_pass();
}
