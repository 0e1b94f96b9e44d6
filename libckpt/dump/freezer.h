/*
 * libckpt/dump/freezer.h - cgroup freezer (v1 freezer.state, v2 cgroup.freeze).
 *
 * Folder libckpt/dump/: the checkpoint pipeline (dump.c, short and
 * linear, one rollback exit): freeze the tree's cgroup, seize every thread
 * (seize.c), record the tree's shape (pstree.c, pstree.json), then each
 * task through the rooms (task/, mem/, files/) and the namespaces, and
 * finish by killing the tree or letting it run on.
 */
#ifndef CKPT_FREEZER_H
#define CKPT_FREEZER_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckpt/error.h"

struct freezer {
	int dirfd; /* the cgroup directory, -1 when none is used */
	bool v2;
	bool frozen;
	bool was_frozen; /* frozen before we came (a paused container) */
	char path[4096];
};

/*
 * The cgroup to freeze: `given`, or the root's own freezer (v1) or unified
 * (v2) cgroup when every process in it belongs to the tree. fz->dirfd
 * stays -1 when there is none.
 */
int freezer_find(struct freezer *fz, pid_t root, const char *given, ckpt_err_t *err);
int freezer_freeze(struct freezer *fz, ckpt_err_t *err);
void freezer_thaw(struct freezer *fz);
/*
 * A cgroup that was frozen before we froze it is frozen again before the
 * tree is released, so a paused container stays paused; no-op otherwise.
 */
int freezer_restore_state(struct freezer *fz, ckpt_err_t *err);
void freezer_close(struct freezer *fz);

#endif
