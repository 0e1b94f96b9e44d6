/*
 * syscall_pause - one thread in pause(), another in sigsuspend(), both
 * blocked when the checkpoint is taken. After restore main sends each its
 * signal with pthread_kill: the handler runs in that thread, the call
 * returns EINTR.
 */
#include <pthread.h>
#include <signal.h>

#include "wl.h"
#include "wl_sys.h"

static volatile pid_t tid_pause, tid_susp;
static volatile pid_t handled_in[65];
static int ret_pause, ret_susp, err_pause, err_susp;

static void handler(int sig)
{
	handled_in[sig] = gettid();
}

static void *pauser(void *arg __attribute__((unused)))
{
	tid_pause = gettid();
	ret_pause = pause();
	err_pause = errno;
	return NULL;
}

static void *suspender(void *arg __attribute__((unused)))
{
	sigset_t wait_mask;

	/* SIGUSR2 is blocked in this thread except inside sigsuspend */
	sigfillset(&wait_mask);
	sigdelset(&wait_mask, SIGUSR2);
	tid_susp = gettid();
	ret_susp = sigsuspend(&wait_mask);
	err_susp = errno;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = handler};
	pthread_t a, b;
	sigset_t block;

	wl_init(argc, argv);
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL))
		return wl_fail("sigaction: %m");
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	if (pthread_create(&a, NULL, pauser, NULL) || pthread_create(&b, NULL, suspender, NULL))
		return wl_fail("pthread_create");
	while (!tid_pause || !tid_susp)
		wl_msleep(1);
	if (wl_wait_in_syscall(tid_pause, SYS_pause) ||
	    wl_wait_in_syscall(tid_susp, SYS_rt_sigsuspend))
		return wl_fail("threads never blocked in pause/sigsuspend");

	wl_ready();
	wl_wait_restored();

	if (handled_in[SIGUSR1] || handled_in[SIGUSR2])
		return wl_fail("a handler ran before the signal was sent");
	pthread_kill(a, SIGUSR1);
	pthread_kill(b, SIGUSR2);
	if (wl_join(a, NULL) || wl_join(b, NULL))
		return wl_fail("pause/sigsuspend did not return");
	if (ret_pause != -1 || err_pause != EINTR || ret_susp != -1 || err_susp != EINTR)
		return wl_fail("pause/sigsuspend returned %d/%d, errno %d/%d", ret_pause, ret_susp,
			       err_pause, err_susp);
	if (handled_in[SIGUSR1] != tid_pause || handled_in[SIGUSR2] != tid_susp)
		return wl_fail("handlers ran in the wrong threads");
	return wl_pass();
}
