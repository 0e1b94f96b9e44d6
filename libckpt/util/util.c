/*
 * libckpt/util/util.c - allocation wrappers and whole-file I/O helpers.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "util/util.h"

void *xzalloc(size_t size)
{
	void *p = calloc(1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		abort();
	va_end(ap);
	return p;
}

int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len, ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t cap = 4096, n = 0;
	ssize_t r;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	buf = xzalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= max)
				return ckpt_error_msg(err, EFBIG, "%s: larger than %zu bytes", path,
						      max);
			cap = MIN(cap * 2, max);
			buf = xrealloc(buf, cap + 1);
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ckpt_error(err, errno, "read %s", path);
		if (r == 0)
			break;
		n += r;
	}
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = steal_pointer(&buf);
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t r;

	while (len) {
		r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		len -= r;
	}
	return 0;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t n = 0;
	ssize_t r;

	while (n < len) {
		r = read(fd, p + n, len - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += r;
	}
	return n;
}

int write_file_at(int dirfd, const char *path, const void *buf, size_t len, int mode,
		  ckpt_err_t *err)
{
	cleanup_close int fd = -1;
	int ret;

	fd = openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return ckpt_error(err, errno, "create %s", path);
	ret = write_all(fd, buf, len);
	if (ret < 0)
		return ckpt_error(err, -ret, "write %s", path);
	return 0;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

long peak_rss_kib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) < 0 ? 0 : ru.ru_maxrss;
}

int64_t btime_at(int dirfd, const char *path, int flags)
{
	struct statx stx;

	if (statx(dirfd, path, flags | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return 0;
	return (int64_t)stx.stx_btime.tv_sec * 1000000000 + stx.stx_btime.tv_nsec;
}
