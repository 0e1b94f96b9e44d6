/*
 * libckpt/mem/vdso.h - the vdso's layout and exported symbols, recorded at dump
 * (task-PID.json "vdso") and compared at restore with this host's; when
 * they differ, the old vdso address gets a proxy that jumps into the new.
 */
#ifndef CKPT_VDSO_H
#define CKPT_VDSO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/error.h"
#include "util/doc.h"
#include "util/json.h"

#define VDSO_MAX_SYMS	64 /* today's x86-64 vdso exports 12 names */
#define VDSO_NAME_MAX	64
#define VDSO_MAX_TEXT	(64 * 1024UL) /* today 8 KiB */
#define VDSO_TRAMPOLINE 12	      /* movabs $addr, %rax; jmp *%rax */

struct vdso_sym {
	char name[VDSO_NAME_MAX];
	uint64_t off; /* from the start of the text ([vdso]) */
};

struct vdso_info {
	uint64_t vvar_size; /* [vvar] and [vvar_vclock], mapped just below the text */
	uint64_t text_size; /* [vdso] */
	uint64_t hash;	    /* XXH64 (seed 0) of the text */
	int nsyms;
	struct vdso_sym syms[VDSO_MAX_SYMS];
};

/* Parse a vdso image (ELF, as mapped) of len bytes: hash and symbols. */
int vdso_parse(const uint8_t *img, size_t len, struct vdso_info *v, ckpt_err_t *err);

/*
 * Dump: read the [vdso] of pid (size bytes at text; its [vvar] pages,
 * vvar_size bytes, just below) and record its layout, hash and symbols in
 * doc "vdso". text 0: the task unmapped its vdso, nothing is recorded.
 */
int vdso_dump(pid_t pid, uint64_t text, uint64_t size, uint64_t vvar_size, struct json *doc,
	      ckpt_err_t *err);

/* Restore: the "vdso" object of a task's JSON (at), checked. */
int vdso_from_json(const struct doc_at *at, const struct json *j, struct vdso_info *v,
		   ckpt_err_t *err);
/* This host's vdso, read from ckpt-oci's own mapping. */
int vdso_host(struct vdso_info *v, ckpt_err_t *err);
/* Same text and same layout: the saved addresses stay valid as they are. */
bool vdso_same(const struct vdso_info *a, const struct vdso_info *b);
/* CKPT_OCI_VDSO_PROXY=1 in restore's environment: proxy even a same vdso. */
bool vdso_proxy_forced(void);

/*
 * The proxy text: old->text_size bytes of int3 with, at each old symbol's
 * offset, a jump to the same symbol in the new vdso (whose text starts at
 * new_text), or a syscall stub when the new vdso lacks it. Fails naming the
 * symbol when neither is possible or two symbols are too close.
 */
int vdso_proxy_build(const struct vdso_info *old, const struct vdso_info *cur, uint64_t new_text,
		     uint8_t *buf, ckpt_err_t *err);

struct rctx;
struct rtask;
/*
 * vdso-restore.c: put a vdso at the task's saved vdso range [first, end)
 * (text at text): the kernel's own when this host's is the same, else this
 * host's vdso in a hole of the saved layout and a proxy at the old text
 * address. Called in the puppeteer's memory phase, once the old layout is
 * gone and before any saved VMA is mapped.
 */
int vdso_restore_task(struct rctx *rc, struct rtask *t, uint64_t first, uint64_t text, uint64_t end,
		      ckpt_err_t *err);

#endif
