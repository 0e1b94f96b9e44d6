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
	ckpt_err_t e = { 0 };
	size_t len;

	out[0] = '\0';
	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &s, &len, &e) == 0)
		snprintf(out, 64, "%.*s", (int)strcspn(s, "\n"), s);
}

/* In a helper inside the tree's time namespace. */
static struct json *time_read(void *arg, ckpt_err_t *err)
{
	struct json *j = json_obj();

	json_set(j, "monotonic_ns", json_int(clock_ns(CLOCK_MONOTONIC)));
	json_set(j, "boottime_ns", json_int(clock_ns(CLOCK_BOOTTIME)));
	return j;
}

static int time_dump(const struct ns_dump *d, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct json *tree = NULL, *host;
	char id[64];
	int ret;

	host = json_set(doc, "host", json_obj());
	json_set(host, "monotonic_ns", json_int(clock_ns(CLOCK_MONOTONIC)));
	json_set(host, "boottime_ns", json_int(clock_ns(CLOCK_BOOTTIME)));
	json_set(host, "realtime_ns", json_int(clock_ns(CLOCK_REALTIME)));
	boot_id(id);
	json_set(host, "boot_id", json_str(id));
	ret = ns_exec_json(d->nsfd, CLONE_NEWTIME, time_read, NULL, &tree, err);
	if (ret < 0)
		return ret;
	json_set(doc, "tree", tree);
	return bundle_put_json(d->bundle, "time.json", doc, err);
}

/* Offset for one clock: the tree's value at dump, plus the time away, minus now. */
static int64_t clock_offset(const struct json *doc, const char *name, clockid_t id,
			    bool same_boot, int64_t away_wall)
{
	int64_t tree = json_as_int(json_get(json_get(doc, "tree"), name));
	int64_t then = json_as_int(json_get(json_get(doc, "host"), name));
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

static int time_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	const char *then_id;
	int64_t away_wall, mono, boot;
	bool same_boot;
	char id[64];
	int ret;

	ret = bundle_get_json(r->bundle, "time.json", &doc, err);
	if (ret < 0)
		return ret;
	if (!json_get(json_get(doc, "tree"), "monotonic_ns") ||
	    !json_get(json_get(doc, "host"), "realtime_ns"))
		return ckpt_error_msg(err, EPROTO, "time.json: tree and host clocks required");
	boot_id(id);
	then_id = json_as_str(json_get(json_get(doc, "host"), "boot_id"));
	same_boot = id[0] && then_id && !strcmp(id, then_id);
	away_wall = clock_ns(CLOCK_REALTIME) -
		    json_as_int(json_get(json_get(doc, "host"), "realtime_ns"));
	mono = clock_offset(doc, "monotonic_ns", CLOCK_MONOTONIC, same_boot, away_wall);
	boot = clock_offset(doc, "boottime_ns", CLOCK_BOOTTIME, same_boot, away_wall);
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
