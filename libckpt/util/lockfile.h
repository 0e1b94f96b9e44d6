/*
 * libckpt/util/lockfile.h - exclusive lock files under /run/ckpt-oci,
 * removed when released.
 */
#ifndef CKPT_LOCKFILE_H
#define CKPT_LOCKFILE_H

#include "ckpt/error.h"

#define LOCKFILE_DIR "/run/ckpt-oci"

/*
 * Create (if need be) and flock path without waiting: the fd, or -EBUSY
 * when another process holds it (err untouched then, for the caller to
 * say what is busy), or another -errno with err set.
 */
int lockfile_take(const char *path, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Remove path and drop the lock. Accepts fd -1. */
void lockfile_release(const char *path, int fd);
/*
 * Remove the *.lock files nobody holds (their holder was killed); calls
 * fn with each path removed. Returns how many.
 */
int lockfile_sweep(void (*fn)(const char *path, void *data), void *data);

#endif
