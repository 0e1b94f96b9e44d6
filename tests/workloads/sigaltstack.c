/*
 * sigaltstack - an alternate signal stack set on a known buffer. After
 * restore sigaltstack(NULL, &old) returns the same buffer, size and flags,
 * and an SA_ONSTACK handler really runs on it (a local's address inside
 * the handler lies within the buffer).
 */
#include <signal.h>
#include <stdint.h>

#include "wl.h"
#include "wl_sys.h"

#define ALT_SIZE (128 << 10)

static char *alt;
static volatile uintptr_t local_addr;
static volatile int flags_inside;

static void handler(int sig __attribute__((unused)))
{
	volatile char here;
	stack_t ss;

	local_addr = (uintptr_t)&here;
	sigaltstack(NULL, &ss);
	flags_inside = ss.ss_flags;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_ONSTACK};
	stack_t ss, old;

	wl_init(argc, argv);
	alt = malloc(ALT_SIZE);
	if (!alt)
		return wl_fail("malloc");
	ss = (stack_t){.ss_sp = alt, .ss_size = ALT_SIZE};
	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR1, &sa, NULL))
		return wl_fail("sigaltstack/sigaction: %m");

	wl_ready();
	wl_wait_restored();

	if (sigaltstack(NULL, &old))
		return wl_fail("sigaltstack: %m");
	if (old.ss_sp != alt || old.ss_size != ALT_SIZE || old.ss_flags != 0)
		return wl_fail("sigaltstack is %p+%zu flags %d, want %p+%d flags 0", old.ss_sp,
			       old.ss_size, old.ss_flags, (void *)alt, ALT_SIZE);
	if (raise(SIGUSR1))
		return wl_fail("raise: %m");
	if (local_addr < (uintptr_t)alt || local_addr >= (uintptr_t)alt + ALT_SIZE)
		return wl_fail("handler ran at %#lx, outside the alternate stack",
			       (unsigned long)local_addr);
	if (!(flags_inside & SS_ONSTACK))
		return wl_fail("SS_ONSTACK not reported inside the handler");
	return wl_pass();
}
