/*
 * namespaces/cgroup.h - what the cgroup module's files share: cgroup.json
 * as typed structs (the dump in cgroup.c writes it, cgroup-doc.c reads it
 * through the same tables for cgroup-restore.c).
 *
 *	{ "tree_cgroup": false,
 *	  "cgroups": [ { "controllers": "pids", "path": "/a/b",
 *			 "limits": { "pids.max": "20" }, "type": "threaded" } ],
 *	  "ns_roots": [ { "controllers": "pids", "path": "/a" } ],
 *	  "threads": [ { "pid": 1, "tid": 1, "cgroups": [ 0, 3 ] } ] }
 *
 * "cgroups": every cgroup a task or thread of the tree is in, one per
 * hierarchy and path (paths as ckpt-oci's cgroup namespace shows them);
 * "threads": each thread (pid and tid as the tree's pid namespace numbers
 * them) with the index in "cgroups" of its cgroup in every hierarchy;
 * "ns_roots": where the tree's own cgroup namespace has its root, when it
 * has one. A bundle without "threads" (older) lists only the root's
 * cgroups: every task goes there.
 */
#ifndef CKPT_NS_CGROUP_H
#define CKPT_NS_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "namespaces/ns.h"
#include "util/doc.h"

#define CG_LIMITS_MAX 16
#define CG_MAX	      65536 /* cgroups in one bundle */
#define CG_HIER_MAX   32    /* hierarchies */

/* Limits copied, in the order they are written (cfs period before quota). */
extern const char *const cg_limits[];
extern const size_t cg_nlimits;

struct cg_entry {
	const char *controllers; /* "" for the unified (v2) hierarchy */
	const char *path;	 /* absolute, from the hierarchy's root */
	const char *type;	 /* v2: "threaded" or "domain threaded"; NULL: domain */
	size_t nlim;
	const char *lim_file[CG_LIMITS_MAX];
	const char *lim_val[CG_LIMITS_MAX];
};

struct cg_thread {
	int32_t pid, tid;
	size_t n;
	uint32_t cg[CG_HIER_MAX]; /* indexes into cgroups */
};

struct cg_doc {
	bool tree_cgroup; /* a container's cgroups: made anew under its name */
	struct cg_entry *cgroups;
	size_t ncgroups;
	struct cg_entry *ns_roots; /* controllers and path only */
	size_t nns_roots;
	struct cg_thread *threads;
	size_t nthreads;
};

extern const struct doc_field cg_fields[];
extern const struct doc_field cg_thread_fields[];

/* cgroup.c: true if file is a limit we copy. */
bool cg_limit_known(const char *file);
/* cgroup-restore.c */
int cg_doc_read(const struct json *doc, struct cg_doc *d, ckpt_err_t *err);
void cg_doc_free(struct cg_doc *d);
int cgroup_prepare(struct ns_restore *r, ckpt_err_t *err);
int cgroup_restore(struct ns_restore *r, ckpt_err_t *err);
int cgroup_resume(struct ns_restore *r, ckpt_err_t *err);
int cgroup_spawn(struct ns_restore *r, ckpt_err_t *err);
int cgroup_spawned(struct ns_restore *r, ckpt_err_t *err);
void cgroup_undo(struct ns_restore *r);

#endif
