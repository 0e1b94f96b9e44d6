/*
 * libckpt/task/task.h - task and thread state helpers shared by dump and restore.
 */
#ifndef CKPT_TASK_H
#define CKPT_TASK_H

#include <sys/types.h>

#include "ckpt/error.h"
#include "util/json.h"

/* Kernel's struct sigaction for rt_sigaction(2) on x86-64. */
struct k_sigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

int sched_dump(pid_t tid, struct json *out, ckpt_err_t *err);
int sched_restore(pid_t tid, const struct json *thread, ckpt_err_t *err);

#endif
