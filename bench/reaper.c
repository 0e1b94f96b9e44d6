/*
 * bench/reaper.c - run a command as a child subreaper, with fds 0-2 only.
 *
 *     reaper CMD [ARGS...]
 *
 * Restored trees (restore -d) lose their parent and are reparented to the
 * nearest subreaper. Here pid 1 reaps orphans only about once a second, so
 * a pid would stay taken long after its process exited; this process reaps
 * them at once. It also closes every fd above 2 before exec: whatever
 * started the harness may leak pipes into it, and ckpt-oci refuses to
 * checkpoint a workload that inherited one. Exits with CMD's status.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_above_2(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int self;

	if (!d)
		return;
	self = dirfd(d);
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > 2 && fd != self)
			close(fd);
	}
	closedir(d);
}

static pid_t child;

/* timeout(1) or kill stopping the reaper stops the command (it cleans up). */
static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = forward};
	pid_t pid;
	int st, rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: reaper CMD [ARGS...]\n");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	close_above_2();
	child = fork();
	if (child < 0) {
		perror("reaper: fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[1], argv + 1);
		perror("reaper: exec");
		_exit(127);
	}
	/* ^C reaches the command too (same process group); it decides. */
	signal(SIGINT, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/*
	 * Reap until the command itself ends; orphans still alive then go to
	 * pid 1 (the harness kills what it started before it exits).
	 */
	for (;;) {
		pid = wait(&st);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid == child) {
			rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
	}
	return rc;
}
