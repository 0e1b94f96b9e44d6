/*
 * cmd/check.c - `ckpt-oci check [--json]`: probe this host's kernel
 * features. Exit status 0 when every required feature works, 1 when one
 * is missing or the check itself failed, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>

#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci check [--json]\n"
		   "\n"
		   "Exercise every kernel feature ckpt-oci relies on and print one line each.\n"
		   "\n"
		   "  --json   print {\"probes\":[{name,required,ok,detail}...],\"ok\":bool}\n"
		   "  --help   this text\n");
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	ckpt_err_t err = {0};
	bool arg_json = false;
	int c, ret;

	opterr = 0; /* our own message, naming the command */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			arg_json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "ckpt-oci: check: unknown option `%s`\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ckpt-oci: check: unexpected argument `%s`\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	ret = ckpt_check(stdout, arg_json, &err);
	if (ret < 0)
		return cmd_fail("check", err.msg);
	return ret;
}
