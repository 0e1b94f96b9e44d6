/*
 * include/ckpt/error.h - the error object that carries context up the stack.
 *
 * A function that can fail returns int (>= 0 success, negative errno) and
 * takes ckpt_err_t *err last. The innermost failure records errno and a
 * message; each caller may prefix context with ckpt_error_wrap(), so the
 * user reads one line: "task 12: open /proc/12/maps: Permission denied".
 */
#ifndef CKPT_ERROR_H
#define CKPT_ERROR_H

#include <stddef.h>

#define CKPT_ERR_MSG_MAX 2048

typedef struct ckpt_err {
	int code;		    /* positive errno, 0 when no error */
	char msg[CKPT_ERR_MSG_MAX]; /* full message, context first */
} ckpt_err_t;

/* Record an error: "<fmt>: strerror(code)". Returns -code. */
__attribute__((format(printf, 3, 4))) int ckpt_error(ckpt_err_t *err, int code, const char *fmt,
						     ...);

/* Record an error whose message needs no strerror() text. Returns -code. */
__attribute__((format(printf, 3, 4))) int ckpt_error_msg(ckpt_err_t *err, int code, const char *fmt,
							 ...);

/* Prefix context to the recorded error: "<fmt>: <old message>". Returns -code. */
__attribute__((format(printf, 2, 3))) int ckpt_error_wrap(ckpt_err_t *err, const char *fmt, ...);

/* Forget a recorded error (for failures the caller chose to tolerate). */
void ckpt_error_clear(ckpt_err_t *err);

#endif
