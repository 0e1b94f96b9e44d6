/*
 * libckpt/files/timerfd.c - timerfd: clock, remaining time, interval,
 * flags and expirations not yet read, all from fdinfo. Restore arms a new
 * timer with the remaining time (relative, so it fires when it would have
 * counting from the restore) and puts the unread ticks back with
 * TFD_IOC_SET_TICKS.
 *
 * A timer that expired and was not read since is not running: the kernel
 * re-arms a periodic one only when it is read, so fdinfo shows it_value
 * (0, 0) and ticks >= 1 with the interval. Such a timer comes back armed
 * for one interval, its ticks waiting to be read.
 */
#define LOG_PREFIX "timerfd: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>

#include "files/files.h"
#include "util/util.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

static bool timerfd_match(const struct fd_info *fi)
{
	return !strcmp(fi->link, "anon_inode:[timerfd]");
}

static int timerfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	struct proc_timerfd t;
	char v[48], i[48];
	int ret = proc_parse_timerfd(fi->fdinfo, &t, err);

	if (ret < 0)
		return ret;
	snprintf(v, sizeof(v), "%lld.%09ld", (long long)t.value.tv_sec, t.value.tv_nsec);
	snprintf(i, sizeof(i), "%lld.%09ld", (long long)t.interval.tv_sec, t.interval.tv_nsec);
	json_set(o, "clockid", json_int(t.clockid));
	json_set(o, "ticks", json_int(t.ticks));
	json_set(o, "settime_flags", json_int(t.settime_flags));
	json_set(o, "it_value", json_str(v));
	json_set(o, "it_interval", json_str(i));
	return 0;
}

/* "SEC.NSEC" as timerfd_dump writes it, both parts in range. */
static int ts_of(const struct fd_entry *e, const char *key, struct timespec *ts, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&e->at, key);
	long long sec;
	long nsec;
	const char *s;
	int n = 0, ret = doc_str(&e->at, e->obj, key, 40, &s, err);

	if (ret < 0)
		return ret;
	if (sscanf(s, "%lld.%9ld%n", &sec, &nsec, &n) != 2 || s[n] || sec < 0 || nsec < 0 ||
	    nsec >= 1000000000)
		return doc_error(err, &at, "`%s` is not SECONDS.NANOSECONDS", s);
	ts->tv_sec = sec;
	ts->tv_nsec = nsec;
	return 0;
}

/* What timerfd_dump saved: clock, unread ticks, value and interval. */
struct timerfd_saved {
	int clockid;
	uint64_t ticks;
	struct itimerspec its;
};

static int timerfd_read(const struct fd_entry *e, struct timerfd_saved *t, ckpt_err_t *err)
{
	int64_t clk;
	int ret = doc_int(&e->at, e->obj, "clockid", 0, 15, &clk, err);

	if (ret == 0)
		ret = doc_opt_u64(&e->at, e->obj, "ticks", UINT64_MAX, 0, &t->ticks, err);
	if (ret == 0)
		ret = ts_of(e, "it_value", &t->its.it_value, err);
	if (ret == 0)
		ret = ts_of(e, "it_interval", &t->its.it_interval, err);
	t->clockid = clk;
	return ret;
}

static int timerfd_restore(const struct fd_entry *e, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	int flags = e->flags;
	struct timerfd_saved t = {0};
	int ret = timerfd_read(e, &t, err);
	uint64_t ticks = t.ticks;
	struct itimerspec its = t.its;
	bool armed = its.it_value.tv_sec || its.it_value.tv_nsec;
	bool periodic = its.it_interval.tv_sec || its.it_interval.tv_nsec;
	/* the cancel-on-set flag needs an absolute time; the value saved is relative */
	int tflags = 0;

	if (ret < 0)
		return ret;
	*fd = timerfd_create(t.clockid, TFD_CLOEXEC | (flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
	if (*fd < 0)
		return ckpt_error(err, errno, "timerfd_create");
	/* expired, unread, periodic: the next expiry is at most an interval away */
	if (!armed && periodic)
		its.it_value = its.it_interval;
	if ((armed || periodic) && timerfd_settime(*fd, tflags, &its, NULL) < 0) {
		close(*fd);
		return ckpt_error(err, errno, "timerfd_settime");
	}
	/* after timerfd_settime, which zeroes the count */
	if (ticks && ioctl(*fd, TFD_IOC_SET_TICKS, &ticks) < 0) {
		close(*fd);
		return ckpt_error(err, errno, "timerfd: %" PRIu64 " unread ticks", ticks);
	}
	return 0;
}

static int timerfd_describe(const struct fd_entry *e, const struct json *files, bool lines,
			    FILE *out, ckpt_err_t *err)
{
	struct timerfd_saved t = {0};
	int ret = lines ? 0 : timerfd_read(e, &t, err);

	if (ret == 0 && !lines)
		fprintf(out, " clock %d value %lld.%09ld interval %lld.%09ld", t.clockid,
			(long long)t.its.it_value.tv_sec, t.its.it_value.tv_nsec,
			(long long)t.its.it_interval.tv_sec, t.its.it_interval.tv_nsec);
	return ret;
}

const struct fd_ops fd_timerfd_ops = {
	.kind = "timerfd",
	.match = timerfd_match,
	.dump = timerfd_dump,
	.restore = timerfd_restore,
	.describe = timerfd_describe,
};
