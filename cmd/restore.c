/*
 * cmd/restore.c - `ckpt-oci restore [-d] [--pid-file F] BUNDLE`.
 * Without -d, waits for the restored root and exits with its status.
 * A container's bundle is restored under its runtime (oci/restore.c)
 * unless --no-runtime.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"
#include "util/fault.h"

static void restore_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci restore [-d] [--pid-file F] [--work-dir DIR] [--ignore-file-changes]\n"
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
		   "      --console-socket PATH  the tree's console (a terminal whose master\n"
		   "                       was outside it, as a container's terminal: true) is\n"
		   "                       made again; its master goes to this unix socket\n"
		   "  -v, --verbose        progress on stderr\n");
}

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "detach", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "work-dir", required_argument, NULL, 'w' },
		{ "ignore-file-changes", no_argument, NULL, 'I' },
		{ "mount-map", required_argument, NULL, 'M' },
		{ "veth-map", required_argument, NULL, 'V' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "name", required_argument, NULL, 'N' },
		{ "runtime", required_argument, NULL, 'R' },
		{ "root", required_argument, NULL, 'r' },
		{ "no-runtime", no_argument, NULL, 'n' },
		{ "rootfs", required_argument, NULL, 'F' },
		{ "key", required_argument, NULL, 'K' },
		{ "insecure-unauthenticated", no_argument, NULL, 'U' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct oci_restore_opts oopts = { 0 };
	struct ckpt_restore_opts opts = { 0 };
	const char **maps = NULL, **veths = NULL;
	ckpt_err_t err = { 0 };
	int c, ret;

	while ((c = getopt_long(argc, argv, "dP:w:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			opts.detach = true;
			break;
		case 'P':
			opts.pid_file = optarg;
			break;
		case 'w':
			opts.work_dir = optarg;
			break;
		case 'I':
			opts.ignore_file_changes = true;
			break;
		case 'M':
			if (!strchr(optarg, '=') || optarg[0] != '/' || strchr(optarg, '=')[1] != '/') {
				fprintf(stderr, "ckpt-oci restore: --mount-map wants /OLD=/NEW\n");
				return 2;
			}
			maps = realloc(maps, (opts.nmount_map + 1) * sizeof(*maps));
			if (!maps)
				return cmd_fail("restore", "out of memory");
			maps[opts.nmount_map++] = optarg;
			opts.mount_map = maps;
			break;
		case 'V':
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
				fprintf(stderr, "ckpt-oci restore: --veth-map wants CTNAME=HOSTNAME\n");
				return 2;
			}
			veths = realloc(veths, (opts.nveth_map + 1) * sizeof(*veths));
			if (!veths)
				return cmd_fail("restore", "out of memory");
			veths[opts.nveth_map++] = optarg;
			opts.veth_map = veths;
			break;
		case 'v':
			opts.verbose = true;
			break;
		case 'N':
			oopts.name = optarg;
			break;
		case 'R':
			oopts.runtime = optarg;
			break;
		case 'r':
			oopts.root = optarg;
			break;
		case 'n':
			oopts.no_runtime = true;
			break;
		case 'F':
			oopts.rootfs = optarg;
			break;
		case 'C':
			opts.console_socket = optarg;
			break;
		case 'K':
			opts.key_file = optarg;
			break;
		case 'U':
			opts.insecure_unauthenticated = true;
			break;
		case 'h':
			restore_usage(stdout);
			return 0;
		default:
			restore_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		restore_usage(stderr);
		return 2;
	}
	opts.bundle = argv[optind];
	if (oopts.no_runtime && (oopts.name || oopts.runtime || oopts.root)) {
		fprintf(stderr, "ckpt-oci restore: --no-runtime with --name, --runtime or --root\n");
		return 2;
	}
	if (ckpt_fault_arm(getppid(), &err) < 0)
		return cmd_fail("restore", err.msg);
	if (oci_is_container_bundle(opts.bundle)) {
		oopts.restore = opts;
		ret = oci_restore(&oopts, &err);
		opts = oopts.restore;
	} else if (oopts.name || oopts.runtime || oopts.root || oopts.rootfs || oopts.no_runtime) {
		return cmd_fail("restore", "--name, --runtime, --root, --rootfs and --no-runtime "
					   "need a container's bundle");
	} else {
		ret = ckpt_restore(&opts, &err);
	}
	ckpt_fault_report();
	if (ret < 0)
		return cmd_fail("restore", err.msg);
	if (opts.detach) {
		printf("%d\n", opts.root_pid);
		return 0;
	}
	if (WIFEXITED(opts.exit_status))
		return WEXITSTATUS(opts.exit_status);
	if (WIFSIGNALED(opts.exit_status))
		return 128 + WTERMSIG(opts.exit_status);
	return 1;
}
