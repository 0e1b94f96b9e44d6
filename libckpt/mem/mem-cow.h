/*
 * libckpt/mem/mem-cow.h - copy-on-write sharing between a restored parent
 * and its children, made by fork (mem-cow.c says how).
 */
#ifndef CKPT_MEM_COW_H
#define CKPT_MEM_COW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"

struct rctx;
struct rtask;

/* keep[i] of a task's VMA i in its memory phase */
enum { COW_NONE, COW_OWN, COW_INHERITED };

/* In the new process, before it forks its children: their shared VMAs, with its pages. */
int cow_premake(struct rctx *rc, struct rtask *t, ckpt_err_t *err);
/* Memory phase: which saved VMAs are already there (keep has one byte per VMA). */
void cow_kept(const struct rctx *rc, const struct rtask *t, uint8_t *keep);
/* In kept inherited VMAs, the parent's pages the task did not share go. */
int cow_drop(struct rtask *t, const uint8_t *keep, ckpt_err_t *err);
/* Inherited pages outside kept VMAs: copied from the parent's restored memory. */
int cow_copy(struct rtask *t, const uint8_t *keep, ckpt_err_t *err);
struct mem_run;
/*
 * The task's runs less those inside the VMAs it made itself (their pages
 * are in): NULL when it made none, else *n runs to free.
 */
struct mem_run *cow_runs_to_fill(const struct rtask *t, const uint8_t *keep, size_t *n);

#endif
