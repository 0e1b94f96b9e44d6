/*
 * cmd/page-server.c - `ckpt-oci page-server --listen HOST:PORT BUNDLE`: serve a
 * bundle's page images to `restore --lazy --page-server` on another node.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"

static void page_server_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci page-server --listen HOST:PORT [--once] [--key FILE] BUNDLE\n\n"
		   "Serve BUNDLE's page images to `ckpt-oci restore --lazy --page-server`.\n"
		   "A client must hold the bundle's key; it checks every chunk it gets.\n\n"
		   "  -l, --listen HOST:PORT  where to listen (port 0: any free one); the\n"
		   "                          address is printed once listening\n"
		   "      --once              exit once the clients that came are done\n"
		   "  -k, --key FILE          the bundle's key (default: " BUNDLE_HOST_KEY ")\n"
		   "      --insecure-unauthenticated  serve a bundle whose MAC does not verify\n"
		   "  -h, --help              this help\n");
}

static void page_server_ready(const char *bound, void *arg)
{
	(void)arg;
	printf("listening on %s\n", bound);
	fflush(stdout);
}

int cmd_page_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"once", no_argument, NULL, 'o'},
		{"key", required_argument, NULL, 'k'},
		{"insecure-unauthenticated", no_argument, NULL, 'U'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct ckpt_page_server_opts o = {.ready = page_server_ready};
	ckpt_err_t err = {0};
	int c;

	while ((c = getopt_long(argc, argv, "l:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.listen = optarg;
			break;
		case 'o':
			o.once = true;
			break;
		case 'k':
			o.key_file = optarg;
			break;
		case 'U':
			o.insecure_unauthenticated = true;
			break;
		case 'h':
			page_server_usage(stdout);
			return 0;
		default:
			page_server_usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !o.listen) {
		page_server_usage(stderr);
		return 2;
	}
	o.bundle = argv[optind];
	signal(SIGPIPE, SIG_IGN); /* a client that goes away is dropped, not fatal */
	if (ckpt_page_server(&o, &err) < 0)
		return cmd_fail("page-server", err.msg);
	return 0;
}
