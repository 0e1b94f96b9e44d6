/*
 * cmd/receive.c - `ckpt-oci receive --listen HOST:PORT [-o DIR]`: take one tree
 * from `ckpt-oci migrate` on another node and restore it here; a container's
 * under its runtime (oci/restore.c), in the state root and root directory
 * this command line names (never ones the stream names).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"

static void receive_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci receive --listen HOST:PORT [-o DIR] [--key FILE]\n"
		"                        [--root DIR] [--rootfs DIR] [--name NAME]\n\n"
		"Take one tree from `ckpt-oci migrate`, restore it here (detached) and\n"
		"print its root's pid. The sender must hold the key. A container is\n"
		"restored under the runtime it ran under (runc, crun).\n\n"
		"  -l, --listen HOST:PORT  where to listen (port 0: any free one); the\n"
		"                          address is printed once listening\n"
		"  -o, --output DIR        where the bundle, restore.log and\n"
		"                          lazy-pages.log go (default: /var/tmp/ckpt-oci-receive)\n"
		"  -k, --key FILE          the key both nodes hold (default: " BUNDLE_HOST_KEY ")\n"
		"A container:\n"
		"      --root DIR          the runtime's state root here (default /run/runc,\n"
		"                          /run/crun)\n"
		"      --rootfs DIR        its root directory here: a copy of its image, onto\n"
		"                          which its changes go (default: the one it had)\n"
		"      --name NAME         its name here (default: the one it had)\n");
}

struct receive_arg {
	struct oci_restore_opts oci;
	bool container; /* oci.restored: the container that runs */
};

static void receive_ready(const char *bound, void *arg)
{
	(void)arg;
	printf("listening on %s\n", bound);
	fflush(stdout);
}

/* A container's bundle goes to its runtime, any other to the engine. */
static int receive_restore(struct ckpt_restore_opts *r, void *arg, ckpt_err_t *err)
{
	struct receive_arg *a = arg;
	int ret;

	if (!oci_is_container_bundle(r->bundle)) {
		if (a->oci.root || a->oci.rootfs || a->oci.name)
			return ckpt_error_msg(err, EINVAL,
					      "--root, --rootfs and --name are for a container; "
					      "this is a process tree");
		return ckpt_restore(r, err);
	}
	a->oci.restore = *r;
	ret = oci_restore(&a->oci, err);
	*r = a->oci.restore;
	a->container = ret == 0;
	return ret;
}

/* The sender went away once it ran: the tree goes, and the runtime's record of it. */
static void receive_discard(struct ckpt_restore_opts *r, void *arg)
{
	struct receive_arg *a = arg;
	int pidfd = syscall(SYS_pidfd_open, r->root_pid, 0);
	ckpt_err_t err = {0};

	kill(r->root_pid, SIGKILL);
	if (pidfd >= 0) {
		(void)poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, 10000);
		close(pidfd);
	}
	if (a->container && oci_delete(&a->oci.restored, &err) < 0)
		fprintf(stderr, "ckpt-oci: receive: %s, ignoring\n", err.msg);
}

static const struct option receive_longopts[] = {
	{"listen", required_argument, NULL, 'l'}, {"output", required_argument, NULL, 'o'},
	{"key", required_argument, NULL, 'k'},	  {"root", required_argument, NULL, 'D'},
	{"rootfs", required_argument, NULL, 'F'}, {"name", required_argument, NULL, 'N'},
	{"help", no_argument, NULL, 'h'},	  {0},
};

int cmd_receive(int argc, char **argv)
{
	struct receive_arg a = {0};
	struct ckpt_receive_opts o = {.dir = "/var/tmp/ckpt-oci-receive",
				      .ready = receive_ready,
				      .restore = receive_restore,
				      .discard = receive_discard,
				      .arg = &a};
	ckpt_err_t err = {0};
	int c, ret;

	while ((c = getopt_long(argc, argv, "l:o:k:h", receive_longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.listen = optarg;
			break;
		case 'o':
			o.dir = optarg;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case 'D':
			a.oci.root = optarg;
			break;
		case 'F':
			a.oci.rootfs = optarg;
			break;
		case 'N':
			a.oci.name = optarg;
			break;
		case 'h':
			receive_usage(stdout);
			return 0;
		default:
			receive_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !o.listen) {
		receive_usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ret = ckpt_receive(&o, &err);
	oci_container_free(&a.oci.restored);
	if (ret < 0)
		return cmd_fail("receive", err.msg);
	printf("%d\n", o.root_pid);
	return 0;
}
