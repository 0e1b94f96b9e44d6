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
int cmd_recover(int argc, char **argv);
int cmd_page_server(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_receive(int argc, char **argv);
/* What every command does first: undo what killed runs left (cmd/recover.c). */
void cmd_recover_quietly(void);

#include "ckpt/error.h"

/*
 * Run fn(arg, err) in a worker process (cmd/worker.c) that survives the
 * ckpt-oci the user started and turns its signals into an abort request.
 * Returns the exit code; prints the worker's error once, as "<what>: ...".
 */
typedef int (*cmd_work_fn)(void *arg, ckpt_err_t *err);
int cmd_worker(const char *what, cmd_work_fn fn, void *arg);

/* Print "ckpt-oci: <what>: <message>" once; returns exit code 1. */
int cmd_fail(const char *what, const char *msg);

#endif
