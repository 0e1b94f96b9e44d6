/*
 * creds (root) - supplementary groups, setresgid(1001,1002,1003),
 * setresuid(1001,1002,1003) with PR_SET_KEEPCAPS, chosen capability sets
 * (bounding, permitted, effective, inheritable, ambient), no_new_privs.
 * After restore every one reads back as it was set.
 */
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>

#include "wl.h"
#include "wl_sys.h"

#define C(x) (1ULL << (x))
/* CAP_DAC_OVERRIDE stays effective so the harness FIFOs can still be opened. */
#define PERM                                                                                       \
	(C(CAP_CHOWN) | C(CAP_DAC_OVERRIDE) | C(CAP_KILL) | C(CAP_NET_ADMIN) | C(CAP_SYS_PTRACE))
#define EFF (C(CAP_DAC_OVERRIDE) | C(CAP_KILL) | C(CAP_NET_ADMIN))
#define INH (C(CAP_CHOWN) | C(CAP_NET_ADMIN))
#define AMB CAP_NET_ADMIN
static const int dropped[] = {CAP_SYS_BOOT, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SYS_MODULE};
static const gid_t groups[] = {1001, 1005, 1007};
static uint64_t bset; /* the bounding set we expect: inherited minus dropped */

static int caps(uint64_t *eff, uint64_t *perm, uint64_t *inh, int set)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2];

	if (set) {
		d[0] = (struct __user_cap_data_struct){*eff, *perm, *inh};
		d[1] = (struct __user_cap_data_struct){*eff >> 32, *perm >> 32, *inh >> 32};
		return syscall(SYS_capset, &h, d);
	}
	if (syscall(SYS_capget, &h, d))
		return -1;
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static const char *setup(void)
{
	/* CAP_SETUID only until setresuid() below */
	uint64_t eff = PERM | C(CAP_SETUID), perm = PERM | C(CAP_SETUID), inh = INH;

	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			bset |= C(c);
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		bset &= ~C(dropped[i]);
	if (setgroups(3, groups) || setresgid(1001, 1002, 1003))
		return "setgroups/setresgid";
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (prctl(PR_CAPBSET_DROP, dropped[i], 0, 0, 0))
			return "PR_CAPBSET_DROP";
	if (caps(&eff, &perm, &inh, 1))
		return "capset";
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setresuid(1001, 1002, 1003))
		return "keepcaps/setresuid";
	/* euid 0 -> non-zero cleared the effective set; raise our subset again */
	eff = EFF;
	perm = PERM;
	if (caps(&eff, &perm, &inh, 1))
		return "capset effective";
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, AMB, 0, 0))
		return "ambient raise";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return "no_new_privs";
	return NULL;
}

static const char *verify(void)
{
	uid_t r, e, s;
	gid_t rg, eg, sg, gl[16];
	uint64_t eff, perm, inh;
	int n;

	if (getresuid(&r, &e, &s) || r != 1001 || e != 1002 || s != 1003)
		return "uids";
	if (getresgid(&rg, &eg, &sg) || rg != 1001 || eg != 1002 || sg != 1003)
		return "gids";
	n = getgroups(16, gl);
	if (n != 3 || gl[0] != groups[0] || gl[1] != groups[1] || gl[2] != groups[2])
		return "supplementary groups";
	if (caps(&eff, &perm, &inh, 0) || eff != EFF || perm != PERM || inh != INH)
		return "capability sets";
	for (int c = 0; c <= CAP_LAST_CAP; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != !!(bset & C(c)))
			return "bounding set";
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) != (c == AMB))
			return "ambient set";
	}
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 1)
		return "keepcaps";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return "no_new_privs";
	return NULL;
}

int main(int argc, char **argv)
{
	const char *err;

	wl_init(argc, argv);
	if (geteuid() != 0)
		return wl_fail("needs root");
	err = setup();
	if (err)
		return wl_fail("setup: %s: %m", err);
	err = verify();
	if (err)
		return wl_fail("before checkpoint: %s", err);

	wl_ready();
	wl_wait_restored();

	err = verify();
	return err ? wl_fail("after restore: %s differ", err) : wl_pass();
}
