/*
 * libckpt/check/check.h - private to the `ckpt-oci check` probes.
 *
 * Folder libckpt/check/: `ckpt-oci check` and the kernel-feature probes
 * restore runs before it changes anything (a bundle that needs a feature
 * this host lacks is refused). Probes are grouped by what uses them:
 * ptrace, memory, namespaces, network, cgroups, the host.
 *
 * Every probe runs in its own forked child (check.c does the forking, the
 * time limit and the reaping); a probe function fills a struct probe_out
 * and returns. Probes that need a second process (a ptrace target, a task
 * to freeze) create it with check_spawn() and dispose of it with
 * check_kill().
 */
#ifndef CKPT_CHECK_H
#define CKPT_CHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/error.h"

#define PROBE_DETAIL_MAX 240

/* What a probe reports; travels over a pipe, so it stays below PIPE_BUF. */
struct probe_out {
	bool ok;
	char detail[PROBE_DETAIL_MAX];
};

typedef void (*probe_fn)(struct probe_out *o);

/* Set the detail text; probe_fail also clears ok and returns false. */
__attribute__((format(printf, 2, 3))) void probe_detail(struct probe_out *o, const char *fmt, ...);
__attribute__((format(printf, 2, 3))) bool probe_fail(struct probe_out *o, const char *fmt, ...);
/* probe_fail with ": strerror(errno)" appended. */
__attribute__((format(printf, 2, 3))) bool probe_errno(struct probe_out *o, const char *fmt, ...);

/*
 * Fork a helper that runs setup(arg, &val) and then sleeps in pause()
 * until killed. Returns its pid once setup has finished (val is passed
 * back to the caller); -1 with o->detail set when the fork or the setup
 * failed. The helper dies with its parent (PR_SET_PDEATHSIG).
 */
pid_t check_spawn(int (*setup)(void *arg, uint64_t *val), void *arg, uint64_t *val,
		  struct probe_out *o);
/* Run fn in a forked child (e.g. the init of a pid namespace just unshared)
 * and copy its answer into o. */
void check_in_child(void (*fn)(struct probe_out *o, void *arg), void *arg, struct probe_out *o);
/* SIGKILL and reap a helper; safe on -1. */
void check_kill(pid_t pid);
/* Wait for a child to exit and return its exit code, or -1 if it was killed. */
int check_wait_exit(pid_t pid);
/* PTRACE_SEIZE (with options) + PTRACE_INTERRUPT, wait for the group stop. */
bool check_seize_stop(pid_t pid, unsigned long options, struct probe_out *o);

/*
 * restore.c: run the probes named (as `ckpt-oci check` names them); the
 * first that fails is the error, "this host lacks NAME, which the bundle
 * needs: DETAIL".
 */
int check_needed(const char *const *names, int n, ckpt_err_t *err);

/* The pid of the ckpt-oci process running the checks: names its cgroups. */
extern pid_t check_owner;

/* check-ptrace.c */
void probe_ptrace_seize(struct probe_out *o);
void probe_ptrace_xstate(struct probe_out *o);
void probe_ptrace_sigmask(struct probe_out *o);
void probe_ptrace_peeksiginfo(struct probe_out *o);
void probe_ptrace_rseq(struct probe_out *o);
void probe_ptrace_seccomp(struct probe_out *o);
void probe_pidfd_getfd(struct probe_out *o);
void probe_kcmp(struct probe_out *o);
void probe_process_vm_readv(struct probe_out *o);

/* check-mm.c */
void probe_pr_set_mm_map(struct probe_out *o);
void probe_arch_map_vdso(struct probe_out *o);
void probe_uffd_wp_async(struct probe_out *o);
void probe_pagemap_scan(struct probe_out *o);
void probe_soft_dirty(struct probe_out *o);
void probe_madv_guard(struct probe_out *o);
void probe_timer_restore_ids(struct probe_out *o);

/* check-ns.c */
void probe_clone3_set_tid(struct probe_out *o);
void probe_ns_last_pid(struct probe_out *o);
void probe_time_ns(struct probe_out *o);
void probe_namespaces(struct probe_out *o);
void probe_cgroup_freezer(struct probe_out *o);
void probe_cgroup_v2_freeze(struct probe_out *o);
/* Run in the checking process after a cgroup probe, even a killed one. */
void check_cgroup_cleanup(void);

/* check-net.c */
void probe_tcp_repair(struct probe_out *o);
void probe_sock_diag_unix(struct probe_out *o);
void probe_sock_diag_inet(struct probe_out *o);

/* check-host.c */
void probe_capabilities(struct probe_out *o);
void probe_runtimes(struct probe_out *o);
void probe_io_uring(struct probe_out *o);

#endif
