/*
 * zombie_pgrp - zombies in process groups other than their parent's: Z1
 * joined the group of a live sibling L before it exited, Z2 led a group of
 * its own, Z3 was a session leader. After restore /proc/PID/stat shows
 * each zombie in its group and session, and waitpid() returns their codes.
 */
#include <stdio.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

/* Field 3 (state), 5 (pgrp) and 6 (session) of /proc/PID/stat. */
static int proc_stat(pid_t pid, char *state, int *pgrp, int *sid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %d %d", state, pgrp, sid) != 3)
		return -1;
	return 0;
}

static pid_t zombie(int how, pid_t group, int code)
{
	siginfo_t si;
	pid_t pid = fork();

	if (pid == 0) {
		if (how == 1 && setpgid(0, group))
			_exit(90);
		if (how == 2 && setpgid(0, 0))
			_exit(91);
		if (how == 3 && setsid() < 0)
			_exit(92);
		_exit(code);
	}
	if (pid > 0 && waitid(P_PID, pid, &si, WEXITED | WNOWAIT))
		return -1;
	return pid;
}

static const char *check(pid_t l, pid_t z[3], char *why, size_t len)
{
	int want_pgrp[3] = {l, z[1], z[2]}, want_sid[3] = {getsid(0), getsid(0), z[2]};

	for (int i = 0; i < 3; i++) {
		char state;
		int pgrp, sid;

		if (proc_stat(z[i], &state, &pgrp, &sid) || state != 'Z' || pgrp != want_pgrp[i] ||
		    sid != want_sid[i]) {
			snprintf(why, len,
				 "zombie Z%d: state %c, group %d, session %d; want Z, %d, %d",
				 i + 1, state, pgrp, sid, want_pgrp[i], want_sid[i]);
			return why;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pid_t l, z[3];
	char why[256];
	const char *err;
	int st;

	wl_init(argc, argv);
	l = fork();
	if (l < 0)
		return wl_fail("fork: %m");
	if (l == 0) {
		for (;;)
			pause();
	}
	if (setpgid(l, l))
		return wl_fail("setpgid: %m");
	z[0] = zombie(1, l, 7);
	z[1] = zombie(2, 0, 8);
	z[2] = zombie(3, 0, 9);
	if (z[0] < 0 || z[1] < 0 || z[2] < 0)
		return wl_fail("fork: %m");
	err = check(l, z, why, sizeof(why));
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = check(l, z, why, sizeof(why));
	for (int i = 0; !err && i < 3; i++)
		if (waitpid(z[i], &st, 0) != z[i] || !WIFEXITED(st) || WEXITSTATUS(st) != 7 + i)
			err = "a zombie's exit code changed";
	kill(l, SIGKILL);
	waitpid(l, &st, 0);
	return err ? wl_fail("after restore: %s", err) : wl_pass();
}
