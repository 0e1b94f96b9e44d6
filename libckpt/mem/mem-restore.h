/*
 * libckpt/mem/mem-restore.h - what the memory phase (mem-restore.c) shares
 * with the maker of shared objects (mem-object.c): a saved VMA as restore
 * maps it, and a file opened inside the task.
 */
#ifndef CKPT_MEM_RESTORE_H
#define CKPT_MEM_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>

#include "ckpt/error.h"
#include "mem/mem.h"
#include "restore/restore.h"

/* A saved VMA (read and checked at load) and how restore maps it. */
struct rvma {
	const struct mem_vma *m;
	uint64_t start, end, pgoff;
	int prot, tmp_prot;
	bool shared;
	bool populate;	 /* mapped with MAP_POPULATE */
	uint64_t npages; /* saved private pages inside */
	enum vma_kind kind;
	const char *path, *vmflags;
	uint8_t keep; /* COW_*: already in place, made before the fork (mem-cow.c) */
	bool lazy;    /* its pages come later, on fault (lazy/lazy.c) */
};

/*
 * Whether the mapping needs its file open for writing: shared, and
 * writable now or allowed to become so (VM_MAYWRITE, "mw"). Mapped from a
 * writable file otherwise, the mapping would keep a writer on the file
 * for as long as it lives, and an execve of it (a memfd holding a
 * program) fails with ETXTBSY.
 */
static inline bool vma_writes_file(const struct rvma *v)
{
	return v->shared && (v->prot & PROT_WRITE || vmflags_has(v->vmflags, "mw"));
}

/* Open a file inside the task; returns the task's fd number. */
int rmem_open(struct rtask *t, uint64_t data, const char *path, int flags, long *fd,
	      ckpt_err_t *err);

/*
 * Where a mapping of a shared object (shared anonymous memory, a memfd, a
 * deleted file) comes from: the object made by its first mapping, or made
 * now. *fd is the task's, to be closed; MAP_ANONYMOUS may be added to *flags.
 */
int rmem_object_source(struct rctx *rc, struct rtask *t, const struct rvma *v, int *flags, long *fd,
		       ckpt_err_t *err);

#endif
