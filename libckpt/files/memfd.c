/*
 * libckpt/files/memfd.c - memfd fds: name, content (bounded by the ghost
 * limit) and seals, once per inode in files.json "memfds" (memfd-ID.img).
 * Restore makes the memfd once in ckpt-oci, fills and seals it, parks it;
 * each fd reopens it through /proc/self/fd with its own flags and offset.
 * A memfd also mapped by the task is restored as a separate object by the
 * memory code: fd and mapping do not share pages after restore (yet).
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
	cleanup_free char *buf = NULL, *name = NULL;
	cleanup_close int fd = -1;
	uint64_t id = fi->st.st_ino;
	int seals;
	ssize_t n;

	json_set(o, "memfd", json_int(id));
	if (files_list_find(list, id))
		return 0;
	if ((uint64_t)fi->st.st_size > dc->ghost_limit)
		return ckpt_error_msg(err, EFBIG,
				      "fd %d of pid %d: memfd `%s` has %lld bytes, more than the "
				      "ghost limit of %llu (--ghost-limit)",
				      fi->fd, fi->pid, fi->link, (long long)fi->st.st_size,
				      (unsigned long long)dc->ghost_limit);
	fd = files_steal_fd(fi->pid, fi->fd, err);
	if (fd < 0)
		return fd;
	seals = fcntl(fd, F_GET_SEALS);
	buf = xzalloc(fi->st.st_size + 1);
	n = pread(fd, buf, fi->st.st_size, 0);
	if (n != fi->st.st_size)
		return ckpt_error(err, n < 0 ? errno : EIO, "read memfd `%s`", fi->link);
	name = xasprintf("memfd-%lu.img", (unsigned long)id);
	m = json_push(list, json_obj());
	json_set(m, "id", json_int(id));
	json_set(m, "size", json_int(n));
	json_set(m, "mode", json_int(fi->st.st_mode & 07777));
	json_set(m, "seals", json_int(seals < 0 ? -1 : seals)); /* -1: no sealing allowed */
	json_set(m, "image", json_str(name));
	attr_dump(&fi->st, m);
	return files_put_image(dc->bundle, name, buf, n, err);
}

/* A memfd of files.json "memfds". */
struct memfd_saved {
	int64_t size;
	unsigned int mode;
	int seals; /* -1: no sealing allowed */
	const char *image;
	struct file_attr attr;
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
	ret = pipe_fill_image(fd, m->image, b, err);
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
