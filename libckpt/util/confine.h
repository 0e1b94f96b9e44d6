/*
 * libckpt/util/confine.h - a thread takes on a restored task's filesystem
 * credentials for what it makes on the task's behalf.
 *
 * The credential rule of an unauthenticated bundle (TRUST MODEL in
 * ckpt-oci-bundle(5)): the files and sockets a task owns are opened,
 * created, bound and unlinked with that task's fsuid, fsgid, groups and
 * filesystem capabilities, never with root's, so the bundle can do nothing
 * on the host its own tasks could not. Every call here is the raw system
 * call: it changes the calling thread only.
 */
#ifndef CKPT_CONFINE_H
#define CKPT_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"

/*
 * The capabilities that bypass file permission checks: the ones the
 * kernel drops from the effective set when the fsuid leaves 0.
 */
#define CONFINE_FS_CAPS                                                                            \
	((1ULL << 0) | (1ULL << 1) | (1ULL << 2) | (1ULL << 3) | (1ULL << 4) | (1ULL << 9) |       \
	 (1ULL << 27) | (1ULL << 32))

struct confine_creds {
	uint32_t fsuid, fsgid;
	const uint32_t *groups;
	size_t ngroups;
	uint64_t cap_eff; /* the task's: a filesystem capability it lacks is dropped */
};

/* Take on c in this thread until confine_leave; one level, never nested. */
int confine_enter(const struct confine_creds *c, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Back to the thread's own credentials; a failure aborts (never run on as someone else). */
void confine_leave(void);
/* Whether this thread is confined. */
bool confine_active(void);

/*
 * The bundle's own files are ckpt-oci's, read with its credentials even
 * inside: confine_pause returns whether it lifted a confinement, which
 * confine_resume puts back.
 */
bool confine_pause(void);
void confine_resume(bool paused);

#endif
