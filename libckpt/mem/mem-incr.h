/*
 * libckpt/mem/mem-incr.h - incremental checkpoints: which pages a task
 * wrote since a pre-dump, and the chain of bundles that holds the rest.
 *
 * Dirty tracking (mem-track.c): userfaultfd write-protect in async mode
 * (UFFD_FEATURE_WP_ASYNC), the uffd made inside the task by a remote call
 * and kept outside it, by a small tracker process; PAGEMAP_SCAN's
 * PAGE_IS_WRITTEN tells the pages written since the last arm and, with
 * PM_SCAN_WP_MATCHING, arms them again. Dump side (mem-incr.c): a page
 * present now, in a VMA tracked since the parent and not written since, is
 * the parent's: parentmap-PID.json lists it instead of pages-PID.img.
 * Restore side (mem-chain.c): the chain opened and checked link by link,
 * each such page found in the nearest bundle that has it.
 */
#ifndef CKPT_MEM_INCR_H
#define CKPT_MEM_INCR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ckpt/bundle.h"
#include "ckpt/error.h"
#include "mem/mem.h"

/* The link between a bundle and its parent, and what each pre-dump leaves. */
#define CHAIN_DOC "chain.json"
/* Longest chain restore follows. */
#define CHAIN_MAX    64
#define TRACK_ID_LEN 32 /* hex digits */

/* Sorted, disjoint, page-aligned [start, end) ranges. */
struct mem_ranges {
	uint64_t (*r)[2];
	size_t n, cap;
};
/* Append [a, e) after every range held (merged with the last when they touch). */
void ranges_add(struct mem_ranges *s, uint64_t a, uint64_t e);
void ranges_and(const struct mem_ranges *a, const struct mem_ranges *b, struct mem_ranges *out);
void ranges_sub(const struct mem_ranges *a, const struct mem_ranges *b, struct mem_ranges *out);
uint64_t ranges_pages(const struct mem_ranges *s);
void ranges_free(struct mem_ranges *s);

/* chain.json of a bundle, as read back. */
struct chain_doc {
	bool pre_dump;
	int64_t tree_pid;
	uint64_t tree_start;
	const char *track;	/* pre-dumps: the arm this bundle's pages date from */
	const char *parent;	/* the parent's path, relative to this bundle's directory */
	const char *parent_sum; /* hex BLAKE2b of the parent's manifest.json */
};
int chain_doc_read(struct ckpt_bundle *b, struct json **doc, struct chain_doc *c, bool *has,
		   ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- mem-track.c: the tracker and its state under /run/ckpt-oci --- */
struct track_task {
	pid_t pid;
	unsigned long long start;
	int fd; /* the uffd, in the tracker (state file) or ours (while dumping) */
};
struct track_state {
	pid_t root;
	unsigned long long root_start;
	char id[TRACK_ID_LEN + 1]; /* "" when no bundle's pages match the arm */
	pid_t tracker;
	unsigned long long tracker_start;
	struct track_task *tasks;
	size_t ntasks;
};
/* The state of the tree of root, or *st zeroed (no tracker, or a dead one). */
int track_state_load(pid_t root, struct track_state *st, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void track_state_free(struct track_state *st);
/*
 * Start tracking task pid (ptrace-stopped, leader tid, syscall at sc) or
 * take the uffd the tracker holds for it; then arm: with rearm, the pages
 * written since the last arm of each tracked VMA go to *written and are
 * armed again, *tracked gets the VMAs tracked before; VMAs not tracked yet
 * are registered and armed whole. *fd: our copy of the uffd (-1: the task
 * cannot be tracked; it is then dumped whole).
 */
int track_task_arm(const struct track_state *st, pid_t pid, pid_t tid, uint64_t sc, bool rearm,
		   int *fd, struct mem_ranges *tracked, struct mem_ranges *written, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Without arming: the tracked VMAs of pid and the pages written in them since the arm. */
int track_task_written(pid_t pid, struct mem_ranges *tracked, struct mem_ranges *written,
		       ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Hand the uffds to a new tracker (which exits when the root does), write
 * the state with the arm id, and end the old tracker.
 */
int track_state_commit(struct track_state *st, const struct track_task *tasks, size_t n,
		       const char *id, ckpt_err_t *err) __attribute__((warn_unused_result));
/* The arm id cleared: no bundle's pages match the tracking any more. */
void track_state_invalidate(pid_t root);
/* End the tracker of root's tree and remove its state (the tree is gone). */
void track_stop(pid_t root, unsigned long long root_start);
/*
 * [s, e), reported swapped by PAGEMAP_SCAN, through pmfd (a pagemap): the
 * runs of it that hold swap entries, to fn. Arming leaves uffd-wp markers
 * on unpopulated entries, which PAGEMAP_SCAN counts as swapped too; they
 * hold nothing (the page reads as zeros, or as its file), so they are left
 * out, as an unpopulated page is.
 */
int track_swapped_runs(int pmfd, uint64_t s, uint64_t e,
		       int (*fn)(void *arg, uint64_t s, uint64_t e, ckpt_err_t *err), void *arg,
		       ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- mem-incr.c: the dump side --- */
struct mem_incr {
	struct ckpt_bundle *parent; /* documents only */
	char *parent_rel;	    /* its path from the new bundle's directory */
	uint8_t parent_sum[32];
	bool parent_pre_dump;
	struct track_state track;
	bool tracked; /* the tracker's arm is the parent's: pages may be referenced */
	uint64_t nref, ncopied;
};
/*
 * Open the parent (documents only, authenticated with auth), check it
 * belongs to the tree of root and that the tracking is the one it started;
 * refuse in one line otherwise. bundle: the new bundle's path.
 */
int mem_incr_open(struct mem_incr *in, const char *parent, const char *bundle,
		  const struct bundle_auth *auth, pid_t root, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void mem_incr_free(struct mem_incr *in);
/* Pages of task ns_pid the parent chain holds (its pagemap and parentmap). */
int mem_incr_coverage(struct mem_incr *in, pid_t ns_pid, struct mem_ranges *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* The runs of name (pagemap: [addr, npages, off]; parentmap: [addr, npages]) into out. */
/*
 * The runs of pagemap document name of b, read with mem_runs_read (with_off,
 * inside an image of img_pages); *out (n + 1 entries, freed by the
 * caller) and *n. Absent: an error, as any document.
 */
int mem_runs_get(struct ckpt_bundle *b, const char *name, bool with_off, uint64_t img_pages,
		 struct mem_run **out, size_t *n, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int mem_incr_runs_get(struct ckpt_bundle *b, const char *name, bool with_off,
		      struct mem_ranges *out, ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * [a, e) walked against refs (cursor *cur): parts outside refs go to copy,
 * parts inside are added to used.
 */
int mem_incr_split(const struct mem_ranges *refs, size_t *cur, uint64_t a, uint64_t e,
		   int (*copy)(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err), void *arg,
		   struct mem_ranges *used, ckpt_err_t *err) __attribute__((warn_unused_result));
/* chain.json of the new bundle. */
int mem_incr_chain_put(struct ckpt_bundle *b, const struct mem_incr *in, bool pre_dump, pid_t root,
		       const char *track_id, ckpt_err_t *err) __attribute__((warn_unused_result));
/* parentmap-PID.json: the runs of refs. */
int mem_incr_refs_put(struct ckpt_bundle *b, pid_t ns_pid, const struct mem_ranges *refs,
		      ckpt_err_t *err) __attribute__((warn_unused_result));
/* Final dump: the pages of t the parent holds and t did not write since (frozen). */
struct task;
int mem_incr_task_refs(struct mem_incr *in, struct task *t, struct mem_ranges *refs,
		       ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Pre-dump, the tree running: copy the private pages of pid (ns_pid in the
 * bundle) but refs and those it still shares with its parent ppid (0: none), read through
 * /proc/PID/mem; a page that went away meanwhile is saved as zeros (its VMA is not tracked any
 * more, so no later bundle refers to it). Refs still present go to parentmap.
 */
int mem_incr_copy_running(struct ckpt_bundle *b, pid_t pid, pid_t ppid, pid_t ns_pid,
			  const struct mem_ranges *refs, uint64_t *ncopied, uint64_t *nref,
			  ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- mem-chain.c: the restore side --- */
struct mem_chain {
	int n; /* parents held: b[0] is the bundle's parent */
	struct ckpt_bundle *b[CHAIN_MAX];
};
/*
 * Refuse a pre-dump; open and check every parent of b (lazy: their page
 * images left to be checked chunk by chunk, bundle_open_lazy).
 */
int mem_chain_open(struct ckpt_bundle *b, const struct bundle_auth *auth, bool lazy,
		   struct mem_chain *ch, ckpt_err_t *err) __attribute__((warn_unused_result));
void mem_chain_close(struct mem_chain *ch);
/* In the task itself before it forks: those of [s, e) into its own memory (mem-cow.c). */
int mem_chain_premake(const struct mem_chain *ch, pid_t pid, const struct mem_task *m, uint64_t s,
		      uint64_t e, ckpt_err_t *err) __attribute__((warn_unused_result));
/* inspect: the chain of b, each parent checked, on out. */
int mem_chain_describe(struct ckpt_bundle *b, FILE *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* A page run found in the chain: npages at addr, page off of level's pages-PID.img. */
struct mem_xrun {
	uint64_t addr, npages, off;
	int level;
};
/* The runs of task pid its parentmap refers to, each found in the chain, into m. */
int mem_chain_task(struct ckpt_bundle *b, const struct mem_chain *ch, pid_t pid, struct mem_task *m,
		   ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Write those pages into the restored task (host_pid) through /proc/PID/mem,
 * but in the VMAs it made before forking (keep[i] COW_OWN, mem-cow.c; keep
 * may be NULL).
 */
struct rsys;
int mem_chain_fill(const struct mem_chain *ch, pid_t pid, pid_t host_pid, struct rsys *rs,
		   const struct mem_task *m, const uint8_t *keep, ckpt_err_t *err)
	__attribute__((warn_unused_result));

#endif
