/*
 * libckpt/mem/mem.h - what dump and restore share about memory: VMA kinds and
 * the smaps flags that change behaviour.
 */
#ifndef CKPT_MEM_H
#define CKPT_MEM_H

#include <stdbool.h>
#include <stdint.h>

#include "ckpt/error.h"

enum vma_kind {
	VMA_ANON,	/* private anonymous (heap, stacks, mmap) */
	VMA_FILE,	/* file mapping, private or shared */
	VMA_SHMEM,	/* shared anonymous: /dev/zero (deleted) */
	VMA_MEMFD,	/* memfd mapping: /memfd:NAME (deleted) */
	VMA_VDSO,	/* [vvar], [vvar_vclock], [vdso]: moved together */
	VMA_SKIP,	/* [vsyscall]: fixed by the kernel */
	VMA_SYSV,	/* SysV shm: /SYSVkey (deleted), shmat() of the segment the ipc
			   namespace restored (namespaces/ipc.c keeps its contents) */
};

const char *vma_kind_name(enum vma_kind k);
int vma_kind_parse(const char *s, enum vma_kind *k);

/* A "rwx" letter triple from PROT_* bits, and back. */
void prot_to_str(int prot, char out[4]);
int prot_from_str(const char *s);

#endif
