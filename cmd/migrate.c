/*
 * cmd/migrate.c - `ckpt-oci migrate --pid PID --to HOST:PORT [--lazy] [--pre-copy N]`:
 * move a
 * process tree to the node where `ckpt-oci receive` listens.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

#define MIG_PRE_MAX 16 /* --pre-copy at most */

static void migrate_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci migrate --pid PID --to HOST:PORT [--lazy] [--pre-copy N]\n"
		"                        [-w DIR] [--key FILE]\n\n"
		"Checkpoint the tree of PID, stream it to `ckpt-oci receive` at HOST:PORT,\n"
		"which restores it; the tree here is killed only once it runs there, and\n"
		"resumes if anything fails before.\n\n"
		"  -p, --pid PID         root of the tree\n"
		"  -t, --to HOST:PORT    the receiver\n"
		"      --lazy            restore there before the pages are: they are served\n"
		"                        from here (a page server) until all are there\n"
		"      --pre-copy N      first up to N pre-dump rounds (1-16), the tree\n"
		"                        running, each sent at once; the tree then stops\n"
		"                        only for the pages written since the last\n"
		"  -w, --work-dir DIR    where this node's bundle and dump.log go\n"
		"                        (default: /var/tmp)\n"
		"      --keep-bundle     leave this node's bundle behind\n"
		"  -k, --key FILE        the key both nodes hold (default: " BUNDLE_HOST_KEY ")\n"
		"      --json            print {frozen_ms, bytes_sent, root_pid} when done\n"
		"  -v, --verbose         progress on stderr\n");
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pid", required_argument, NULL, 'p'},
		{"to", required_argument, NULL, 't'},
		{"lazy", no_argument, NULL, 'L'},
		{"work-dir", required_argument, NULL, 'w'},
		{"keep-bundle", no_argument, NULL, 'B'},
		{"key", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"pre-copy", required_argument, NULL, 'P'},
		{0},
	};
	struct ckpt_migrate_opts o = {0};
	ckpt_err_t err = {0};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, "p:t:w:k:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o.pid = atoi(optarg);
			break;
		case 't':
			o.to = optarg;
			break;
		case 'L':
			o.lazy = true;
			break;
		case 'P':
			o.pre_copy = atoi(optarg);
			if (o.pre_copy < 1 || o.pre_copy > MIG_PRE_MAX) {
				fprintf(stderr, "migrate: --pre-copy: %s is not in 1..%d\n", optarg,
					MIG_PRE_MAX);
				return 2;
			}
			break;
		case 'w':
			o.work_dir = optarg;
			break;
		case 'B':
			o.keep_bundle = true;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'v':
			o.verbose = true;
			break;
		case 'h':
			migrate_usage(stdout);
			return 0;
		default:
			migrate_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || o.pid <= 0 || !o.to) {
		migrate_usage(stderr);
		return 2;
	}
	/* a receiver that goes away is an error to report, the tree resumed */
	signal(SIGPIPE, SIG_IGN);
	if (ckpt_migrate(&o, &err) < 0)
		return cmd_fail("migrate", err.msg);
	if (json)
		printf("{\"frozen_ms\": %.3f, \"bytes_sent\": %llu, \"root_pid\": %d, "
		       "\"pre_rounds\": %d}\n",
		       o.frozen_ns / 1e6, (unsigned long long)o.bytes_sent, o.root_pid,
		       o.pre_rounds);
	return 0;
}
