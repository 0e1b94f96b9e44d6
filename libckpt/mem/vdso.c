/*
 * libckpt/mem/vdso.c - the vdso across kernels (task-PID.json "vdso").
 *
 * A program's libc looks up clock_gettime, gettimeofday, time and getcpu in
 * the vdso once, at start-up, and calls those addresses ever after. Restore
 * maps the kernel's vdso back at the saved address (ARCH_MAP_VDSO_64), which
 * is right only when this host's vdso is the very image the task started
 * with: another kernel's vdso has other code at those addresses.
 *
 * So dump records the vdso's layout (vvar and text sizes), an XXH64 of its
 * text and its exported functions with their offsets, read from the task's
 * own mapping. Restore compares with ckpt-oci's own vdso (this kernel's):
 * the same, and it maps the kernel's at the saved place as before;
 * different, and it builds what CRIU calls a vdso proxy: this host's vdso
 * goes to a hole of the saved layout, the old text address gets a private
 * code page holding, at each old symbol's offset, a jump to the same symbol
 * in the new vdso (or a stub doing the real syscall when the new vdso lacks
 * it), int3 everywhere else; the old vvar range gets an inaccessible
 * placeholder, so the saved layout stays as it was. This file knows the
 * image and builds the proxy's code; vdso-restore.c maps it in the task.
 *
 * CKPT_OCI_VDSO_PROXY=1 in the environment of `ckpt-oci restore` takes the
 * proxy path even when the vdso is the same: the only way to exercise it on
 * a host with one kernel (tests/integration/engine.bats does).
 */
#define LOG_PREFIX "vdso: "
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "util/hash.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"
#include "mem/vdso.h"

#define VVAR_MAX     (1UL << 20)
#define VDSO_MAX_DYN 4096 /* symbols looked at in one image */

/* ---- the ELF image ---------------------------------------------------------- */

/*
 * size bytes at off inside the image, aligned for the table read there, or
 * NULL: nothing in the image is trusted.
 */
static const void *img_at(const uint8_t *img, size_t len, uint64_t off, uint64_t size, size_t align)
{
	if (off > len || size > len - off || (uintptr_t)(img + off) % align)
		return NULL;
	return img + off;
}

struct elf_dyn {
	uint64_t bias; /* link-time address of image offset 0 */
	uint64_t symtab, strtab, strsz, syment, hash, gnu_hash;
};

/* Number of dynamic symbols: DT_HASH says it; DT_GNU_HASH has to be walked. */
static int64_t dyn_nsyms(const uint8_t *img, size_t len, const struct elf_dyn *d)
{
	const uint32_t *w, *buckets;
	uint32_t nb, symoff, bloom, last = 0;
	uint64_t chain;

	if (d->hash) {
		w = img_at(img, len, d->hash, 8, 4);
		return w ? (int64_t)w[1] : -1;
	}
	w = img_at(img, len, d->gnu_hash, 16, 4);
	if (!w)
		return -1;
	nb = w[0], symoff = w[1], bloom = w[2];
	buckets = img_at(img, len, d->gnu_hash + 16 + 8ULL * bloom, 4ULL * nb, 4);
	if (!buckets)
		return -1;
	for (uint32_t i = 0; i < nb; i++)
		last = MAX(last, buckets[i]);
	if (last < symoff)
		return symoff;
	chain = d->gnu_hash + 16 + 8ULL * bloom + 4ULL * nb;
	/* the last chain ends with its low bit set */
	for (; last < VDSO_MAX_DYN; last++) {
		const uint32_t *c = img_at(img, len, chain + 4ULL * (last - symoff), 4, 4);

		if (!c)
			return -1;
		if (*c & 1)
			return last + 1;
	}
	return -1;
}

/* PT_DYNAMIC's tables, as offsets into the image. */
static int elf_dynamic(const uint8_t *img, size_t len, struct elf_dyn *d, ckpt_err_t *err)
{
	const Elf64_Ehdr *eh = img_at(img, len, 0, sizeof(*eh), 8);
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	uint64_t bias = UINT64_MAX, ndyn = 0;

	if (!eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(*ph))
		return ckpt_error_msg(err, ENOEXEC, "not a 64-bit ELF image");
	ph = img_at(img, len, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(*ph), 8);
	if (!ph)
		return ckpt_error_msg(err, ENOEXEC, "program headers out of the image");
	/* the image is mapped from file offset 0: vaddr - bias is an offset */
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && bias == UINT64_MAX)
			bias = ph[i].p_vaddr - ph[i].p_offset;
	for (int i = 0; i < eh->e_phnum && bias != UINT64_MAX; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			ndyn = ph[i].p_memsz / sizeof(*dyn);
			dyn = img_at(img, len, ph[i].p_vaddr - bias, ndyn * sizeof(*dyn), 8);
		}
	if (!dyn)
		return ckpt_error_msg(err, ENOEXEC, "no PT_DYNAMIC in the image");
	memset(d, 0, sizeof(*d));
	d->bias = bias;
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		uint64_t v = dyn[i].d_un.d_ptr;

		switch (dyn[i].d_tag) {
		case DT_SYMTAB:
			d->symtab = v - bias;
			break;
		case DT_STRTAB:
			d->strtab = v - bias;
			break;
		case DT_STRSZ:
			d->strsz = v;
			break;
		case DT_SYMENT:
			d->syment = v;
			break;
		case DT_HASH:
			d->hash = v - bias;
			break;
		case DT_GNU_HASH:
			d->gnu_hash = v - bias;
			break;
		}
	}
	if (!d->symtab || !d->strtab || d->syment != sizeof(Elf64_Sym) ||
	    !img_at(img, len, d->strtab, d->strsz, 1) || (!d->hash && !d->gnu_hash))
		return ckpt_error_msg(err, ENOEXEC, "incomplete dynamic section");
	return 0;
}

static int add_sym(struct vdso_info *v, const char *name, uint64_t off, ckpt_err_t *err)
{
	if (v->nsyms == VDSO_MAX_SYMS)
		return ckpt_error_msg(err, E2BIG, "more than %d symbols", VDSO_MAX_SYMS);
	if (!name[0] || strlen(name) >= VDSO_NAME_MAX || off >= v->text_size)
		return ckpt_error_msg(err, EPROTO, "bad symbol `%.64s` at %#lx", name,
				      (unsigned long)off);
	snprintf(v->syms[v->nsyms].name, VDSO_NAME_MAX, "%s", name);
	v->syms[v->nsyms++].off = off;
	return 0;
}

int vdso_parse(const uint8_t *img, size_t len, struct vdso_info *v, ckpt_err_t *err)
{
	struct elf_dyn d;
	int64_t n;
	int ret;

	v->text_size = len;
	v->hash = xxh64(img, len, 0);
	v->nsyms = 0;
	ret = elf_dynamic(img, len, &d, err);
	if (ret < 0)
		return ret;
	n = dyn_nsyms(img, len, &d);
	if (n < 0 || n > VDSO_MAX_DYN || !img_at(img, len, d.symtab, n * sizeof(Elf64_Sym), 8))
		return ckpt_error_msg(err, ENOEXEC, "bad symbol table");
	for (int64_t i = 0; i < n; i++) {
		const Elf64_Sym *s = (const Elf64_Sym *)(img + d.symtab) + i;
		const char *name = (const char *)img + d.strtab + s->st_name;

		/* functions only: the version definition (LINUX_2.6) is an ABS object */
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF ||
		    s->st_shndx >= SHN_LORESERVE)
			continue;
		if (s->st_name >= d.strsz || !memchr(name, '\0', d.strsz - s->st_name))
			return ckpt_error_msg(err, ENOEXEC, "symbol %ld: name out of the image",
					      (long)i);
		ret = add_sym(v, name, s->st_value - d.bias, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- dump ------------------------------------------------------------------- */

static struct json *vdso_to_json(const struct vdso_info *v, bool with_syms)
{
	struct json *j = json_obj(), *syms;

	json_set(j, "vvar_size", json_int(v->vvar_size));
	json_set(j, "text_size", json_int(v->text_size));
	json_set(j, "hash", json_hex(v->hash));
	if (!with_syms)
		return j;
	syms = json_set(j, "symbols", json_obj());
	for (int i = 0; i < v->nsyms; i++)
		json_set(syms, v->syms[i].name, json_int(v->syms[i].off));
	return j;
}

int vdso_dump(pid_t pid, uint64_t text, uint64_t size, uint64_t vvar_size, struct json *doc,
	      ckpt_err_t *err)
{
	cleanup_free struct vdso_info *v = xzalloc(sizeof(*v));
	cleanup_free uint8_t *img = NULL;
	struct iovec local, remote;
	ckpt_err_t perr = {0};
	bool syms = true;

	v->vvar_size = vvar_size;
	if (!text)
		return 0; /* the task unmapped its vdso: nothing to put back */
	if (size > VDSO_MAX_TEXT)
		return ckpt_error_msg(err, E2BIG, "vdso of %d is %lu bytes", pid,
				      (unsigned long)size);
	img = xzalloc(size);
	local = (struct iovec){img, size};
	remote = (struct iovec){(void *)text, size};
	if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)size)
		return ckpt_error(err, errno, "read vdso of %d at %#lx", pid, (unsigned long)text);
	if (vdso_parse(img, size, v, &perr) < 0) {
		/* still restorable where the vdso is the same one */
		pr_warn("task %d: vdso at %#lx: %s, ignoring its symbols", pid, (unsigned long)text,
			perr.msg);
		syms = false;
	}
	pr_debug("task %d: vdso text %#lx, %lu bytes, hash %#lx, %d symbols", pid,
		 (unsigned long)text, (unsigned long)size, (unsigned long)v->hash, v->nsyms);
	json_set(doc, "vdso", vdso_to_json(v, syms));
	return 0;
}

/* ---- restore: what was saved, what this host has ---------------------------- */

int vdso_from_json(const struct doc_at *at, const struct json *j, struct vdso_info *v,
		   ckpt_err_t *err)
{
	const struct json *syms;
	int64_t vvar, text;
	int ret;

	memset(v, 0, sizeof(*v));
	ret = doc_int(at, j, "vvar_size", 0, VVAR_MAX, &vvar, err);
	if (ret == 0)
		ret = doc_int(at, j, "text_size", PAGE_SIZE, VDSO_MAX_TEXT, &text, err);
	if (ret == 0)
		ret = doc_u64(at, j, "hash", UINT64_MAX, &v->hash, err);
	if (ret == 0)
		ret = doc_opt_obj(at, j, "symbols", &syms, err);
	if (ret < 0)
		return ret;
	if ((vvar | text) & (PAGE_SIZE - 1))
		return doc_error(err, at, "sizes not in pages: vvar %lld, text %lld",
				 (long long)vvar, (long long)text);
	v->vvar_size = vvar;
	v->text_size = text;
	if (!syms) {
		v->nsyms = -1; /* not known: no proxy possible */
		return 0;
	}
	for (size_t i = 0; i < json_len(syms); i++) {
		struct doc_at k = DOC_KEY(at, "symbols");
		const char *name;
		int64_t off;

		/* an offset inside the text */
		ret = doc_map_int(&k, syms, i, 0, text - 1, &name, &off, err);
		if (ret == 0)
			ret = add_sym(v, name, (uint64_t)off, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

struct host_maps {
	uint64_t text, size, vvar;
};

static int host_vma(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct host_maps *h = arg;

	if (!strcmp(v->path, "[vdso]") && v->start == h->text)
		h->size = v->end - v->start;
	else if (!strcmp(v->path, "[vvar]") || !strcmp(v->path, "[vvar_vclock]"))
		h->vvar += v->end - v->start;
	return 0;
}

int vdso_host(struct vdso_info *v, ckpt_err_t *err)
{
	struct host_maps h = {.text = getauxval(AT_SYSINFO_EHDR)};
	int ret;

	ret = proc_read_maps(AT_FDCWD, "/proc/self/maps", host_vma, &h, err);
	if (ret < 0)
		return ret;
	if (!h.text || !h.size || h.size > VDSO_MAX_TEXT)
		return ckpt_error_msg(err, ENOENT, "this host's vdso not found in ckpt-oci");
	memset(v, 0, sizeof(*v));
	ret = vdso_parse((const uint8_t *)(uintptr_t)h.text, h.size, v, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "this host's vdso");
	v->vvar_size = h.vvar;
	return 0;
}

bool vdso_same(const struct vdso_info *a, const struct vdso_info *b)
{
	return a->hash == b->hash && a->text_size == b->text_size && a->vvar_size == b->vvar_size;
}

/*
 * CKPT_OCI_VDSO_PROXY=1: take the proxy path even for an identical vdso.
 * For tests on hosts with a single kernel; anything else but "1" is off.
 */
bool vdso_proxy_forced(void)
{
	const char *s = getenv("CKPT_OCI_VDSO_PROXY");

	return s && !strcmp(s, "1");
}

/* ---- the proxy -------------------------------------------------------------- */

/*
 * What a vdso function does without the vdso: the syscall of the same name
 * takes the same arguments. getrandom's extra vdso arguments (the opaque
 * state) are ignored by the syscall; libc asks for the state's parameters
 * only at start-up, before any checkpoint could have moved it.
 */
static const struct {
	const char *name;
	int nr;
} vdso_syscalls[] = {
	{"clock_gettime", SYS_clock_gettime},
	{"gettimeofday", SYS_gettimeofday},
	{"time", SYS_time},
	{"getcpu", SYS_getcpu},
	{"clock_getres", SYS_clock_getres},
	{"getrandom", SYS_getrandom},
};

static const struct vdso_sym *sym_find(const struct vdso_info *v, const char *name)
{
	for (int i = 0; i < v->nsyms; i++)
		if (!strcmp(v->syms[i].name, name))
			return &v->syms[i];
	return NULL;
}

static int syscall_of(const char *name)
{
	if (!strncmp(name, "__vdso_", 7))
		name += 7;
	for (size_t i = 0; i < ARRAY_SIZE(vdso_syscalls); i++)
		if (!strcmp(vdso_syscalls[i].name, name))
			return vdso_syscalls[i].nr;
	return -1;
}

/* movabs $to, %rax; jmp *%rax: 12 bytes, any distance, rax is scratch at a call */
static void put_jump(uint8_t *p, uint64_t to)
{
	p[0] = 0x48;
	p[1] = 0xb8;
	memcpy(p + 2, &to, 8);
	p[10] = 0xff;
	p[11] = 0xe0;
}

/* mov $nr, %eax; syscall; ret: 8 bytes */
static void put_syscall(uint8_t *p, uint32_t nr)
{
	p[0] = 0xb8;
	memcpy(p + 1, &nr, 4);
	p[5] = 0x0f;
	p[6] = 0x05;
	p[7] = 0xc3;
}

/* Every old symbol has room for a trampoline before the next one (aliases share). */
static int check_spacing(const struct vdso_info *old, ckpt_err_t *err)
{
	for (int i = 0; i < old->nsyms; i++) {
		const struct vdso_sym *a = &old->syms[i];

		if (a->off + VDSO_TRAMPOLINE > old->text_size)
			return ckpt_error_msg(err, ENOSPC,
					      "old vdso symbol `%s` at %#lx: no room for a "
					      "%d-byte jump before the end",
					      a->name, (unsigned long)a->off, VDSO_TRAMPOLINE);
		for (int k = 0; k < old->nsyms; k++) {
			const struct vdso_sym *b = &old->syms[k];

			if (b->off > a->off && b->off < a->off + VDSO_TRAMPOLINE)
				return ckpt_error_msg(
					err, ENOSPC,
					"old vdso symbols `%s` (%#lx) and `%s` (%#lx) "
					"are closer than a %d-byte jump",
					a->name, (unsigned long)a->off, b->name,
					(unsigned long)b->off, VDSO_TRAMPOLINE);
		}
	}
	return 0;
}

int vdso_proxy_build(const struct vdso_info *old, const struct vdso_info *cur, uint64_t new_text,
		     uint8_t *buf, ckpt_err_t *err)
{
	int ret;

	if (old->nsyms < 0)
		return ckpt_error_msg(err, ENOTSUP,
				      "the bundle does not list the old vdso's symbols");
	ret = check_spacing(old, err);
	if (ret < 0)
		return ret;
	memset(buf, 0xcc, old->text_size); /* int3: a call anywhere else traps */
	for (int i = 0; i < old->nsyms; i++) {
		const struct vdso_sym *s = &old->syms[i], *to = NULL;
		int nr = -1;

		/* aliases (time, __vdso_time) share an offset: any one found will do */
		for (int k = 0; k < old->nsyms && !to; k++)
			if (old->syms[k].off == s->off) {
				to = sym_find(cur, old->syms[k].name);
				nr = nr >= 0 ? nr : syscall_of(old->syms[k].name);
			}
		if (to) {
			put_jump(buf + s->off, new_text + to->off);
		} else if (nr >= 0) {
			pr_info("`%s` is not in this host's vdso: syscall %d instead", s->name, nr);
			put_syscall(buf + s->off, nr);
		} else {
			return ckpt_error_msg(err, ENOTSUP,
					      "old vdso symbol `%s` is not in this host's vdso "
					      "and has no syscall to stand in for it",
					      s->name);
		}
	}
	return 0;
}
