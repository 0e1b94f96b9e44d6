/*
 * libckpt/util/log.h - pr_debug / pr_info / pr_warn.
 *
 * Each .c defines LOG_PREFIX before including this. Everything goes to the
 * run's log file (dump.log, restore.log in the work directory) when one is
 * open; warnings (and info when verbose) also go to stderr. Library code
 * never logs an error it also returns.
 */
#ifndef CKPT_LOG_H
#define CKPT_LOG_H

#include "ckpt/error.h"

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };

#ifndef LOG_PREFIX
#define LOG_PREFIX ""
#endif

__attribute__((format(printf, 2, 3))) void log_print(enum log_level lvl, const char *fmt, ...);

/* Messages at or below stderr_level reach stderr; the file gets everything. */
void log_set_stderr_level(enum log_level lvl);
/* Open (create, truncate, 0600) the debug log; NULL closes it. */
int log_open_file(const char *path, ckpt_err_t *err);
void log_close_file(void);

#define pr_debug(fmt, ...) log_print(LOG_DEBUG, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)  log_print(LOG_INFO, LOG_PREFIX fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...)  log_print(LOG_WARN, LOG_PREFIX fmt "\n", ##__VA_ARGS__)

#endif
