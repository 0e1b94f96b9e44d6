/*
 * libckpt/task/mm.c - the fields of the mm that PR_SET_MM_MAP sets
 * (task-PID.json "mm": code, data, brk, stack, arguments, environment,
 * auxv) and the executable ("exe"). Only dumped here: they are put back
 * with the address space, by mem/mem-restore.c, which reads them.
 */
#define LOG_PREFIX "mm: "
#include <errno.h>
#include <sys/syscall.h>

#include "engine.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/* brk: only brk(0) in the task tells it. */
static int mm_dump(struct task_dump *d, ckpt_err_t *err)
{
	const struct proc_stat *st = d->stat;
	cleanup_free char *auxv = NULL;
	struct json *mm = json_set(d->out, "mm", json_obj());
	char exe[4096];
	size_t len;
	ssize_t n;
	long brk;
	int ret;

	ret = RSYS(d->rs, &brk, err, SYS_brk, 0, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ret;
	json_set(mm, "start_code", json_hex(st->start_code));
	json_set(mm, "end_code", json_hex(st->end_code));
	json_set(mm, "start_data", json_hex(st->start_data));
	json_set(mm, "end_data", json_hex(st->end_data));
	json_set(mm, "start_brk", json_hex(st->start_brk));
	json_set(mm, "brk", json_hex(brk));
	json_set(mm, "start_stack", json_hex(st->start_stack));
	json_set(mm, "arg_start", json_hex(st->arg_start));
	json_set(mm, "arg_end", json_hex(st->arg_end));
	json_set(mm, "env_start", json_hex(st->env_start));
	json_set(mm, "env_end", json_hex(st->env_end));
	ret = read_file_at(d->t->procfd, "auxv", 8192, &auxv, &len, err);
	if (ret < 0)
		return ret;
	json_set(mm, "auxv", json_hexbuf(auxv, len));
	n = readlinkat(d->t->procfd, "exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return ckpt_error(err, errno, "readlink /proc/%d/exe", d->t->pid);
	exe[n] = '\0';
	json_set(d->out, "exe", json_str(exe));
	return 0;
}

const struct task_state_ops task_mm_ops = {
	.name = "mm",
	.dump = mm_dump,
};
