/*
 * libckpt/util/fault.h - a fault-injection point for the kill-safety
 * tests, read from CKPT_OCI_FAULT by the process that does a checkpoint:
 *
 *   count                 on exit, print "ckpt-oci: ptrace calls: N"
 *   kill-parent:SIG:N     at the Nth ptrace call, send SIG (a number, or a
 *                         name such as KILL or SIGTERM) to the parent (the
 *                         ckpt-oci the user started) and wait until the
 *                         abort it causes has arrived, then make the call
 *   live-flip             the page server of migrate --lazy flips a byte of
 *                         the first live chunk it sends, after its MAC
 *                         (page-server.c): the receiver must refuse it
 *   live-late-death       the page server of migrate --lazy gets no death
 *                         signal (migrate.c): it outlives migrate's worker,
 *                         the window between the tree resuming and its
 *                         death held open; it says so of a live chunk read
 *                         after the worker died and sent ("read after
 *                         migrate's worker died, sent"): there must be none
 *   predump-exit          a pre-dump kills each task but the root once its
 *                         copy opened the task's files, and waits until it
 *                         is gone (mem-incr.c): the pre-dump must leave it
 *                         out and go on, as for a child exiting then
 *   unix-diag-recv        each receive of a sock_diag dump of unix sockets
 *                         fails (ENOBUFS) once it got a reply (unix-diag.c):
 *                         the checkpoint must refuse, not read "none found"
 *   remote-fail:LABEL     a remote call queued in a batch (arch/rsys.c) whose
 *                         label holds LABEL ("credentials: setresuid") runs
 *                         as an unknown syscall, ENOSYS: the failure of a
 *                         call run long after it was queued must still be
 *                         named as the call
 *
 * Every ptrace() call of the binary goes through __wrap_ptrace (linked
 * with -Wl,--wrap=ptrace); without CKPT_OCI_FAULT it only counts.
 */
#ifndef CKPT_FAULT_H
#define CKPT_FAULT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "ckpt/error.h"

/* Read CKPT_OCI_FAULT; parent is the process kill-parent aims at (a worker's). */
int ckpt_fault_arm(pid_t parent, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Whether CKPT_OCI_FAULT names the point `name` (live-flip, ...: no argument). */
static inline bool ckpt_fault_is(const char *name)
{
	const char *spec = getenv("CKPT_OCI_FAULT");

	return spec && !strcmp(spec, name);
}
/* The argument of a named point with one (remote-fail:LABEL), or NULL. */
static inline const char *ckpt_fault_arg(const char *name)
{
	const char *spec = getenv("CKPT_OCI_FAULT");
	size_t n = strlen(name);

	return spec && !strncmp(spec, name, n) && spec[n] == ':' ? spec + n + 1 : NULL;
}
/* The "count" report, on stderr. */
void ckpt_fault_report(void);
/*
 * The ptrace calls of the page copy (mem-splice.c: before a remote
 * vmsplice starts, after it ended), reported by "count" as "page copy:
 * FIRST-LAST" so a test can aim inside it. Weak: the library refers to it
 * only where this file is linked.
 */
void ckpt_fault_span(bool start) __attribute__((weak));

#endif
