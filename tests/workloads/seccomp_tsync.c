/*
 * seccomp_tsync - a filter installed on every thread at once
 * (SECCOMP_FILTER_FLAG_TSYNC: mincore() -> E2BIG) while two more threads
 * run. After restore each thread is under it, and a second filter can
 * again be synchronised to all threads (uname() -> EPERM), which the
 * kernel allows only while every thread's filters are the caller's: the
 * filters came back shared, not as a copy per thread. Then every thread
 * and the process exit normally.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/utsname.h>

#include "wl.h"
#include "wl_sys.h"

#define LD(field)    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define RET(v)	     BPF_STMT(BPF_RET | BPF_K, (v))
#define JEQ(k, t, f) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (t), (f))

static int cmd[2][2], done[2]; /* cmd: one pipe per thread */

static long install_tsync(int nr, int errnum)
{
	struct sock_filter f[] = {
		LD(nr),
		JEQ((unsigned int)nr, 0, 1),
		RET(SECCOMP_RET_ERRNO | (unsigned int)errnum),
		RET(SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

/* 0 when this thread is under the first filter, and the second one if two. */
static int filtered(int two)
{
	struct utsname u;

	if (syscall(SYS_mincore, NULL, 0, NULL) != -1 || errno != E2BIG)
		return -1;
	if (two && (uname(&u) != -1 || errno != EPERM))
		return -1;
	return 0;
}

static void *thread_main(void *arg)
{
	int *in = arg;
	char c, ok;

	for (int round = 1; round <= 2; round++) {
		if (read(in[0], &c, 1) != 1)
			return NULL;
		ok = filtered(round == 2) ? 'n' : 'y';
		if (write(done[1], &ok, 1) != 1)
			return NULL;
	}
	return NULL;
}

/* Ask both threads to check; 0 when both say they are filtered. */
static int ask(void)
{
	char c;

	for (int i = 0; i < 2; i++)
		if (write(cmd[i][1], "x", 1) != 1)
			return -1;
	for (int i = 0; i < 2; i++)
		if (read(done[0], &c, 1) != 1 || c != 'y')
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	long r;

	wl_init(argc, argv);
	if (pipe(cmd[0]) || pipe(cmd[1]) || pipe(done))
		return wl_fail("pipe: %m");
	for (int i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, thread_main, cmd[i]))
			return wl_fail("pthread_create");
	r = install_tsync(SYS_mincore, E2BIG);
	if (r)
		return wl_fail("first TSYNC filter: %ld %m", r);
	if (filtered(0) || ask())
		return wl_fail("before checkpoint: a thread is not under the first filter");

	wl_ready();
	wl_wait_restored();

	r = install_tsync(SYS_uname, EPERM);
	if (r > 0)
		return wl_fail("second TSYNC filter: thread %ld has filters of its own", r);
	if (r < 0)
		return wl_fail("second TSYNC filter: %m");
	if (filtered(1) || ask())
		return wl_fail("after restore: a thread is not under both filters");
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return wl_pass();
}
