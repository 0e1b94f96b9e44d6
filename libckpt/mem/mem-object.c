/*
 * libckpt/mem/mem-object.c - the objects that several mappings share, made
 * once at restore: shared anonymous memory (MAP_ANONYMOUS, or /dev/zero for
 * a piece of it), a memfd named as the saved one, a deleted file's content
 * in a temporary file. The first mapping makes the object; the others open
 * it through /proc/PID/map_files of that mapping, and rmem_fill_shared
 * writes its content from outside once it is mapped. A memfd the task
 * also holds an fd on is not made again: the fd's memfd (files/memfd.c,
 * filled and sealed already) is opened through /proc/self/fd, so writes
 * through the fd show in the mapping as before.
 */
#define LOG_PREFIX "rmem: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mem/mem.h"
#include "mem/mem-restore.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

/* The object already made for (kind, id): inode numbers of deleted files are another space. */
static struct rshm *shm_find(struct rctx *rc, enum vma_kind kind, uint64_t id)
{
	for (int i = 0; i < rc->nshms; i++)
		if (rc->shms[i].id == id && rc->shms[i].ghost == (kind == VMA_GHOST))
			return &rc->shms[i];
	return NULL;
}

/* Same inode: st_dev and st_ino of two stat results. */
static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * The path by which task t opens the shared object that shm's first
 * mapper made: /proc/PID/map_files/START-END, PID as t's /proc shows the
 * mapper. In a tree with its own pid namespace that /proc is the tree's
 * (the pid of the bundle), elsewhere ckpt-oci's (the host pid); which one
 * is checked from outside, through /proc/T/root, against the object
 * itself, so a /proc that shows neither fails here rather than mapping
 * something else.
 */
static int shm_path_in_task(struct rctx *rc, struct rtask *t, const struct rshm *shm, char *path,
			    size_t len, ckpt_err_t *err)
{
	pid_t cand[2] = {shm->host_pid, shm->host_pid};
	char range[64], outside[PATH_MAX];
	struct stat want, st;

	for (int i = 0; i < rc->ntasks; i++)
		if (rc->tasks[i].host_pid == shm->host_pid)
			cand[0] = rc->tasks[i].pid;
	snprintf(range, sizeof(range), "map_files/%lx-%lx", (unsigned long)shm->start,
		 (unsigned long)shm->end);
	snprintf(outside, sizeof(outside), "/proc/%d/%s", shm->host_pid, range);
	if (stat(outside, &want) < 0)
		return ckpt_error(err, errno, "shared memory of task %d: stat %s", cand[0],
				  outside);
	for (int i = 0; i < 2; i++) {
		snprintf(outside, sizeof(outside), "/proc/%d/root/proc/%d/%s", t->host_pid, cand[i],
			 range);
		if (stat(outside, &st) == 0 && same_file(&st, &want)) {
			snprintf(path, len, "/proc/%d/%s", cand[i], range);
			return 0;
		}
	}
	return ckpt_error_msg(err, ENOENT, "shared memory of task %d: not seen in the task's /proc",
			      cand[0]);
}

/* Swap the task's fd for a read-only one on the same file (/proc/self/fd). */
static int reopen_rdonly(struct rtask *t, uint64_t data, long *fd, ckpt_err_t *err)
{
	char path[64];
	long ro, r;
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fd/%ld", *fd);
	ret = rsys_poke(t->host_pid, data, path, strlen(path) + 1, err);
	if (ret == 0)
		ret = RSYS(&t->rs, &ro, err, SYS_openat, AT_FDCWD, data, O_RDONLY | O_CLOEXEC, 0, 0,
			   0);
	if (ret < 0)
		return ret;
	if (ro < 0) {
		pr_debug("task %d: reopen %s read-only: %ld, mapped writable", t->pid, path, ro);
		return 0;
	}
	ret = RSYS(&t->rs, &r, err, SYS_close, *fd, 0, 0, 0, 0, 0);
	*fd = ro;
	return ret;
}

/* An fd of t on the memfd of inode id (task-PID.json "fds", read at load), or -1. */
static int memfd_fd_of(const struct rtask *t, uint64_t id)
{
	for (int i = 0; i < t->nfds; i++)
		if (t->fd_memfd[i] && t->fd_memfd[i] == id) /* 0: not a memfd (no inode is 0) */
			return t->fds[i];
	return -1;
}

/* A memfd named as the saved one ("/memfd:NAME (deleted)"), of the saved size. */
static int memfd_make(struct rtask *t, const struct rvma *v, uint64_t data, long *fd,
		      ckpt_err_t *err)
{
	char name[PATH_MAX];
	long r;
	int ret;

	snprintf(name, sizeof(name), "%s", v->path + 7);
	if (strstr(name, " (deleted)"))
		*strstr(name, " (deleted)") = '\0';
	ret = rsys_poke(t->host_pid, data, name, strlen(name) + 1, err);
	if (ret == 0)
		ret = RSYS(&t->rs, fd, err, SYS_memfd_create, data, MFD_CLOEXEC, 0, 0, 0, 0);
	ret = rsys_check(ret, *fd, err, "memfd_create `%s`", name);
	if (ret == 0)
		ret = RSYS(&t->rs, &r, err, SYS_ftruncate, *fd, v->m->shm_size, 0, 0, 0, 0);
	return rsys_check(ret, r, err, "ftruncate memfd `%s`", name);
}

/*
 * A deleted file's content goes into an unnamed temporary file (O_TMPFILE)
 * made by the task in the file's old directory when it can, as files/reg.c
 * does for deleted files held open, else in /tmp or /dev/shm; its size is
 * set here, its content by rmem_fill_shared.
 */
static int ghost_make(struct rtask *t, const struct rvma *v, uint64_t data, long *fd,
		      ckpt_err_t *err)
{
	char dir[PATH_MAX];
	const char *cand[3] = {dir, "/tmp", "/dev/shm"};
	long r = -ENOENT;
	int ret = 0;

	snprintf(dir, sizeof(dir), "%.*s", (int)(strlen(v->path) - 10), v->path);
	*strrchr(dir, '/') = '\0';
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/");
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(cand) && r < 0; i++) {
		ret = rsys_poke(t->host_pid, data, cand[i], strlen(cand[i]) + 1, err);
		if (ret == 0)
			ret = RSYS(&t->rs, &r, err, SYS_openat, AT_FDCWD, data,
				   O_TMPFILE | O_RDWR | O_CLOEXEC, 0600, 0, 0);
	}
	ret = rsys_check(ret, r, err, "temporary file for deleted `%s`", v->path);
	if (ret < 0)
		return ret;
	*fd = r;
	ret = RSYS(&t->rs, &r, err, SYS_ftruncate, *fd, v->m->shm_size, 0, 0, 0, 0);
	return rsys_check(ret, r, err, "ftruncate temporary file for `%s`", v->path);
}

/*
 * An object shared by mappings (shared anonymous memory, a memfd, a deleted
 * file): opened through the mapping that made it, or made by this one.
 */
int rmem_object_source(struct rctx *rc, struct rtask *t, const struct rvma *v, int *flags, long *fd,
		       ckpt_err_t *err)
{
	uint64_t data = rc->scratch + SCRATCH_DATA;
	struct rshm *shm = shm_find(rc, v->kind, v->m->shmid);
	char path[PATH_MAX];
	int ret, held;

	if (shm) {
		ret = shm_path_in_task(rc, t, shm, path, sizeof(path), err);
		if (ret == 0)
			ret = rmem_open(t, data, path, vma_writes_file(v) ? O_RDWR : O_RDONLY, fd,
					err);
		return ret;
	}
	rc->shms = xrealloc(rc->shms, (rc->nshms + 1) * sizeof(*rc->shms));
	rc->shms[rc->nshms++] = (struct rshm){.id = v->m->shmid,
					      .host_pid = t->host_pid,
					      .start = v->start,
					      .end = v->end,
					      .ghost = v->kind == VMA_GHOST};
	if (v->kind == VMA_SHMEM && !v->pgoff && v->end - v->start >= (uint64_t)v->m->shm_size) {
		*flags |= MAP_ANONYMOUS;
		return 0;
	}
	/*
	 * A piece of the object (the task unmapped its head, or mprotect split
	 * it and another piece comes first): MAP_ANONYMOUS would drop the
	 * offset, /dev/zero keeps it. The object is as long as this piece;
	 * rmem_fill_shared gives it its whole size.
	 */
	if (v->kind == VMA_SHMEM)
		return rmem_open(t, data, "/dev/zero", O_RDWR, fd, err);
	if (v->kind == VMA_MEMFD && (held = memfd_fd_of(t, v->m->shmid)) >= 0) {
		rc->shms[rc->nshms - 1].filled = true; /* its content came with the fd */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", held);
		return rmem_open(t, data, path, vma_writes_file(v) ? O_RDWR : O_RDONLY, fd, err);
	}
	ret = v->kind == VMA_MEMFD ? memfd_make(t, v, data, fd, err)
				   : ghost_make(t, v, data, fd, err);
	if (ret == 0 && !vma_writes_file(v))
		ret = reopen_rdonly(t, data, fd, err);
	return ret;
}

/* Copy len bytes between files: copy_file_range, or read/write across filesystems. */
static int copy_range(int in, loff_t src, int out, loff_t dst, size_t len, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;

	while (len > 0) {
		ssize_t c = copy_file_range(in, &src, out, &dst, len, 0);

		if (c > 0) {
			len -= c;
			continue;
		}
		if (c == 0 || (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP))
			return ckpt_error(err, c ? errno : EIO, "copy");
		break;
	}
	if (len)
		buf = xzalloc(1 << 20);
	while (len > 0) {
		ssize_t n = pread(in, buf, MIN(len, (size_t)1 << 20), src);

		if (n <= 0 || pwrite(out, buf, n, dst) != n)
			return ckpt_error(err, n < 0 ? errno : EIO, "copy");
		src += n;
		dst += n;
		len -= n;
	}
	return 0;
}

/* The VMA (of any task) that carries the runs of shared object id. */
static const struct mem_vma *shm_runs_of(struct rctx *rc, const struct rshm *shm)
{
	for (int i = 0; i < rc->ntasks; i++)
		for (size_t k = 0; k < rc->tasks[i].mem.nvmas; k++) {
			const struct mem_vma *v = &rc->tasks[i].mem.vmas[k];

			if (v->has_runs && (uint64_t)v->shmid == shm->id &&
			    (v->kind == VMA_GHOST) == shm->ghost)
				return v;
		}
	return NULL;
}

/*
 * Shared objects are filled from outside, through /proc/PID/map_files of
 * the mapping that made them; a shared anonymous object made from a piece
 * of it gets its whole size here.
 */
int rmem_fill_shared(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	for (size_t i = 0; i < t->mem.nvmas; i++) {
		const struct mem_vma *v = &t->mem.vmas[i], *src;
		struct rshm *shm = NULL;
		cleanup_free char *img = NULL, *path = NULL;
		cleanup_close int in = -1, out = -1;
		struct stat st;
		uint64_t size;
		int ret;

		if (vma_kind_object(v->kind))
			shm = shm_find(rc, v->kind, v->shmid);
		if (!shm || shm->filled || shm->host_pid != t->host_pid || shm->start != v->start)
			continue;
		shm->filled = true;
		path = xasprintf("/proc/%d/map_files/%lx-%lx", t->host_pid,
				 (unsigned long)shm->start, (unsigned long)shm->end);
		out = open(path, O_RDWR | O_CLOEXEC);
		if (out < 0)
			return ckpt_error(err, errno, "open %s", path);
		if (fstat(out, &st) < 0 ||
		    (st.st_size != v->shm_size && ftruncate(out, v->shm_size) < 0))
			return ckpt_error(err, errno, "size shared memory %lu",
					  (unsigned long)shm->id);
		src = shm_runs_of(rc, shm);
		if (!src)
			continue;
		img = xasprintf("%s-%lu.img", vma_object_image(src->kind), (unsigned long)shm->id);
		ret = bundle_open_file(rc->bundle, img, &in, &size, err);
		if (ret < 0)
			return ret;
		/* each run is inside the object and the image: checked at load */
		for (size_t k = 0; k < src->nshm_runs; k++) {
			const struct mem_shm_run *run = &src->shm_runs[k];

			ret = copy_range(in, run->src, out, run->dst, run->len, err);
			if (ret < 0)
				return ckpt_error_wrap(err, "fill shared memory %lu",
						       (unsigned long)shm->id);
		}
	}
	return 0;
}
