/*
 * cmd/recover.c - `ckpt-oci recover`: undo what killed runs left outside
 * their trees (a frozen cgroup, a network lock, a half bundle, a killed
 * restore's cgroups and runtime state). Every other command does the same
 * first, quietly but for one line per change undone.
 */
#include <stdio.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static void say_stdout(const char *what)
{
	printf("%s\n", what);
}

static void say_stderr(const char *what)
{
	fprintf(stderr, "ckpt-oci: after a killed run: %s\n", what);
}

void cmd_recover_quietly(void)
{
	ckpt_err_t err = {0};

	(void)!ckpt_recover(say_stderr, &err);
}

int cmd_recover(int argc, char **argv)
{
	ckpt_err_t err = {0};
	int n;

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			printf("usage: ckpt-oci recover\n");
			return 0;
		}
		fprintf(stderr, "usage: ckpt-oci recover\n");
		return 2;
	}
	n = ckpt_recover(say_stdout, &err);
	if (n < 0)
		return cmd_fail("recover", err.msg);
	if (n == 0)
		printf("nothing to recover\n");
	return 0;
}
