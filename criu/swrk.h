/*
 * criu/swrk.h - CRIU's RPC service, private to criu/: the connection to the
 * caller, its request, and what dump.c and restore.c share.
 */
#ifndef CKPT_CRIU_SWRK_H
#define CKPT_CRIU_SWRK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ckpt/error.h"
#include "criu/rpc.pb-c.h"

/* The version reported (VERSION and --version): callers gate features on it. */
#define SWRK_VERSION_MAJOR 4
#define SWRK_VERSION_MINOR 0

/* The bundle's place in the images directory; the rest is the caller's. */
#define SWRK_BUNDLE "bundle"
/* What dump records for restore (the root directory it saw). */
#define SWRK_DOC "criu.json"

struct swrk {
	int sk;	    /* SOCK_SEQPACKET to the caller */
	pid_t peer; /* the caller, whose fds the request names */
	CriuReq *req;
	CriuOpts *opts; /* req->opts, never NULL while serving */
	char *images;	/* the images directory (images_dir_fd) */
	char *work;	/* the work directory (work_dir_fd), else images */
	char *key;	/* the bundle's key file (config.c), NULL: the host's */
	FILE *journal;	/* our lines for the caller's log file */
	char *journal_buf;
	size_t journal_len;
};

/* A line in the journal, appended to the caller's log file at the end. */
__attribute__((format(printf, 2, 3))) void swrk_log(struct swrk *s, const char *fmt, ...);

/* Open the caller's fd (a directory when dir) through /proc/PEER/fd. */
int swrk_caller_fd(struct swrk *s, int fd, bool dir, int flags, char **path, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * Tell the caller we reached a notify point (CRIU's action scripts) and
 * wait for its answer; pid > 0 goes with it. A no-op unless the request
 * set notify_scripts. A refusal is an error.
 */
int swrk_notify(struct swrk *s, const char *script, pid_t pid, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/* The same, passing fd along (orphan-pts-master: the new terminal's master). */
int swrk_notify_fd(struct swrk *s, const char *script, pid_t pid, int fd, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/* Send a response; resp->type and success are the caller's to set. */
int swrk_send(struct swrk *s, CriuResp *resp, ckpt_err_t *err) __attribute__((warn_unused_result));

/* Options the engine cannot honour: one error naming the first set. */
int swrk_refuse(struct swrk *s, const char *what, ckpt_err_t *err);

/* Serve requests on sk until one without keep_open; the exit status. */
int swrk_serve(int sk);

/* DUMP (dump.c) and RESTORE (restore.c): fill resp on success. */
int swrk_dump(struct swrk *s, CriuResp *resp, ckpt_err_t *err) __attribute__((warn_unused_result));
int swrk_restore(struct swrk *s, CriuResp *resp, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * extns.c: a network namespace the caller owns (external net[INODE]:KEY):
 * joined before the dump (*key set, recorded in criu.json), and the one
 * given as inherit_fd KEY joined before the restore.
 */
int swrk_external_net_dump(struct swrk *s, pid_t pid, char **key, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int swrk_external_net_restore(struct swrk *s, const char *key, ckpt_err_t *err)
	__attribute__((warn_unused_result));

/*
 * config.c: the key file the caller names (CKPT_OCI_KEY, else ckpt-oci-key
 * in the request's config_file), NULL for the host's.
 */
int swrk_key(struct swrk *s, char **key, ckpt_err_t *err) __attribute__((warn_unused_result));

/* stats.c: stats-dump and stats-restore in CRIU's format, into dir. */
struct swrk_dump_stats {
	uint64_t freezing_us, frozen_us, memdump_us, memwrite_us;
	uint64_t pages;
};
struct swrk_restore_stats {
	uint64_t forking_us, restore_us;
	uint64_t pages;
};
int swrk_write_dump_stats(const char *dir, const struct swrk_dump_stats *st, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int swrk_write_restore_stats(const char *dir, const struct swrk_restore_stats *st, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* inventory.img into dir: podman's mark of a complete checkpoint. */
int swrk_write_inventory(const char *dir, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Pages of memory a bundle holds (its pages-*.img). */
uint64_t swrk_bundle_pages(const char *bundle);

#endif
