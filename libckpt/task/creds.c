/*
 * libckpt/task/creds.c - each thread's credentials (threads[i].creds: uids
 * and gids as real, effective, saved, fs; supplementary groups; the five
 * capability sets; securebits; no_new_privs), read from its /proc status
 * and set by the thread itself, last of all its state: every earlier step
 * needs the privileges these drop.
 */
#define LOG_PREFIX "creds: "
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/confine.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define SECBIT_NO_SETUID_FIXUP (1 << 2)
/* As many groups as fit the scratch area (NGROUPS_MAX is 65536). */
#define GROUPS_MAX 8192

static int creds_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	const struct proc_status *s = d->status;
	struct json *c = json_set(d->out, "creds", json_obj()), *a;
	long r;
	int ret;

	a = json_set(c, "uids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(s->uid[i]));
	a = json_set(c, "gids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(s->gid[i]));
	a = json_set(c, "groups", json_arr());
	for (int i = 0; i < s->ngroups; i++)
		json_push(a, json_int(s->groups[i]));
	json_set(c, "cap_inh", json_hex(s->cap_inh));
	json_set(c, "cap_prm", json_hex(s->cap_prm));
	json_set(c, "cap_eff", json_hex(s->cap_eff));
	json_set(c, "cap_bnd", json_hex(s->cap_bnd));
	json_set(c, "cap_amb", json_hex(s->cap_amb));
	json_set(c, "no_new_privs", json_bool(s->nonewprivs));
	ret = RSYS(d->rs, &r, err, SYS_prctl, PR_GET_SECUREBITS, 0, 0, 0, 0, 0);
	if (ret < 0)
		return ckpt_error_wrap(err, "thread %d: securebits", th->tid);
	json_set(c, "securebits", json_int(r));
	return 0;
}

static const struct doc_field creds_fields[] = {
	DOC_HEX(struct creds_state, cap_inh, "cap_inh", UINT64_MAX),
	DOC_HEX(struct creds_state, cap_prm, "cap_prm", UINT64_MAX),
	DOC_HEX(struct creds_state, cap_eff, "cap_eff", UINT64_MAX),
	DOC_HEX(struct creds_state, cap_bnd, "cap_bnd", UINT64_MAX),
	DOC_HEX(struct creds_state, cap_amb, "cap_amb", UINT64_MAX),
	DOC_BOOL(struct creds_state, no_new_privs, "no_new_privs"),
	DOC_INT(struct creds_state, securebits, "securebits", 0, 0xff),
	DOC_END,
};

static int id_list(const struct doc_at *at, const struct json *obj, const char *key, int64_t *ids,
		   ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, key);
	const struct json *arr;
	size_t n;
	int ret = doc_arr(at, obj, key, 4, &arr, &n, err);

	if (ret == 0 && n != 4)
		ret = doc_error(err, &k, "%zu ids, not 4 (real, effective, saved, fs)", n);
	for (size_t i = 0; ret == 0 && i < 4; i++)
		ret = doc_elem_int(&k, arr, i, 0, UINT32_MAX - 1, &ids[i], err);
	return ret;
}

static int creds_parse_thread(const struct doc_at *at, const struct json *th,
			      struct thread_state *ts, ckpt_err_t *err)
{
	struct creds_state *c = &ts->creds;
	struct doc_at k = DOC_KEY(at, "creds"), kg = DOC_KEY(&k, "groups");
	const struct json *cr, *groups;
	int ret = doc_obj(at, th, "creds", &cr, err);

	if (ret == 0)
		ret = id_list(&k, cr, "uids", c->uids, err);
	if (ret == 0)
		ret = id_list(&k, cr, "gids", c->gids, err);
	if (ret == 0)
		ret = doc_read(&k, cr, creds_fields, c, err);
	if (ret == 0)
		ret = doc_arr(&k, cr, "groups", GROUPS_MAX, &groups, &c->ngroups, err);
	if (ret < 0)
		return ret;
	c->groups = xzalloc((c->ngroups ?: 1) * sizeof(*c->groups));
	for (size_t i = 0; i < c->ngroups; i++) {
		int64_t g;

		ret = doc_elem_int(&kg, groups, i, 0, UINT32_MAX - 1, &g, err);
		if (ret < 0)
			return ret;
		c->groups[i] = g;
	}
	return 0;
}

static int capset_remote(struct rsys *rs, uint64_t eff, uint64_t prm, uint64_t inh, ckpt_err_t *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	int ret = rsys_put(rs, 0, &hdr, sizeof(hdr), err);

	if (ret == 0)
		ret = rsys_put(rs, 64, d, sizeof(d), err);
	if (ret == 0)
		ret = RSYS_OK(rs, NULL, err, SYS_capset, rsys_at(rs, 0), rsys_at(rs, 64), 0, 0, 0,
			      0);
	return ret;
}

/*
 * The bounding and permitted sets the thread has now (what ckpt-oci had),
 * read from /proc where a capget in the task would cost a stop: nothing
 * queued before changes them (SECBIT_NO_SETUID_FIXUP keeps the permitted
 * set across the ids). False if /proc cannot say.
 */
static bool current_caps(pid_t pid, pid_t tid, uint64_t *bnd, uint64_t *prm)
{
	cleanup_free char *path = xasprintf("/proc/%d/task/%d", pid, tid);
	cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_status st = {0};
	ckpt_err_t e = {0};
	bool ok = fd >= 0 && proc_read_status(fd, &st, &e) == 0;

	if (ok) {
		*bnd = st.cap_bnd;
		*prm = st.cap_prm;
	}
	ckpt_error_clear(&e);
	proc_status_free(&st);
	return ok;
}

/* The permitted set the thread has now (what ckpt-oci had). */
static int capget_remote(struct rsys *rs, uint64_t *prm, ckpt_err_t *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];
	int ret = rsys_put(rs, 0, &hdr, sizeof(hdr), err);

	if (ret == 0)
		ret = RSYS_OK(rs, NULL, err, SYS_capget, rsys_at(rs, 0), rsys_at(rs, 64), 0, 0, 0,
			      0);
	if (ret == 0)
		ret = rsys_get(rs, 64, d, sizeof(d), err);
	if (ret == 0)
		*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return ret;
}

/* capset_remote, queued. */
static int capset_queue(struct rsys *rs, uint64_t eff, uint64_t prm, uint64_t inh, ckpt_err_t *err)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};
	uint64_t at_hdr, at_d;
	int ret = rsys_queue_data(rs, &hdr, sizeof(hdr), &at_hdr, err);

	if (ret == 0)
		ret = rsys_queue_data(rs, d, sizeof(d), &at_d, err);
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_capset, (uint64_t[6]){at_hdr, at_d}, err,
				 "credentials: capset");
	return ret;
}

/*
 * Ids first, with SECBIT_NO_SETUID_FIXUP keeping every capability across
 * the change; setfsgid and setfsuid return the old id, never an error.
 */
static int creds_ids(struct rsys *rs, const struct creds_state *c, ckpt_err_t *err)
{
	uint64_t groups;
	int ret;

	ret = rsys_queue(rs, 0, 0, SYS_prctl,
			 (uint64_t[6]){PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP}, err,
			 "credentials: prctl");
	if (ret == 0)
		ret = rsys_queue_data(rs, c->groups, c->ngroups * sizeof(gid_t), &groups, err);
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_setgroups, (uint64_t[6]){c->ngroups, groups}, err,
				 "credentials: setgroups");
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_setresgid,
				 (uint64_t[6]){c->gids[0], c->gids[1], c->gids[2]}, err,
				 "credentials: setresgid");
	if (ret == 0)
		ret = rsys_queue(rs, RSYS_BATCH_SOFT, 0, SYS_setfsgid, (uint64_t[6]){c->gids[3]},
				 err, "credentials: setfsgid");
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_setresuid,
				 (uint64_t[6]){c->uids[0], c->uids[1], c->uids[2]}, err,
				 "credentials: setresuid");
	if (ret == 0)
		ret = rsys_queue(rs, RSYS_BATCH_SOFT, 0, SYS_setfsuid, (uint64_t[6]){c->uids[3]},
				 err, "credentials: setfsuid");
	return ret;
}

/* Every call queued: they run with the thread's others, in one stop. */
static int creds_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				ckpt_err_t *err)
{
	const struct creds_state *c = &rthread_state(t, th)->creds;
	struct rsys *rs = rthread_rsys(t, th);
	uint64_t bnd = ~0ULL, full = ~0ULL;
	bool known = current_caps(t->host_pid, rs->tid, &bnd, &full);
	int ret;

	(void)rc;
	ret = creds_ids(rs, c, err);
	/* only what the thread has now and the saved set lacks: a call each */
	bnd &= ~c->cap_bnd;
	for (int cap = 0; ret == 0 && cap < 64; cap++)
		if (bnd & (1ULL << cap)) /* EINVAL: a capability this kernel does not have */
			ret = rsys_queue(rs, RSYS_BATCH_ALLOW, EINVAL, SYS_prctl,
					 (uint64_t[6]){PR_CAPBSET_DROP, cap}, err,
					 "credentials: drop bounding capability %d", cap);
	if (ret == 0 && !known)
		ret = capget_remote(rs, &full, err);
	if (ret == 0)
		ret = capset_queue(rs, full, full, c->cap_inh, err);
	for (int cap = 0; ret == 0 && cap < 64; cap++)
		if (c->cap_amb & (1ULL << cap))
			ret = rsys_queue(rs, 0, 0, SYS_prctl,
					 (uint64_t[6]){PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap},
					 err, "credentials: prctl");
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_prctl,
				 (uint64_t[6]){PR_SET_SECUREBITS, c->securebits}, err,
				 "credentials: prctl");
	if (ret == 0)
		ret = capset_queue(rs, c->cap_eff, c->cap_prm, c->cap_inh, err);
	if (ret == 0 && c->no_new_privs)
		ret = rsys_queue(rs, 0, 0, SYS_prctl, (uint64_t[6]){PR_SET_NO_NEW_PRIVS, 1}, err,
				 "credentials: prctl");
	return ret;
}

/* ---- the credential rule of an unauthenticated bundle (util/confine.h) ---- */

void creds_confine_of(const struct creds_state *c, struct confine_creds *out)
{
	*out = (struct confine_creds){.fsuid = c->uids[3],
				      .fsgid = c->gids[3],
				      .groups = c->groups,
				      .ngroups = c->ngroups,
				      .cap_eff = c->cap_eff};
}

/*
 * Outside a container the tree's root is the host's: a task with root's
 * powers there could write anywhere, so an unauthenticated bundle may not
 * ask for one (an id 0, or any capability it may use).
 */
int creds_check_unprivileged(const struct task_state *ts, pid_t pid, ckpt_err_t *err)
{
	for (size_t k = 0; k < ts->nthreads; k++) {
		const struct creds_state *c = &ts->threads[k].creds;
		const char *what = NULL;

		for (int i = 0; i < 4 && !what; i++)
			what = !c->uids[i] ? "uid 0" : !c->gids[i] ? "gid 0" : NULL;
		for (size_t i = 0; i < c->ngroups && !what; i++)
			what = !c->groups[i] ? "group 0" : NULL;
		if (!what && (c->cap_eff | c->cap_prm | c->cap_amb))
			what = "capabilities";
		if (what)
			return ckpt_error_msg(err, EPERM,
					      "task %d: thread %d claims root (%s): an "
					      "unauthenticated bundle restores no task with root's "
					      "powers outside a container",
					      pid, ts->threads[k].tid, what);
	}
	return 0;
}

/*
 * In the task, before its memory is made (a shared file mapping opens its
 * file): its thread's fs ids and groups, and no filesystem capability it
 * lacks. Undone by creds_unconfine_remote before the rest of its state.
 */
int creds_confine_remote(struct rsys *rs, const struct creds_state *c, ckpt_err_t *err)
{
	uint64_t prm = 0;
	long r;
	int ret;

	if (c->ngroups > GROUPS_MAX)
		return ckpt_error_msg(err, E2BIG, "%zu groups", c->ngroups);
	ret = capget_remote(rs, &prm, err);
	if (ret == 0)
		ret = rsys_put(rs, 0, c->groups, c->ngroups * sizeof(gid_t), err);
	if (ret == 0)
		ret = RSYS_OK(rs, NULL, err, SYS_setgroups, c->ngroups, rsys_at(rs, 0), 0, 0, 0, 0);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_setfsgid, c->gids[3], 0, 0, 0, 0, 0);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_setfsuid, c->uids[3], 0, 0, 0, 0, 0);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_setfsuid, -1, 0, 0, 0, 0, 0);
	if (ret == 0 && r != c->uids[3])
		ret = ckpt_error_msg(err, EPERM, "take on fsuid %" PRId64, c->uids[3]);
	if (ret == 0)
		ret = capset_remote(rs, prm & ~(CONFINE_FS_CAPS & ~c->cap_eff), prm, 0, err);
	return ret < 0 ? ckpt_error_wrap(err, "take on the task's credentials") : 0;
}

int creds_unconfine_remote(struct rsys *rs, ckpt_err_t *err)
{
	uint64_t prm = 0;
	long r;
	int ret = capget_remote(rs, &prm, err);

	if (ret == 0)
		ret = capset_remote(rs, prm, prm, 0, err);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_setfsuid, 0, 0, 0, 0, 0, 0);
	if (ret == 0)
		ret = RSYS(rs, &r, err, SYS_setfsgid, 0, 0, 0, 0, 0, 0);
	return ret;
}

static void print_ids(FILE *out, const char *title, const int64_t *ids, size_t n)
{
	fprintf(out, "%s", title);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%" PRId64, i ? "," : "", ids[i]);
}

/* Credentials are per thread; threads of one process nearly always agree. */
static void creds_describe(FILE *out, const struct task_state *ts)
{
	const struct creds_state *c = &ts->threads[0].creds;

	print_ids(out, "  creds:   uids ", c->uids, 4);
	print_ids(out, "  gids ", c->gids, 4);
	fprintf(out, "  groups ");
	for (size_t i = 0; i < c->ngroups; i++)
		fprintf(out, "%s%u", i ? "," : "", c->groups[i]);
	fprintf(out, "  cap_eff 0x%" PRIx64 "\n", c->cap_eff);
}

static void creds_free(struct task_state *ts)
{
	for (size_t k = 0; k < ts->nthreads; k++)
		free(ts->threads[k].creds.groups);
}

const struct task_state_ops task_creds_ops = {
	.name = "creds",
	.dump_thread = creds_dump_thread,
	.parse_thread = creds_parse_thread,
	.restore_thread = creds_restore_thread,
	.describe = creds_describe,
	.free = creds_free,
};
