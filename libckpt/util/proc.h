/*
 * libckpt/util/proc.h - /proc parsers the engine shares: stat, status, one
 * maps line, the thread list and a thread's children.
 *
 * Each parser has a buffer form (proc_parse_*: text in, struct out; what
 * the unit tests drive) and a file form taking a dirfd of /proc/PID that
 * reads the file and calls the buffer form.
 */
#ifndef CKPT_PROC_H
#define CKPT_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/error.h"

#define PROC_COMM_MAX  64
#define PROC_NSPID_MAX 32

struct proc_stat {
	pid_t pid;
	char comm[PROC_COMM_MAX]; /* without the parentheses */
	char state;
	pid_t ppid, pgid, sid;
	int tty_nr;
	unsigned int flags;
	long num_threads;
	unsigned long long starttime; /* clock ticks after boot */
	unsigned long vsize;	      /* bytes */
	long rss;		      /* pages */
	unsigned long start_code, end_code, start_stack;
	int exit_signal;
	unsigned long start_data, end_data, start_brk;
	unsigned long arg_start, arg_end, env_start, env_end;
	int exit_code;
};

struct proc_status {
	char state;
	pid_t tgid;
	uid_t uid[4]; /* real, effective, saved, fs */
	gid_t gid[4];
	gid_t *groups; /* malloc'd; free with proc_status_free() */
	int ngroups;
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	bool nonewprivs;
	int seccomp;	     /* 0 off, 1 strict, 2 filter */
	int seccomp_filters; /* -1 when the kernel does not say */
	uint64_t sig_pnd, shd_pnd, sig_blk, sig_ign, sig_cgt;
	unsigned int umask;	     /* -1U when the kernel does not say */
	pid_t nspid[PROC_NSPID_MAX]; /* outermost first, as in NSpid */
	int nspid_count;
};

struct proc_vma {
	uint64_t start, end;
	int prot;    /* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared; /* 's' rather than 'p' */
	uint64_t pgoff;
	unsigned int dev_major, dev_minor;
	uint64_t ino;
	char path[4096]; /* may be empty, [heap], or end in " (deleted)" */
};

int proc_parse_stat(const char *buf, struct proc_stat *st, ckpt_err_t *err);
int proc_read_stat(int procfd, struct proc_stat *st, ckpt_err_t *err);

int proc_parse_status(const char *buf, struct proc_status *st, ckpt_err_t *err);
int proc_read_status(int procfd, struct proc_status *st, ckpt_err_t *err);
void proc_status_free(struct proc_status *st);

/* One line of /proc/PID/maps, with or without its trailing newline. */
int proc_parse_maps_line(const char *line, struct proc_vma *vma, ckpt_err_t *err);

/*
 * The id of a process or thread in its innermost pid namespace (the last
 * NSpid entry of dirfd/path/status; path is e.g. "task/12" or "/proc/12").
 * -1 when it cannot be read (gone, or a zombie leader without task dir).
 */
pid_t proc_ns_pid(int dirfd, const char *path);

/*
 * Where our mount namespace mounts the root of a cgroup hierarchy: v1 with
 * controllers among its options ("cpu", "cpu,cpuacct", "name=systemd"),
 * or v2 for "". malloc'd; NULL when not mounted.
 */
char *proc_cgroup_mount(const char *controllers);

/* Parse a whitespace-separated list of pids ("children" files). */
int proc_parse_pid_list(const char *buf, pid_t **out, int *n, ckpt_err_t *err);
/* Thread ids under /proc/PID/task, ascending. *out is malloc'd. */
int proc_list_threads(int procfd, pid_t **out, int *n, ckpt_err_t *err);
/* Children of thread tid (task/TID/children). *out is malloc'd. */
int proc_list_children(int procfd, pid_t tid, pid_t **out, int *n, ckpt_err_t *err);

#endif
