/*
 * oci/rootfs-base.c - a root directory's first state, taken before the
 * container's program runs, so a checkpoint finds what changed by
 * comparing with it instead of guessing from change times.
 *
 * `ckpt-oci hook createRuntime` (runc and crun run it after making the
 * container, before its program starts) walks the root directory and
 * keeps, for every entry, its inode number, type and mode, and its change
 * time, in BASE_DIR/DEV-INO (the root directory's identity; its birth time
 * inside, since inode numbers are reused). Reading the change time marks it
 * seen, so the filesystem stamps the next change with the fine clock
 * (multigrain timestamps): a write, chmod, rename or link right after still
 * gives another ctime. At checkpoint an entry changed when it is not in the
 * base or its inode, type or ctime differs; an entry of the base no longer
 * there was deleted, which a ctime bound cannot see at all. The file is
 * host state written by ckpt-oci as root in a root-only directory; it is
 * still read with every length checked. poststop removes it.
 */
#define LOG_PREFIX "rootfs: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "oci/oci.h"
#include "util/log.h"
#include "util/util.h"

#define BASE_DIR   "/run/ckpt-oci/rootfs-base"
#define BASE_MAGIC "ckpt-oci rootfs base 1\n"
#define WALK_DEPTH 256
#define BASE_MAX   (1u << 24) /* entries */

struct base_rec {
	uint64_t ino;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t mode;
	uint32_t len; /* of the path that follows, no NUL */
};

struct base_entry {
	char *path;
	uint64_t ino;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	uint32_t mode;
	bool seen;
};

struct rootfs_base {
	struct base_entry *e;
	size_t n;
	size_t *slot; /* open addressing over e, SIZE_MAX free */
	size_t nslot;
};

struct root_id {
	uint64_t dev, ino;
	int64_t btime_sec;
	uint32_t btime_nsec;
};

static int root_id(int fd, struct root_id *id)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) < 0)
		return -errno;
	*id = (struct root_id){.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
			       .ino = sx.stx_ino};
	if (sx.stx_mask & STATX_BTIME) {
		id->btime_sec = sx.stx_btime.tv_sec;
		id->btime_nsec = sx.stx_btime.tv_nsec;
	}
	return 0;
}

static char *base_path(const struct root_id *id)
{
	return xasprintf(BASE_DIR "/%" PRIx64 "-%" PRIx64, id->dev, id->ino);
}

struct walker {
	dev_t dev; /* the root's: mounts below are not walked */
	int (*fn)(void *arg, const char *path, const struct stat *st, ckpt_err_t *err);
	void *arg;
	char path[PATH_MAX];
};

static int walk_dir(struct walker *w, int dfd, size_t len, int depth, ckpt_err_t *err)
{
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (depth > WALK_DEPTH)
		return ckpt_error_msg(err, ELOOP, "deeper than %d at %s", WALK_DEPTH, w->path);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return ckpt_error(err, errno, "open %s", w->path);
	}
	while (ret == 0 && (errno = 0, de = readdir(d))) {
		size_t n = strlen(de->d_name);
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (len + 1 + n >= PATH_MAX) {
			ret = ckpt_error_msg(err, ENAMETOOLONG, "path too long in %s", w->path);
			break;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		w->path[len] = '/';
		memcpy(w->path + len + 1, de->d_name, n + 1);
		ret = w->fn(w->arg, w->path, &st, err);
		if (ret == 0 && S_ISDIR(st.st_mode) && st.st_dev == w->dev) {
			int fd = openat(dirfd(d), de->d_name,
					O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0)
				ret = walk_dir(w, fd, len + 1 + n, depth + 1, err);
		}
		w->path[len] = '\0';
	}
	if (ret == 0 && errno)
		ret = ckpt_error(err, errno, "read %s", w->path);
	closedir(d);
	return ret;
}

int oci_rootfs_walk(int fd, dev_t dev,
		    int (*fn)(void *arg, const char *path, const struct stat *st, ckpt_err_t *err),
		    void *arg, ckpt_err_t *err)
{
	struct walker *w = xzalloc(sizeof(*w));
	int ret;

	*w = (struct walker){.dev = dev, .fn = fn, .arg = arg, .path = "."};
	ret = walk_dir(w, fd, 1, 0, err);
	free(w);
	return ret;
}

struct take {
	FILE *out;
	size_t n;
};

static int take_entry(void *arg, const char *path, const struct stat *st, ckpt_err_t *err)
{
	struct take *t = arg;
	struct base_rec r = {.ino = st->st_ino,
			     .ctime_sec = st->st_ctim.tv_sec,
			     .ctime_nsec = st->st_ctim.tv_nsec,
			     .mode = st->st_mode,
			     .len = strlen(path)};

	if (++t->n > BASE_MAX)
		return ckpt_error_msg(err, EFBIG, "more than %u entries", BASE_MAX);
	if (fwrite(&r, sizeof(r), 1, t->out) != 1 || fwrite(path, r.len, 1, t->out) != 1)
		return ckpt_error(err, errno ?: EIO, "write the base");
	return 0;
}

int oci_rootfs_base_take(const char *root, ckpt_err_t *err)
{
	cleanup_free char *dst = NULL, *tmp = NULL;
	struct take t = {0};
	struct root_id id;
	struct stat st;
	int fd, tfd, ret;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "rootfs base: open %s", root);
	if (fstat(fd, &st) < 0 || (ret = root_id(fd, &id)) < 0) {
		ret = ckpt_error(err, errno, "rootfs base: stat %s", root);
		close(fd);
		return ret;
	}
	if ((mkdir("/run/ckpt-oci", 0700) < 0 && errno != EEXIST) ||
	    (mkdir(BASE_DIR, 0700) < 0 && errno != EEXIST)) {
		close(fd);
		return ckpt_error(err, errno, "rootfs base: mkdir " BASE_DIR);
	}
	dst = base_path(&id);
	tmp = xasprintf("%s.tmp.%d", dst, (int)getpid());
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	t.out = tfd >= 0 ? fdopen(tfd, "w") : NULL;
	if (!t.out) {
		ret = ckpt_error(err, errno, "rootfs base: create %s", tmp);
		if (tfd >= 0)
			close(tfd);
		close(fd);
		return ret;
	}
	if (fwrite(BASE_MAGIC, strlen(BASE_MAGIC), 1, t.out) == 1 &&
	    fwrite(&id, sizeof(id), 1, t.out) == 1) {
		ret = oci_rootfs_walk(fd, st.st_dev, take_entry, &t, err);
	} else {
		ret = ckpt_error(err, errno ?: EIO, "write the base");
		close(fd);
	}
	if (fclose(t.out) != 0 && ret == 0)
		ret = ckpt_error(err, errno, "write the base");
	if (ret == 0 && rename(tmp, dst) < 0)
		ret = ckpt_error(err, errno, "rename %s", tmp);
	if (ret < 0) {
		(void)unlink(tmp);
		return ckpt_error_wrap(err, "rootfs base of %s", root);
	}
	pr_info("base of %s: %zu entries in %s", root, t.n, dst);
	return 0;
}

void oci_rootfs_base_drop(const char *root)
{
	cleanup_free char *p = NULL;
	struct root_id id;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (root_id(fd, &id) == 0) {
		p = base_path(&id);
		(void)unlink(p);
	}
	close(fd);
}

static uint64_t path_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static struct base_entry *base_find(struct rootfs_base *b, const char *path, size_t len)
{
	for (size_t i = path_hash(path, len) & (b->nslot - 1);; i = (i + 1) & (b->nslot - 1)) {
		struct base_entry *e;

		if (b->slot[i] == SIZE_MAX)
			return NULL;
		e = &b->e[b->slot[i]];
		if (!strncmp(e->path, path, len) && !e->path[len])
			return e;
	}
}

static void base_index(struct rootfs_base *b)
{
	b->nslot = 16;
	while (b->nslot < 2 * b->n)
		b->nslot *= 2;
	b->slot = xrealloc(NULL, b->nslot * sizeof(*b->slot));
	memset(b->slot, 0xff, b->nslot * sizeof(*b->slot));
	for (size_t k = 0; k < b->n; k++) {
		size_t i = path_hash(b->e[k].path, strlen(b->e[k].path)) & (b->nslot - 1);

		while (b->slot[i] != SIZE_MAX)
			i = (i + 1) & (b->nslot - 1);
		b->slot[i] = k;
	}
}

void oci_rootfs_base_free(struct rootfs_base *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->e[i].path);
	free(b->e);
	free(b->slot);
	free(b);
}

static int base_read(FILE *f, const struct root_id *want, struct rootfs_base *b)
{
	char magic[sizeof(BASE_MAGIC) - 1];
	struct root_id id;
	size_t cap = 0;

	if (fread(magic, sizeof(magic), 1, f) != 1 || memcmp(magic, BASE_MAGIC, sizeof(magic)) ||
	    fread(&id, sizeof(id), 1, f) != 1)
		return -EPROTO;
	if (memcmp(&id, want, sizeof(id)))
		return -ESTALE; /* another directory at that inode */
	for (;;) {
		struct base_rec r;
		struct base_entry *e;

		if (fread(&r, sizeof(r), 1, f) != 1)
			return feof(f) ? 0 : -EIO;
		if (r.len < 3 || r.len >= PATH_MAX || b->n >= BASE_MAX)
			return -EPROTO;
		if (b->n == cap) {
			cap = cap ? 2 * cap : 256;
			b->e = xrealloc(b->e, cap * sizeof(*b->e));
		}
		e = &b->e[b->n];
		*e = (struct base_entry){.ino = r.ino,
					 .ctime_sec = r.ctime_sec,
					 .ctime_nsec = r.ctime_nsec,
					 .mode = r.mode};
		e->path = xrealloc(NULL, r.len + 1);
		b->n++;
		if (fread(e->path, r.len, 1, f) != 1)
			return -EPROTO;
		e->path[r.len] = '\0';
		if (memchr(e->path, '\0', r.len) || strncmp(e->path, "./", 2))
			return -EPROTO;
	}
}

int oci_rootfs_base_load(int rootfd, struct rootfs_base **out, ckpt_err_t *err)
{
	cleanup_free char *p = NULL;
	struct rootfs_base *b;
	struct root_id id;
	FILE *f;
	int ret;

	*out = NULL;
	ret = root_id(rootfd, &id);
	if (ret < 0)
		return ckpt_error(err, -ret, "rootfs base: stat the root");
	p = base_path(&id);
	f = fopen(p, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return ckpt_error(err, errno, "rootfs base: open %s", p);
	}
	b = xzalloc(sizeof(*b));
	ret = base_read(f, &id, b);
	fclose(f);
	if (ret == -ESTALE) {
		pr_info("%s is the base of another directory: ignored", p);
		oci_rootfs_base_free(b);
		return 0;
	}
	if (ret < 0) {
		oci_rootfs_base_free(b);
		return ckpt_error(err, -ret, "rootfs base: read %s", p);
	}
	base_index(b);
	*out = b;
	return 1;
}

bool oci_rootfs_base_changed(struct rootfs_base *b, const char *path, const struct stat *st)
{
	struct base_entry *e = base_find(b, path, strlen(path));

	if (!e)
		return true;
	e->seen = true;
	return e->ino != st->st_ino || (e->mode & S_IFMT) != (st->st_mode & S_IFMT) ||
	       e->ctime_sec != st->st_ctim.tv_sec || e->ctime_nsec != (uint32_t)st->st_ctim.tv_nsec;
}

/*
 * The entries of the base not seen by the walk, each once: under a deleted
 * directory only the directory. fn gets each path; its error stops the walk.
 */
int oci_rootfs_base_deleted(struct rootfs_base *b, int (*fn)(void *, const char *), void *arg)
{
	for (size_t i = 0; i < b->n; i++) {
		struct base_entry *e = &b->e[i], *parent;
		char *slash;
		int ret;

		if (e->seen)
			continue;
		slash = strrchr(e->path, '/');
		parent = slash > e->path + 1 ? base_find(b, e->path, slash - e->path) : NULL;
		if (parent && !parent->seen)
			continue;
		ret = fn(arg, e->path);
		if (ret < 0)
			return ret;
	}
	return 0;
}
