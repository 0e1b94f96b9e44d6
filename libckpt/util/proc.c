/*
 * libckpt/util/proc.c - parsers for /proc/PID/{stat,status,maps}, the thread
 * list and task/TID/children. Buffer parsers do the work (unit-tested on
 * fixed samples); the readers only fetch the text through a /proc/PID dirfd.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "util/proc.h"
#include "util/util.h"

#define PROC_FILE_MAX (1u << 20)
#define STAT_FIELDS   52

/* Parse one unsigned decimal (or, with base 16/8, other) token; advance *p. */
static int next_num(const char **p, int base, unsigned long long *out)
{
	const char *s = *p;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '\n')
		return -1;
	errno = 0;
	/* strtoull accepts "-1" and wraps: stat has signed fields too */
	*out = strtoull(s, &end, base);
	if (end == s || errno)
		return -1;
	*p = end;
	return 0;
}

int proc_parse_stat(const char *buf, struct proc_stat *st, ckpt_err_t *err)
{
	unsigned long long f[STAT_FIELDS + 1] = {0};
	const char *open, *close, *p;
	size_t clen;
	int n;

	memset(st, 0, sizeof(*st));
	open = strchr(buf, '(');
	/* comm may hold spaces and ')': the last ')' ends it */
	close = strrchr(buf, ')');
	if (!open || !close || close < open || close[1] != ' ' || !close[2])
		return ckpt_error_msg(err, EPROTO, "stat: cannot find comm");
	st->pid = strtol(buf, NULL, 10);
	clen = MIN((size_t)(close - open - 1), sizeof(st->comm) - 1);
	memcpy(st->comm, open + 1, clen);
	st->state = close[2];
	p = close + 3;
	for (n = 4; n <= STAT_FIELDS; n++)
		if (next_num(&p, 10, &f[n]) < 0)
			break;
	/* fields up to start_stack (28) exist on every kernel we support */
	if (n <= 28)
		return ckpt_error_msg(err, EPROTO, "stat: only %d fields", n - 1);
	st->ppid = f[4];
	st->pgid = f[5];
	st->sid = f[6];
	st->tty_nr = f[7];
	st->tpgid = (pid_t)f[8];
	st->flags = f[9];
	st->num_threads = f[20];
	st->starttime = f[22];
	st->vsize = f[23];
	st->rss = f[24];
	st->start_code = f[26];
	st->end_code = f[27];
	st->start_stack = f[28];
	st->exit_signal = f[38];
	st->start_data = f[45];
	st->end_data = f[46];
	st->start_brk = f[47];
	st->arg_start = f[48];
	st->arg_end = f[49];
	st->env_start = f[50];
	st->env_end = f[51];
	st->exit_code = f[52];
	return 0;
}

int proc_read_stat(int procfd, struct proc_stat *st, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	int ret;

	ret = read_file_at(procfd, "stat", PROC_FILE_MAX, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return proc_parse_stat(buf, st, err);
}

/* Up to max numbers from the rest of a line; returns how many. */
static int num_list(const char *p, int base, unsigned long long *out, int max)
{
	int n = 0;

	while (n < max && next_num(&p, base, &out[n]) == 0)
		n++;
	return n;
}

static int status_ids(const char *v, unsigned int ids[4], const char *key, ckpt_err_t *err)
{
	unsigned long long x[4];

	if (num_list(v, 10, x, 4) != 4)
		return ckpt_error_msg(err, EPROTO, "status: bad %s line", key);
	for (int i = 0; i < 4; i++)
		ids[i] = x[i];
	return 0;
}

static int status_groups(const char *v, struct proc_status *st)
{
	unsigned long long g;
	const char *p = v;

	free(st->groups);
	st->groups = NULL;
	st->ngroups = 0;
	while (next_num(&p, 10, &g) == 0) {
		st->groups = xrealloc(st->groups, (st->ngroups + 1) * sizeof(gid_t));
		st->groups[st->ngroups++] = g;
	}
	return 0;
}

static uint64_t hexnum(const char *v)
{
	unsigned long long x = 0;

	next_num(&v, 16, &x);
	return x;
}

static uint64_t decnum(const char *v)
{
	unsigned long long x = 0;

	next_num(&v, 10, &x);
	return x;
}

/* One "Key:\tvalue" line; unknown keys are ignored. */
static int status_line(const char *key, size_t klen, const char *v, struct proc_status *st,
		       ckpt_err_t *err)
{
	unsigned long long ns[PROC_NSPID_MAX];
#define IS(k) (klen == sizeof(k) - 1 && !memcmp(key, k, klen))
	if (IS("State")) {
		while (*v == ' ' || *v == '\t')
			v++;
		st->state = *v;
	} else if (IS("Tgid")) {
		st->tgid = decnum(v);
	} else if (IS("Uid")) {
		return status_ids(v, st->uid, "Uid", err);
	} else if (IS("Gid")) {
		return status_ids(v, st->gid, "Gid", err);
	} else if (IS("Groups")) {
		return status_groups(v, st);
	} else if (IS("CapInh")) {
		st->cap_inh = hexnum(v);
	} else if (IS("CapPrm")) {
		st->cap_prm = hexnum(v);
	} else if (IS("CapEff")) {
		st->cap_eff = hexnum(v);
	} else if (IS("CapBnd")) {
		st->cap_bnd = hexnum(v);
	} else if (IS("CapAmb")) {
		st->cap_amb = hexnum(v);
	} else if (IS("NoNewPrivs")) {
		st->nonewprivs = decnum(v) != 0;
	} else if (IS("Seccomp")) {
		st->seccomp = decnum(v);
	} else if (IS("Seccomp_filters")) {
		st->seccomp_filters = decnum(v);
	} else if (IS("SigPnd")) {
		st->sig_pnd = hexnum(v);
	} else if (IS("ShdPnd")) {
		st->shd_pnd = hexnum(v);
	} else if (IS("SigBlk")) {
		st->sig_blk = hexnum(v);
	} else if (IS("SigIgn")) {
		st->sig_ign = hexnum(v);
	} else if (IS("SigCgt")) {
		st->sig_cgt = hexnum(v);
	} else if (IS("TracerPid")) {
		st->tracer = decnum(v);
	} else if (IS("Umask")) {
		st->umask = strtoul(v, NULL, 8);
	} else if (IS("NSpid")) {
		st->nspid_count = num_list(v, 10, ns, PROC_NSPID_MAX);
		for (int i = 0; i < st->nspid_count; i++)
			st->nspid[i] = ns[i];
	}
#undef IS
	return 0;
}

int proc_parse_status(const char *buf, struct proc_status *st, ckpt_err_t *err)
{
	const char *line = buf, *colon, *eol;
	bool have_uid = false, have_gid = false;
	char val[4096];
	int ret;

	memset(st, 0, sizeof(*st));
	st->seccomp_filters = -1;
	st->umask = -1U;
	for (; *line; line = *eol ? eol + 1 : eol) {
		eol = strchrnul(line, '\n');
		colon = memchr(line, ':', eol - line);
		if (!colon)
			continue;
		/* copy the value so each field parser sees one NUL-terminated line */
		snprintf(val, sizeof(val), "%.*s", (int)(eol - colon - 1), colon + 1);
		ret = status_line(line, colon - line, val, st, err);
		if (ret < 0) {
			proc_status_free(st);
			return ret;
		}
		have_uid |= colon - line == 3 && !memcmp(line, "Uid", 3);
		have_gid |= colon - line == 3 && !memcmp(line, "Gid", 3);
	}
	if (!have_uid || !have_gid || !st->state) {
		proc_status_free(st);
		return ckpt_error_msg(err, EPROTO, "status: State, Uid or Gid missing");
	}
	return 0;
}

int proc_read_status(int procfd, struct proc_status *st, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	int ret;

	ret = read_file_at(procfd, "status", PROC_FILE_MAX, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return proc_parse_status(buf, st, err);
}

void proc_status_free(struct proc_status *st)
{
	if (!st)
		return;
	free(st->groups);
	st->groups = NULL;
	st->ngroups = 0;
}

int proc_parse_maps_line(const char *line, struct proc_vma *vma, ckpt_err_t *err)
{
	char perms[5];
	int off = 0;
	size_t len;

	memset(vma, 0, sizeof(*vma));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 "%n", &vma->start,
		   &vma->end, perms, &vma->pgoff, &vma->dev_major, &vma->dev_minor, &vma->ino,
		   &off) != 7 ||
	    !off || strlen(perms) != 4 || vma->end < vma->start)
		return ckpt_error_msg(err, EPROTO, "maps: bad line `%.80s`", line);
	vma->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		    (perms[2] == 'x' ? PROT_EXEC : 0);
	vma->shared = perms[3] == 's';
	line += off;
	/* the kernel pads with spaces up to the path column */
	while (*line == ' ')
		line++;
	len = strcspn(line, "\n");
	if (len >= sizeof(vma->path))
		return ckpt_error_msg(err, ENAMETOOLONG, "maps: path too long");
	memcpy(vma->path, line, len);
	vma->path[len] = '\0';
	return 0;
}

struct maps_walk {
	bool smaps, have;
	struct proc_vma v;
	int (*fn)(const struct proc_vma *v, void *arg, ckpt_err_t *err);
	void *arg;
};

/* One line of maps or smaps; the VMA goes to fn once complete. */
static int maps_walk_line(struct maps_walk *w, const char *line, ckpt_err_t *err)
{
	size_t len;
	int ret;

	if (w->smaps && !strncmp(line, "VmFlags:", 8)) {
		line += 8 + strspn(line + 8, " ");
		len = MIN(strcspn(line, "\n"), sizeof(w->v.vmflags) - 1);
		memcpy(w->v.vmflags, line, len);
		w->v.vmflags[len] = '\0';
		if (!w->have)
			return 0;
		w->have = false;
		return w->fn(&w->v, w->arg, err);
	}
	/* smaps' header lines start with a hex address followed by '-' */
	if (w->smaps && line[strspn(line, "0123456789abcdef")] != '-')
		return 0;
	if (!*line || *line == '\n')
		return 0;
	ret = proc_parse_maps_line(line, &w->v, err);
	if (ret < 0)
		return ret;
	if (w->smaps) {
		w->have = true;
		return 0;
	}
	return w->fn(&w->v, w->arg, err);
}

int proc_parse_maps(const char *buf, bool smaps,
		    int (*fn)(const struct proc_vma *v, void *arg, ckpt_err_t *err), void *arg,
		    ckpt_err_t *err)
{
	struct maps_walk w = {.smaps = smaps, .fn = fn, .arg = arg};
	int ret;

	for (const char *line = buf, *eol; *line; line = *eol ? eol + 1 : eol) {
		eol = strchrnul(line, '\n');
		ret = maps_walk_line(&w, line, err);
		if (ret)
			return ret;
	}
	return 0;
}

int proc_read_maps(int dirfd, const char *path,
		   int (*fn)(const struct proc_vma *v, void *arg, ckpt_err_t *err), void *arg,
		   ckpt_err_t *err)
{
	cleanup_free struct maps_walk *w = xzalloc(sizeof(*w));
	cleanup_free char *line = NULL;
	cleanup_file FILE *f = NULL;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t cap = 0;
	int fd, ret;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(f = fdopen(fd, "re"))) {
		if (fd >= 0)
			close(fd);
		return ckpt_error(err, errno, "open %s", path);
	}
	w->smaps = !strcmp(base, "smaps");
	w->fn = fn;
	w->arg = arg;
	errno = 0;
	while (getline(&line, &cap, f) > 0) {
		ret = maps_walk_line(w, line, err);
		if (ret)
			return ret;
	}
	if (ferror(f))
		return ckpt_error(err, errno ?: EIO, "read %s", path);
	return 0;
}

struct maps_find {
	const char *name;
	struct proc_vma *v;
};

static int find_one(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct maps_find *f = arg;

	if (strcmp(v->path, f->name))
		return 0;
	*f->v = *v;
	return 1;
}

int proc_maps_find(int dirfd, const char *path, const char *name, struct proc_vma *v,
		   ckpt_err_t *err)
{
	struct maps_find f = {name, v};

	return proc_read_maps(dirfd, path, find_one, &f, err);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int proc_parse_pid_list(const char *buf, pid_t **out, int *n, ckpt_err_t *err)
{
	cleanup_free pid_t *pids = NULL;
	const char *p = buf;
	int count = 0;

	for (;;) {
		unsigned long long v;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (next_num(&p, 10, &v) < 0 || v == 0 || v > INT32_MAX)
			return ckpt_error_msg(err, EPROTO, "bad pid list `%.40s`", buf);
		pids = xrealloc(pids, (count + 1) * sizeof(*pids));
		pids[count++] = v;
	}
	*out = steal_pointer(&pids);
	*n = count;
	return 0;
}

/*
 * The group leader (the thread whose id is the process's, stat's first
 * field) goes first, the others stay ascending. Once pids wrap, a thread
 * made later can have a smaller id than its leader, and a tracer must
 * collect every other thread's exit before the leader's is reported.
 */
static void leader_first(int procfd, pid_t *tids, int count)
{
	cleanup_free char *stat = NULL;
	ckpt_err_t e = {0};
	long tgid;

	if (read_file_at(procfd, "stat", 4096, &stat, NULL, &e) < 0) {
		ckpt_error_clear(&e);
		return; /* gone: nothing to order */
	}
	tgid = strtol(stat, NULL, 10);
	for (int i = 1; i < count; i++)
		if (tids[i] == tgid) {
			memmove(&tids[1], &tids[0], i * sizeof(*tids));
			tids[0] = (pid_t)tgid;
			return;
		}
}

int proc_list_threads(int procfd, pid_t **out, int *n, ckpt_err_t *err)
{
	cleanup_free pid_t *tids = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd, count = 0;
	char *end;

	fd = openat(procfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open task");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ckpt_error(err, errno, "fdopendir task");
	}
	while ((errno = 0, de = readdir(d))) {
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0)
			continue;
		tids = xrealloc(tids, (count + 1) * sizeof(*tids));
		tids[count++] = tid;
	}
	if (errno)
		return ckpt_error(err, errno, "readdir task");
	qsort(tids, count, sizeof(*tids), cmp_pid);
	leader_first(procfd, tids, count);
	*out = steal_pointer(&tids);
	*n = count;
	return 0;
}

int proc_list_children(int procfd, pid_t tid, pid_t **out, int *n, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "task/%d/children", tid);
	ret = read_file_at(procfd, path, PROC_FILE_MAX, &buf, NULL, err);
	if (ret < 0)
		return ret;
	return proc_parse_pid_list(buf, out, n, err);
}

pid_t proc_ns_pid(int dirfd, const char *path)
{
	struct proc_status st = {0};
	ckpt_err_t e = {0};
	pid_t ns = -1;
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (proc_read_status(fd, &st, &e) == 0 && st.nspid_count)
		ns = st.nspid[st.nspid_count - 1];
	proc_status_free(&st);
	close(fd);
	return ns;
}
