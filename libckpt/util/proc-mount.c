/*
 * libckpt/util/proc-mount.c - /proc/PID/mountinfo and /proc/PID/cgroup,
 * and what is built on them: where a cgroup hierarchy is mounted and
 * which cgroup a process is in. The freezer at dump, `ckpt-oci check`,
 * the cgroup and mount namespaces all ask these, so they cannot disagree.
 *
 * mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
 * with octal escapes (\040 for a space) in paths, undone here.
 * cgroup:    ID:CONTROLLERS:PATH, the v2 hierarchy as "0::PATH".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "util/proc.h"
#include "util/util.h"

#define MOUNTINFO_MAX (16u << 20)
#define CGROUP_MAX    (1u << 20)

static char *unescape(const char *s)
{
	char *out = xzalloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	return out;
}

/* One line (modified in place); -EPROTO when it is not a mountinfo line. */
static int mountinfo_line(char *line, struct proc_mount *m)
{
	char *tok[64], *save = NULL, *t;
	int n = 0, sep = -1;

	for (t = strtok_r(line, " \n", &save); t && n < 64; t = strtok_r(NULL, " \n", &save)) {
		if (!strcmp(t, "-") && sep < 0)
			sep = n;
		tok[n++] = t;
	}
	if (sep < 6 || n < sep + 3)
		return -EPROTO;
	memset(m, 0, sizeof(*m));
	m->id = atoi(tok[0]);
	m->parent = atoi(tok[1]);
	if (sscanf(tok[2], "%u:%u", &m->major, &m->minor) != 2)
		return -EPROTO;
	m->root = unescape(tok[3]);
	m->mountpoint = unescape(tok[4]);
	m->options = xstrdup(tok[5]);
	m->optional = xzalloc(1);
	for (int i = 6; i < sep; i++) {
		char *o = xasprintf("%s%s%s", m->optional, *m->optional ? " " : "", tok[i]);

		free(m->optional);
		m->optional = o;
	}
	m->fstype = unescape(tok[sep + 1]);
	m->source = unescape(tok[sep + 2]);
	m->super = unescape(n > sep + 3 ? tok[sep + 3] : "");
	return 0;
}

int proc_parse_mountinfo(const char *buf, struct proc_mount **out, int *n, ckpt_err_t *err)
{
	cleanup_free char *text = xstrdup(buf);
	struct proc_mount *v = NULL;
	char *save = NULL;
	int cnt = 0;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		if (mountinfo_line(l, &v[cnt]) < 0) {
			proc_mounts_free(v, cnt);
			return ckpt_error_msg(err, EPROTO, "mountinfo: bad line %d", cnt + 1);
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int proc_read_mountinfo(int dirfd, const char *path, struct proc_mount **out, int *n,
			ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	int ret = read_file_at(dirfd, path, MOUNTINFO_MAX, &buf, NULL, err);

	if (ret < 0)
		return ret;
	ret = proc_parse_mountinfo(buf, out, n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", path);
	return 0;
}

void proc_mounts_free(struct proc_mount *m, int n)
{
	for (int i = 0; m && i < n; i++) {
		free(m[i].root);
		free(m[i].mountpoint);
		free(m[i].options);
		free(m[i].optional);
		free(m[i].fstype);
		free(m[i].source);
		free(m[i].super);
	}
	free(m);
}

int proc_mount_tag(const struct proc_mount *m, const char *tag)
{
	size_t len = strlen(tag);

	for (const char *p = m->optional; p && *p;) {
		if (!strncmp(p, tag, len) && p[len] == ':')
			return atoi(p + len + 1);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return 0;
}

/* Is every comma-separated word of WANT one of the words of HAVE? */
static bool words_in(const char *want, const char *have)
{
	cleanup_free char *w = xstrdup(want), *h = xasprintf(",%s,", have);
	char *save = NULL;

	for (char *t = strtok_r(w, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		cleanup_free char *tok = xasprintf(",%s,", t);

		if (!strstr(h, tok))
			return false;
	}
	return true;
}

const struct proc_mount *proc_cgroup_mount_in(const struct proc_mount *m, int n,
					      const char *controllers)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(m[i].root, "/"))
			continue; /* a part of a hierarchy bound elsewhere, not its root */
		if (!*controllers && !strcmp(m[i].fstype, "cgroup2"))
			return &m[i];
		if (*controllers && !strcmp(m[i].fstype, "cgroup") &&
		    words_in(controllers, m[i].super))
			return &m[i];
	}
	return NULL;
}

char *proc_cgroup_mount(const char *controllers)
{
	struct proc_mount *m = NULL;
	const struct proc_mount *hit;
	ckpt_err_t e = {0};
	char *mnt = NULL;
	int n = 0;

	if (proc_read_mountinfo(AT_FDCWD, "/proc/self/mountinfo", &m, &n, &e) < 0)
		return NULL;
	hit = proc_cgroup_mount_in(m, n, controllers);
	if (hit)
		mnt = xstrdup(hit->mountpoint);
	proc_mounts_free(m, n);
	return mnt;
}

/* ---- /proc/PID/cgroup -------------------------------------------------- */

int proc_parse_cgroup(const char *buf, struct proc_cgroup **out, int *n, ckpt_err_t *err)
{
	cleanup_free char *text = xstrdup(buf);
	struct proc_cgroup *v = NULL;
	char *save = NULL;
	int cnt = 0;

	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c = strchr(l, ':'), *p = c ? strchr(c + 1, ':') : NULL;

		if (!p) {
			proc_cgroups_free(v, cnt);
			return ckpt_error_msg(err, EPROTO, "cgroup: bad line `%.80s`", l);
		}
		*c++ = '\0';
		*p++ = '\0';
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].id = atoi(l);
		v[cnt].controllers = xstrdup(c);
		v[cnt].path = xstrdup(p);
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int proc_read_cgroup(int dirfd, const char *path, struct proc_cgroup **out, int *n, ckpt_err_t *err)
{
	cleanup_free char *buf = NULL;
	int ret = read_file_at(dirfd, path, CGROUP_MAX, &buf, NULL, err);

	if (ret < 0)
		return ret;
	ret = proc_parse_cgroup(buf, out, n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", path);
	return 0;
}

void proc_cgroups_free(struct proc_cgroup *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].controllers);
		free(v[i].path);
	}
	free(v);
}

const struct proc_cgroup *proc_cgroup_find(const struct proc_cgroup *v, int n,
					   const char *controllers)
{
	for (int i = 0; i < n; i++) {
		if (!*controllers ? !*v[i].controllers
				  : *v[i].controllers && words_in(controllers, v[i].controllers))
			return &v[i];
	}
	return NULL;
}

const struct proc_cgroup *proc_cgroup_of_mount(const struct proc_cgroup *v, int n,
					       const char *fstype, const char *super)
{
	bool v2 = !strcmp(fstype, "cgroup2");

	if (!v2 && strcmp(fstype, "cgroup"))
		return NULL;
	for (int i = 0; i < n; i++)
		if (v2 ? !*v[i].controllers
		       : *v[i].controllers && words_in(v[i].controllers, super))
			return &v[i];
	return NULL;
}

/* pid's cgroup path in the hierarchy by controllers, or by the mount fstype/super. */
static char *cgroup_path(pid_t pid, const char *controllers, const char *fstype, const char *super)
{
	cleanup_free char *file =
		pid ? xasprintf("/proc/%d/cgroup", pid) : xstrdup("/proc/self/cgroup");
	struct proc_cgroup *v = NULL;
	const struct proc_cgroup *hit;
	ckpt_err_t e = {0};
	char *path = NULL;
	int n = 0;

	if (proc_read_cgroup(AT_FDCWD, file, &v, &n, &e) < 0)
		return NULL;
	hit = fstype ? proc_cgroup_of_mount(v, n, fstype, super)
		     : proc_cgroup_find(v, n, controllers);
	if (hit)
		path = xstrdup(hit->path);
	proc_cgroups_free(v, n);
	return path;
}

const struct proc_cgroup *proc_cgroup_named(const struct proc_cgroup *v, int n, const char *ctl)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].controllers, ctl))
			return &v[i];
	return NULL;
}

char *proc_cgroup_path(pid_t pid, const char *controllers)
{
	return cgroup_path(pid, controllers, NULL, NULL);
}

char *proc_cgroup_path_for_mount(pid_t pid, const char *fstype, const char *super)
{
	return cgroup_path(pid, NULL, fstype, super);
}
