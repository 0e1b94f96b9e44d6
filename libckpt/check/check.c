/*
 * libckpt/check/check.c - `ckpt-oci check`: the probe table and the runner.
 *
 * Each probe exercises one kernel feature for real, in a forked child of
 * its own: a probe may unmap its vdso, enter namespaces or crash without
 * harming ckpt-oci. The child is the leader of a fresh process group, so
 * one kill(-pgid) reaches every helper it started; ckpt-oci is a child
 * subreaper while checking, so orphaned helpers come back to it and are
 * reaped here. A probe that does not answer within PROBE_TIMEOUT_MS is
 * killed and reported "timed out".
 */
#define LOG_PREFIX "check: "
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "ckpt/ckpt.h"
#include "check/check.h"
#include "util/json.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/util.h"

#define PROBE_TIMEOUT_MS 5000

struct probe {
	const char *name;
	bool required;
	bool needs_root;
	probe_fn fn;
	const char *why_optional; /* shown when an optional probe is missing */
	void (*cleanup)(void);	  /* run by the checker after the child is gone */
};

struct probe_result {
	const struct probe *p;
	bool required;
	const char *why_optional;
	struct probe_out out;
};

pid_t check_owner;

static const struct probe probes[] = {
	{"capabilities", true, false, probe_capabilities},
	{"ptrace-seize", true, false, probe_ptrace_seize},
	{"ptrace-regset-xstate", true, false, probe_ptrace_xstate},
	{"ptrace-sigmask", true, false, probe_ptrace_sigmask},
	{"ptrace-peeksiginfo", true, false, probe_ptrace_peeksiginfo},
	{"ptrace-rseq", true, false, probe_ptrace_rseq},
	{"ptrace-seccomp-filter", true, true, probe_ptrace_seccomp},
	{"clone3-set-tid", true, true, probe_clone3_set_tid},
	{"ns-last-pid", true, true, probe_ns_last_pid},
	{"pr-set-mm-map", true, true, probe_pr_set_mm_map},
	{"arch-map-vdso", true, false, probe_arch_map_vdso},
	{"pidfd-getfd", true, false, probe_pidfd_getfd},
	{"kcmp", true, false, probe_kcmp},
	{"process-vm-readv", true, false, probe_process_vm_readv},
	{"userfaultfd-wp-async", false, false, probe_uffd_wp_async,
	 "needed only for incremental dumps"},
	{"pagemap-scan", true, false, probe_pagemap_scan},
	{"soft-dirty", false, false, probe_soft_dirty,
	 "the tool uses uffd WP_ASYNC + PAGEMAP_SCAN instead"},
	{"tcp-repair", true, true, probe_tcp_repair},
	{"sock-diag-unix", true, false, probe_sock_diag_unix},
	{"sock-diag-inet", true, false, probe_sock_diag_inet},
	{"cgroup-freezer", true, true, probe_cgroup_freezer, NULL, check_cgroup_cleanup},
	{"cgroup-v2-freeze", true, true, probe_cgroup_v2_freeze, NULL, check_cgroup_cleanup},
	{"time-namespace", true, true, probe_time_ns},
	{"namespaces", true, true, probe_namespaces},
	{"io-uring", false, false, probe_io_uring, "information only"},
	{"timer-restore-ids", false, false, probe_timer_restore_ids,
	 "without it POSIX timer ids may change across restore"},
	{"madv-guard", false, false, probe_madv_guard, "only programs using guard regions need it"},
	{"runtimes", false, false, probe_runtimes, "needed only for containers"},
};

static void vdetail(struct probe_out *o, const char *fmt, va_list ap)
{
	vsnprintf(o->detail, sizeof(o->detail), fmt, ap);
}

void probe_detail(struct probe_out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdetail(o, fmt, ap);
	va_end(ap);
}

bool probe_fail(struct probe_out *o, const char *fmt, ...)
{
	va_list ap;

	o->ok = false;
	va_start(ap, fmt);
	vdetail(o, fmt, ap);
	va_end(ap);
	return false;
}

bool probe_errno(struct probe_out *o, const char *fmt, ...)
{
	const char *e = strerror(errno);
	va_list ap;
	size_t n;

	o->ok = false;
	va_start(ap, fmt);
	vdetail(o, fmt, ap);
	va_end(ap);
	n = strlen(o->detail);
	snprintf(o->detail + n, sizeof(o->detail) - n, ": %s", e);
	return false;
}

pid_t check_spawn(int (*setup)(void *arg, uint64_t *val), void *arg, uint64_t *val,
		  struct probe_out *o)
{
	pid_t parent = getpid(), pid;
	uint64_t v = 0;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return probe_errno(o, "pipe"), -1;
	pid = fork();
	if (pid < 0) {
		probe_errno(o, "fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* the parent died before prctl */
			_exit(1);
		if (setup && setup(arg, &v) < 0)
			_exit(1);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read_all(p[0], &v, sizeof(v)) != sizeof(v)) {
		close(p[0]);
		check_kill(pid);
		probe_fail(o, "helper process failed to set up");
		return -1;
	}
	close(p[0]);
	if (val)
		*val = v;
	return pid;
}

void check_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

int check_wait_exit(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, __WALL) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct in_child {
	void (*fn)(struct probe_out *o, void *arg);
	void *arg;
};

/* The child: run the probe, its answer (a whole struct probe_out) to stdout. */
static int probe_child(void *arg)
{
	const struct in_child *c = arg;
	struct probe_out r = {.ok = true};

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	c->fn(&r, c->arg);
	return write(STDOUT_FILENO, &r, sizeof(r)) == sizeof(r) ? 0 : 1;
}

void check_in_child(void (*fn)(struct probe_out *o, void *arg), void *arg, struct probe_out *o)
{
	struct in_child c = {fn, arg};
	struct spawn s = {.name = "probe",
			  .child = probe_child,
			  .arg = &c,
			  .in = SPAWN_INHERIT,
			  .out = SPAWN_PIPE,
			  .out_max = sizeof(struct probe_out),
			  .errout = SPAWN_INHERIT};
	ckpt_err_t err = {0};

	if (spawn_run(&s, &err) < 0) {
		probe_fail(o, "%s", err.msg);
	} else if (s.out_len == sizeof(*o)) {
		memcpy(o, s.out_buf, sizeof(*o));
		o->detail[sizeof(o->detail) - 1] = '\0';
	} else {
		probe_fail(o, "child died without an answer");
	}
	spawn_free(&s);
}

bool check_seize_stop(pid_t pid, unsigned long options, struct probe_out *o)
{
	int st;

	if (ptrace(PTRACE_SEIZE, pid, 0, options) < 0)
		return probe_errno(o, "PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) < 0)
		return probe_errno(o, "PTRACE_INTERRUPT");
	if (waitpid(pid, &st, __WALL) < 0)
		return probe_errno(o, "waitpid");
	if (!WIFSTOPPED(st) || (st >> 16) != PTRACE_EVENT_STOP)
		return probe_fail(o, "unexpected wait status 0x%x after PTRACE_INTERRUPT", st);
	return true;
}

/* Wait for the probe's answer on fd, up to the deadline. */
static void probe_collect(int fd, pid_t pid, struct probe_out *out)
{
	uint64_t deadline = now_ns() + PROBE_TIMEOUT_MS * 1000000ULL;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int st, r;

	for (;;) {
		uint64_t now = now_ns();

		if (now >= deadline) {
			probe_fail(out, "timed out after %d s", PROBE_TIMEOUT_MS / 1000);
			return;
		}
		r = poll(&pfd, 1, (deadline - now) / 1000000 + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			probe_errno(out, "poll");
			return;
		}
		if (r > 0)
			break;
	}
	n = read_all(fd, out, sizeof(*out));
	if (n == sizeof(*out)) {
		out->detail[sizeof(out->detail) - 1] = '\0';
		return;
	}
	/* No answer: say how the probe died. */
	if (waitpid(pid, &st, __WALL | WNOHANG) == pid && WIFSIGNALED(st))
		probe_fail(out, "probe crashed: %s", strsignal(WTERMSIG(st)));
	else
		probe_fail(out, "probe exited without an answer");
}

/* Kill the probe's process group and reap everything in it. */
static void probe_reap(pid_t pgid)
{
	/* the leader is not reaped yet, so the group id cannot have been reused */
	(void)kill(-pgid, SIGKILL);
	while (waitpid(-pgid, NULL, __WALL) > 0 || errno == EINTR)
		;
}

static void probe_run(const struct probe *p, struct probe_out *out)
{
	struct probe_out o = {.ok = true};
	int fds[2];
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe2(fds, O_CLOEXEC) < 0) {
		probe_errno(out, "pipe");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		probe_errno(out, "fork");
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != check_owner)
			_exit(1);
		p->fn(&o);
		/* only write and _exit from here: the probe may have unmapped the vdso */
		if (write(fds[1], &o, sizeof(o)) != sizeof(o))
			_exit(1);
		_exit(0);
	}
	/* both sides set the group, so the kill below cannot race the child */
	(void)setpgid(pid, pid);
	close(fds[1]);
	probe_collect(fds[0], pid, out);
	close(fds[0]);
	/* before the kill: a task frozen by the v1 freezer ignores SIGKILL */
	if (p->cleanup)
		p->cleanup();
	probe_reap(pid);
	/* and after: a cgroup can only be removed once its tasks are gone */
	if (p->cleanup)
		p->cleanup();
}

static int print_json(FILE *out, const struct probe_result *r, size_t n, int missing,
		      ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj();
	struct json *arr = json_set(doc, "probes", json_arr());
	cleanup_free char *text = NULL;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		struct json *p = json_push(arr, json_obj());

		json_set(p, "name", json_str(r[i].p->name));
		json_set(p, "required", json_bool(r[i].required));
		json_set(p, "ok", json_bool(r[i].out.ok));
		json_set(p, "detail", json_str(r[i].out.detail));
	}
	json_set(doc, "ok", json_bool(!missing));
	text = json_dump(doc, false, &len);
	if (!text)
		return ckpt_error_msg(err, ENOMEM, "encode JSON");
	if (fwrite(text, 1, len, out) != len || fputc('\n', out) == EOF)
		return ckpt_error(err, errno, "write output");
	return 0;
}

static void print_text(FILE *out, const struct probe_result *r, size_t n, int missing)
{
	for (size_t i = 0; i < n; i++) {
		const struct probe_out *o = &r[i].out;

		fprintf(out, "%-8s %s", o->ok ? "ok" : "missing", r[i].p->name);
		if (o->detail[0])
			fprintf(out, ": %s", o->detail);
		if (!o->ok && !r[i].required && r[i].why_optional)
			fprintf(out, " (not required: %s)", r[i].why_optional);
		else if (!o->ok && !r[i].required)
			fprintf(out, " (not required)");
		fputc('\n', out);
	}
	if (missing)
		fprintf(out, "%d required feature%s missing\n", missing, missing == 1 ? "" : "s");
	else
		fprintf(out, "all required features present\n");
}

/* The two freezers: either one is enough, so the other is then optional. */
static void settle_freezers(struct probe_result *r, size_t n)
{
	struct probe_result *v1 = NULL, *v2 = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(r[i].p->name, "cgroup-freezer"))
			v1 = &r[i];
		else if (!strcmp(r[i].p->name, "cgroup-v2-freeze"))
			v2 = &r[i];
	}
	if (!v1 || !v2 || v1->out.ok == v2->out.ok)
		return;
	if (!v1->out.ok) {
		v1->required = false;
		v1->why_optional = "cgroup v2 freeze works";
	} else {
		v2->required = false;
		v2->why_optional = "the v1 freezer works";
	}
}

/*
 * The probes for the features a bundle needs, before a restore changes
 * anything. CKPT_OCI_PROBE_FAIL=NAME makes probe NAME fail: the tests use
 * it to stand for a host without that feature.
 */
int check_needed(const char *const *names, int n, ckpt_err_t *err)
{
	const char *fake = getenv("CKPT_OCI_PROBE_FAIL");
	int was_reaper = 0, ret = 0;

	check_owner = getpid();
	if (prctl(PR_GET_CHILD_SUBREAPER, &was_reaper) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return ckpt_error(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	for (int k = 0; ret == 0 && k < n; k++) {
		const struct probe *p = NULL;
		struct probe_out o;

		for (size_t i = 0; i < ARRAY_SIZE(probes); i++)
			if (!strcmp(probes[i].name, names[k]))
				p = &probes[i];
		if (!p) {
			ret = ckpt_error_msg(err, EPROTO, "no probe for feature `%s`", names[k]);
			break;
		}
		probe_run(p, &o);
		if (fake && !strcmp(fake, p->name))
			probe_fail(&o, "made to fail by CKPT_OCI_PROBE_FAIL");
		if (!o.ok)
			ret = ckpt_error_msg(err, ENOTSUP,
					     "this host lacks %s, which the bundle "
					     "needs: %s",
					     p->name, o.detail);
		else
			pr_info("%s: %s", p->name, o.detail);
	}
	if (!was_reaper)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 0);
	return ret;
}

int ckpt_check(FILE *out, bool json, ckpt_err_t *err)
{
	struct probe_result r[ARRAY_SIZE(probes)];
	bool root = geteuid() == 0;
	int was_reaper = 0, missing = 0;

	check_owner = getpid();
	if (prctl(PR_GET_CHILD_SUBREAPER, &was_reaper) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return ckpt_error(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		r[i].p = &probes[i];
		r[i].required = probes[i].required;
		r[i].why_optional = probes[i].why_optional;
		if (probes[i].needs_root && !root) {
			r[i].out.ok = false;
			snprintf(r[i].out.detail, sizeof(r[i].out.detail), "needs root");
			continue;
		}
		pr_debug("probe %s", probes[i].name);
		probe_run(&probes[i], &r[i].out);
	}
	if (!was_reaper)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 0);
	settle_freezers(r, ARRAY_SIZE(r));
	for (size_t i = 0; i < ARRAY_SIZE(r); i++)
		missing += r[i].required && !r[i].out.ok;
	if (json) {
		int ret = print_json(out, r, ARRAY_SIZE(r), missing, err);

		if (ret < 0)
			return ret;
	} else {
		if (!root)
			fprintf(out, "not running as root: probes that need root are reported "
				     "missing\n");
		print_text(out, r, ARRAY_SIZE(r), missing);
	}
	if (fflush(out) != 0)
		return ckpt_error(err, errno, "write output");
	return missing ? 1 : 0;
}
