/*
 * libckpt/util/journal.h - what a run changed outside the tree, written
 * down before the change and struck off after it was undone or kept, so
 * that a run killed in between is cleaned up by the next one.
 *
 * One file per run, /run/ckpt-oci/journal/PID-STARTTIME, one entry a
 * line: "KIND ARG" (ARG: the rest of the line, a path or "PID START").
 * A journal whose owner is dead (the pid gone, or its start time another)
 * is undone by any later ckpt-oci (ckpt_recover), newest entry first.
 *
 * Kinds: thaw DIR (a cgroup we froze), netlock PID START (the lock table in
 * that process's network namespace), rmtree PATH (a half bundle, a
 * runtime's state directory we made), cgroup DIR (a cgroup we made: its
 * processes killed, then removed).
 */
#ifndef CKPT_JOURNAL_H
#define CKPT_JOURNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckpt/error.h"

#define JOURNAL_DIR "/run/ckpt-oci/journal"

/*
 * Record a change about to be made; returns an id for journal_done, or -1
 * when the journal cannot be written (warned once: the run goes on).
 */
int journal_add(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strike an entry off: undone, or made for good. Accepts -1. */
void journal_done(int id);
/* Strike off the entry "kind arg" (when the id was not kept). */
void journal_done_match(const char *kind, const char *arg);
/* Strike off every entry of kind (NULL: all): what they name is kept. */
void journal_keep(const char *kind);

/*
 * The journals of dead runs, one by one: fn gets each entry, newest
 * first, and the journal is removed after its last. A journal another
 * ckpt-oci is recovering (flock) is skipped.
 */
int journal_recover(int (*fn)(const char *kind, const char *arg, void *data), void *data,
		    ckpt_err_t *err);

/* Field 22 of /proc/PID/stat (0 when the process is gone or a zombie). */
unsigned long long journal_starttime(pid_t pid);

#endif
