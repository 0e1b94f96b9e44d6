/*
 * tests/unit/test_error.c - ckpt_err_t: record, strerror suffix, wrap chains,
 * truncation of over-long messages, clear.
 */
#include <errno.h>
#include <string.h>

#include "ckpt/error.h"
#include "tap.h"

static int inner(ckpt_err_t *err)
{
	return ckpt_error(err, ENOENT, "open /proc/%d/maps", 12);
}

int main(void)
{
	ckpt_err_t err = {0};
	char big[4000];
	int ret;

	ret = inner(&err);
	is_int(ret, -ENOENT, "ckpt_error returns -code");
	is_int(err.code, ENOENT, "code recorded");
	is_str(err.msg, "open /proc/12/maps: No such file or directory", "strerror appended");

	ret = ckpt_error_wrap(&err, "task %d", 12);
	is_int(ret, -ENOENT, "wrap returns -code");
	is_str(err.msg, "task 12: open /proc/12/maps: No such file or directory", "wrap prefixes");
	ckpt_error_wrap(&err, "checkpoint web1");
	is_str(err.msg, "checkpoint web1: task 12: open /proc/12/maps: No such file or directory",
	       "wrap chains");

	ret = ckpt_error_msg(&err, EPROTO, "uts.json: nodename required");
	is_int(ret, -EPROTO, "ckpt_error_msg returns -code");
	is_str(err.msg, "uts.json: nodename required", "no strerror for _msg");

	ret = ckpt_error_msg(&err, 0, "zero code");
	is_int(ret, -EIO, "code 0 becomes EIO");
	ret = ckpt_error_msg(&err, -EPERM, "negative code");
	is_int(err.code, EPERM, "negative code is taken as errno");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ckpt_error_msg(&err, EINVAL, "%s", big);
	is_int(strlen(err.msg), CKPT_ERR_MSG_MAX - 1, "long message truncated to the buffer");
	ckpt_error_wrap(&err, "ctx");
	ok(!strncmp(err.msg, "ctx: xxx", 8) && strlen(err.msg) == CKPT_ERR_MSG_MAX - 1,
	   "wrap of a full message keeps the prefix and stays terminated");

	ckpt_error_clear(&err);
	is_int(err.code, 0, "clear resets code");
	is_str(err.msg, "", "clear resets message");
	is_int(ckpt_error(NULL, EBADF, "no err object"), -EBADF, "NULL err object is tolerated");
	return done_testing();
}
