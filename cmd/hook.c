/*
 * cmd/hook.c - `ckpt-oci hook [STAGE]`: the OCI runtime hook entry. Reads
 * the container's state JSON on stdin and calls oci_hook(). A hook's
 * failure must never stop the container (runc kills a container whose
 * poststart hook fails), so errors are printed and the exit status is 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
#include "oci/oci.h"

#define STATE_MAX (1u << 20)

static void hook_usage(FILE *f)
{
	fprintf(f, "usage: ckpt-oci hook [STAGE]   (called by the runtime; state JSON on stdin)\n"
		   "\n"
		   "  STAGE  poststart or poststop (others are accepted and do nothing);\n"
		   "         default: poststop when the state says \"stopped\", else poststart\n"
		   "\n"
		   "Annotations: org.ckpt-oci.checkpoint-interval=DURATION (500ms, 10s, 5m, 1h),\n"
		   "org.ckpt-oci.checkpoint-dir=DIR, org.ckpt-oci.keep=N (default 2),\n"
		   "org.ckpt-oci.runtime=runc|crun, org.ckpt-oci.root=DIR. ckpt-oci-hook(1).\n");
}

/* All of stdin, bounded: the state is small, but it comes from outside. */
static int read_state(char *buf, size_t size, size_t *len)
{
	ssize_t n;

	*len = 0;
	while ((n = read(0, buf + *len, size - *len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		*len += n;
		if (*len == size)
			return -EFBIG;
	}
	return 0;
}

int cmd_hook(int argc, char **argv)
{
	static char state[STATE_MAX];
	const char *stage = NULL;
	ckpt_err_t err = {0};
	size_t len;
	int ret;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		hook_usage(stdout);
		return 0;
	}
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		hook_usage(stderr);
		return 2;
	}
	if (argc == 2)
		stage = argv[1];
	ret = read_state(state, sizeof(state), &len);
	if (ret < 0) {
		fprintf(stderr, "ckpt-oci hook: read state on stdin: %s\n",
			ret == -EFBIG ? "too large" : strerror(-ret));
		return 0;
	}
	if (oci_hook(stage, state, len, &err) < 0)
		fprintf(stderr, "ckpt-oci hook: %s\n", err.msg);
	return 0;
}
