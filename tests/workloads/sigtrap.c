/*
 * sigtrap - SIGTRAP ignored by the process, which has a second thread. A
 * run of remote code ends in int3, which would reset an ignored SIGTRAP
 * to the default action: a task with one has its state restored call by
 * call (task/task.c). After restore the action is still SIG_IGN, in both
 * threads' view, and a SIGTRAP sent is ignored.
 */
#include <pthread.h>
#include <signal.h>

#include "wl.h"
#include "wl_sys.h"

static volatile int go;
static volatile int second_saw; /* 1: SIG_IGN, 2: something else */

static void *second(void *arg __attribute__((unused)))
{
	struct sigaction now;

	while (!go)
		wl_futex_wait(&go, 0, NULL);
	second_saw = sigaction(SIGTRAP, NULL, &now) == 0 && now.sa_handler == SIG_IGN ? 1 : 2;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = SIG_IGN}, now;
	pthread_t t;

	wl_init(argc, argv);
	if (sigaction(SIGTRAP, &sa, NULL))
		return wl_fail("sigaction: %m");
	if (pthread_create(&t, NULL, second, NULL))
		return wl_fail("pthread_create");

	wl_ready();
	wl_wait_restored();

	go = 1;
	wl_futex_wake(&go);
	if (wl_join(t, NULL))
		return wl_fail("second thread stuck");
	if (second_saw != 1)
		return wl_fail("the second thread sees SIGTRAP's action changed");
	if (sigaction(SIGTRAP, NULL, &now) || now.sa_handler != SIG_IGN)
		return wl_fail("SIGTRAP's action is no longer SIG_IGN");
	if (raise(SIGTRAP))
		return wl_fail("raise: %m");
	return wl_pass();
}
