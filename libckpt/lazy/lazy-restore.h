/*
 * libckpt/lazy/lazy-restore.h - what the restore pipeline calls of lazy.c,
 * in its order: lazy_new (options), lazy_prepare (bundle read), lazy_start
 * (before the first task's memory), lazy_split, lazy_fill and
 * lazy_fill_chain (in the memory phase, mem-restore.c), lazy_register
 * (after it), lazy_release (tree released, or killed), lazy_free.
 */
#ifndef CKPT_LAZY_RESTORE_H
#define CKPT_LAZY_RESTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "ckpt/ckpt.h"
#include "ckpt/error.h"
#include "mem/mem.h"

struct rctx;
struct rtask;
struct rvma;

int lazy_new(struct rctx *rc, const struct ckpt_restore_opts *o, ckpt_err_t *err);
int lazy_prepare(struct rctx *rc, ckpt_err_t *err) __attribute__((warn_unused_result));
int lazy_start(struct rctx *rc, ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Mark t's lazy VMAs (no populate) and split runs: the lazy ones kept for
 * lazy_register, the others into *eager (malloc'd) for lazy_fill.
 */
int lazy_split(struct rctx *rc, struct rtask *t, struct rvma *vmas, int n,
	       const struct mem_run *runs, size_t nruns, struct mem_run **eager, size_t *neager,
	       ckpt_err_t *err) __attribute__((warn_unused_result));
int lazy_fill(struct rctx *rc, struct rtask *t, const struct mem_run *runs, size_t nruns,
	      ckpt_err_t *err) __attribute__((warn_unused_result));
/* The pages of t's chain that lazy_split left eager, written in, each chunk checked. */
int lazy_fill_chain(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int lazy_register(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void lazy_release(struct rctx *rc, bool failed);
void lazy_free(struct rctx *rc);

#endif
