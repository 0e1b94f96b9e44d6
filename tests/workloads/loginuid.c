/*
 * loginuid - the audit loginuid (/proc/self/loginuid) of a process, of a
 * thread it starts afterwards, and of a child that changes its own to
 * another value. After restore each reads its own back. The audit session
 * id is not checked: the kernel hands out a new one whenever a loginuid is
 * written, and nothing can set it (ckpt-oci says so in its log).
 */
#include <pthread.h>
#include <sys/wait.h>

#include "wl.h"
#include "wl_sys.h"

static int cmd[2], report[2];

static long read_num(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static int set_loginuid(const char *v)
{
	int fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, v, strlen(v)) == (ssize_t)strlen(v);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void *thread_main(void *arg)
{
	long *v = arg;
	char c;

	while (read(cmd[0], &c, 1) != 1)
		;
	*v = read_num("/proc/thread-self/loginuid");
	return NULL;
}

int main(int argc, char **argv)
{
	long thread_uid = -2, v;
	pthread_t th;
	pid_t kid;
	char c;
	int st;

	wl_init(argc, argv);
	if (pipe(cmd) || pipe(report))
		return wl_fail("pipe: %m");
	if (set_loginuid("1234"))
		return wl_fail("set loginuid 1234: %m");
	if (pthread_create(&th, NULL, thread_main, &thread_uid))
		return wl_fail("pthread_create");
	kid = fork();
	if (kid < 0)
		return wl_fail("fork: %m");
	if (kid == 0) {
		if (set_loginuid("4321"))
			_exit(1);
		c = 'r';
		if (write(report[1], &c, 1) != 1)
			_exit(2);
		alarm(2 * WL_TIMEOUT_SEC); /* a failed run leaves no process behind */
		while (read(cmd[0], &c, 1) != 1)
			;
		c = read_num("/proc/self/loginuid") == 4321 ? 'y' : 'n';
		_exit(write(report[1], &c, 1) == 1 ? 0 : 3);
	}
	if (read(report[0], &c, 1) != 1 || c != 'r')
		return wl_fail("child could not set its loginuid");
	wl_log("loginuid 1234, audit session %ld", read_num("/proc/self/sessionid"));

	wl_ready();
	wl_wait_restored();

	wl_log("after restore: audit session %ld", read_num("/proc/self/sessionid"));
	v = read_num("/proc/self/loginuid");
	if (v != 1234)
		return wl_fail("loginuid %ld, want 1234", v);
	if (write(cmd[1], "xx", 2) != 2)
		return wl_fail("write: %m");
	pthread_join(th, NULL);
	if (thread_uid != 1234)
		return wl_fail("thread: loginuid %ld, want 1234", thread_uid);
	if (read(report[0], &c, 1) != 1 || c != 'y')
		return wl_fail("child: loginuid is not 4321");
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		return wl_fail("child: status 0x%x", st);
	return wl_pass();
}
