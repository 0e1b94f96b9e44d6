/*
 * oci/rootfs.c - a container's root filesystem changes in the bundle
 * (rootfs-diff.tar, rootfs-diff.json), and put back at restore.
 *
 * A runc or crun container whose root is a directory (root.path) changes
 * it in place. When the createRuntime hook took the root's first state
 * before the container's program ran (rootfs-base.c), what changed is what
 * differs from it, and what it holds that is gone was deleted: restore
 * removes those paths again on a fresh copy of the image.
 *
 * Without that state, what changed since the container was created is
 * read from the inode change times: an entry whose ctime is not older than
 * the runtime's "created" time was written, made, renamed or chmod-ed by
 * the container (or while it ran), and goes into the tar with its
 * metadata. The runtime stamps "created" from the precise clock before the
 * container's program runs, but filesystems stamp ctime from the coarse
 * one, which lags it by up to a tick: a file written by the container's
 * first command measured 1-2 ms older than "created". So the bound is
 * moved back by the coarse clock's resolution: an entry changed just
 * before is taken too (a few bytes more), none written after is missed.
 * Paths the container deleted cannot be told from paths it never had then:
 * they stay deleted when the bundle is restored onto the same directory,
 * and come back from the image on a fresh copy (--rootfs), which
 * rootfs-diff.json says.
 *
 * Either way directories are walked whole, since a file rewritten in place
 * does not touch its directory; mounts under the root (proc, sys, tmpfs)
 * are not in the directory and are the mnt namespace's business.
 *
 * The tar is made while the tree is still frozen (the dump's frozen hook),
 * so it is the file state that goes with the memory state; names go to
 * the archive verbatim (a name is the container's), written and read with
 * libarchive (rootfs-tar.c), no tar program run. Restore extracts it into a
 * staging directory beside the root directory (the old one or --rootfs
 * DIR) and moves each entry in without following the container's links
 * (rootfs-apply.c), before the mounts are made.
 */
#define LOG_PREFIX "rootfs: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "util/doc.h"
#include "util/json.h"
#include "oci/oci.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/util.h"

#define DIFF_TAR    "rootfs-diff.tar"
#define DIFF_JSON   "rootfs-diff.json"
#define DELETED_MAX (1u << 22)

struct walk {
	FILE *list;		  /* NUL-separated paths for tar */
	dev_t dev;		  /* the root's: mounts below are not walked */
	struct rootfs_base *base; /* the first state, or NULL: since decides */
	struct timespec since;
	unsigned long entries;
};

/* "2026-11-26T09:08:26.699173866Z" (the runtimes' RFC 3339, UTC). */
static int parse_created(const char *s, struct timespec *ts)
{
	struct tm tm = {0};
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	long ns = 0, scale = 100000000;

	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += scale ? (*p - '0') * scale : 0;
	if (*p != 'Z' && *p != '+' && *p != '-')
		return -EINVAL;
	ts->tv_sec = timegm(&tm);
	ts->tv_nsec = ns;
	return 0;
}

/*
 * Move a precise time back by the resolution of the clock that stamps
 * inode times (a tick), so every ctime taken after it compares as newer.
 */
static void since_coarse(struct timespec *ts)
{
	struct timespec res = {0, 10 * 1000 * 1000}; /* a 100 Hz tick if unknown */
	int64_t ns;

	(void)clock_getres(CLOCK_REALTIME_COARSE, &res);
	ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec -
	     ((int64_t)res.tv_sec * 1000000000 + res.tv_nsec);
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

static bool newer(const struct timespec *a, const struct timespec *since)
{
	return a->tv_sec > since->tv_sec ||
	       (a->tv_sec == since->tv_sec && a->tv_nsec >= since->tv_nsec);
}

static int walk_entry(void *arg, const char *path, const struct stat *st, ckpt_err_t *err)
{
	struct walk *w = arg;

	if (w->base ? oci_rootfs_base_changed(w->base, path, st) : newer(&st->st_ctim, &w->since)) {
		fwrite(path, 1, strlen(path) + 1, w->list);
		w->entries++;
	}
	return 0;
}

static int to_image(void *img, const void *buf, size_t len, ckpt_err_t *err)
{
	return bundle_image_write(img, buf, len, err);
}

/*
 * Run fn (rootfs-tar.c) in a child working in directory dir, with stdin
 * and stdout as given; its stderr kept for a one-line error. out < 0: its
 * stdout goes into img.
 */
static int run_tar(int (*fn)(void *), const char *dir, int in, int out, struct bundle_image *img,
		   ckpt_err_t *err)
{
	struct spawn s = {.name = "tar",
			  .child = fn,
			  .arg = (void *)dir,
			  .in = SPAWN_FD,
			  .in_fd = in,
			  .out = out < 0 ? SPAWN_SINK : SPAWN_FD,
			  .out_fd = out,
			  .sink = to_image,
			  .sink_arg = img,
			  .errout = SPAWN_PIPE,
			  .err_max = 512};
	char st[64];
	int ret = spawn_run(&s, err);

	if (ret < 0) {
		ret = ckpt_error_wrap(err, "rootfs");
	} else if (!spawn_ok(&s)) {
		const char *msg = s.err_buf ?: "";
		int len = strcspn(msg, "\n");

		ret = ckpt_error_msg(err, EIO, "rootfs: tar failed (%s)%s%.*s",
				     spawn_status_str(s.status, st, sizeof(st)), len ? ": " : "",
				     len, msg);
	}
	spawn_free(&s);
	return ret;
}

static int add_deleted(void *arg, const char *path)
{
	json_push(arg, json_str(path));
	return 0;
}

/* What changed: by the base taken at creation if there is one, else by ctime. */
static int rootfs_walk(struct walk *w, int fd, const char *created, ckpt_err_t *err)
{
	int ret;

	ret = oci_rootfs_base_load(fd, &w->base, err);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (!w->base) {
		if (parse_created(created, &w->since) < 0) {
			close(fd);
			return ckpt_error_msg(err, EPROTO, "rootfs: bad creation time `%s`",
					      created ?: "");
		}
		since_coarse(&w->since);
	}
	ret = oci_rootfs_walk(fd, w->dev, walk_entry, w, err);
	return ret < 0 ? ckpt_error_wrap(err, "rootfs") : 0;
}

int oci_rootfs_dump(struct ckpt_bundle *b, const char *dir, const char *created, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	cleanup_close int listfd = memfd_create("rootfs-list", MFD_CLOEXEC);
	struct bundle_image *img = NULL;
	struct walk w = {0};
	struct stat st;
	int fd, ret;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "rootfs: open %s", dir);
	if (fstat(fd, &st) < 0) {
		close(fd);
		return ckpt_error(err, errno, "rootfs: stat %s", dir);
	}
	w.dev = st.st_dev;
	w.list = listfd >= 0 ? fdopen(dup(listfd), "w") : NULL;
	if (!w.list) {
		close(fd);
		return ckpt_error(err, errno, "rootfs: list");
	}
	ret = rootfs_walk(&w, fd, created, err);
	if (fclose(w.list) != 0 && ret == 0)
		ret = ckpt_error(err, errno, "rootfs: list");
	if (ret == 0 && lseek(listfd, 0, SEEK_SET) < 0)
		ret = ckpt_error(err, errno, "rootfs: list");
	if (ret == 0)
		ret = bundle_image_create(b, DIFF_TAR, &img, err);
	if (ret == 0)
		ret = run_tar(rootfs_tar_create, dir, listfd, -1, img, err);
	if (ret < 0) {
		bundle_image_abort(img);
		oci_rootfs_base_free(w.base);
		return ret;
	}
	json_set(doc, "rootfs", json_str(dir));
	json_set(doc, "entries", json_int(w.entries));
	json_set(doc, "bytes", json_int(bundle_image_size(img)));
	if (w.base) {
		struct json *del = json_arr();

		json_set(doc, "since",
			 json_str("creation (the base taken before the program ran)"));
		(void)oci_rootfs_base_deleted(w.base, add_deleted, del);
		json_set(doc, "deleted", del);
		oci_rootfs_base_free(w.base);
	} else {
		json_set(doc, "since", json_str(created));
		json_set(doc, "deleted",
			 json_str("not recorded: no base was taken at creation "
				  "(the createRuntime hook); paths deleted come "
				  "back on a fresh copy of the image"));
	}
	ret = bundle_image_close(img, err);
	if (ret == 0)
		ret = bundle_put_json(b, DIFF_JSON, doc, err);
	pr_info("%lu entries of %s changed since %s", w.entries, dir, created);
	return ret;
}

bool oci_rootfs_in_bundle(struct ckpt_bundle *b)
{
	return bundle_has_file(b, DIFF_TAR);
}

/* rootfs-diff.json's "deleted": the paths, or none (a string: not recorded). */
static int read_deleted(struct ckpt_bundle *b, struct json **doc, const char ***paths, size_t *n,
			ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP(DIFF_JSON);
	const struct json *arr;
	int ret;

	*paths = NULL;
	*n = 0;
	if (!bundle_has_file(b, DIFF_JSON))
		return 0;
	ret = bundle_get_json(b, DIFF_JSON, doc, err);
	if (ret < 0)
		return ret;
	if (json_type(json_get(*doc, "deleted")) != JSON_ARR)
		return 0;
	ret = doc_arr(&at, *doc, "deleted", DELETED_MAX, &arr, n, err);
	if (ret < 0)
		return ret;
	*paths = xzalloc((*n ?: 1) * sizeof(**paths));
	for (size_t i = 0; i < *n && ret == 0; i++)
		ret = doc_elem_str(&DOC_KEY(&at, "deleted"), arr, i, PATH_MAX - 1, &(*paths)[i],
				   err);
	return ret;
}

/*
 * Extracted into an empty staging directory beside the root, never into
 * the root itself (its symlinks are the container's); the paths the
 * container deleted are removed (onto a fresh copy of the image they are
 * there again), then rootfs-apply.c moves the entries in.
 */
int oci_rootfs_apply(struct ckpt_bundle *b, const char *dir, ckpt_err_t *err)
{
	cleanup_free char *copy = xstrdup(dir), *stage = NULL;
	cleanup_json struct json *diff = NULL;
	cleanup_free const char **deleted = NULL;
	cleanup_close int fd = -1;
	unsigned long moved = 0, gone = 0;
	size_t ndeleted;
	uint64_t size;
	int ret;

	ret = read_deleted(b, &diff, &deleted, &ndeleted, err);
	if (ret == 0)
		ret = bundle_open_file(b, DIFF_TAR, &fd, &size, err);
	if (ret < 0)
		return ret;
	stage = xasprintf("%s/.ckpt-oci-rootfs.XXXXXX", dirname(copy));
	if (!mkdtemp(stage))
		return ckpt_error(err, errno, "rootfs: staging directory beside %s", dir);
	ret = run_tar(rootfs_tar_extract, stage, fd, STDERR_FILENO, NULL, err);
	if (ret == 0)
		ret = oci_rootfs_delete(dir, deleted, ndeleted, &gone, err);
	if (ret == 0)
		ret = oci_rootfs_move(stage, dir, bundle_mac_status(b) == BUNDLE_MAC_VERIFIED,
				      &moved, err);
	(void)bundle_rmtree(AT_FDCWD, stage);
	if (ret == 0)
		pr_info("%lu entries (%" PRIu64 " bytes of tar) put back into %s, %lu deleted",
			moved, size, dir, gone);
	return ret;
}
