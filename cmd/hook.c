/*
 * cmd/hook.c - `ckpt-oci hook`: the OCI runtime hook entry.
 * Containers are not supported yet; the hook says so and fails cleanly.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

int cmd_hook(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: ckpt-oci hook   (called by the runtime; state JSON on stdin)\n");
		return 0;
	}
	return cmd_fail("hook", "container hooks are not supported yet");
}
