/*
 * namespaces/mnt-info.c - /proc/PID/mountinfo parser:
 *   ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
 * Paths carry octal escapes (\040 for a space), undone here.
 */
#define LOG_PREFIX "mnt: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "namespaces/mnt.h"
#include "util/util.h"

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

static int parse_line(char *line, struct mnt_info *m)
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

int mnt_info_read(const char *path, struct mnt_info **out, int *n, ckpt_err_t *err)
{
	cleanup_file FILE *f = fopen(path, "re");
	cleanup_free char *line = NULL;
	struct mnt_info *v = NULL;
	size_t cap = 0;
	int cnt = 0;

	if (!f)
		return ckpt_error(err, errno, "open %s", path);
	while (getline(&line, &cap, f) > 0) {
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		if (parse_line(line, &v[cnt]) < 0) {
			mnt_info_free(v, cnt);
			return ckpt_error_msg(err, EPROTO, "%s: bad line %d", path, cnt + 1);
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	return 0;
}

void mnt_info_free(struct mnt_info *m, int n)
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

int mnt_info_tag(const struct mnt_info *m, const char *tag)
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

char *mnt_cgroup_of(const char *file, const char *fstype, const char *super)
{
	cleanup_file FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	bool v2 = !strcmp(fstype, "cgroup2");
	size_t cap = 0;

	if (!v2 && strcmp(fstype, "cgroup"))
		return NULL;
	/* ID:CONTROLLERS:PATH; the v2 hierarchy is "0::PATH" */
	while (f && getline(&line, &cap, f) > 0) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;

		if (!p)
			continue;
		*p++ = '\0';
		p[strcspn(p, "\n")] = '\0';
		c++;
		if (v2 ? !*c : *c && words_in(c, super))
			return xstrdup(p);
	}
	return NULL;
}
