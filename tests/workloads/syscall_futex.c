/*
 * syscall_futex - one thread in a raw FUTEX_WAIT, another in
 * pthread_cond_wait, both blocked when the checkpoint is taken. After
 * restore main publishes a value and wakes them; each must see it.
 */
#include <pthread.h>

#include "wl.h"
#include "wl_sys.h"

static volatile int word;
static volatile pid_t tid_futex, tid_cond;
static int seen_futex, seen_cond;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_value;

static void *futex_waiter(void *arg __attribute__((unused)))
{
	tid_futex = gettid();
	while (word == 0)
		wl_futex_wait(&word, 0, NULL);
	seen_futex = word;
	return NULL;
}

static void *cond_waiter(void *arg __attribute__((unused)))
{
	pthread_mutex_lock(&lock);
	tid_cond = gettid();
	while (cond_value == 0)
		pthread_cond_wait(&cond, &lock);
	seen_cond = cond_value;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;

	wl_init(argc, argv);
	if (pthread_create(&a, NULL, futex_waiter, NULL) ||
	    pthread_create(&b, NULL, cond_waiter, NULL))
		return wl_fail("pthread_create");
	while (!tid_futex || !tid_cond)
		wl_msleep(1);
	if (wl_wait_in_syscall(tid_futex, SYS_futex) || wl_wait_in_syscall(tid_cond, SYS_futex))
		return wl_fail("waiters never blocked in futex()");

	wl_ready();
	wl_wait_restored();

	if (seen_futex || seen_cond)
		return wl_fail("a waiter woke up before being told");
	word = 0x1234;
	wl_futex_wake(&word);
	pthread_mutex_lock(&lock);
	cond_value = 0x5678;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	if (wl_join(a, NULL) || wl_join(b, NULL))
		return wl_fail("a waiter was not woken");
	if (seen_futex != 0x1234 || seen_cond != 0x5678)
		return wl_fail("waiters saw 0x%x and 0x%x", seen_futex, seen_cond);
	return wl_pass();
}
