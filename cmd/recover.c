/*
 * cmd/recover.c - `ckpt-oci recover`: undo what killed runs left outside
 * their trees (a frozen cgroup, a network lock, a half bundle, a killed
 * restore's cgroups and runtime state). Every other command does the same
 * first, quietly but for one line per change undone.
 *
 * A tree a lazy migration left stopped (node B may run it) is never
 * touched by that: recover names it, and only --resume ROOT or --kill
 * ROOT, once node B's copy is known gone or known running, releases it.
 */
#include <stdio.h>
#include <stdlib.h>
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

static void say_held(pid_t root, void *arg)
{
	printf("tree of %d left stopped by a lazy migration (the other node may run it): "
	       "ckpt-oci recover --resume %d, or --kill %d\n",
	       root, root, root);
}

void cmd_recover_quietly(void)
{
	ckpt_err_t err = {0};

	(void)!ckpt_recover(say_stderr, &err);
}

static int recover_usage(FILE *f, int status)
{
	fprintf(f, "usage: ckpt-oci recover [--resume ROOT | --kill ROOT]\n");
	return status;
}

int cmd_recover(int argc, char **argv)
{
	ckpt_err_t err = {0};
	int n;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return recover_usage(stdout, 0);
	if (argc == 3 && (!strcmp(argv[1], "--resume") || !strcmp(argv[1], "--kill"))) {
		bool kill_it = !strcmp(argv[1], "--kill");
		char *end;
		long root = strtol(argv[2], &end, 10);

		if (*end || root <= 0 || root > 4194304)
			return recover_usage(stderr, 2);
		if (ckpt_held_release((pid_t)root, kill_it, &err) < 0)
			return cmd_fail("recover", err.msg);
		printf("tree of %ld %s\n", root, kill_it ? "killed" : "resumed");
		return 0;
	}
	if (argc > 1)
		return recover_usage(stderr, 2);
	n = ckpt_recover(say_stdout, &err);
	if (n < 0)
		return cmd_fail("recover", err.msg);
	n += ckpt_held_list(say_held, NULL);
	if (n == 0)
		printf("nothing to recover\n");
	return 0;
}
