/*
 * libckpt/util/abort.h - an abort request, checked by the engine at its
 * step boundaries.
 *
 * A checkpoint must never be cut short by a signal: its tracer dying
 * detaches every thread wherever it is (registers pointing into a remote
 * call, every signal blocked). So the process that does the work turns
 * SIGINT, SIGTERM, SIGHUP and the death of its parent into a request
 * (ckpt_abort_request, async-signal-safe), and the engine answers it at
 * the next point where stopping is clean: between two remote calls,
 * between tasks, between page batches. The error then takes the pipeline's
 * one rollback exit like any other failure.
 */
#ifndef CKPT_ABORT_H
#define CKPT_ABORT_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckpt/error.h"

/* Ask the running operation to stop (from a signal handler too). */
void ckpt_abort_request(int sig);
/* The signal that asked (0: none yet). */
int ckpt_abort_signal(void);

/*
 * At a step boundary: -ECANCELED ("interrupted by SIGTERM") once an abort
 * was requested, every time it is asked; 0 otherwise.
 */
int ckpt_abort_check(ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * For the remote-call layer: fails only on the first check after the
 * request, so that the rollback that follows may still run remote calls
 * (unmapping the scratch memory) while the step boundaries keep failing.
 */
int ckpt_abort_check_once(ckpt_err_t *err) __attribute__((warn_unused_result));

/*
 * In the process that does the work: SIGINT, SIGTERM and SIGHUP, and the
 * death of parent (PR_SET_PDEATHSIG, SIGHUP; already dead: at once), turn
 * into an abort request until ckpt_abort_signals_off, which puts the
 * previous handlers back. The signals' mask is the caller's business.
 */
void ckpt_abort_signals_on(pid_t parent);
void ckpt_abort_signals_off(void);

#endif
