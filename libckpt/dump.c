/* placeholder until the dump pipeline lands */
#include <errno.h>
#include "ckpt/ckpt.h"
int ckpt_dump(struct ckpt_dump_opts *o, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOSYS, "not built yet");
}
