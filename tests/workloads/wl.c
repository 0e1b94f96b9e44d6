/*
 * tests/workloads/wl.c - the workload side of the harness protocol (wl.h).
 *
 * wl_ready() writes "ready\n" into the WL_READY FIFO; wl_wait_restored()
 * blocks in open() of the WL_GO FIFO until the harness opens it for
 * writing. Neither holds a FIFO fd across the checkpoint: the task sits
 * inside open(), which the kernel restarts after restore.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wl.h"

static char wl_name[64] = "workload";

void wl_init(int argc, char **argv)
{
	const char *base;

	if (argc > 0 && argv[0] && *argv[0]) {
		base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		snprintf(wl_name, sizeof(wl_name), "%s", base);
	}
	/* The harness reads the last line of stdout: never leave it in a buffer. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/*
 * A signal without SA_RESTART interrupts a blocked FIFO open() with EINTR;
 * the protocol must survive that (workloads test signal handlers).
 */
static int wl_open_fifo(const char *path, int flags)
{
	int fd;

	do
		fd = open(path, flags | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* A protocol failure ends the workload: the harness sees FAIL and the exit. */
static void wl_die(const char *what, const char *path)
{
	wl_fail("%s `%s`: %m", what, path);
	exit(1);
}

void wl_ready(void)
{
	static const char msg[] = "ready\n";
	const char *path = getenv("WL_READY");
	size_t off = 0;
	ssize_t n;
	int fd;

	if (!path)
		return;
	fd = wl_open_fifo(path, O_WRONLY);
	if (fd < 0)
		wl_die("open WL_READY", path);
	while (off < sizeof(msg) - 1) {
		n = write(fd, msg + off, sizeof(msg) - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			wl_die("write WL_READY", path);
		off += n;
	}
	close(fd);
}

void wl_wait_restored(void)
{
	const char *path = getenv("WL_GO");
	char buf[64];
	ssize_t n;
	int fd;

	if (!path)
		return;
	fd = wl_open_fifo(path, O_RDONLY);
	if (fd < 0)
		wl_die("open WL_GO", path);
	/*
	 * Drain until the writer closes: closing early would hand the
	 * harness's writer an EPIPE.
	 */
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			wl_die("read WL_GO", path);
		if (n == 0)
			break;
	}
	close(fd);
}

int wl_pass(void)
{
	fputs("PASS\n", stdout);
	fflush(stdout);
	return 0;
}

int wl_fail(const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	va_list ap;

	/* Format first: a %m in fmt must name the caller's errno. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printf("FAIL: %s\n", msg);
	fflush(stdout);
	errno = saved;
	return 1;
}

void wl_log(const char *fmt, ...)
{
	int saved = errno;
	char msg[1024];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	len = strlen(msg);
	if (len && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	fprintf(stderr, "%s: %s\n", wl_name, msg);
	errno = saved;
}
