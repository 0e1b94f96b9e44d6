/*
 * criu/criu.c - `ckpt-oci criu ARGS`, or ckpt-oci run under the name `criu`
 * (make install-criu-compat): the part of CRIU's command line its callers
 * use. runc, podman (go-criu) and containerd run `criu swrk FD` and speak
 * the RPC protocol (swrk.c); some check `criu --version` or `criu check`
 * first. Any other CRIU command is refused with a pointer to ckpt-oci's
 * own (ckpt-oci-criu(1)).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt/ckpt.h"
#include "criu/criu.h"
#include "criu/swrk.h"

static void criu_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci criu swrk FD      CRIU's RPC service on socket FD\n"
		   "       ckpt-oci criu --version   (-V) the CRIU version reported\n"
		   "       ckpt-oci criu check       whether this kernel has what is needed\n"
		   "Installed as `criu` (make install-criu-compat), runc, podman and\n"
		   "containerd checkpoint and restore through ckpt-oci. See ckpt-oci-criu(1).\n");
}

static int criu_check(void)
{
	ckpt_err_t err = {0};
	int ret = ckpt_check(stdout, false, &err);

	if (ret < 0) {
		fprintf(stderr, "ckpt-oci criu: check: %s\n", err.msg);
		return 1;
	}
	if (ret == 0)
		printf("Looks good.\n");
	return ret;
}

int criu_main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	char *end;
	long fd;

	if (!cmd) {
		criu_usage(stderr);
		return 1;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		/* CRIU's format: callers that parse it read the first line */
		printf("Version: %d.%d\n", SWRK_VERSION_MAJOR, SWRK_VERSION_MINOR);
		printf("ckpt-oci: %s\n", CKPT_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		criu_usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "check"))
		return criu_check();
	if (!strcmp(cmd, "swrk")) {
		fd = argc == 3 ? strtol(argv[2], &end, 10) : -1;
		if (argc != 3 || *end || fd < 0 || fd > 1 << 20) {
			fprintf(stderr, "ckpt-oci criu: swrk wants one socket fd\n");
			return 1;
		}
		return swrk_serve((int)fd);
	}
	fprintf(stderr,
		"ckpt-oci criu: `%s` is not served: only CRIU's RPC service (swrk), "
		"--version and check are; use `ckpt-oci checkpoint` and `ckpt-oci "
		"restore` directly (ckpt-oci-criu(1))\n",
		cmd);
	return 1;
}
