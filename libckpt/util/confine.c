/*
 * libckpt/util/confine.c - a thread's filesystem credentials set to a
 * restored task's and back (confine.h). fsuid and fsgid decide every
 * permission check on a path; the supplementary groups take part; the
 * capabilities that bypass those checks are dropped unless the task has
 * them. The rest of ckpt-oci's capabilities stay (a TCP socket still gets
 * its repair mode), and the permitted set is untouched, so leaving is a
 * capset and two set*id calls.
 */
#define LOG_PREFIX "confine: "
#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "util/util.h"

static __thread struct {
	bool on;
	struct confine_creds c;
	uint64_t eff, prm, inh; /* the thread's own */
	gid_t *groups;
	int ngroups;
} cur;

static int caps_get(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d) < 0)
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int caps_set(uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {
		{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
		{(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)},
	};

	return syscall(SYS_capset, &hdr, d);
}

/* fsuid and fsgid, checked: setfs*id returns the old id, never an error. */
static int fsids_set(uint32_t uid, uint32_t gid)
{
	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
	if ((uint32_t)syscall(SYS_setfsgid, -1) != gid ||
	    (uint32_t)syscall(SYS_setfsuid, -1) != uid)
		return -1;
	return 0;
}

/* Only what c gives: its ids, and our capabilities but the filesystem ones it lacks. */
static int apply(const struct confine_creds *c)
{
	if (fsids_set(c->fsuid, c->fsgid) < 0)
		return -1;
	return caps_set(cur.eff & ~(CONFINE_FS_CAPS & ~c->cap_eff), cur.prm, cur.inh);
}

/* Our own again: capabilities first, as setfsuid needs CAP_SETUID. */
static int unapply(void)
{
	if (caps_set(cur.eff, cur.prm, cur.inh) < 0)
		return -1;
	return fsids_set(geteuid(), getegid());
}

int confine_enter(const struct confine_creds *c, ckpt_err_t *err)
{
	int n;

	if (cur.on)
		return ckpt_error_msg(err, EBUSY, "credentials taken on twice");
	if (caps_get(&cur.eff, &cur.prm, &cur.inh) < 0)
		return ckpt_error(err, errno, "capget");
	n = getgroups(0, NULL);
	if (n < 0)
		return ckpt_error(err, errno, "getgroups");
	cur.groups = xzalloc((n + 1) * sizeof(gid_t));
	cur.ngroups = getgroups(n, cur.groups);
	if (cur.ngroups < 0 || syscall(SYS_setgroups, c->ngroups, c->groups) < 0) {
		int e = errno;

		free(cur.groups);
		cur.groups = NULL;
		return ckpt_error(err, e, "take on the groups of uid %u", c->fsuid);
	}
	cur.c = *c;
	cur.on = true;
	if (apply(c) < 0) {
		int e = errno;

		confine_leave();
		return ckpt_error(err, e ? e : EPERM, "take on fsuid %u, fsgid %u", c->fsuid,
				  c->fsgid);
	}
	pr_debug("thread %ld as fsuid %u fsgid %u", (long)syscall(SYS_gettid), c->fsuid, c->fsgid);
	return 0;
}

void confine_leave(void)
{
	if (!cur.on)
		return;
	if (unapply() < 0 || syscall(SYS_setgroups, cur.ngroups, cur.groups) < 0)
		abort(); /* never go on with another's credentials by mistake */
	free(cur.groups);
	cur.groups = NULL;
	cur.on = false;
}

bool confine_active(void)
{
	return cur.on;
}

bool confine_pause(void)
{
	if (!cur.on)
		return false;
	if (unapply() < 0)
		abort();
	return true;
}

void confine_resume(bool paused)
{
	if (paused && apply(&cur.c) < 0)
		abort();
}
