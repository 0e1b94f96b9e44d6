/* placeholder until the inspect command lands */
#include "ckpt/ckpt.h"
#include "cmd/cmd.h"
int cmd_inspect(int argc, char **argv)
{
	return cmd_fail("inspect", "not built yet");
}
