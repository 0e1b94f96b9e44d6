/*
 * libckpt/util/spawn.h - run a helper program (tar, nft, the OCI runtime)
 * or a function in a child process: feed its stdin, capture its stdout and
 * stderr (bounded), wait for it. The one place of fork + pipe + waitpid.
 *
 * Trust: ckpt-oci runs as root, so a bare program name is looked up in
 * SPAWN_TRUSTED_PATH only, never in the caller's PATH, and the program gets
 * a clean environment: PATH=SPAWN_TRUSTED_PATH, LC_ALL=C and what the
 * caller adds in env. A helper that dies before reading all its input
 * makes the write fail with EPIPE; SIGPIPE never reaches ckpt-oci.
 *
 *	const char *const argv[] = { "nft", "list", "ruleset", NULL };
 *	struct spawn s = { .argv = argv, .out = SPAWN_PIPE };
 *
 *	ret = spawn_run(&s, err);	(s.status, s.out_buf; then spawn_free(&s))
 */
#ifndef CKPT_SPAWN_H
#define CKPT_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ckpt/error.h"

#define SPAWN_TRUSTED_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_CAPTURE_MAX  (64u << 10) /* a capture's bound when none is given */

/* Where the child's stdin, stdout or stderr goes. */
enum spawn_io {
	SPAWN_NULL = 0,	 /* /dev/null (the default) */
	SPAWN_INHERIT,	 /* ckpt-oci's own */
	SPAWN_FD,	 /* the caller's fd (in_fd, out_fd, err_fd) */
	SPAWN_PIPE,	 /* stdin fed from in_buf; stdout/stderr captured into out_buf/err_buf */
	SPAWN_SINK,	 /* stdout only: each chunk handed to sink() as it arrives */
	SPAWN_TO_STDOUT, /* stderr only: wherever stdout goes (one captured stream) */
};

struct spawn {
	/* what runs: argv[0] a bare name (SPAWN_TRUSTED_PATH) or a path with a '/' */
	const char *const *argv; /* NULL: child() alone, its return value the exit code */
	const char *const *env;	 /* "KEY=VALUE" entries added to the clean environment */
	const char *name;	 /* in messages; default argv[0], or "helper" */
	/*
	 * Runs in the child once its stdio is in place, before exec (setns,
	 * setsid...). With argv, a non-zero return ends the child with that
	 * code instead of running the program. Only async-signal-safe calls
	 * when the caller may have other threads and argv is set.
	 */
	int (*child)(void *arg);
	void *arg;
	const int *keep_fds; /* kept open, at the same number, across exec */
	int nkeep;

	enum spawn_io in, out, errout;
	int in_fd, out_fd, err_fd; /* for SPAWN_FD */
	const void *in_buf;	   /* for in == SPAWN_PIPE */
	size_t in_len;
	size_t out_max, err_max; /* capture bounds (0: SPAWN_CAPTURE_MAX); the rest is dropped */
	/* out == SPAWN_SINK: a negative return stops reading and kills the child */
	int (*sink)(void *arg, const void *buf, size_t len, ckpt_err_t *err);
	void *sink_arg;
	int timeout_ms; /* 0: none; past it the child is killed and the run fails */

	/* results */
	pid_t pid;
	int status;    /* wait status of the child */
	char *out_buf; /* captured stdout, NUL-terminated, malloc'd */
	size_t out_len;
	char *err_buf; /* captured stderr, likewise */
	size_t err_len;
	bool out_truncated; /* more came than out_max */
};

/*
 * Run s and wait for the child. 0 when it ran and was reaped (its exit in
 * s->status: the caller judges it); a negative errno when the program
 * cannot be found or started, the input could not be written (EPIPE: the
 * helper exited without reading it), the sink failed, or the timeout hit.
 */
int spawn_run(struct spawn *s, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Free the captures; s may be reused. */
void spawn_free(struct spawn *s);
/* The program name resolves to (a path is kept as is), malloc'd; NULL if none. */
char *spawn_resolve(const char *name);
/* Did the child exit with code 0? */
bool spawn_ok(const struct spawn *s);
/* "exit code N" or "killed by signal N", for error messages. */
const char *spawn_status_str(int status, char *buf, size_t len);
/* The last non-empty line of a capture (stderr, else stdout): a one-line reason. */
const char *spawn_last_line(struct spawn *s);

#endif
