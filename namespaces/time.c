/*
 * namespaces/time.c - time namespace (time.json): CLOCK_MONOTONIC and
 * CLOCK_BOOTTIME of the tree continue from where they were, never
 * backwards, on this node or another.
 *
 * Dump records the tree's two clocks (read inside its namespace), and the
 * host's clocks, CLOCK_REALTIME and boot id at the same moment. Restore
 * computes how long the tree was away: exactly, from the host's clocks,
 * when it comes back to the same boot of the same machine (the namespace
 * then gets its old offsets back); else from CLOCK_REALTIME, counted as
 * zero if the wall clock went backwards. The tree's clocks become their
 * dumped values plus that time.
 *
 * The offsets of a time namespace can only be written while no process is
 * in it: prepare (in ckpt-oci) unshares CLONE_NEWTIME, which makes a new
 * namespace for ckpt-oci's future children only, and writes the offsets
 * into /proc/self/timens_offsets. The root's clone3() then carries
 * CLONE_NEWTIME too; the kernel accepts it there and copies the offsets of
 * that namespace into the root's, so the root starts with the right clocks.
 *
 * A tree that had no time namespace of its own is restored into the
 * caller's: giving it one would change what it sees in /proc/PID/ns and
 * what setns() does for its children. Its CLOCK_MONOTONIC is then the new
 * host's, and may go backwards after a move to a host with less uptime;
 * run such programs in a time namespace (unshare --time) to be safe.
 */
#define LOG_PREFIX "time: "
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "namespaces/ns.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define NSEC 1000000000LL

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static void boot_id(char out[64])
{
	cleanup_free char *s = NULL;
	ckpt_err_t e = {0};
	size_t len;

	out[0] = '\0';
	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &s, &len, &e) == 0)
		snprintf(out, 64, "%.*s", (int)strcspn(s, "\n"), s);
}

/*
 * time.json: "tree" holds the tree's clocks, "host" the host's at the same
 * moment with its boot id. Clocks are non-negative nanoseconds, bounded
 * so that the offset arithmetic cannot overflow: 73 years of uptime, the
 * wall clock up to the year 2116.
 */
#define TIME_UP_MAX   (INT64_C(1) << 61)
#define TIME_WALL_MAX (INT64_C(1) << 62)
struct time_clocks {
	int64_t monotonic_ns, boottime_ns, realtime_ns;
	const char *boot_id;
};

static const struct doc_field time_tree_fields[] = {
	DOC_INT(struct time_clocks, monotonic_ns, "monotonic_ns", 0, TIME_UP_MAX),
	DOC_INT(struct time_clocks, boottime_ns, "boottime_ns", 0, TIME_UP_MAX),
	DOC_END,
};

static const struct doc_field time_host_fields[] = {
	DOC_INT(struct time_clocks, monotonic_ns, "monotonic_ns", 0, TIME_UP_MAX),
	DOC_INT(struct time_clocks, boottime_ns, "boottime_ns", 0, TIME_UP_MAX),
	DOC_INT(struct time_clocks, realtime_ns, "realtime_ns", 0, TIME_WALL_MAX),
	DOC_OPT_STR(struct time_clocks, boot_id, "boot_id", 64),
	DOC_END,
};

/* In a helper inside the tree's time namespace. */
static struct json *time_read(void *arg, ckpt_err_t *err)
{
	struct time_clocks c = {clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_BOOTTIME), 0, NULL};
	struct json *j = json_obj();

	doc_write(j, time_tree_fields, &c);
	return j;
}

static int time_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct json *tree = NULL;
	struct time_clocks host;
	char id[64];
	int ret;

	host = (struct time_clocks){clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_BOOTTIME),
				    clock_ns(CLOCK_REALTIME), id};
	boot_id(id);
	doc_write(json_set(doc, "host", json_obj()), time_host_fields, &host);
	ret = ns_exec_json(d->nsfd, CLONE_NEWTIME, time_read, NULL, &tree, err);
	if (ret < 0)
		return ret;
	json_set(doc, "tree", tree);
	return bundle_put_json(d->bundle, "time.json", doc, err);
}

/* Offset for one clock: the tree's value at dump, plus the time away, minus now. */
static int64_t clock_offset(int64_t tree, int64_t then, clockid_t id, bool same_boot,
			    int64_t away_wall)
{
	int64_t now = clock_ns(id);
	int64_t away = same_boot ? now - then : away_wall;

	return tree + MAX(away, 0) - now;
}

static int write_offsets(int64_t mono, int64_t boot, ckpt_err_t *err)
{
	cleanup_close int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	char buf[128];
	int n;

	if (fd < 0)
		return ckpt_error(err, errno, "open /proc/self/timens_offsets");
	/* seconds may be negative, nanoseconds must be in [0, 1e9) */
	n = snprintf(buf, sizeof(buf), "%d %lld %lld\n%d %lld %lld\n", CLOCK_MONOTONIC,
		     (long long)(mono >= 0 ? mono / NSEC : -((-mono + NSEC - 1) / NSEC)),
		     (long long)(((mono % NSEC) + NSEC) % NSEC), CLOCK_BOOTTIME,
		     (long long)(boot >= 0 ? boot / NSEC : -((-boot + NSEC - 1) / NSEC)),
		     (long long)(((boot % NSEC) + NSEC) % NSEC));
	if (write(fd, buf, n) != n)
		return ckpt_error(err, errno, "write time offsets");
	return 0;
}

/* time.json, checked whole: both clock sets. */
static int time_load(struct ckpt_bundle *b, struct json **doc, struct time_clocks *tree,
		     struct time_clocks *host, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("time.json"), t = DOC_KEY(&at, "tree"), h = DOC_KEY(&at, "host");
	const struct json *o;
	int ret;

	*host = *tree = (struct time_clocks){0};
	ret = bundle_get_json(b, "time.json", doc, err);
	if (ret == 0)
		ret = doc_obj(&at, *doc, "tree", &o, err);
	if (ret == 0)
		ret = doc_read(&t, o, time_tree_fields, tree, err);
	if (ret == 0)
		ret = doc_obj(&at, *doc, "host", &o, err);
	if (ret == 0)
		ret = doc_read(&h, o, time_host_fields, host, err);
	return ret;
}

static int time_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	struct time_clocks tree, then;
	int64_t away_wall, mono, boot;
	bool same_boot;
	char id[64];
	int ret;

	ret = time_load(r->bundle, &doc, &tree, &then, err);
	if (ret < 0)
		return ret;
	boot_id(id);
	same_boot = id[0] && then.boot_id && !strcmp(id, then.boot_id);
	away_wall = clock_ns(CLOCK_REALTIME) - then.realtime_ns;
	mono = clock_offset(tree.monotonic_ns, then.monotonic_ns, CLOCK_MONOTONIC, same_boot,
			    away_wall);
	boot = clock_offset(tree.boottime_ns, then.boottime_ns, CLOCK_BOOTTIME, same_boot,
			    away_wall);
	if (unshare(CLONE_NEWTIME) < 0)
		return ckpt_error(err, errno, "unshare time namespace");
	ret = write_offsets(mono, boot, err);
	if (ret < 0)
		return ret;
	pr_info("offsets: monotonic %+.3f s, boottime %+.3f s (%s)", mono / 1e9, boot / 1e9,
		same_boot ? "same boot" : "another boot: wall-clock time away");
	return 0;
}

const struct ckpt_ns_ops ns_time_ops = {
	.name = "time",
	.clone_flag = CLONE_NEWTIME,
	.dump = time_dump,
	.prepare = time_prepare,
};
