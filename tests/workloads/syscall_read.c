/*
 * syscall_read - a thread is blocked in read() on a pipe when the
 * checkpoint is taken. After restore main writes to the pipe and the thread
 * must get exactly that data (the read restarted, nothing invented).
 */
#include <pthread.h>
#include <string.h>

#include "wl.h"
#include "wl_sys.h"

#define MSG "restored-data-0123456789"

static int fds[2];
static volatile pid_t reader_tid;
static char got[256];
static ssize_t got_len = -2;
static int got_errno;

static void *reader(void *arg __attribute__((unused)))
{
	reader_tid = gettid();
	got_len = read(fds[0], got, sizeof(got));
	got_errno = errno;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	wl_init(argc, argv);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return wl_fail("pipe: %m");
	if (pthread_create(&t, NULL, reader, NULL))
		return wl_fail("pthread_create");
	while (!reader_tid)
		wl_msleep(1);
	if (wl_wait_in_syscall(reader_tid, SYS_read))
		return wl_fail("reader never blocked in read()");

	wl_ready();
	wl_wait_restored();

	if (got_len != -2)
		return wl_fail("read returned early: %zd (%s)", got_len, strerror(got_errno));
	if (write(fds[1], MSG, strlen(MSG)) != (ssize_t)strlen(MSG))
		return wl_fail("write: %m");
	if (wl_join(t, NULL))
		return wl_fail("reader still blocked after the write");
	if (got_len < 0)
		return wl_fail("read failed: %s", strerror(got_errno));
	if (got_len != (ssize_t)strlen(MSG) || memcmp(got, MSG, got_len))
		return wl_fail("read returned %zd bytes `%.*s`", got_len, (int)got_len, got);
	return wl_pass();
}
