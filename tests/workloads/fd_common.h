/*
 * tests/workloads/fd_common.h - helpers for the fd_* workloads: a private
 * scratch directory (the harness's test directory when run by it).
 */
#ifndef FD_COMMON_H
#define FD_COMMON_H

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* path of name inside the test directory (beside $WL_READY), else /tmp */
static inline const char *fd_path(const char *name)
{
	static char buf[8][4096];
	static int n;
	const char *ready = getenv("WL_READY");
	char dir[4096];
	char *p = buf[n++ % 8];

	snprintf(dir, sizeof(dir), "%s", ready ? ready : "/tmp/x");
	snprintf(p, 4096, "%s/%s", dirname(dir), name);
	return p;
}

#endif
