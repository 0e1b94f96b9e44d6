/*
 * tests/unit/test_spawn.c - util/spawn.c with ordinary programs: stdout and
 * stderr captured and bounded, stdin fed from a buffer, a helper that exits
 * without reading its input (EPIPE, and ckpt-oci not killed by SIGPIPE), a
 * function child, a timeout, and a bare name never found through PATH.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"
#include "util/spawn.h"
#include "util/util.h"

static int child_writes(void *arg)
{
	const char *msg = arg;

	return write_all(1, msg, strlen(msg)) < 0 ? 3 : 7;
}

/* A directory on PATH holding an executable "tar" that is not the real one. */
static char *fake_tar_dir(void)
{
	char *dir = xstrdup("/tmp/test_spawn.XXXXXX");
	cleanup_free char *path = NULL;
	int fd;

	if (!mkdtemp(dir))
		abort();
	path = xasprintf("%s/tar", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
	if (fd < 0 || write(fd, "#!/bin/sh\nexit 0\n", 17) != 17)
		abort();
	close(fd);
	return dir;
}

int main(void)
{
	ckpt_err_t err = {0};
	static char big[1 << 20];
	cleanup_free char *dir = fake_tar_dir(), *tar = NULL, *fake = NULL;

	{
		const char *const argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
		struct spawn s = {.argv = argv, .out = SPAWN_PIPE, .errout = SPAWN_PIPE};

		is_int(spawn_run(&s, &err), 0, "sh runs");
		ok(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 3, "its exit code");
		ok(!spawn_ok(&s), "exit code 3 is not ok");
		is_str(s.out_buf, "out\n", "stdout captured");
		is_str(s.err_buf, "err\n", "stderr captured apart");
		is_str(spawn_last_line(&s), "err", "last line: stderr's");
		spawn_free(&s);
	}
	{
		const char *const argv[] = {"sh", "-c", "echo a; echo b >&2", NULL};
		struct spawn s = {.argv = argv, .out = SPAWN_PIPE, .errout = SPAWN_TO_STDOUT};

		is_int(spawn_run(&s, &err), 0, "stderr into stdout");
		is_str(s.out_buf, "a\nb\n", "one stream");
		spawn_free(&s);
	}
	{
		const char *const argv[] = {"cat", NULL};
		struct spawn s = {
			.argv = argv, .in = SPAWN_PIPE, .out = SPAWN_PIPE, .out_max = sizeof(big)};

		memset(big, 'x', sizeof(big));
		s.in_buf = big;
		s.in_len = sizeof(big);
		/* more than a pipe holds each way: only a poll loop gets through */
		is_int(spawn_run(&s, &err), 0, "cat fed 1 MiB");
		ok(spawn_ok(&s) && s.out_len == sizeof(big) && !memcmp(s.out_buf, big, sizeof(big)),
		   "1 MiB back");
		spawn_free(&s);
	}
	{
		const char *const argv[] = {"head", "-c", "10", NULL};
		struct spawn s = {.argv = argv, .in = SPAWN_PIPE, .out = SPAWN_PIPE, .out_max = 4};

		s.in_buf = big;
		s.in_len = sizeof(big);
		is_int(spawn_run(&s, &err), -EPIPE,
		       "a helper that stops reading: EPIPE, no SIGPIPE");
		ok(s.out_len == 4 && s.out_truncated, "capture bounded, rest dropped");
		spawn_free(&s);
	}
	{
		struct spawn s = {.child = child_writes, .arg = "hello", .out = SPAWN_PIPE};

		is_int(spawn_run(&s, &err), 0, "function child");
		ok(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 7,
		   "its return is the exit code");
		is_str(s.out_buf, "hello", "its stdout captured");
		spawn_free(&s);
	}
	{
		const char *const argv[] = {"sleep", "10", NULL};
		struct spawn s = {.argv = argv, .timeout_ms = 100};

		is_int(spawn_run(&s, &err), -ETIMEDOUT, "timeout");
		ok(WIFSIGNALED(s.status) && WTERMSIG(s.status) == SIGKILL, "child killed");
	}
	{
		const char *const argv[] = {"sh", "-c", "echo \"$PATH|$LC_ALL|$FOO|$HOME\"", NULL};
		const char *const env[] = {"FOO=bar", NULL};
		struct spawn s = {.argv = argv, .env = env, .out = SPAWN_PIPE};

		setenv("HOME", "/root", 1);
		is_int(spawn_run(&s, &err), 0, "environment");
		is_str(s.out_buf, SPAWN_TRUSTED_PATH "|C|bar|\n", "clean environment plus env");
		spawn_free(&s);
	}
	{
		const char *const argv[] = {"no-such-program-here", NULL};
		struct spawn s = {.argv = argv};

		is_int(spawn_run(&s, &err), -ENOENT, "unknown program refused before fork");
	}
	{
		const char *const argv[] = {"/nonexistent/x", NULL};
		struct spawn s = {.argv = argv};

		is_int(spawn_run(&s, &err), -ENOENT, "exec failure reported with its errno");
	}
	fake = xasprintf("%s/tar", dir);
	setenv("PATH", dir, 1);
	tar = spawn_resolve("tar");
	ok(tar && strcmp(tar, fake) && tar[0] == '/', "a bare name is not looked up in PATH");
	free(tar);
	tar = spawn_resolve("/bin/sh");
	is_str(tar, "/bin/sh", "a path is kept");
	unlink(fake);
	rmdir(dir);
	return done_testing();
}
