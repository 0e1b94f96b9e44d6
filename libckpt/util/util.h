/*
 * libckpt/util/util.h - cleanup attributes, steal helpers, small macros.
 * Every fd is O_CLOEXEC from birth; destructors accept NULL and -1.
 *
 * Folder libckpt/util/: what every other folder (oci/ and cmd/ included)
 * may use and that knows nothing of processes: errors and logs, the JSON
 * wrapper (the only file that includes yajl), checked document access
 * (doc.h), every /proc parser (proc.h: proc.c, proc-mount.c,
 * proc-fdinfo.c, proc-task.c and proc-host.c, each format once, with unit
 * tests on sample text),
 * running a helper program (spawn.h: trusted directories, clean
 * environment, bounded captures), hashes, CPU features.
 */
#ifndef CKPT_UTIL_H
#define CKPT_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ckpt/error.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define __unused      __attribute__((unused))
#define __must_check  __attribute__((warn_unused_result))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define cleanup_free  __attribute__((cleanup(freep)))
#define cleanup_close __attribute__((cleanup(closep)))
#define cleanup_file  __attribute__((cleanup(fclosep)))
#define cleanup_dir   __attribute__((cleanup(closedirp)))

/* Take ownership of *pp, leaving NULL behind so the cleanup does nothing. */
#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) _p = *(pp);                                                      \
		*(pp) = NULL;                                                                      \
		_p;                                                                                \
	})

static inline int steal_fd(int *fd)
{
	int f = *fd;

	*fd = -1;
	return f;
}

/* calloc that aborts: allocation failure of small bookkeeping is not recoverable. */
void *xzalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
__attribute__((format(printf, 1, 2))) char *xasprintf(const char *fmt, ...);

/* Read a whole small file (at most max bytes) into a NUL-terminated buffer. */
int read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len,
		 ckpt_err_t *err) __must_check;
/* Write all of buf, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t len) __must_check;
/* Read exactly len bytes unless EOF; returns bytes read or -errno. */
ssize_t read_all(int fd, void *buf, size_t len);
/* Create a file with content, mode given, O_CLOEXEC. */
int write_file_at(int dirfd, const char *path, const void *buf, size_t len, int mode,
		  ckpt_err_t *err) __must_check;
/* Now in nanoseconds on CLOCK_MONOTONIC. */
uint64_t now_ns(void);
/* This process's peak resident set so far, in KiB (getrusage ru_maxrss); 0 unknown. */
long peak_rss_kib(void);

/*
 * Birth time (ns) of path at dirfd (statx; flags such as AT_EMPTY_PATH), 0
 * when the filesystem keeps none. With device and inode it tells the very
 * file from a later one given the same, freed, inode number.
 */
int64_t btime_at(int dirfd, const char *path, int flags);

#endif
