/*
 * libckpt/util/proc.h - every /proc parser of the project: stat, status,
 * maps, the thread list and a thread's children (proc.c); mountinfo and
 * cgroup (proc-mount.c); fdinfo and its per-kind lines (proc-fdinfo.c);
 * limits, timers and cmdline (proc-task.c); cpuinfo and net/tcp, tcp6
 * (proc-host.c).
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
#include <time.h>

#include "ckpt/error.h"

#define PROC_COMM_MAX  64
#define PROC_NSPID_MAX 32

struct proc_stat {
	pid_t pid;
	char comm[PROC_COMM_MAX]; /* without the parentheses */
	char state;
	pid_t ppid, pgid, sid;
	int tty_nr;
	pid_t tpgid; /* foreground group of its controlling terminal, -1: none */
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
	pid_t tracer;		     /* TracerPid: 0 when not traced */
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
	char path[4096];   /* may be empty, [heap], or end in " (deleted)" */
	char vmflags[256]; /* smaps only: "rd wr mr mw me ac sd" */
};

int proc_parse_stat(const char *buf, struct proc_stat *st, ckpt_err_t *err);
int proc_read_stat(int procfd, struct proc_stat *st, ckpt_err_t *err);

int proc_parse_status(const char *buf, struct proc_status *st, ckpt_err_t *err);
int proc_read_status(int procfd, struct proc_status *st, ckpt_err_t *err);
void proc_status_free(struct proc_status *st);

/* One line of /proc/PID/maps, with or without its trailing newline. */
int proc_parse_maps_line(const char *line, struct proc_vma *vma, ckpt_err_t *err);

/*
 * Every VMA of a maps text, in order: fn(vma, arg, err) for each; a
 * non-zero return of fn ends the walk and is returned. smaps: the text is
 * /proc/PID/smaps, fn sees each VMA once its VmFlags line is read. Plain
 * buffer parsing allocates nothing and calls nothing that goes through
 * the vdso (`check` parses its maps while its vdso is unmapped).
 */
int proc_parse_maps(const char *buf, bool smaps,
		    int (*fn)(const struct proc_vma *v, void *arg, ckpt_err_t *err), void *arg,
		    ckpt_err_t *err);
/* The same, read line by line from dirfd/path ("maps", "smaps", "/proc/self/maps"). */
int proc_read_maps(int dirfd, const char *path,
		   int (*fn)(const struct proc_vma *v, void *arg, ckpt_err_t *err), void *arg,
		   ckpt_err_t *err);
/* The VMA whose path is name ("[vdso]") in dirfd/path: 1 found (in *v), 0 none, -errno. */
int proc_maps_find(int dirfd, const char *path, const char *name, struct proc_vma *v,
		   ckpt_err_t *err);

/*
 * The id of a process or thread in its innermost pid namespace (the last
 * NSpid entry of dirfd/path/status; path is e.g. "task/12" or "/proc/12").
 * -1 when it cannot be read (gone, or a zombie leader without task dir).
 */
pid_t proc_ns_pid(int dirfd, const char *path);

/* Parse a whitespace-separated list of pids ("children" files). */
int proc_parse_pid_list(const char *buf, pid_t **out, int *n, ckpt_err_t *err);
/* Thread ids under /proc/PID/task: the leader, then the others ascending. *out is malloc'd. */
int proc_list_threads(int procfd, pid_t **out, int *n, ckpt_err_t *err);
/* Children of thread tid (task/TID/children). *out is malloc'd. */
int proc_list_children(int procfd, pid_t tid, pid_t **out, int *n, ckpt_err_t *err);

/* ---- proc-mount.c: mountinfo and cgroup -------------------------------- */

/* One line of /proc/PID/mountinfo, octal escapes undone. */
struct proc_mount {
	int id, parent;
	unsigned int major, minor;
	char *root;	  /* path inside the filesystem */
	char *mountpoint; /* relative to the reader's root */
	char *options;	  /* per-mount: rw,nosuid,relatime... */
	char *optional;	  /* shared:N master:N ..., space separated */
	char *fstype;
	char *source;
	char *super; /* superblock options */
};

int proc_parse_mountinfo(const char *buf, struct proc_mount **out, int *n, ckpt_err_t *err);
/* dirfd/path: a /proc/PID dirfd and "mountinfo", or AT_FDCWD and a path. */
int proc_read_mountinfo(int dirfd, const char *path, struct proc_mount **out, int *n,
			ckpt_err_t *err);
void proc_mounts_free(struct proc_mount *m, int n);
/* The number after TAG: in the optional fields ("shared", "master"), or 0. */
int proc_mount_tag(const struct proc_mount *m, const char *tag);

/*
 * Where a cgroup hierarchy's root is mounted: v1 with every one of the
 * comma-separated controllers among its superblock options ("freezer",
 * "cpu,cpuacct", "name=systemd"), or v2 for "". The first such mount of
 * m, or NULL. proc_cgroup_mount() asks our own mount namespace and
 * returns a malloc'd mount point. The freezer at dump and `ckpt-oci
 * check` both find the freezer this way.
 */
const struct proc_mount *proc_cgroup_mount_in(const struct proc_mount *m, int n,
					      const char *controllers);
char *proc_cgroup_mount(const char *controllers);

/* One line of /proc/PID/cgroup. */
struct proc_cgroup {
	int id;		   /* hierarchy id; 0 for v2 */
	char *controllers; /* "cpu,cpuacct", "name=systemd"; "" for v2 */
	char *path;	   /* relative to the reader's cgroup namespace */
};

int proc_parse_cgroup(const char *buf, struct proc_cgroup **out, int *n, ckpt_err_t *err);
int proc_read_cgroup(int dirfd, const char *path, struct proc_cgroup **out, int *n,
		     ckpt_err_t *err);
void proc_cgroups_free(struct proc_cgroup *v, int n);
/* The hierarchy holding every one of controllers (v2 for ""), or NULL. */
const struct proc_cgroup *proc_cgroup_find(const struct proc_cgroup *v, int n,
					   const char *controllers);
/*
 * The hierarchy a cgroup or cgroup2 mount with superblock options super
 * shows (every controller of it among those options), or NULL.
 */
const struct proc_cgroup *proc_cgroup_of_mount(const struct proc_cgroup *v, int n,
					       const char *fstype, const char *super);
/*
 * The line whose controllers are exactly ctl ("cpu,cpuacct", "" for v2),
 * as cgroup.json names a hierarchy, or NULL.
 */
const struct proc_cgroup *proc_cgroup_named(const struct proc_cgroup *v, int n, const char *ctl);
/* pid's (0: our own) cgroup path in the hierarchy of controllers; malloc'd or NULL. */
char *proc_cgroup_path(pid_t pid, const char *controllers);
/* pid's (0: our own) cgroup path in the hierarchy a cgroup mount shows; malloc'd or NULL. */
char *proc_cgroup_path_for_mount(pid_t pid, const char *fstype, const char *super);

/* ---- proc-fdinfo.c: /proc/PID/fdinfo/N ---------------------------------- */

/* Value of the line "key:" (at a line start) as a number in base; def when absent. */
long long proc_fdinfo_num(const char *text, const char *key, int base, long long def);

/* The lines every fd has. */
struct proc_fdinfo {
	long long pos;
	unsigned int flags; /* O_* as the kernel shows them (octal), O_CLOEXEC included */
	int mnt_id;	    /* -1 when the kernel does not say */
};
int proc_parse_fdinfo(const char *text, struct proc_fdinfo *fi, ckpt_err_t *err);

/* A "lock:" line: a lock held through the fd ("->" waiters are left out). */
struct proc_lock {
	char kind[16]; /* POSIX, FLOCK, OFDLCK, ... */
	char mode[16]; /* ADVISORY, MANDATORY */
	bool write;
	pid_t pid; /* the owner (POSIX) as the reader's namespace shows it */
	long long start;
	long long end; /* -1: to EOF */
};
/* *out malloc'd (NULL when none). */
int proc_parse_locks(const char *text, struct proc_lock **out, int *n, ckpt_err_t *err);

/* epoll: one "tfd:" line per watched fd. */
struct proc_epoll_tfd {
	int tfd;
	uint32_t events;
	uint64_t data;
	uint64_t ino; /* of the watched file, to check the fd still names it */
};
int proc_parse_epoll(const char *text, struct proc_epoll_tfd **out, int *n, ckpt_err_t *err);

/* f_handle in hex: at most MAX_HANDLE_SZ (128) bytes, two digits each. */
#define PROC_FHANDLE_HEX      260
#define PROC_FHANDLE_HEX_SCAN "259"

/* inotify: one "inotify wd:" line per watch. */
struct proc_inotify_mark {
	unsigned int wd, mask;
	unsigned long sdev; /* the kernel's dev_t encoding (major << 20 | minor) */
	unsigned int fh_type;
	char fhandle[PROC_FHANDLE_HEX];
};
int proc_parse_inotify(const char *text, struct proc_inotify_mark **out, int *n, ckpt_err_t *err);

/* fanotify: its init flags and one mark per "fanotify ..." line after them. */
enum proc_fanotify_kind {
	PROC_FANOTIFY_UNKNOWN,
	PROC_FANOTIFY_INODE,
	PROC_FANOTIFY_MOUNT,
	PROC_FANOTIFY_FILESYSTEM,
};
struct proc_fanotify_mark {
	enum proc_fanotify_kind kind;
	unsigned long sdev; /* inode and filesystem marks */
	int mnt_id;	    /* mount marks */
	unsigned int mflags, mask, ignored_mask;
	unsigned int fh_type; /* inode marks */
	char fhandle[PROC_FHANDLE_HEX];
};
struct proc_fanotify {
	unsigned int flags, event_flags;
	struct proc_fanotify_mark *marks; /* malloc'd; proc_fanotify_free() */
	int nmarks;
};
int proc_parse_fanotify(const char *text, struct proc_fanotify *f, ckpt_err_t *err);
void proc_fanotify_free(struct proc_fanotify *f);

/* timerfd: clock, unread expirations, the time left and the period. */
struct proc_timerfd {
	int clockid;
	uint64_t ticks;
	unsigned int settime_flags;
	struct timespec value, interval; /* it_value is relative */
};
int proc_parse_timerfd(const char *text, struct proc_timerfd *t, ckpt_err_t *err);

struct proc_eventfd {
	uint64_t count;
	bool semaphore;
};
int proc_parse_eventfd(const char *text, struct proc_eventfd *e, ckpt_err_t *err);
/* a pty master (/dev/ptmx): its "tty-index", -1 when absent or out of range */
int proc_parse_tty_index(const char *text);
/* signalfd: its "sigmask:" */
int proc_parse_signalfd(const char *text, uint64_t *sigmask, ckpt_err_t *err);
/*
 * pidfd: its "Pid:" in the reader's namespace: -1 when the process is gone
 * (reaped), 0 when it is outside that namespace (or the line is missing).
 */
pid_t proc_parse_pidfd(const char *text);

/* ---- proc-task.c: limits, timers, cmdline, fd links --------------------- */

/* One line of /proc/PID/limits: RLIM_INFINITY for "unlimited". */
struct proc_limit {
	uint64_t soft, hard;
};
/* The limits in RLIMIT_* order (the file's), at most max of them: *n. */
int proc_parse_limits(const char *text, struct proc_limit *out, int max, int *n, ckpt_err_t *err);

/* /proc/PID/timens_offsets: its time namespace's offsets; a clock not listed is 0. */
struct proc_timens {
	long long mono_s, boot_s;
	long mono_ns, boot_ns;
};
int proc_parse_timens_offsets(const char *text, struct proc_timens *out, ckpt_err_t *err);

/* One POSIX timer of /proc/PID/timers; what its lines did not say is absent (has_*). */
struct proc_timer {
	int id;
	bool has_signal, has_notify, has_clock;
	int signo;
	uint64_t sigval;
	char notify[16];    /* "signal", "thread", "none" */
	bool notify_thread; /* the target is a thread ("tid"), not a process ("pid") */
	pid_t notify_pid;   /* as the reader's pid namespace numbers it */
	int clock;
};
/* One per "ID:" line, in the file's order; *out malloc'd (NULL when none). */
int proc_parse_timers(const char *text, struct proc_timer **out, int *n, ckpt_err_t *err);

/*
 * /proc/PID/cmdline (len bytes, NUL-separated): the first non-empty value
 * of option name given Go's way ("--NAME=V", "-NAME=V", "--NAME V" or
 * "-NAME V"), pointing into cmd; NULL when none.
 */
const char *proc_cmdline_option(const char *cmd, size_t len, const char *name);

/*
 * The target of a /proc/PID/fd link to an inode of type ("socket",
 * "net", "pipe"): exactly "TYPE:[INO]", its inode in *ino; false for any
 * other.
 */
bool proc_parse_fd_link(const char *link, const char *type, unsigned long long *ino);

/* ---- proc-host.c: cpuinfo, net/tcp -------------------------------------- */

/* The first "model name" of a cpuinfo text into out: false when it has none. */
bool proc_parse_cpu_model(const char *text, char *out, size_t size);
/* This host's CPU model, "unknown" when cpuinfo names none (read up to the first). */
void proc_cpu_model(char *out, size_t size);

/* One socket of /proc/PID/net/tcp or tcp6. */
struct proc_tcp_sock {
	uint8_t local[16], peer[16]; /* raw words as the kernel prints them */
	uint16_t lport, pport;
	unsigned int state; /* TCP_ESTABLISHED 1 ... TCP_CLOSE 7, TCP_LISTEN 10 */
	unsigned long inode;
};
/* A socket line (family AF_INET for tcp, AF_INET6 for tcp6): false for any other. */
bool proc_parse_tcp_line(const char *line, int family, struct proc_tcp_sock *s);
/*
 * Every socket of /proc/PID/net/FILE ("tcp", "tcp6"): fn(s, arg, err) for
 * each; a non-zero return of fn ends the walk and is returned. 0 when the
 * file does not exist (no IPv6).
 */
int proc_read_tcp(pid_t pid, const char *file, int family,
		  int (*fn)(const struct proc_tcp_sock *s, void *arg, ckpt_err_t *err), void *arg,
		  ckpt_err_t *err);

#endif
