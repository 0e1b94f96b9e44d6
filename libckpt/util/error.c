/*
 * libckpt/util/error.c - ckpt_err_t: record, wrap, clear.
 * Messages are truncated, never overflowed; the errno travels with them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ckpt/error.h"

#define MIN_LEN(a, b) ((a) < (b) ? (a) : (b))

static int record(ckpt_err_t *err, int code, int with_strerror, const char *fmt, va_list ap)
{
	int n;

	if (code <= 0)
		code = code < 0 ? -code : EIO;
	if (!err)
		return -code;
	err->code = code;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		n = 0;
	if (with_strerror && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(code));
	return -code;
}

int ckpt_error(ckpt_err_t *err, int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = record(err, code, 1, fmt, ap);
	va_end(ap);
	return ret;
}

int ckpt_error_msg(ckpt_err_t *err, int code, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = record(err, code, 0, fmt, ap);
	va_end(ap);
	return ret;
}

int ckpt_error_wrap(ckpt_err_t *err, const char *fmt, ...)
{
	char prefix[512], old[CKPT_ERR_MSG_MAX];
	va_list ap;
	int n;

	if (!err)
		return -EIO;
	if (!err->code)
		err->code = EIO;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	old[sizeof(old) - 1] = '\0';
	/* truncation of an over-long chain of context is acceptable */
	n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
	if (n > 0 && (size_t)n < sizeof(err->msg))
		memcpy(err->msg + n, old, MIN_LEN(strlen(old) + 1, sizeof(err->msg) - n));
	err->msg[sizeof(err->msg) - 1] = '\0';
	return -err->code;
}

void ckpt_error_clear(ckpt_err_t *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}
