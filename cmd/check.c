/* placeholder until the check command lands */
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
int cmd_check(int argc, char **argv)
{
	return cmd_fail("check", "not built yet");
}
