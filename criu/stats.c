/*
 * criu/stats.c - stats-dump and stats-restore, CRIU's statistics files in
 * the images directory, which `podman --print-stats` and go-criu read:
 * u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC, u32 size, a stats_entry.
 * Times are in microseconds, as CRIU counts them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu/stats.pb-c.h"
#include "criu/swrk.h"
#include "util/util.h"

#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC	  0x57093306u

static uint32_t us32(uint64_t us)
{
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int write_stats(const char *dir, const char *name, const StatsEntry *e, ckpt_err_t *err)
{
	size_t len = stats_entry__get_packed_size(e);
	cleanup_free uint8_t *buf = xzalloc(12 + len);
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = -1;
	uint32_t head[3] = {IMG_SERVICE_MAGIC, STATS_MAGIC, (uint32_t)len};
	int ret;

	memcpy(buf, head, sizeof(head)); /* little-endian, as on x86-64 */
	stats_entry__pack(e, buf + 12);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "create %s", path);
	ret = write_all(fd, buf, 12 + len);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", path);
	return 0;
}

int swrk_write_dump_stats(const char *dir, const struct swrk_dump_stats *st, ckpt_err_t *err)
{
	StatsEntry e = STATS_ENTRY__INIT;
	DumpStatsEntry d = DUMP_STATS_ENTRY__INIT;

	d.freezing_time = us32(st->freezing_us);
	d.frozen_time = us32(st->frozen_us);
	d.memdump_time = us32(st->memdump_us);
	d.memwrite_time = us32(st->memwrite_us);
	d.pages_scanned = st->pages;
	d.pages_written = st->pages;
	e.dump = &d;
	return write_stats(dir, "stats-dump", &e, err);
}

int swrk_write_restore_stats(const char *dir, const struct swrk_restore_stats *st, ckpt_err_t *err)
{
	StatsEntry e = STATS_ENTRY__INIT;
	RestoreStatsEntry r = RESTORE_STATS_ENTRY__INIT;

	r.forking_time = us32(st->forking_us);
	r.restore_time = us32(st->restore_us);
	r.has_pages_restored = true;
	r.pages_restored = st->pages;
	e.restore = &r;
	return write_stats(dir, "stats-restore", &e, err);
}

uint64_t swrk_bundle_pages(const char *bundle)
{
	cleanup_dir DIR *d = opendir(bundle);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t bytes = 0;
	struct dirent *de;
	struct stat st;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "pages-", 6) || n < 4 || strcmp(de->d_name + n - 4, ".img"))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			bytes += st.st_size;
	}
	return bytes / page;
}
