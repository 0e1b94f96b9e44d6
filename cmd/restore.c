/*
 * cmd/restore.c - `ckpt-oci restore [-d] [--pid-file F] BUNDLE`.
 * Without -d, waits for the restored root and exits with its status.
 * A container's bundle is restored under its runtime (oci/restore.c)
 * unless --no-runtime.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"
#include "util/abort.h"
#include "util/fault.h"

static void restore_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci restore [-d] [--pid-file F] [--work-dir DIR] "
		"[--ignore-file-changes]\n"
		"                        [--mount-map OLD=NEW]... [--key FILE] [-v]\n"
		"                        BUNDLE\n"
		"\n"
		"  -d, --detach         return once the tree runs, printing the root's pid\n"
		"      --pid-file F     write the root's pid to F\n"
		"  -w, --work-dir DIR   where restore.log is written (default: beside the bundle)\n"
		"      --ignore-file-changes  restore files that changed on disk since the\n"
		"                       checkpoint (default: refuse)\n"
		"      --mount-map OLD=NEW  take external mounts whose host path is under OLD\n"
		"                       from NEW instead (repeatable)\n"
		"      --veth-map CT=HOST  make the host end of veth CT in this namespace:\n"
		"                       on bridge HOST if it is one, else named HOST\n"
		"      --tcp-close      TCP connections come back closed, as reset by\n"
		"                       their peer (no byte of theirs is sent)\n"
		"A container's bundle is handed to its runtime (runc, crun):\n"
		"      --name NAME      the restored container's name (default: the old one)\n"
		"      --runtime R      runc or crun (default: the one it came from)\n"
		"      --root DIR       the runtime's state root (default: the one it came from)\n"
		"      --no-runtime     restore the processes only, unknown to any runtime\n"
		"      --rootfs DIR     the container's root directory: a copy of its image,\n"
		"                       onto which the bundle's changes go (default: the old one)\n"
		"Authentication (the bundle's MAC is checked before anything else):\n"
		"      --key FILE       the key it was written with (default: this host's,\n"
		"                       " BUNDLE_HOST_KEY ")\n"
		"      --insecure-unauthenticated  restore a bundle whose MAC is missing or\n"
		"                       does not verify: its tasks may be anyone's\n"
		"      --decrypt FILE   the key an encrypted bundle was written with\n"
		"                       (checkpoint --encrypt FILE; --encrypt FILE also works)\n"
		"      --console-socket PATH  the tree's console (a terminal whose master\n"
		"                       was outside it, as a container's terminal: true) is\n"
		"                       made again; its master goes to this unix socket\n"
		"Lazy restore (post-copy):\n"
		"      --lazy           resume the tree before its private memory is back:\n"
		"                       pages come on fault and in the background, from a\n"
		"                       lazy-pages process that outlives -d\n"
		"      --page-server HOST:PORT  with --lazy: the page images the bundle does\n"
		"                       not hold come from this page server\n"
		"  -v, --verbose        progress on stderr\n");
}

static const struct option restore_longopts[] = {
	{"detach", no_argument, NULL, 'd'},
	{"pid-file", required_argument, NULL, 'P'},
	{"work-dir", required_argument, NULL, 'w'},
	{"ignore-file-changes", no_argument, NULL, 'I'},
	{"mount-map", required_argument, NULL, 'M'},
	{"veth-map", required_argument, NULL, 'V'},
	{"tcp-close", no_argument, NULL, 'T'},
	{"verbose", no_argument, NULL, 'v'},
	{"name", required_argument, NULL, 'N'},
	{"runtime", required_argument, NULL, 'R'},
	{"root", required_argument, NULL, 'r'},
	{"no-runtime", no_argument, NULL, 'n'},
	{"rootfs", required_argument, NULL, 'F'},
	{"key", required_argument, NULL, 'K'},
	{"insecure-unauthenticated", no_argument, NULL, 'U'},
	{"decrypt", required_argument, NULL, 'E'},
	{"encrypt", required_argument, NULL, 'E'},
	{"console-socket", required_argument, NULL, 'C'},
	{"lazy", no_argument, NULL, 'L'},
	{"page-server", required_argument, NULL, 'S'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* One more OLD=NEW of --mount-map or --veth-map: -1, or the exit status. */
static int restore_map_add(const char ***list, int *n, const char *const **out, const char *arg)
{
	*list = realloc(*list, (*n + 1) * sizeof(**list));
	if (!*list)
		return cmd_fail("restore", "out of memory");
	(*list)[(*n)++] = arg;
	*out = *list;
	return -1;
}

/* A container's option (name, runtime, root, rootfs) into oopts: false for any other. */
static bool restore_oci_opt(int c, struct oci_restore_opts *oopts)
{
	switch (c) {
	case 'N':
		oopts->name = optarg;
		return true;
	case 'R':
		oopts->runtime = optarg;
		return true;
	case 'r':
		oopts->root = optarg;
		return true;
	case 'n':
		oopts->no_runtime = true;
		return true;
	case 'F':
		oopts->rootfs = optarg;
		return true;
	default:
		return false;
	}
}

/*
 * One option into opts or oopts (maps and veths: the growing lists of
 * --mount-map and --veth-map): -1 to go on, else the exit status.
 */
static int restore_opt(int c, struct ckpt_restore_opts *opts, struct oci_restore_opts *oopts,
		       const char ***maps, const char ***veths)
{
	if (restore_oci_opt(c, oopts))
		return -1;
	switch (c) {
	case 'd':
		opts->detach = true;
		break;
	case 'P':
		opts->pid_file = optarg;
		break;
	case 'w':
		opts->work_dir = optarg;
		break;
	case 'I':
		opts->ignore_file_changes = true;
		break;
	case 'T':
		opts->tcp_close = true;
		break;
	case 'M':
		if (!strchr(optarg, '=') || optarg[0] != '/' || strchr(optarg, '=')[1] != '/') {
			fprintf(stderr, "ckpt-oci restore: --mount-map wants /OLD=/NEW\n");
			return 2;
		}
		return restore_map_add(maps, &opts->nmount_map, &opts->mount_map, optarg);
	case 'V':
		if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
			fprintf(stderr, "ckpt-oci restore: --veth-map wants CTNAME=HOSTNAME\n");
			return 2;
		}
		return restore_map_add(veths, &opts->nveth_map, &opts->veth_map, optarg);
	case 'v':
		opts->verbose = true;
		break;
	case 'C':
		opts->console_socket = optarg;
		break;
	case 'K':
		opts->key_file = optarg;
		break;
	case 'U':
		opts->insecure_unauthenticated = true;
		break;
	case 'E':
		opts->decrypt_key = optarg;
		break;
	case 'L':
		opts->lazy = true;
		break;
	case 'S':
		opts->page_server = optarg;
		break;
	case 'h':
		restore_usage(stdout);
		return 0;
	default:
		restore_usage(stderr);
		return 2;
	}
	return -1;
}

/* The exit status of restore: the root's pid printed (detached), or its own status. */
static int restore_status(const struct ckpt_restore_opts *opts)
{
	if (opts->detach) {
		printf("%d\n", opts->root_pid);
		return 0;
	}
	if (WIFEXITED(opts->exit_status))
		return WEXITSTATUS(opts->exit_status);
	if (WIFSIGNALED(opts->exit_status))
		return 128 + WTERMSIG(opts->exit_status);
	return 1;
}

int cmd_restore(int argc, char **argv)
{
	struct oci_restore_opts oopts = {0};
	struct ckpt_restore_opts opts = {0};
	const char **maps = NULL, **veths = NULL;
	ckpt_err_t err = {0};
	int c, ret;

	while ((c = getopt_long(argc, argv, "dP:w:vh", restore_longopts, NULL)) != -1) {
		ret = restore_opt(c, &opts, &oopts, &maps, &veths);
		if (ret >= 0)
			return ret;
	}
	if (optind != argc - 1) {
		restore_usage(stderr);
		return 2;
	}
	opts.bundle = argv[optind];
	if (opts.page_server && !opts.lazy) {
		fprintf(stderr, "ckpt-oci restore: --page-server needs --lazy\n");
		return 2;
	}
	if (opts.page_server)
		signal(SIGPIPE, SIG_IGN); /* a page server gone is an error, not our death */
	if (oopts.no_runtime && (oopts.name || oopts.runtime || oopts.root)) {
		fprintf(stderr,
			"ckpt-oci restore: --no-runtime with --name, --runtime or --root\n");
		return 2;
	}
	if (ckpt_fault_arm(getppid(), &err) < 0)
		return cmd_fail("restore", err.msg);
	if (oci_is_container_bundle(opts.bundle)) {
		oopts.restore = opts;
		ret = oci_restore(&oopts, &err);
		opts = oopts.restore;
		oci_container_free(&oopts.restored);
	} else if (oopts.name || oopts.runtime || oopts.root || oopts.rootfs || oopts.no_runtime) {
		return cmd_fail("restore", "--name, --runtime, --root, --rootfs and --no-runtime "
					   "need a container's bundle");
	} else {
		ret = ckpt_restore(&opts, &err);
	}
	ckpt_fault_report();
	if (ret < 0 && err.code == ECANCELED && ckpt_abort_signal()) {
		/* rolled back: nothing of the tree is left; the signal's status */
		cmd_fail("restore", err.msg);
		return 128 + ckpt_abort_signal();
	}
	if (ret < 0)
		return cmd_fail("restore", err.msg);
	return restore_status(&opts);
}
