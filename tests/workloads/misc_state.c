/*
 * misc_state - per-process odds and ends: umask, cwd (a temp dir under
 * argv[1], $WL_TMPDIR or /tmp), personality (ADDR_NO_RANDOMIZE), thread
 * names of main and a second thread, PR_SET_PDEATHSIG, child subreaper,
 * nice value, oom_score_adj, timer slack and no_new_privs. All read back
 * after restore.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "wl.h"
#include "wl_sys.h"

#define NICE	7
#define OOM_ADJ 123
#define SLACK	123456
/* SIGWINCH is ignored by default: harmless if the restorer parent exits */
#define PDEATH SIGWINCH

static volatile int go;

static void *second(void *arg __attribute__((unused)))
{
	prctl(PR_SET_NAME, "wl-misc-thr");
	while (!go)
		wl_futex_wait(&go, 0, NULL);
	return NULL;
}

static int oom_adj(int set)
{
	char buf[32] = "";
	int fd = open("/proc/self/oom_score_adj", (set ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -10000;
	if (set)
		n = write(fd, buf, snprintf(buf, sizeof(buf), "%d", OOM_ADJ));
	else
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -10000;
	return set ? 0 : atoi(buf);
}

static const char *verify(const char *dir, pthread_t t)
{
	char cwd[4096], name[32];
	int sig = 0, reaper = 0;
	mode_t m = umask(0);

	umask(m);
	if (m != 027)
		return "umask";
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, dir))
		return "cwd";
	if (personality(0xffffffff) != ADDR_NO_RANDOMIZE)
		return "personality";
	if (prctl(PR_GET_NAME, name) || strcmp(name, "wl-misc-main"))
		return "main thread name";
	if (pthread_getname_np(t, name, sizeof(name)) || strcmp(name, "wl-misc-thr"))
		return "second thread name";
	if (prctl(PR_GET_PDEATHSIG, &sig) || sig != PDEATH)
		return "pdeathsig";
	if (prctl(PR_GET_CHILD_SUBREAPER, &reaper) || reaper != 1)
		return "child subreaper";
	errno = 0;
	if (getpriority(PRIO_PROCESS, 0) != NICE || errno)
		return "nice value";
	if (oom_adj(0) != OOM_ADJ)
		return "oom_score_adj";
	if (prctl(PR_GET_TIMERSLACK) != SLACK)
		return "timer slack";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return "no_new_privs";
	return NULL;
}

int main(int argc, char **argv)
{
	char dir[4096];
	const char *err;
	pthread_t t;

	wl_init(argc, argv);
	snprintf(dir, sizeof(dir), "%s/wl-misc-XXXXXX", wl_tmpdir(argc > 1 ? argv[1] : NULL));
	if (!mkdtemp(dir) || chdir(dir) || !getcwd(dir, sizeof(dir)))
		return wl_fail("temp dir: %m");
	umask(027);
	if (personality(ADDR_NO_RANDOMIZE) < 0 || prctl(PR_SET_NAME, "wl-misc-main") ||
	    prctl(PR_SET_PDEATHSIG, PDEATH) || prctl(PR_SET_CHILD_SUBREAPER, 1) ||
	    setpriority(PRIO_PROCESS, 0, NICE) || oom_adj(1) != 0 ||
	    prctl(PR_SET_TIMERSLACK, SLACK) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return wl_fail("setup: %m");
	if (pthread_create(&t, NULL, second, NULL))
		return wl_fail("pthread_create");
	{
		double end = wl_now() + WL_TIMEOUT_SEC;

		while ((err = verify(dir, t)) && wl_now() < end)
			wl_msleep(1); /* until the thread has named itself */
	}
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = verify(dir, t);
	go = 1;
	wl_futex_wake(&go);
	if (wl_join(t, NULL))
		return wl_fail("second thread stuck");
	if (err)
		return wl_fail("after restore: %s differs", err);
	if (chdir("/") == 0)
		(void)rmdir(dir);
	return wl_pass();
}
