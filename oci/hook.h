/*
 * oci/hook.h - private to the OCI hook (hook.c) and the checkpoint
 * supervisor it starts (supervisor.c): the configuration read from the
 * container's state and annotations, and the hook's log.
 */
#ifndef CKPT_OCI_HOOK_H
#define CKPT_OCI_HOOK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/error.h"

/* What poststart/poststop know about the container and what to do. */
struct hook_conf {
	char *id;	/* container id, from the state */
	pid_t pid;	/* its init, from the state (0 at poststop) */
	char *bundle;	/* OCI bundle directory, from the state */
	char *runtime;	/* runc or crun, where oci_find sees the container */
	char *root;	/* that runtime's state root */
	char *dir;	/* checkpoint-dir, absolute */
	char *interval; /* checkpoint-interval as given, for messages */
	uint64_t interval_ns;
	unsigned keep; /* bundles kept, newest first */
	int dirfd;     /* dir, open */
	int logfd;     /* dir/supervisor.log, O_APPEND; -1 before dir is known */
};

#define HOOK_LOG_FILE "supervisor.log"
#define HOOK_PID_FILE "supervisor.pid"

/*
 * One line "TIME WHO: MESSAGE" appended to the log file (when logfd >= 0)
 * and, with to_stderr, "ckpt-oci hook: MESSAGE" on stderr, which the
 * runtime keeps in its own log.
 */
__attribute__((format(printf, 4, 5))) void hook_log(int logfd, const char *who, bool to_stderr,
						    const char *fmt, ...);

/*
 * Start the detached supervisor of c (poststart). Returns once it holds
 * its lock and wrote its pid file, with its pid in *pid; an error it met
 * before that is returned here.
 */
int supervisor_start(const struct hook_conf *c, pid_t *pid, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * Stop the supervisor of c->id in c->dir (poststop): SIGTERM through a
 * pidfd, then wait for it to exit. No supervisor running: 0, *pid = 0.
 */
int supervisor_stop(const struct hook_conf *c, pid_t *pid, ckpt_err_t *err)
	__attribute__((warn_unused_result));

#endif
