/*
 * cmd/inspect.c - `ckpt-oci inspect BUNDLE [--json]`: verify a bundle and
 * show what it holds.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static bool arg_json;

static void inspect_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci inspect [--json] BUNDLE\n\n"
		   "Verify BUNDLE (manifest version, every file's size and checksum) and\n"
		   "show the source host, the files, the process tree and each task.\n\n"
		   "  -j, --json   print one JSON document {manifest, pstree, tasks}\n"
		   "  -h, --help   this help\n");
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	ckpt_err_t err = {0};
	int c;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			arg_json = true;
			break;
		case 'h':
			inspect_usage(stdout);
			return 0;
		default:
			inspect_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		inspect_usage(stderr);
		return 2;
	}
	if (ckpt_inspect(argv[optind], stdout, arg_json, &err) < 0)
		return cmd_fail("inspect", err.msg);
	return 0;
}
