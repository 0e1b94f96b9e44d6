/*
 * libckpt/util/log.c - the log sink: a debug file plus stderr for warnings.
 * The sink is process state (like stderr itself); forked restore helpers
 * inherit it and write through the same O_APPEND fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static int log_fd = -1;
static enum log_level stderr_level = LOG_WARN;
static struct timespec log_start;

void log_set_stderr_level(enum log_level lvl)
{
	stderr_level = lvl;
}

int log_open_file(const char *path, ckpt_err_t *err)
{
	log_close_file();
	if (!path)
		return 0;
	log_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return ckpt_error(err, errno, "open log %s", path);
	clock_gettime(CLOCK_MONOTONIC, &log_start);
	return 0;
}

void log_close_file(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

void log_print(enum log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"warn", "info", "debug"};
	char line[4096];
	struct timespec now;
	va_list ap;
	int n, saved = errno;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - log_start.tv_sec) * 1000 + (now.tv_nsec - log_start.tv_nsec) / 1000000;
	n = snprintf(line, sizeof(line), "(%5ld.%03ld) %5d %-5s ", ms / 1000, ms % 1000,
		     (int)getpid(), names[lvl]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (log_fd >= 0 && write(log_fd, line, strlen(line)) < 0) {
		/* a full disk must not turn logging into a failure; ignoring */
	}
	if (lvl <= stderr_level) {
		const char *msg = line + n;

		fprintf(stderr, "ckpt-oci: %s%s", lvl == LOG_WARN ? "warning: " : "", msg);
	}
	errno = saved;
}
