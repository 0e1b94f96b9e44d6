/*
 * libckpt/mem/mem-vmas.c - a task's VMAs (task-PID.json "vmas", from
 * smaps), where its vdso is, and each shared memory object once
 * (shmem-ID.img, or mapghost-INO.img for a file mapped then deleted, with
 * its runs in the "shm_runs" of the mapping that comes first). Shared
 * objects are read through /proc/PID/map_files with SEEK_DATA/SEEK_HOLE,
 * so every populated page of the object is kept even where no process
 * maps it right now. AIO rings and hugetlb mappings are refused.
 */
#define LOG_PREFIX "mem: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"
#include "mem/mem.h"
#include "mem/vdso.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

static enum vma_kind classify(const struct proc_vma *v)
{
	const char *p = v->path;

	if (!strcmp(p, "[vsyscall]"))
		return VMA_SKIP;
	if (!strcmp(p, "[vdso]") || !strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]"))
		return VMA_VDSO;
	if (!strncmp(p, "/memfd:", 7))
		return VMA_MEMFD;
	/* the inode number of a SysV mapping is the segment's id */
	if (v->shared && !strncmp(p, "/SYSV", 5))
		return VMA_SYSV;
	if (v->shared && (!strncmp(p, "/dev/zero", 9) || !strncmp(p, "[anon_shmem", 11)))
		return VMA_SHMEM;
	/* a deleted file (not an object of the kernel's own: those are above) */
	if (v->ino && p[0] == '/' && strlen(p) > 10 && !strcmp(p + strlen(p) - 10, " (deleted)"))
		return VMA_GHOST;
	if (v->ino && p[0] == '/')
		return VMA_FILE;
	return VMA_ANON;
}

/* Dump a shared object once: every populated range, found with SEEK_DATA. */
static int shmem_dump(struct ckpt_ctx *ctx, struct task *t, const struct proc_vma *v,
		      struct mem_vma *mv, struct json *vj, ckpt_err_t *err)
{
	cleanup_free char *name =
		xasprintf("%s-%lu.img", vma_object_image(classify(v)), (unsigned long)v->ino);
	cleanup_free char *mf =
		xasprintf("map_files/%lx-%lx", (unsigned long)v->start, (unsigned long)v->end);
	cleanup_free char *buf = NULL;
	cleanup_close int fd = -1;
	struct bundle_image *img = NULL;
	struct json *runs;
	off_t size, data, hole;
	struct stat st;
	int ret;

	fd = openat(t->procfd, mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open /proc/%d/%s", t->pid, mf);
	if (fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "stat shared memory %lu", (unsigned long)v->ino);
	size = st.st_size;
	mv->shmid = (int64_t)v->ino;
	mv->shm_size = size;
	doc_write(vj, mem_vma_shm_fields, mv);
	if (bundle_has_file(ctx->bundle, name))
		return 0; /* another mapping of the same object came first */
	runs = json_set(vj, "shm_runs", json_arr());
	ret = bundle_image_create(ctx->bundle, name, &img, err);
	if (ret < 0)
		return ret;
	buf = xzalloc(MEM_COPY_BUF);
	for (data = 0; data < size; data = hole) {
		data = lseek(fd, data, SEEK_DATA);
		if (data < 0)
			break; /* ENXIO: no data after this offset */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = size;
		struct json *run = json_push(runs, json_arr());
		json_push(run, json_int(data));
		json_push(run, json_int(hole - data));
		json_push(run, json_int(bundle_image_size(img)));
		for (off_t off = data; off < hole;) {
			ssize_t n = pread(fd, buf, MIN((off_t)MEM_COPY_BUF, hole - off), off);

			if (n <= 0) {
				bundle_image_abort(img);
				return ckpt_error(err, n < 0 ? errno : EIO,
						  "read shared memory %lu", (unsigned long)v->ino);
			}
			ret = bundle_image_write(img, buf, n, err);
			if (ret < 0) {
				bundle_image_abort(img);
				return ret;
			}
			off += n;
		}
	}
	return bundle_image_close(img, err);
}

/*
 * A SysV segment belongs to the IPC namespace, which dumps its contents
 * once; the task only records which segment is attached and its size, so
 * that restore can shmat() it again and trim what the task had unmapped.
 */
static int sysv_dump(struct task *t, const struct proc_vma *v, struct mem_vma *mv, struct json *vj,
		     ckpt_err_t *err)
{
	cleanup_free char *mf =
		xasprintf("map_files/%lx-%lx", (unsigned long)v->start, (unsigned long)v->end);
	struct stat st;

	if (fstatat(t->procfd, mf, &st, 0) < 0)
		return ckpt_error(err, errno, "stat /proc/%d/%s", t->pid, mf);
	mv->shmid = (int64_t)v->ino;
	mv->shm_size = st.st_size;
	doc_write(vj, mem_vma_shm_fields, mv);
	return 0;
}

/*
 * Mappings restore cannot make again are refused here, while the tree can
 * still go on untouched: an AIO ring (io_setup) is the kernel's, with
 * events in flight; hugetlb pages would come back as ordinary ones, or not
 * at all where the host has no huge pages reserved.
 */
static int vma_supported(const struct task *t, const struct proc_vma *v, const char *vmflags,
			 ckpt_err_t *err)
{
	if (!strncmp(v->path, "/[aio]", 6))
		return ckpt_error_msg(err, ENOTSUP,
				      "task %d has an AIO ring (io_setup) at %#lx: not supported",
				      t->pid, (unsigned long)v->start);
	if (vmflags_has(vmflags, "ht"))
		return ckpt_error_msg(err, ENOTSUP,
				      "task %d has a hugetlb mapping `%s` at %#lx: not supported",
				      t->pid, v->path, (unsigned long)v->start);
	return 0;
}

/* Where the vdso is, found while the VMAs are written (vdso_dump reads it). */
struct vdso_where {
	uint64_t text, size, vvar;
};

static int vma_to_json(struct ckpt_ctx *ctx, struct task *t, const struct proc_vma *v,
		       const char *vmflags, struct json *vmas, struct vdso_where *vw,
		       ckpt_err_t *err)
{
	enum vma_kind kind = classify(v);
	struct mem_vma mv = {
		.start = v->start,
		.end = v->end,
		.pgoff = v->pgoff,
		.shared = v->shared,
		.kind_s = vma_kind_name(kind),
		.path = v->path,
		.ino = (int64_t)v->ino,
		.vmflags = vmflags,
	};
	struct json *vj;
	char prot[4], dev[32];
	int ret;

	if (kind == VMA_SKIP)
		return 0;
	ret = vma_supported(t, v, vmflags, err);
	if (ret < 0)
		return ret;
	if (kind == VMA_VDSO && !strcmp(v->path, "[vdso]")) {
		vw->text = v->start;
		vw->size = v->end - v->start;
	} else if (kind == VMA_VDSO) {
		vw->vvar += v->end - v->start;
	}
	prot_to_str(v->prot, prot);
	snprintf(dev, sizeof(dev), "%u:%u", v->dev_major, v->dev_minor);
	mv.prot_s = prot;
	mv.dev = dev;
	vj = json_push(vmas, json_obj());
	doc_write(vj, mem_vma_fields, &mv);
	if (vma_kind_object(kind))
		return shmem_dump(ctx, t, v, &mv, vj, err);
	if (kind == VMA_SYSV)
		return sysv_dump(t, v, &mv, vj, err);
	return 0;
}

struct vmas_walk {
	struct ckpt_ctx *ctx;
	struct task *t;
	struct json *vmas;
	struct vdso_where *vw;
	bool failed; /* the error is vma_to_json's, not the parser's */
};

static int vma_seen(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct vmas_walk *w = arg;
	int ret = vma_to_json(w->ctx, w->t, v, v->vmflags, w->vmas, w->vw, err);

	w->failed = ret < 0;
	return ret;
}

/*
 * Every VMA of smaps (the maps-format header and its VmFlags line): read
 * now, or already read into smaps (mem_smaps_start) while the tree stood
 * still.
 */
static int vmas_dump(struct ckpt_ctx *ctx, struct task *t, const char *smaps, struct json *vmas,
		     struct vdso_where *vw, ckpt_err_t *err)
{
	struct vmas_walk w = {ctx, t, vmas, vw, false};
	int ret = smaps ? proc_parse_maps(smaps, true, vma_seen, &w, err)
			: proc_read_maps(t->procfd, "smaps", vma_seen, &w, err);

	if (ret < 0 && !w.failed)
		return ckpt_error_wrap(err, "/proc/%d", t->pid);
	return ret < 0 ? ret : 0;
}

int mem_vmas_dump(struct ckpt_ctx *ctx, struct task *t, const char *smaps, struct json *vmas,
		  ckpt_err_t *err)
{
	struct vdso_where vw = {0};
	int ret = vmas_dump(ctx, t, smaps, vmas, &vw, err);

	if (ret == 0) /* restore on another kernel needs it */
		ret = vdso_dump(t->pid, vw.text, vw.size, vw.vvar, t->doc, err);
	return ret;
}
