/*
 * cmd/checkpoint.c - `ckpt-oci checkpoint [OPTIONS] CONTAINER` and
 * `ckpt-oci checkpoint --pid PID -o BUNDLE`. Parses options into struct
 * ckpt_dump_opts and calls oci_checkpoint() (a container by name) or
 * ckpt_dump() (any process tree), in a worker process (cmd/worker.c): a
 * signal or a kill of this process rolls the checkpoint back, never cuts
 * it short.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"

static void checkpoint_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci checkpoint [--runtime runc|crun] [--root DIR] [-o BUNDLE]\n"
		"                           [--leave-running] [OPTIONS] CONTAINER\n"
		"       ckpt-oci checkpoint --pid PID -o BUNDLE [--leave-running] [OPTIONS]\n"
		"\n"
		"      --runtime NAME   the container's runtime: runc or crun (default: runc,\n"
		"                       or crun when only crun knows the container)\n"
		"      --root DIR       the runtime's state root (default /run/runc, /run/crun)\n"
		"  -p, --pid PID        root of the process tree to checkpoint\n"
		"  -o, --output DIR     bundle directory to create (must not exist;\n"
		"                       default for a container: ./CONTAINER-checkpoint)\n"
		"  -R, --leave-running  resume the tree afterwards (default: stop it)\n"
		"  -w, --work-dir DIR   where dump.log is written (default: beside the bundle)\n"
		"      --cgroup PATH    freeze this cgroup (v1 freezer or v2) instead of\n"
		"                       seizing thread by thread\n"
		"      --ghost-limit N  largest unlinked file saved with its content, in\n"
		"                       bytes (suffix K, M, G; default 64M)\n"
		"      --tcp-established  also checkpoint established TCP connections\n"
		"                       (TCP_REPAIR; default: refuse them)\n"
		"      --ext-unix-sk    a datagram unix socket connected to a named one\n"
		"                       outside the tree is connected to that name again\n"
		"                       at restore (default: refuse it)\n"
		"      --skip-in-flight  leave out connections a listener has not accepted\n"
		"                       yet (default: refuse such a listener)\n"
		"      --no-rootfs      leave the container's root directory changes out of\n"
		"                       the bundle (rootfs-diff.tar)\n"
		"      --key FILE       MAC the bundle with this key, shared with the nodes\n"
		"                       that restore it (default: this host's key,\n"
		"                       " BUNDLE_HOST_KEY ", made on first use)\n"
		"      --compress zstd[:LEVEL]  compress every file of the bundle, each 1 MiB\n"
		"                       chunk on its own (default level: 1, zstd's fast one)\n"
		"      --encrypt FILE   encrypt and authenticate every file with this key\n"
		"                       (32 bytes, 0600, as --key's); restore and inspect\n"
		"                       need it (--decrypt FILE)\n"
		"      --pre-dump       copy memory only, the tree running, and track the\n"
		"                       pages it writes from now on (the tree runs on)\n"
		"      --parent DIR     a pre-dump of the same tree: pages it holds that\n"
		"                       were not written since are referenced, not copied\n"
		"  -v, --verbose        progress on stderr\n");
}

static int container_work(void *arg, ckpt_err_t *err)
{
	return oci_checkpoint(arg, err);
}

static int tree_work(void *arg, ckpt_err_t *err)
{
	return ckpt_dump(arg, err);
}

static int checkpoint_container(struct oci_checkpoint_opts *oci, struct ckpt_dump_opts *opts,
				int nargs, char **args)
{
	char what[300];

	if (nargs > 1)
		return cmd_fail("checkpoint", "one CONTAINER at a time");
	if (opts->pid || opts->cgroup)
		return cmd_fail("checkpoint", "--pid and --cgroup are for a process tree, "
					      "not a CONTAINER");
	oci->id = args[0];
	oci->dump = *opts;
	snprintf(what, sizeof(what), "checkpoint %s", oci->id);
	return cmd_worker(what, container_work, oci);
}

static const struct option checkpoint_longopts[] = {
	{"pid", required_argument, NULL, 'p'},
	{"output", required_argument, NULL, 'o'},
	{"leave-running", no_argument, NULL, 'R'},
	{"work-dir", required_argument, NULL, 'w'},
	{"cgroup", required_argument, NULL, 'c'},
	{"ghost-limit", required_argument, NULL, 'G'},
	{"tcp-established", no_argument, NULL, 'T'},
	{"ext-unix-sk", no_argument, NULL, 'X'},
	{"skip-in-flight", no_argument, NULL, 'I'},
	{"verbose", no_argument, NULL, 'v'},
	{"runtime", required_argument, NULL, 'r'},
	{"root", required_argument, NULL, 'D'},
	{"no-rootfs", no_argument, NULL, 'F'},
	{"key", required_argument, NULL, 'K'},
	{"compress", required_argument, NULL, 'Z'},
	{"encrypt", required_argument, NULL, 'E'},
	{"pre-dump", no_argument, NULL, 'P'},
	{"parent", required_argument, NULL, 'A'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* --ghost-limit N[KMG]: false when it is not a size. */
static bool ghost_limit_parse(const char *arg, unsigned long long *n)
{
	char *end;

	*n = strtoull(arg, &end, 10);
	if (*end && strchr("KMG", *end) && !end[1]) {
		*n <<= *end == 'K' ? 10 : *end == 'M' ? 20 : 30;
		return true;
	}
	return !*end && *n;
}

/* One option into opts or oci: -1 to go on, else the exit status. */
static int checkpoint_opt(int c, struct ckpt_dump_opts *opts, struct oci_checkpoint_opts *oci)
{
	char *end;

	switch (c) {
	case 'p':
		opts->pid = strtol(optarg, &end, 10);
		if (*end || opts->pid <= 0)
			return cmd_fail("checkpoint", "--pid needs a positive number");
		break;
	case 'o':
		opts->bundle = optarg;
		break;
	case 'R':
		opts->leave_running = true;
		break;
	case 'w':
		opts->work_dir = optarg;
		break;
	case 'c':
		opts->cgroup = optarg;
		break;
	case 'G':
		if (!ghost_limit_parse(optarg, &opts->ghost_limit))
			return cmd_fail("checkpoint", "--ghost-limit needs a size such as 64M");
		break;
	case 'T':
		opts->tcp_established = true;
		break;
	case 'X':
		opts->ext_unix_sk = true;
		break;
	case 'I':
		opts->skip_in_flight = true;
		break;
	case 'r':
		oci->runtime = optarg;
		break;
	case 'D':
		oci->root = optarg;
		break;
	case 'F':
		oci->no_rootfs = true;
		break;
	case 'K':
		opts->key_file = optarg;
		break;
	case 'Z':
		if (strncmp(optarg, "zstd", 4) || (optarg[4] && optarg[4] != ':'))
			return cmd_fail("checkpoint", "--compress knows zstd or zstd:LEVEL");
		opts->compress = true;
		if (optarg[4]) {
			opts->compress_level = strtol(optarg + 5, &end, 10);
			if (*end || !optarg[5] || opts->compress_level < -7 ||
			    opts->compress_level > 19 || !opts->compress_level)
				return cmd_fail("checkpoint", "--compress zstd:LEVEL wants a level "
							      "of -7..19 but 0");
		}
		break;
	case 'E':
		opts->encrypt_key = optarg;
		break;
	case 'P':
		/* the tree runs on: a container is not stopped either */
		opts->pre_dump = true;
		opts->leave_running = true;
		break;
	case 'A':
		opts->parent = optarg;
		break;
	case 'v':
		opts->verbose = true;
		break;
	case 'h':
		checkpoint_usage(stdout);
		return 0;
	default:
		checkpoint_usage(stderr);
		return 2;
	}
	return -1;
}

int cmd_checkpoint(int argc, char **argv)
{
	struct oci_checkpoint_opts oci = {0};
	struct ckpt_dump_opts opts = {0};
	char what[64];
	int c, ret;

	while ((c = getopt_long(argc, argv, "p:o:Rw:vh", checkpoint_longopts, NULL)) != -1) {
		ret = checkpoint_opt(c, &opts, &oci);
		if (ret >= 0)
			return ret;
	}
	if (optind < argc)
		return checkpoint_container(&oci, &opts, argc - optind, argv + optind);
	if (oci.runtime || oci.root || oci.no_rootfs)
		return cmd_fail("checkpoint", "--runtime, --root and --no-rootfs need a CONTAINER");
	if (!opts.pid || !opts.bundle) {
		checkpoint_usage(stderr);
		return 2;
	}
	snprintf(what, sizeof(what), "checkpoint %d", opts.pid);
	return cmd_worker(what, tree_work, &opts);
}
