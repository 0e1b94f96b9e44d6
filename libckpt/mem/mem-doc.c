/*
 * libckpt/mem/mem-doc.c - a task's memory documents as typed structs: the
 * "vmas", "guards", "mm", "exe" and "vdso" members of task-PID.json and the
 * runs of pagemap-PID.json. The field tables here are the key list that
 * mem-vmas.c and mem-dump.c write with and restore reads with.
 *
 * Everything a crafted bundle could use to make restore map or write where
 * the task never had memory is refused here, in one line naming the file
 * and key, before anything is made: VMAs out of order, overlapping or
 * outside the user address range, page runs outside private VMAs or past
 * the end of the page image, shared-object runs past the object.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mem/mem.h"
#include "mem/vdso.h"
#include "util/util.h"

const struct doc_field mem_vma_fields[] = {
	DOC_HEX(struct mem_vma, start, "start", MEM_TASK_SIZE),
	DOC_HEX(struct mem_vma, end, "end", MEM_TASK_SIZE),
	DOC_STR(struct mem_vma, prot_s, "prot", 3),
	DOC_BOOL(struct mem_vma, shared, "shared"),
	DOC_STR(struct mem_vma, kind_s, "kind", 16),
	DOC_HEX(struct mem_vma, pgoff, "pgoff", INT64_MAX),
	DOC_STR(struct mem_vma, path, "path", PATH_MAX),
	DOC_OPT_INT(struct mem_vma, ino, "ino", 0, INT64_MAX),
	DOC_OPT_STR(struct mem_vma, dev, "dev", 32),
	DOC_STR(struct mem_vma, vmflags, "vmflags", 512),
	DOC_END,
};

/* Shared memory objects (shmem, memfd, SysV): which one, and how large. */
const struct doc_field mem_vma_shm_fields[] = {
	DOC_OPT_INT(struct mem_vma, shmid, "shmid", 0, INT64_MAX),
	DOC_OPT_INT(struct mem_vma, shm_size, "shm_size", 0, MEM_SHM_MAX),
	DOC_END,
};

const struct doc_field mem_mm_fields[] = {
	DOC_HEX(struct mem_mm, start_code, "start_code", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, end_code, "end_code", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, start_data, "start_data", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, end_data, "end_data", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, start_brk, "start_brk", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, brk, "brk", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, start_stack, "start_stack", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, arg_start, "arg_start", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, arg_end, "arg_end", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, env_start, "env_start", MEM_TASK_SIZE),
	DOC_HEX(struct mem_mm, env_end, "env_end", MEM_TASK_SIZE),
	DOC_END,
};

static const char *const kind_names[] = {
	[VMA_ANON] = "anon", [VMA_FILE] = "file", [VMA_SHMEM] = "shmem", [VMA_MEMFD] = "memfd",
	[VMA_VDSO] = "vdso", [VMA_SKIP] = "skip", [VMA_SYSV] = "sysv",	 [VMA_GHOST] = "ghost",
};

const char *vma_kind_name(enum vma_kind k)
{
	return kind_names[k];
}

int vma_kind_parse(const char *s, enum vma_kind *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (s && !strcmp(s, kind_names[i])) {
			*k = i;
			return 0;
		}
	return -EINVAL;
}

void prot_to_str(int prot, char out[4])
{
	out[0] = prot & PROT_READ ? 'r' : '-';
	out[1] = prot & PROT_WRITE ? 'w' : '-';
	out[2] = prot & PROT_EXEC ? 'x' : '-';
	out[3] = '\0';
}

int prot_from_str(const char *s)
{
	int prot = 0;

	if (s && s[0] == 'r')
		prot |= PROT_READ;
	if (s && s[0] && s[1] == 'w')
		prot |= PROT_WRITE;
	if (s && s[0] && s[1] && s[2] == 'x')
		prot |= PROT_EXEC;
	return prot;
}

bool vmflags_has(const char *vmflags, const char *fl)
{
	for (const char *p = vmflags; (p = strstr(p, fl)); p += 2)
		if ((p == vmflags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0'))
			return true;
	return false;
}

/* Element i of arr: a "0x.." string (or integer) up to hi. */
static int elem_hex(const struct doc_at *at, const struct json *arr, size_t i, uint64_t hi,
		    uint64_t *out, ckpt_err_t *err)
{
	struct doc_at e = DOC_IDX(at, i);
	const struct json *v = json_at(arr, i);

	if (json_type(arr) != JSON_ARR || !v)
		return doc_error(err, &e, "missing");
	if (!json_hex_value(v, out))
		return doc_error(err, &e, "expected a hex value");
	if (*out > hi)
		return doc_error(err, &e, "%#llx is out of range 0..%#llx",
				 (unsigned long long)*out, (unsigned long long)hi);
	return 0;
}

/* An array of n page-aligned [addr, npages(, off)] tuples, sorted and disjoint. */
static int runs_read(const struct doc_at *at, const struct json *arr, size_t n, bool with_off,
		     uint64_t img_pages, struct mem_run *out, ckpt_err_t *err)
{
	const uint64_t max_pages = MEM_TASK_SIZE / PAGE_SIZE;
	uint64_t prev_end = 0;

	for (size_t i = 0; i < n; i++) {
		struct doc_at e = DOC_IDX(at, i);
		const struct json *r = json_at(arr, i);
		struct mem_run *run = &out[i];
		int64_t x;
		int ret;

		if (json_type(r) != JSON_ARR || json_len(r) != (with_off ? 3u : 2u))
			return doc_error(err, &e, "expected [address, pages%s]",
					 with_off ? ", offset" : "");
		ret = elem_hex(&e, r, 0, MEM_TASK_SIZE - PAGE_SIZE, &run->addr, err);
		if (ret == 0)
			ret = doc_elem_int(&e, r, 1, 1, max_pages, &x, err);
		if (ret < 0)
			return ret;
		run->npages = x;
		if (with_off) {
			ret = doc_elem_int(&e, r, 2, 0, max_pages, &x, err);
			if (ret < 0)
				return ret;
			run->off = x;
		}
		if (run->addr & (PAGE_SIZE - 1))
			return doc_error(err, &e, "address %#llx is not page aligned",
					 (unsigned long long)run->addr);
		if (run->npages > (MEM_TASK_SIZE - run->addr) / PAGE_SIZE)
			return doc_error(
				err, &e, "%llu pages at %#llx end past the user address range",
				(unsigned long long)run->npages, (unsigned long long)run->addr);
		if (run->addr < prev_end)
			return doc_error(err, &e, "%#llx overlaps or precedes the run before",
					 (unsigned long long)run->addr);
		if (with_off && run->npages > img_pages - MIN(img_pages, run->off))
			return doc_error(
				err, &e,
				"pages %llu..%llu are past the end of the image (%llu pages)",
				(unsigned long long)run->off,
				(unsigned long long)(run->off + run->npages),
				(unsigned long long)img_pages);
		prev_end = run->addr + run->npages * PAGE_SIZE;
	}
	return 0;
}

int mem_runs_read(const struct doc_at *at, const struct json *arr, size_t n, bool with_off,
		  uint64_t img_pages, struct mem_run *out, ckpt_err_t *err)
{
	return runs_read(at, arr, n, with_off, img_pages, out, err);
}

/* The object's populated ranges [dst, len, src] (bytes), inside the object. */
static int shm_runs_read(const struct doc_at *at, const struct json *arr, size_t n,
			 struct mem_vma *v, ckpt_err_t *err)
{
	v->shm_runs = xzalloc((n + 1) * sizeof(*v->shm_runs));
	v->nshm_runs = n;
	v->has_runs = true;
	for (size_t i = 0; i < n; i++) {
		struct doc_at e = DOC_IDX(at, i);
		const struct json *r = json_at(arr, i);
		int64_t dst, len, src;
		int ret;

		if (json_type(r) != JSON_ARR || json_len(r) != 3)
			return doc_error(err, &e, "expected [offset, length, image offset]");
		ret = doc_elem_int(&e, r, 0, 0, v->shm_size, &dst, err);
		if (ret == 0)
			ret = doc_elem_int(&e, r, 1, 1, v->shm_size - dst, &len, err);
		if (ret == 0)
			ret = doc_elem_int(&e, r, 2, 0, MEM_SHM_MAX, &src, err);
		if (ret < 0)
			return ret;
		v->shm_runs[i] = (struct mem_shm_run){dst, len, src};
	}
	return 0;
}

static int prot_parse(const char *s, int *prot)
{
	if (strlen(s) != 3 || (s[0] != 'r' && s[0] != '-') || (s[1] != 'w' && s[1] != '-') ||
	    (s[2] != 'x' && s[2] != '-'))
		return -EINVAL;
	*prot = prot_from_str(s);
	return 0;
}

static bool vdso_name(const char *p)
{
	return !strcmp(p, "[vdso]") || !strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]");
}

/* One VMA: its members, then what its kind requires. */
/* What each kind of VMA needs: its path's form, an object (shmid, shm_size) to share. */
static int vma_kind_check(const struct doc_at *e, const struct mem_vma *v, ckpt_err_t *err)
{
	switch (v->kind) {
	case VMA_VDSO:
		if (!vdso_name(v->path))
			return doc_error(err, e, "vdso VMA named `%s`", v->path);
		break;
	case VMA_MEMFD:
		if (strncmp(v->path, "/memfd:", 7))
			return doc_error(err, e, "memfd VMA named `%s`", v->path);
		/* fall through */
	case VMA_GHOST:
		if (v->kind == VMA_GHOST && (v->path[0] != '/' || strlen(v->path) < 11 ||
					     strcmp(v->path + strlen(v->path) - 10, " (deleted)")))
			return doc_error(err, e, "deleted file VMA named `%s`", v->path);
		/* fall through */
	case VMA_SHMEM:
	case VMA_SYSV:
		if (v->shmid < 0 || v->shm_size < 0)
			return doc_error(err, e, "a %s VMA needs shmid and shm_size", v->kind_s);
		if (v->kind == VMA_SYSV && !v->shared)
			return doc_error(err, e, "a private SysV mapping");
		break;
	case VMA_FILE:
		if (v->path[0] != '/')
			return doc_error(err, e, "file VMA path `%s` is not absolute", v->path);
		break;
	default:
		break;
	}
	return 0;
}

static int vma_read(const struct doc_at *e, const struct json *j, uint64_t prev_end,
		    struct mem_vma *v, ckpt_err_t *err)
{
	const struct json *runs;
	size_t nruns;
	int ret;

	v->shmid = -1;
	v->shm_size = -1;
	ret = doc_read(e, j, mem_vma_fields, v, err);
	if (ret == 0)
		ret = doc_read(e, j, mem_vma_shm_fields, v, err);
	if (ret < 0)
		return ret;
	if ((v->start | v->end) & (PAGE_SIZE - 1) || v->start >= v->end)
		return doc_error(err, e, "%#llx-%#llx is not a page-aligned range",
				 (unsigned long long)v->start, (unsigned long long)v->end);
	if (v->start < prev_end)
		return doc_error(err, e, "%#llx-%#llx overlaps or precedes the VMA before",
				 (unsigned long long)v->start, (unsigned long long)v->end);
	if (v->pgoff & (PAGE_SIZE - 1))
		return doc_error(err, e, "pgoff %#llx is not page aligned",
				 (unsigned long long)v->pgoff);
	if (prot_parse(v->prot_s, &v->prot) < 0)
		return doc_error(err, e, "prot `%s` is not rwx letters", v->prot_s);
	if (vma_kind_parse(v->kind_s, &v->kind) < 0 || v->kind == VMA_SKIP)
		return doc_error(err, e, "unknown kind `%s`", v->kind_s);
	ret = vma_kind_check(e, v, err);
	if (ret < 0 || !vma_kind_object(v->kind))
		return ret;
	ret = doc_opt_arr(e, j, "shm_runs", SIZE_MAX, &runs, &nruns, err);
	if (ret == 0 && runs) {
		struct doc_at k = DOC_KEY(e, "shm_runs");

		ret = shm_runs_read(&k, runs, nruns, v, err);
	}
	return ret;
}

/* Private pages may only go where the task had private memory. */
static bool holds_private(const struct mem_vma *v)
{
	return !v->shared && v->kind != VMA_VDSO && v->kind != VMA_SYSV;
}

/* Every run lies in private VMAs that leave no gap under it (runs cross boundaries). */
static int runs_in_vmas(const struct doc_at *pm_at, const struct mem_task *m,
			const struct mem_run *runs, size_t nruns, ckpt_err_t *err)
{
	size_t v = 0;

	for (size_t i = 0; i < nruns; i++) {
		uint64_t a = runs[i].addr, end = a + runs[i].npages * PAGE_SIZE;

		while (v < m->nvmas && m->vmas[v].end <= a)
			v++;
		for (size_t k = v; a < end; k++) {
			if (k == m->nvmas || m->vmas[k].start > a || !holds_private(&m->vmas[k])) {
				struct doc_at e = DOC_IDX(pm_at, i);

				return doc_error(err, &e, "page %#llx is not in a private VMA",
						 (unsigned long long)a);
			}
			a = m->vmas[k].end;
		}
	}
	return 0;
}

/* "inherited": pages the task shares with its parent, inside its private VMAs. */
static int inherited_read(const struct doc_at *at, const struct json *task, struct mem_task *m,
			  ckpt_err_t *err)
{
	struct doc_at iat = DOC_KEY(at, "inherited");
	const struct json *list;
	size_t n;
	int ret;

	ret = doc_opt_arr(at, task, "inherited", MEM_TASK_SIZE / PAGE_SIZE, &list, &n, err);
	if (ret < 0)
		return ret;
	m->inherited = xzalloc((n + 1) * sizeof(*m->inherited));
	m->ninherited = n;
	ret = runs_read(&iat, list, n, false, 0, m->inherited, err);
	if (ret == 0)
		ret = runs_in_vmas(&iat, m, m->inherited, n, err);
	return ret;
}

static int mm_read(const struct doc_at *at, const struct json *task, struct mem_mm *mm,
		   ckpt_err_t *err)
{
	const struct json *j;
	const char *hex;
	int ret;

	ret = doc_obj(at, task, "mm", &j, err);
	if (ret == 0)
		ret = doc_str(at, task, "exe", PATH_MAX, &mm->exe, err);
	if (ret < 0)
		return ret;
	{
		struct doc_at k = DOC_KEY(at, "mm");

		ret = doc_read(&k, j, mem_mm_fields, mm, err);
		if (ret == 0)
			ret = doc_opt_str(&k, j, "auxv", 2 * MEM_AUXV_MAX, &hex, err);
		if (ret < 0 || !hex)
			return ret;
		mm->auxv_len = strlen(hex) / 2;
		/* its own length, not MEM_AUXV_MAX: the restorer holds one per task */
		if (mm->auxv_len) {
			mm->auxv = xzalloc(mm->auxv_len);
			ret = doc_hexbuf(&k, j, "auxv", mm->auxv, mm->auxv_len, err);
		}
	}
	return ret;
}

/* Copy s into *p (advanced past it), or count its bytes when there is no block yet. */
static void str_own(const char **s, char **p, size_t *len)
{
	size_t n;

	if (!*s)
		return;
	n = strlen(*s) + 1;
	if (*p) {
		memcpy(*p, *s, n);
		*s = *p;
		*p += n;
	}
	*len += n;
}

/* The strings read (pointing into the document) copied into m->strs. */
static void strs_own(struct mem_task *m)
{
	size_t len = 0;
	char *p = NULL;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->nvmas; i++) {
			struct mem_vma *v = &m->vmas[i];

			str_own(&v->prot_s, &p, &len);
			str_own(&v->kind_s, &p, &len);
			str_own(&v->path, &p, &len);
			str_own(&v->vmflags, &p, &len);
			str_own(&v->dev, &p, &len);
		}
		str_own(&m->mm.exe, &p, &len);
		if (!pass)
			p = m->strs = xzalloc(len + 1);
	}
}

static int mem_doc_parse(const struct doc_at *at, const struct json *task,
			 const struct doc_at *pm_at, const struct json *pagemap, uint64_t img_size,
			 struct mem_task *m, ckpt_err_t *err)
{
	const struct json *vmas, *guards, *vdso;
	struct doc_at vat = DOC_KEY(at, "vmas"), gat = DOC_KEY(at, "guards");
	size_t nvmas, nguards;
	int ret;

	memset(m, 0, sizeof(*m));
	ret = doc_arr(at, task, "vmas", MEM_TASK_SIZE / PAGE_SIZE, &vmas, &nvmas, err);
	if (ret < 0)
		return ret;
	m->vmas = xzalloc((nvmas + 1) * sizeof(*m->vmas));
	m->nvmas = nvmas;
	for (size_t i = 0; i < nvmas; i++) {
		struct doc_at e = DOC_IDX(&vat, i);
		const struct json *j;

		ret = doc_elem_obj(&vat, vmas, i, &j, err);
		if (ret == 0)
			ret = vma_read(&e, j, i ? m->vmas[i - 1].end : 0, &m->vmas[i], err);
		if (ret < 0)
			return ret;
	}
	if (json_type(pagemap) != JSON_ARR)
		return doc_error(err, pm_at, "expected an array of page runs");
	m->nruns = json_len(pagemap);
	m->runs = xzalloc((m->nruns + 1) * sizeof(*m->runs));
	if (img_size % PAGE_SIZE)
		return doc_error(err, pm_at, "page image of %llu bytes is not in pages",
				 (unsigned long long)img_size);
	ret = runs_read(pm_at, pagemap, m->nruns, true, img_size / PAGE_SIZE, m->runs, err);
	if (ret == 0)
		ret = runs_in_vmas(pm_at, m, m->runs, m->nruns, err);
	if (ret == 0)
		ret = doc_opt_arr(at, task, "guards", MEM_TASK_SIZE / PAGE_SIZE, &guards, &nguards,
				  err);
	if (ret < 0)
		return ret;
	m->guards = xzalloc((nguards + 1) * sizeof(*m->guards));
	m->nguards = nguards;
	ret = runs_read(&gat, guards, nguards, false, 0, m->guards, err);
	if (ret == 0)
		ret = inherited_read(at, task, m, err);
	if (ret == 0)
		ret = mm_read(at, task, &m->mm, err);
	if (ret == 0)
		ret = doc_opt_obj(at, task, "vdso", &vdso, err);
	if (ret == 0 && vdso) {
		struct doc_at k = DOC_KEY(at, "vdso");

		m->vdso = xzalloc(sizeof(*m->vdso));
		ret = vdso_from_json(&k, vdso, m->vdso, err);
	}
	return ret;
}

int mem_doc_read(const struct doc_at *at, const struct json *task, const struct doc_at *pm_at,
		 const struct json *pagemap, uint64_t img_size, struct mem_task *m, ckpt_err_t *err)
{
	int ret = mem_doc_parse(at, task, pm_at, pagemap, img_size, m, err);

	/* also on a failure: mem_doc_free may follow the document's */
	strs_own(m);
	return ret;
}

void mem_doc_free(struct mem_task *m)
{
	for (size_t i = 0; m->vmas && i < m->nvmas; i++)
		free(m->vmas[i].shm_runs);
	free(m->vmas);
	free(m->runs);
	free(m->xruns);
	free(m->guards);
	free(m->inherited);
	free(m->vdso);
	free(m->mm.auxv);
	free(m->strs);
	memset(m, 0, sizeof(*m));
}
