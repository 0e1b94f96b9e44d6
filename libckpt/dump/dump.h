/*
 * libckpt/dump/dump.h - the steps of the checkpoint pipeline (dump.c) that
 * the pre-dump pipeline (predump.c) shares.
 */
#ifndef CKPT_DUMP_H
#define CKPT_DUMP_H

#include "ckpt/ckpt.h"
#include "dump/freezer.h"
#include "engine.h"

/* One checkpoint of a tree at a time: the lock fd, *path to release it with. */
int tree_lock(pid_t root, char **path, ckpt_err_t *err);
/* The log opened, the bundle created (journaled) and the caller's documents added. */
int dump_open(struct ckpt_dump_opts *o, struct ckpt_ctx *ctx, int *j_tmp, ckpt_err_t *err);
/* Every thread of the tree ptrace-stopped, through the freezer when it has a cgroup. */
int seize_frozen_or_not(struct ckpt_ctx *ctx, const struct ckpt_dump_opts *o, struct freezer *fz,
			ckpt_err_t *err);
/* Resume the tree; one that was frozen (paused) is frozen again first. */
void release_tree(struct ckpt_ctx *ctx, struct freezer *fz);
/*
 * held.c: the tree left stopped, detached (leave_stopped): held_stop while
 * every thread is still ptrace-stopped (netlock: its network locked, left
 * so), held_freeze once released.
 */
void held_stop(struct ckpt_ctx *ctx, bool netlock);
void held_freeze(struct ckpt_ctx *ctx, struct freezer *fz);
/* predump.c: --pre-dump. */
int ckpt_predump(struct ckpt_dump_opts *o, ckpt_err_t *err);

#endif
