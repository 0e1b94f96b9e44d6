/*
 * libckpt/task/rlimits.c - resource limits (task-PID.json "rlimits": one
 * [soft, hard] pair of hex numbers per RLIMIT_*, in the kernel's order),
 * read from /proc/PID/limits and set by the task itself (prlimit64 in its
 * queue, after the pending signals they let in).
 */
#define LOG_PREFIX "rlimits: "
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

/*
 * /proc/PID/limits, not prlimit(): prlimit on a task with other uids needs
 * CAP_SYS_RESOURCE (util/proc-task.c parses it).
 */
static int rlimits_dump(struct task_dump *d, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	struct json *arr = json_set(d->out, "rlimits", json_arr());
	struct proc_limit lim[RLIM_NLIMITS];
	int ret, n;

	ret = read_file_at(d->t->procfd, "limits", 1 << 16, &text, NULL, err);
	if (ret < 0)
		return ret;
	if (proc_parse_limits(text, lim, RLIM_NLIMITS, &n, err) < 0)
		return ckpt_error_wrap(err, "/proc/%d/limits", d->t->pid);
	for (int i = 0; i < n; i++) {
		struct json *o = json_push(arr, json_arr());

		json_push(o, json_hex(lim[i].soft));
		json_push(o, json_hex(lim[i].hard));
	}
	return 0;
}

static int rlimits_parse(const struct doc_at *at, const struct json *doc, struct task_state *ts,
			 ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "rlimits");
	const struct json *arr;
	int ret = doc_arr(at, doc, "rlimits", RLIM_NLIMITS, &arr, &ts->nrlimits, err);

	for (size_t i = 0; ret == 0 && i < ts->nrlimits; i++) {
		struct doc_at e = DOC_IDX(&k, i);
		const struct json *pair = json_at(arr, i);
		uint64_t v[2];

		if (json_type(pair) != JSON_ARR || json_len(pair) != 2)
			return doc_error(err, &e, "expected [soft, hard]");
		for (int h = 0; h < 2; h++) {
			struct doc_at x = DOC_IDX(&e, h);

			if (!json_hex_value(json_at(pair, h), &v[h]))
				return doc_error(err, &x, "expected a hex number");
		}
		if (v[0] > v[1])
			return doc_error(err, &e, "soft limit %#" PRIx64 " above hard %#" PRIx64,
					 v[0], v[1]);
		ts->rlimits[i].rlim_cur = v[0];
		ts->rlimits[i].rlim_max = v[1];
	}
	return ret;
}

static int rlimits_restore(struct rctx *rc, struct rtask *t, ckpt_err_t *err)
{
	(void)rc;
	for (size_t res = 0; res < t->state->nrlimits; res++) {
		struct rlimit want = t->state->rlimits[res], now;
		uint64_t at;
		int ret;

		if (prlimit(t->host_pid, res, NULL, &now) < 0)
			return ckpt_error(err, errno, "get rlimit %zu", res);
		if (want.rlim_max > now.rlim_max) {
			/* raising a hard limit needs CAP_SYS_RESOURCE */
			pr_warn("task %d: rlimit %zu hard %llu above ours, kept at %llu", t->pid,
				res, (unsigned long long)want.rlim_max,
				(unsigned long long)now.rlim_max);
			want.rlim_max = now.rlim_max;
			want.rlim_cur = MIN(want.rlim_cur, want.rlim_max);
		}
		/* by the task, queued: after the pending signals it lets in */
		ret = rsys_queue_data(&t->rs, &want, sizeof(want), &at, err);
		if (ret == 0)
			ret = rsys_queue(&t->rs, 0, 0, SYS_prlimit64, (uint64_t[6]){0, res, at},
					 err, "set rlimit %zu", res);
		if (ret < 0)
			return ret;
	}
	return 0;
}

const struct task_state_ops task_rlimits_ops = {
	.name = "rlimits",
	.dump = rlimits_dump,
	.parse = rlimits_parse,
	.restore = rlimits_restore,
};
