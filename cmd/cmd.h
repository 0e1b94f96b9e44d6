/*
 * cmd/cmd.h - one function per subcommand; main.c dispatches by name.
 */
#ifndef CKPT_CMD_H
#define CKPT_CMD_H

int cmd_checkpoint(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_hook(int argc, char **argv);

/* Print "ckpt-oci: <what>: <message>" once; returns exit code 1. */
int cmd_fail(const char *what, const char *msg);

#endif
