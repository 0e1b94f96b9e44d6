/*
 * libckpt/util/proc-fdinfo.c - /proc/PID/fdinfo/N: the lines every fd has
 * (pos, flags, mnt_id), the file locks held through it ("lock:"), and the
 * lines of each anonymous-inode kind the fd table dumps: epoll ("tfd:"),
 * inotify ("inotify wd:"), fanotify ("fanotify flags:" and its marks),
 * timerfd, eventfd, signalfd and pidfd. Each parser takes the whole text
 * and fills a small struct; what to do with it stays in files/.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/proc.h"
#include "util/util.h"

/* The line starting with "key:" (at a line start), or NULL. */
static const char *line_of(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, kl) && p[kl] == ':')
			return p;
	return NULL;
}

long long proc_fdinfo_num(const char *text, const char *key, int base, long long def)
{
	const char *p = line_of(text, key);

	return p ? strtoll(p + strlen(key) + 1, NULL, base) : def;
}

int proc_parse_fdinfo(const char *text, struct proc_fdinfo *fi, ckpt_err_t *err)
{
	const char *p;

	memset(fi, 0, sizeof(*fi));
	p = strstr(text, "pos:");
	fi->pos = p ? strtoll(p + 4, NULL, 10) : 0;
	p = strstr(text, "flags:");
	fi->flags = p ? strtoul(p + 6, NULL, 8) : 0;
	fi->mnt_id = proc_fdinfo_num(text, "mnt_id", 10, -1);
	return 0;
}

int proc_parse_locks(const char *text, struct proc_lock **out, int *n, ckpt_err_t *err)
{
	struct proc_lock *v = NULL, *l;
	int cnt = 0;

	for (const char *p = strstr(text, "lock:"); p; p = strstr(p + 1, "lock:")) {
		char kind[16], mode[16], type[16], end[32];
		long long pid, start;

		/* "lock:\t1: POSIX  ADVISORY  WRITE 10607 fe:00:123 0 EOF"; "->" are waiters */
		if (sscanf(p, "lock: %*d: %15s %15s %15s %lld %*s %lld %31s", kind, mode, type,
			   &pid, &start, end) != 6)
			continue;
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		l = &v[cnt++];
		snprintf(l->kind, sizeof(l->kind), "%s", kind);
		snprintf(l->mode, sizeof(l->mode), "%s", mode);
		l->write = !strcmp(type, "WRITE");
		l->pid = pid;
		l->start = start;
		l->end = strcmp(end, "EOF") ? strtoll(end, NULL, 10) : -1;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int proc_parse_epoll(const char *text, struct proc_epoll_tfd **out, int *n, ckpt_err_t *err)
{
	cleanup_free struct proc_epoll_tfd *v = NULL;
	struct proc_epoll_tfd *t;
	int cnt = 0;

	for (const char *p = strstr(text, "tfd:"); p; p = strstr(p + 1, "tfd:")) {
		unsigned long long ev, data, ino;
		int tfd;

		if (sscanf(p, "tfd: %d events: %llx data: %llx pos:%*d ino:%llx", &tfd, &ev, &data,
			   &ino) != 4)
			return ckpt_error_msg(err, EPROTO, "epoll fdinfo: bad line `%.60s`", p);
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		t = &v[cnt++];
		t->tfd = tfd;
		t->events = ev;
		t->data = data;
		t->ino = ino;
	}
	*out = steal_pointer(&v);
	*n = cnt;
	return 0;
}

int proc_parse_inotify(const char *text, struct proc_inotify_mark **out, int *n, ckpt_err_t *err)
{
	cleanup_free struct proc_inotify_mark *v = NULL;
	int cnt = 0;

	for (const char *p = strstr(text, "inotify wd:"); p; p = strstr(p + 1, "inotify wd:")) {
		struct proc_inotify_mark x = {0};

		if (sscanf(p,
			   "inotify wd:%u ino:%*x sdev:%lx mask:%x ignored_mask:%*x "
			   "fhandle-bytes:%*x fhandle-type:%x f_handle:%" PROC_FHANDLE_HEX_SCAN "s",
			   &x.wd, &x.sdev, &x.mask, &x.fh_type, x.fhandle) != 5)
			return ckpt_error_msg(err, EPROTO, "inotify fdinfo: bad line `%.60s`", p);
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt++] = x;
	}
	*out = steal_pointer(&v);
	*n = cnt;
	return 0;
}

/* One "fanotify ..." mark line (NUL-terminated). */
static void fanotify_mark(const char *line, struct proc_fanotify_mark *m)
{
	if (sscanf(line,
		   "fanotify ino:%*x sdev:%lx mflags:%x mask:%x ignored_mask:%x "
		   "fhandle-bytes:%*x fhandle-type:%x f_handle:%" PROC_FHANDLE_HEX_SCAN "s",
		   &m->sdev, &m->mflags, &m->mask, &m->ignored_mask, &m->fh_type, m->fhandle) == 6)
		m->kind = PROC_FANOTIFY_INODE;
	else if (sscanf(line, "fanotify mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &m->mnt_id,
			&m->mflags, &m->mask, &m->ignored_mask) == 4)
		m->kind = PROC_FANOTIFY_MOUNT;
	else if (sscanf(line, "fanotify sdev:%lx mflags:%x mask:%x ignored_mask:%x", &m->sdev,
			&m->mflags, &m->mask, &m->ignored_mask) == 4)
		m->kind = PROC_FANOTIFY_FILESYSTEM;
	else
		m->kind = PROC_FANOTIFY_UNKNOWN;
}

int proc_parse_fanotify(const char *text, struct proc_fanotify *f, ckpt_err_t *err)
{
	const char *p = strstr(text, "fanotify flags:");

	memset(f, 0, sizeof(*f));
	if (!p || sscanf(p, "fanotify flags:%x event-flags:%x", &f->flags, &f->event_flags) != 2)
		return ckpt_error_msg(err, EPROTO, "fanotify fdinfo: no flags");
	/* the marks follow the flags line, one "fanotify ..." line each */
	for (p = strchr(p, '\n'); p && p[1]; p = strchr(p + 1, '\n')) {
		cleanup_free char *line = xstrdup(p + 1);

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "fanotify ", 9))
			continue;
		f->marks = xrealloc(f->marks, (f->nmarks + 1) * sizeof(*f->marks));
		memset(&f->marks[f->nmarks], 0, sizeof(*f->marks));
		fanotify_mark(line, &f->marks[f->nmarks++]);
	}
	return 0;
}

void proc_fanotify_free(struct proc_fanotify *f)
{
	free(f->marks);
	f->marks = NULL;
	f->nmarks = 0;
}

/* "key: (sec, nsec)" */
static int timerfd_pair(const char *text, const char *key, struct timespec *ts, ckpt_err_t *err)
{
	const char *p = strstr(text, key);
	long long s, ns;

	if (!p || sscanf(p + strlen(key), ": (%lld, %lld)", &s, &ns) != 2)
		return ckpt_error_msg(err, EPROTO, "timerfd fdinfo without %s", key);
	ts->tv_sec = s;
	ts->tv_nsec = ns;
	return 0;
}

int proc_parse_timerfd(const char *text, struct proc_timerfd *t, ckpt_err_t *err)
{
	int ret;

	memset(t, 0, sizeof(*t));
	t->clockid = proc_fdinfo_num(text, "clockid", 10, 1);
	t->ticks = proc_fdinfo_num(text, "ticks", 10, 0);
	t->settime_flags = proc_fdinfo_num(text, "settime flags", 8, 0);
	ret = timerfd_pair(text, "it_value", &t->value, err);
	if (ret == 0)
		ret = timerfd_pair(text, "it_interval", &t->interval, err);
	return ret;
}

int proc_parse_eventfd(const char *text, struct proc_eventfd *e, ckpt_err_t *err)
{
	const char *p = line_of(text, "eventfd-count");

	memset(e, 0, sizeof(*e));
	if (!p)
		return ckpt_error_msg(err, EPROTO, "no eventfd-count in fdinfo");
	e->count = strtoull(p + strlen("eventfd-count:"), NULL, 16);
	e->semaphore = proc_fdinfo_num(text, "eventfd-semaphore", 10, 0) != 0;
	return 0;
}

int proc_parse_tty_index(const char *text)
{
	long long idx = proc_fdinfo_num(text, "tty-index", 10, -1);

	return idx >= 0 && idx < (1 << 20) ? (int)idx : -1;
}

int proc_parse_signalfd(const char *text, uint64_t *sigmask, ckpt_err_t *err)
{
	const char *p = strstr(text, "sigmask:");

	if (!p)
		return ckpt_error_msg(err, EPROTO, "no sigmask in fdinfo");
	*sigmask = strtoull(p + 8, NULL, 16);
	return 0;
}

pid_t proc_parse_pidfd(const char *text)
{
	long long pid = proc_fdinfo_num(text, "Pid", 10, 0);

	return pid >= -1 && pid <= INT32_MAX ? (pid_t)pid : 0;
}
