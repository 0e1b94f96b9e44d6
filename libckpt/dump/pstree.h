/*
 * libckpt/dump/pstree.h - pstree.json as a typed struct: the field tables
 * pstree.c writes with and restore reads with, and the checked reader.
 */
#ifndef CKPT_PSTREE_H
#define CKPT_PSTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"

/* More tasks than this in one bundle is a crafted or broken one. */
#define PSTREE_MAX_TASKS 100000

struct pstree_task {
	int32_t pid, ppid, pgid, sid; /* in the tree's innermost pid namespace */
	const char *state;	      /* "S", "R", "Z" ... as /proc/PID/stat said */
	const char *comm;	      /* NULL when not recorded */
	int32_t exit_code;	      /* zombies: the wait status */
	int32_t *threads;	      /* threads[0] is pid */
	size_t nthreads;
};

struct pstree {
	int32_t root;
	bool own_pidns;
	struct pstree_task *tasks; /* parents before children, tasks[0] the root */
	size_t ntasks;
};

extern const struct doc_field pstree_fields[];
extern const struct doc_field pstree_task_fields[];

/*
 * Read pstree.json: every id in range, the root first, each parent before
 * its children (so no loop), no pid or tid used twice in the tree.
 */
int pstree_read(const struct json *doc, struct pstree *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void pstree_free(struct pstree *p);

#endif
