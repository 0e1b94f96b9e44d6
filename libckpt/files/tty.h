/*
 * libckpt/files/tty.h - what the pty files share: tty.c (the dump half)
 * and tty-restore.c (the restore half, and fd_pty_ops).
 */
#ifndef CKPT_FILES_TTY_H
#define CKPT_FILES_TTY_H

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "ckpt/error.h"

/* A queue holds at most N_TTY_BUF_SIZE bytes, its flip buffers up to 64 KiB more. */
#define PTY_QUEUE_MAX (1 << 17)
/* The kernel's termios has 19 control characters (glibc's struct more). */
#define PTY_NCC 19
/* A line discipline's read buffer (N_TTY_BUF_SIZE). */
#define PTY_N_TTY_BUF 4096

struct json;
struct fd_info;
struct files_dctx;

/* tty.c: the fd_ops members of the dump side. */
bool pty_match(const struct fd_info *fi);
int pty_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc, ckpt_err_t *err);
/* tty.c: put buf back in the queue fd reads, byte by byte, through its line discipline. */
int pty_refill(int fd, const char *buf, size_t len, ckpt_err_t *err);
/* tty.c: termios with nothing a refill should do besides queueing (canonical mode kept). */
struct termios pty_quiet(const struct termios *t);

#endif
