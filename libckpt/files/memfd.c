/*
 * libckpt/files/memfd.c - memfd fds: name, content (bounded by the ghost
 * limit) and seals, once per inode in files.json "memfds" (memfd-ID.img).
 * Restore makes the memfd once in ckpt-oci, fills and seals it, parks it;
 * each fd reopens it through /proc/self/fd with its own flags and offset.
 * A memfd the task also maps is mapped from this one (mem/mem-object.c
 * opens it through the task's fd), so fd and mapping stay one object.
 */
#define LOG_PREFIX "memfd: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "files/files.h"
#include "util/util.h"

static bool memfd_match(const struct fd_info *fi)
{
	return S_ISREG(fi->st.st_mode) && !strncmp(fi->link, "/memfd:", 7);
}

static int memfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
		      ckpt_err_t *err)
{
	struct json *list = files_dlist(dc, "memfds"), *m;
	cleanup_free char *name = NULL, *path = xasprintf("fd/%d", fi->fd);
	cleanup_close int fd = -1;
	uint64_t id = fi->st.st_ino, bytes = 0;
	int seals, ret;

	json_set(o, "memfd", json_int(id));
	if (files_list_find(list, id))
		return 0;
	/* a description of our own: seeking for holes must not move the task's offset */
	fd = openat(fi->procfd, path, O_RDONLY | O_NOATIME | O_CLOEXEC);
	if (fd < 0 && errno == EPERM)
		fd = openat(fi->procfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open memfd `%s` of %d", fi->link, fi->pid);
	seals = fcntl(fd, F_GET_SEALS);
	name = xasprintf("memfd-%lu.img", (unsigned long)id);
	m = json_push(list, json_obj());
	json_set(m, "id", json_int(id));
	json_set(m, "mode", json_int(fi->st.st_mode & 07777));
	json_set(m, "seals", json_int(seals < 0 ? -1 : seals)); /* -1: no sealing allowed */
	attr_dump(&fi->st, m);
	ret = sparse_save(fd, fi->st.st_size, dc->ghost_limit, dc->bundle, name, m, &bytes, err);
	if (ret == -EFBIG) {
		ckpt_error_clear(err);
		return ckpt_error_msg(err, EFBIG,
				      "fd %d of pid %d: memfd `%s` has %llu bytes of data, more "
				      "than the ghost limit of %llu (--ghost-limit)",
				      fi->fd, fi->pid, fi->link, (unsigned long long)bytes,
				      (unsigned long long)dc->ghost_limit);
	}
	return ret < 0 ? ckpt_error_wrap(err, "memfd `%s` of %d", fi->link, fi->pid) : 0;
}

/* A memfd of files.json "memfds". */
struct memfd_saved {
	int64_t size;
	unsigned int mode;
	int seals; /* -1: no sealing allowed */
	const char *image;
	struct file_attr attr;
	const struct doc_at *at; /* where, for the runs (sparse.c) */
	const struct json *obj;
};

static const struct doc_field memfd_fields[] = {
	DOC_INT(struct memfd_saved, size, "size", 0, INT64_MAX),
	DOC_INT(struct memfd_saved, mode, "mode", 0, 07777),
	DOC_INT(struct memfd_saved, seals, "seals", -1, 0xffff),
	DOC_OPT_STR(struct memfd_saved, image, "image", 255),
	DOC_END,
};

static int memfd_make(const struct fd_entry *e, const struct memfd_saved *m, struct ckpt_bundle *b,
		      ckpt_err_t *err)
{
	const char *link = strncmp(e->path, "/memfd:", 7) ? "/memfd:" : e->path;
	cleanup_free char *name = xstrdup(link + 7);
	int seals = m->seals, fd, ret;
	char *del = strstr(name, " (deleted)");

	if (del)
		*del = '\0';
	fd = memfd_create(name, MFD_CLOEXEC | (seals >= 0 ? MFD_ALLOW_SEALING : 0));
	if (fd < 0)
		return ckpt_error(err, errno, "memfd_create `%s`", name);
	ret = sparse_fill(fd, b, m->image, m->at, m->obj, m->size, err);
	if (ret == 0 && !m->attr.present && fchmod(fd, m->mode) < 0)
		ret = ckpt_error(err, errno, "chmod memfd");
	if (ret == 0)
		ret = attr_apply(fd, &m->attr, err);
	/* F_SEAL_SEAL is in "seals" when sealing was closed; add it last */
	if (ret == 0 && seals > 0 && fcntl(fd, F_ADD_SEALS, seals) < 0)
		ret = ckpt_error(err, errno, "memfd seals %#x", seals);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

static int memfd_prepare(const struct fd_entry *e, struct files_rctx *rc, ckpt_err_t *err)
{
	struct memfd_saved m = {0};
	struct files_item it;
	uint64_t id;
	int fd, ret;

	ret = doc_u64(&e->at, e->obj, "memfd", UINT64_MAX, &id, err);
	if (ret < 0 || files_shared_find(rc, "memfd", id, 0))
		return ret;
	ret = files_need(rc->doc, "memfds", id, e, &it, err);
	if (ret == 0)
		ret = doc_read(&it.at, it.obj, memfd_fields, &m, err);
	if (ret == 0)
		ret = attr_read(&it.at, it.obj, &m.attr, err);
	if (ret < 0)
		return ret;
	m.at = &it.at;
	m.obj = it.obj;
	fd = memfd_make(e, &m, rc->bundle, err);
	if (fd < 0)
		return fd;
	return files_park(rc, "memfd", id, 0, fd, err);
}

static int memfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			 ckpt_err_t *err)
{
	int flags = e->flags & ~(O_CREAT | O_TRUNC | O_EXCL);
	struct fd_shared *sh;
	char path[64];
	uint64_t id;
	int ret = doc_u64(&e->at, e->obj, "memfd", UINT64_MAX, &id, err);

	if (ret < 0)
		return ret;
	sh = files_shared_find(rc, "memfd", id, 0);
	if (!sh)
		return ckpt_error_msg(err, EPROTO, "memfd was not prepared");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", sh->fd);
	*fd = open(path, flags | O_CLOEXEC);
	if (*fd < 0)
		return ckpt_error(err, errno, "reopen memfd");
	if (lseek(*fd, e->pos, SEEK_SET) < 0) {
		close(*fd);
		return ckpt_error(err, errno, "seek memfd");
	}
	return 0;
}

const struct fd_ops fd_memfd_ops = {
	.kind = "memfd",
	.match = memfd_match,
	.dump = memfd_dump,
	.prepare = memfd_prepare,
	.restore = memfd_restore,
};
