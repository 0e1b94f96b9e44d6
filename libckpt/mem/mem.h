/*
 * libckpt/mem/mem.h - what dump and restore share about memory: VMA kinds and
 * the smaps flags that change behaviour.
 *
 * Folder libckpt/mem/: a task's address space, dump and restore side by
 * side. mem-vmas.c lists the VMAs (smaps) and saves the shared objects,
 * mem-dump.c writes present private pages (PAGEMAP_SCAN), a child's page
 * that is its parent's very page only once; mem-splice.c moves a large
 * task's pages into the image in one copy (the task's vmsplice, our splice);
 * mem-doc.c is the typed reader of the "vmas" and pagemap documents;
 * mem-restore.c is the puppeteer's memory phase (unmap, map each VMA, fill,
 * VMA state, mm fields), mem-object.c makes and fills the objects several
 * mappings share (shared anonymous memory, memfds, deleted files);
 * vdso*.c find and replace the vdso, with a proxy when this host's differs.
 */
#ifndef CKPT_MEM_H
#define CKPT_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"

/* The top of the x86-64 user address space (TASK_SIZE_MAX, 4-level paging). */
#define MEM_TASK_SIZE 0x7ffffffff000ULL
/* Largest shared memory object (shmem, memfd) a bundle may describe. */
#define MEM_SHM_MAX  (1ULL << 46)
#define MEM_AUXV_MAX 4096
/* Bytes copied per batch at dump (private pages, shared objects). */
#define MEM_COPY_BUF (8UL << 20)

enum vma_kind {
	VMA_ANON,  /* private anonymous (heap, stacks, mmap) */
	VMA_FILE,  /* file mapping, private or shared */
	VMA_SHMEM, /* shared anonymous: /dev/zero (deleted) */
	VMA_MEMFD, /* memfd mapping: /memfd:NAME (deleted) */
	VMA_VDSO,  /* [vvar], [vvar_vclock], [vdso]: moved together */
	VMA_SKIP,  /* [vsyscall]: fixed by the kernel */
	VMA_SYSV,  /* SysV shm: /SYSVkey (deleted), shmat() of the segment the ipc
		      namespace restored (namespaces/ipc.c keeps its contents) */
	VMA_GHOST, /* a file mapped, then deleted: /PATH (deleted); its content is
		      kept (mapghost-INO.img), mapped again from a temporary file */
};

/* Kinds whose object is saved once and made once at restore, shared by its mappings. */
static inline bool vma_kind_object(enum vma_kind k)
{
	return k == VMA_SHMEM || k == VMA_MEMFD || k == VMA_GHOST;
}

/* The image of an object's content: shmem-ID.img, or mapghost-ID.img for a deleted file. */
static inline const char *vma_object_image(enum vma_kind k)
{
	return k == VMA_GHOST ? "mapghost" : "shmem";
}

const char *vma_kind_name(enum vma_kind k);
int vma_kind_parse(const char *s, enum vma_kind *k);

/* A "rwx" letter triple from PROT_* bits, and back. */
void prot_to_str(int prot, char out[4]);
int prot_from_str(const char *s);

/* A run of private pages: npages at addr, from page off of pages-PID.img. */
struct mem_run {
	uint64_t addr, npages, off;
};

/* A populated range of a shared object: len bytes at dst, from src of its image. */
struct mem_shm_run {
	uint64_t dst, len, src;
};

/* One VMA of task-PID.json "vmas", as written by mem-vmas.c. */
struct mem_vma {
	uint64_t start, end, pgoff;
	const char *prot_s, *kind_s, *path, *vmflags, *dev;
	bool shared;
	int64_t ino;
	/* shmem, memfd and SysV mappings: the object (its inode) and its size */
	int64_t shmid, shm_size;
	/* derived at read */
	int prot;
	enum vma_kind kind;
	/* shmem and memfd: the object's pages, on the first mapping of it only */
	struct mem_shm_run *shm_runs;
	size_t nshm_runs;
	bool has_runs;
};

/* The mm fields set with PR_SET_MM_MAP, in prctl_mm_map's order. */
struct mem_mm {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack, arg_start,
		arg_end, env_start, env_end;
	uint8_t *auxv; /* auxv_len bytes, at most MEM_AUXV_MAX */
	size_t auxv_len;
	const char *exe;
};

struct vdso_info;

/*
 * A task's memory as its bundle documents describe it, parsed and checked
 * once when restore loads the bundle: VMAs sorted and disjoint inside the
 * user address range, every private page run inside a private VMA and
 * inside the page image. Its strings are its own (strs), copied out of the
 * task's document, which may be freed once read.
 */
struct mem_task {
	struct mem_vma *vmas;
	size_t nvmas;
	struct mem_run *runs; /* pagemap-PID.json */
	size_t nruns;
	struct mem_run *guards; /* "guards": addr, npages (off unused) */
	size_t nguards;
	struct mem_run *inherited; /* "inherited": pages shared with the parent (off unused) */
	size_t ninherited;
	struct mem_mm mm;
	struct vdso_info *vdso; /* "vdso", NULL when not recorded */
	struct mem_xrun *xruns; /* parentmap-PID.json, found in the chain (mem-chain.c) */
	size_t nxruns;
	char *strs; /* every string above, in one block */
};

/* mem-doc.c: the field tables the writer (mem-vmas.c) and the reader share. */
extern const struct doc_field mem_vma_fields[];
extern const struct doc_field mem_vma_shm_fields[];
extern const struct doc_field mem_mm_fields[];

/*
 * Read "vmas", "guards", "mm", "exe" and "vdso" of a task document (at) and
 * its pagemap (pm_at, the pages image img_size bytes long) into m.
 */
int mem_doc_read(const struct doc_at *at, const struct json *task, const struct doc_at *pm_at,
		 const struct json *pagemap, uint64_t img_size, struct mem_task *m, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void mem_doc_free(struct mem_task *m);
/*
 * n runs of arr, [address, npages(, offset)] (with_off), sorted, disjoint,
 * page aligned, inside the user range and (with_off) the img_pages image.
 */
int mem_runs_read(const struct doc_at *at, const struct json *arr, size_t n, bool with_off,
		  uint64_t img_pages, struct mem_run *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
bool vmflags_has(const char *vmflags, const char *fl);

struct ckpt_ctx;
struct task;
/*
 * mem-vmas.c: task-PID.json "vmas" (into the array vmas) and "vdso" of t,
 * and the image of each shared object a VMA maps; smaps: the task's
 * /proc/PID/smaps already read (mem-dump.c), or NULL to read it now.
 */
int mem_vmas_dump(struct ckpt_ctx *ctx, struct task *t, const char *smaps, struct json *vmas,
		  ckpt_err_t *err);

/*
 * mem-splice.c: a task's pages moved into its image by the task's own
 * vmsplice and our splice, one copy. open: a pipe and scratch memory in
 * the task; batch: the runs remote[0..nr) (at most cap bytes) into img,
 * *done the bytes moved (fewer: the rest could not be vmspliced, copy it);
 * close: everything of ours out of the task again (accepts NULL).
 */
struct task;
struct iovec;
struct bundle_image;
struct mem_splice;
int mem_splice_open(struct task *t, struct mem_splice **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
size_t mem_splice_cap(const struct mem_splice *s);
int mem_splice_batch(struct mem_splice *s, struct bundle_image *img, const struct iovec *remote,
		     int nr, size_t *done, ckpt_err_t *err) __attribute__((warn_unused_result));
int mem_splice_close(struct mem_splice *s, ckpt_err_t *err);

#endif
