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

/* "key: (sec, nsec)" */
static int timerfd_pair(const char *text, const char *key, struct json *o, ckpt_err_t *err)
{
	const char *p = strstr(text, key);
	long long s, ns;

	if (!p || sscanf(p + strlen(key), ": (%lld, %lld)", &s, &ns) != 2)
		return ckpt_error_msg(err, EPROTO, "timerfd fdinfo without %s", key);
	json_set(o, key, json_str(xasprintf("%lld.%09lld", s, ns)));
	return 0;
}

static int timerfd_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc,
			ckpt_err_t *err)
{
	int ret;

	json_set(o, "clockid", json_int(fdinfo_num(fi->fdinfo, "clockid", 10, 1)));
	json_set(o, "ticks", json_int(fdinfo_num(fi->fdinfo, "ticks", 10, 0)));
	json_set(o, "settime_flags", json_int(fdinfo_num(fi->fdinfo, "settime flags", 8, 0)));
	ret = timerfd_pair(fi->fdinfo, "it_value", o, err);
	if (ret == 0)
		ret = timerfd_pair(fi->fdinfo, "it_interval", o, err);
	return ret;
}

static struct timespec ts_of(const struct json *o, const char *key)
{
	const char *s = json_as_str(json_get(o, key)) ?: "0.0";
	struct timespec ts = {0};
	char *dot;

	ts.tv_sec = strtoll(s, &dot, 10);
	if (*dot == '.')
		ts.tv_nsec = strtol(dot + 1, NULL, 10);
	return ts;
}

static int timerfd_restore(const struct json *o, const struct files_rctx *rc, int *fd,
			   ckpt_err_t *err)
{
	int flags = json_as_int(json_get(o, "flags"));
	uint64_t ticks = json_as_int(json_get(o, "ticks"));
	struct itimerspec its = {ts_of(o, "it_interval"), ts_of(o, "it_value")};
	bool armed = its.it_value.tv_sec || its.it_value.tv_nsec;
	bool periodic = its.it_interval.tv_sec || its.it_interval.tv_nsec;
	/* the cancel-on-set flag needs an absolute time; the value saved is relative */
	int tflags = 0;

	*fd = timerfd_create(json_as_int(json_get(o, "clockid")),
			     TFD_CLOEXEC | (flags & O_NONBLOCK ? TFD_NONBLOCK : 0));
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

const struct fd_ops fd_timerfd_ops = {
	.kind = "timerfd",
	.match = timerfd_match,
	.dump = timerfd_dump,
	.restore = timerfd_restore,
};
