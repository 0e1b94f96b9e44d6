/*
 * cmd/inspect.c - `ckpt-oci inspect BUNDLE [--json]`: verify a bundle and
 * show what it holds.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static bool arg_json;
static const char *arg_key, *arg_decrypt;

static void inspect_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci inspect [--json] [--key FILE] [--decrypt FILE] BUNDLE\n\n"
		   "Verify BUNDLE (manifest version, every file's size and checksum) and\n"
		   "show whether its MAC verifies, the source host, the files, the process\n"
		   "tree and each task.\n\n"
		   "  -j, --json       print one JSON document {manifest, mac, pstree, tasks}\n"
		   "  -k, --key FILE   check the MAC with FILE (default: " BUNDLE_HOST_KEY ")\n"
		   "      --decrypt FILE  the key an encrypted bundle was written with\n"
		   "                   (checkpoint --encrypt FILE); also --encrypt FILE\n"
		   "  -h, --help       this help\n");
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"key", required_argument, NULL, 'k'},
		{"decrypt", required_argument, NULL, 'E'},
		{"encrypt", required_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	ckpt_err_t err = {0};
	int c;

	while ((c = getopt_long(argc, argv, "jk:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			arg_json = true;
			break;
		case 'k':
			arg_key = optarg;
			break;
		case 'E':
			arg_decrypt = optarg;
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
	if (ckpt_inspect(argv[optind], arg_key, arg_decrypt, stdout, arg_json, &err) < 0)
		return cmd_fail("inspect", err.msg);
	return 0;
}
