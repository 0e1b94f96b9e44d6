/*
 * libckpt/check/check-host.c - probes about the host rather than one kernel
 * call: our capabilities, the OCI runtimes on PATH, io_uring.
 */
#define LOG_PREFIX "check: "
#include <fcntl.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/syscall.h>

#include "check/check.h"
#include "util/proc.h"
#include "util/spawn.h"
#include "util/util.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif
#define CAP_NET_ADMIN	 12
#define CAP_SYS_PTRACE	 19
#define CAP_SYS_ADMIN	 21
#define CAP_SYS_RESOURCE 24

static const struct {
	int bit;
	const char *name;
} needed_caps[] = {
	{CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
	{CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
	{CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE"},
	{CAP_NET_ADMIN, "CAP_NET_ADMIN"},
};

void probe_capabilities(struct probe_out *o)
{
	cleanup_close int self = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_status st;
	char missing[128] = "";
	unsigned long long eff;
	ckpt_err_t err;

	if (self < 0)
		return (void)probe_errno(o, "open /proc/self");
	if (proc_read_status(self, &st, &err) < 0)
		return (void)probe_fail(o, "/proc/self/status: %s", err.msg);
	eff = st.cap_eff;
	proc_status_free(&st);
	for (size_t i = 0; i < ARRAY_SIZE(needed_caps); i++)
		if (!(eff & (1ULL << needed_caps[i].bit)))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 " %s", needed_caps[i].name);
	if (geteuid() != 0)
		return (void)probe_fail(o, "not root (uid %d), missing%s", geteuid(),
					missing[0] ? missing : " nothing else");
	if (missing[0])
		return (void)probe_fail(o, "root, but missing%s", missing);
	if (!(eff & (1ULL << CAP_SYS_RESOURCE)))
		return (void)probe_detail(o,
					  "root, CapEff 0x%llx; CAP_SYS_RESOURCE missing: pipes "
					  "over 1 MiB and raising hard rlimits will fail",
					  eff);
	probe_detail(o, "root, CapEff 0x%llx", eff);
}

/* First line of `path --version`, or NULL. */
static char *runtime_version(const char *path)
{
	const char *const argv[] = {path, "--version", NULL};
	struct spawn s = {.argv = argv, .out = SPAWN_PIPE, .out_max = 255};
	ckpt_err_t err = {0};
	char *ver = NULL;

	if (spawn_run(&s, &err) == 0 && spawn_ok(&s) && s.out_len) {
		s.out_buf[strcspn(s.out_buf, "\n")] = '\0';
		ver = xstrdup(s.out_buf);
	}
	spawn_free(&s);
	return ver;
}

void probe_runtimes(struct probe_out *o)
{
	static const char *const names[] = {"runc", "crun"};
	char detail[PROBE_DETAIL_MAX] = "";
	int found = 0;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		/* where ckpt-oci would run it from: the trusted directories, not PATH */
		cleanup_free char *path = spawn_resolve(names[i]);
		cleanup_free char *ver = path ? runtime_version(path) : NULL;
		size_t len = strlen(detail);

		const char *sep = len ? "; " : "";

		if (ver) {
			found++;
			snprintf(detail + len, sizeof(detail) - len, "%s%s", sep, ver);
		} else if (path) {
			snprintf(detail + len, sizeof(detail) - len, "%s%s: --version failed", sep,
				 path);
		} else {
			snprintf(detail + len, sizeof(detail) - len,
				 "%s%s not in " SPAWN_TRUSTED_PATH, sep, names[i]);
		}
	}
	o->ok = found > 0;
	probe_detail(o, "%s", detail);
}

void probe_io_uring(struct probe_out *o)
{
	struct io_uring_params p = {0};
	int fd;

	fd = syscall(SYS_io_uring_setup, 4, &p);
	if (fd < 0)
		return (void)probe_errno(o, "io_uring_setup (see kernel.io_uring_disabled)");
	close(fd);
	probe_detail(o, "features 0x%x", p.features);
}
