/*
 * cmd/main.c - the subcommand table, --version and help.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "criu/criu.h"

struct subcommand {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand commands[] = {
	{"checkpoint", cmd_checkpoint, "checkpoint a process tree (--pid) or a container"},
	{"restore", cmd_restore, "restore a bundle and resume it"},
	{"inspect", cmd_inspect, "show what a bundle holds"},
	{"check", cmd_check, "probe this host's kernel features"},
	{"hook", cmd_hook, "OCI runtime hook (state JSON on stdin)"},
	{"criu", criu_main, "CRIU's RPC service for runc, podman, containerd"},
	{"recover", cmd_recover, "undo what a killed ckpt-oci left behind"},
	{"page-server", cmd_page_server, "serve a bundle's pages to restore --lazy elsewhere"},
	{"migrate", cmd_migrate, "move a process tree to a node running receive"},
	{"receive", cmd_receive, "take a tree from migrate and restore it here"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'ckpt-oci COMMAND --help' for a command's options; ckpt-oci(1).\n");
}

int cmd_fail(const char *what, const char *msg)
{
	if (what && *what)
		fprintf(stderr, "ckpt-oci: %s: %s\n", what, msg);
	else
		fprintf(stderr, "ckpt-oci: %s\n", msg);
	return 1;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	/* installed as `criu` (make install-criu-compat): CRIU's command line */
	if (!strcmp(self, "criu"))
		return criu_main(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("ckpt-oci %s\n", CKPT_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name)) {
			if (commands[i].fn != cmd_recover)
				cmd_recover_quietly();
			return commands[i].fn(argc - 1, argv + 1);
		}
	fprintf(stderr, "ckpt-oci: unknown command `%s`\n", argv[1]);
	usage(stderr);
	return 2;
}
