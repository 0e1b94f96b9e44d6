/*
 * cmd/receive.c - `ckpt-oci receive --listen HOST:PORT [-o DIR]`: take one tree
 * from `ckpt-oci migrate` on another node and restore it here.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static void receive_usage(FILE *f)
{
	fprintf(f,
		"usage: ckpt-oci receive --listen HOST:PORT [-o DIR] [--key FILE]\n\n"
		"Take one tree from `ckpt-oci migrate`, restore it here (detached) and\n"
		"print its root's pid. The sender must hold the key.\n\n"
		"  -l, --listen HOST:PORT  where to listen (port 0: any free one); the\n"
		"                          address is printed once listening\n"
		"  -o, --output DIR        where the bundle, restore.log and\n"
		"                          lazy-pages.log go (default: /var/tmp/ckpt-oci-receive)\n"
		"  -k, --key FILE          the key both nodes hold (default: " BUNDLE_HOST_KEY
		")\n");
}

static void receive_ready(const char *bound, void *arg)
{
	(void)arg;
	printf("listening on %s\n", bound);
	fflush(stdout);
}

int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"output", required_argument, NULL, 'o'},
		{"key", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct ckpt_receive_opts o = {.dir = "/var/tmp/ckpt-oci-receive", .ready = receive_ready};
	ckpt_err_t err = {0};
	int c;

	while ((c = getopt_long(argc, argv, "l:o:k:h", opts, NULL)) != -1) {
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
	if (ckpt_receive(&o, &err) < 0)
		return cmd_fail("receive", err.msg);
	printf("%d\n", o.root_pid);
	return 0;
}
