/* placeholder until the restore pipeline lands */
#include <errno.h>
#include "ckpt/ckpt.h"
int ckpt_restore(struct ckpt_restore_opts *o, ckpt_err_t *err)
{
	return ckpt_error_msg(err, ENOSYS, "not built yet");
}
