/*
 * criu/stats.c - the CRIU image files callers read beside the bundle
 * (images.proto): stats-dump and stats-restore in the work directory, as
 * CRIU writes them (`podman --print-stats`, go-criu), u32 IMG_SERVICE_MAGIC,
 * u32 STATS_MAGIC, u32 size, a stats_entry, times in microseconds; and
 * inventory.img in the images directory, the mark of a complete checkpoint
 * podman looks for before a restore.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "criu/images.pb-c.h"
#include "criu/swrk.h"
#include "util/util.h"

#define IMG_SERVICE_MAGIC 0x55105940u
#define STATS_MAGIC	  0x57093306u
#define INVENTORY_MAGIC	  0x58313116u
#define CRIU_IMAGES_V1_1  2

static uint32_t us32(uint64_t us)
{
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* dir/name: the magics (little-endian, as on x86-64), the size, the message. */
static int write_image(const char *dir, const char *name, const uint32_t *magic, int nmagic,
		       const ProtobufCMessage *m, ckpt_err_t *err)
{
	size_t len = protobuf_c_message_get_packed_size(m), head = (nmagic + 1) * 4;
	cleanup_free uint8_t *buf = xzalloc(head + len);
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = -1;
	uint32_t size = len;
	int ret;

	memcpy(buf, magic, nmagic * 4);
	memcpy(buf + nmagic * 4, &size, 4);
	protobuf_c_message_pack(m, buf + head);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "create %s", path);
	ret = write_all(fd, buf, head + len);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", path);
	return 0;
}

static int write_stats(const char *dir, const char *name, const StatsEntry *e, ckpt_err_t *err)
{
	static const uint32_t magic[] = {IMG_SERVICE_MAGIC, STATS_MAGIC};

	return write_image(dir, name, magic, 2, &e->base, err);
}

int swrk_write_inventory(const char *dir, ckpt_err_t *err)
{
	static const uint32_t magic[] = {INVENTORY_MAGIC};
	InventoryEntry e = INVENTORY_ENTRY__INIT;

	e.img_version = CRIU_IMAGES_V1_1;
	return write_image(dir, "inventory.img", magic, 1, &e.base, err);
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
