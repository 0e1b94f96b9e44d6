/*
 * libckpt/util/proc-task.c - per-process /proc files other than stat,
 * status and maps: limits (soft and hard of each RLIMIT_*), timers (the
 * POSIX timers: id, signal, notify target, clock), cmdline (an option
 * of a program's command line) and the targets of fd/ links to an
 * anonymous inode ("socket:[123]"). Each parser takes the whole text and
 * fills a small struct; what to do with it stays with the caller.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/proc.h"
#include "util/util.h"

/* "unlimited" or a decimal number. */
static uint64_t limit_value(const char *s)
{
	return strcmp(s, "unlimited") ? strtoull(s, NULL, 10) : RLIM_INFINITY;
}

int proc_parse_limits(const char *text, struct proc_limit *out, int max, int *n, ckpt_err_t *err)
{
	cleanup_free char *copy = xstrdup(text);
	char *save = NULL, *l;

	*n = 0;
	l = strtok_r(copy, "\n", &save); /* header */
	while ((l = strtok_r(NULL, "\n", &save)) && *n < max) {
		char soft[32], hard[32];

		/* a 26-column name, then the soft and the hard limit */
		if (strlen(l) < 26 || sscanf(l + 26, "%31s %31s", soft, hard) != 2)
			return ckpt_error_msg(err, EPROTO, "bad line");
		out[*n].soft = limit_value(soft);
		out[*n].hard = limit_value(hard);
		(*n)++;
	}
	return 0;
}

int proc_parse_timens_offsets(const char *text, struct proc_timens *out, ckpt_err_t *err)
{
	*out = (struct proc_timens){0};
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char clock[16];
		long long s;
		long ns;

		if (sscanf(l, "%15s %lld %ld", clock, &s, &ns) != 3 || ns < 0 || ns >= 1000000000)
			return ckpt_error_msg(err, EPROTO, "cannot parse `%.40s`", l);
		if (!strcmp(clock, "monotonic"))
			out->mono_s = s, out->mono_ns = ns;
		else if (!strcmp(clock, "boottime"))
			out->boot_s = s, out->boot_ns = ns;
	}
	return 0;
}

int proc_parse_timers(const char *text, struct proc_timer **out, int *n, ckpt_err_t *err)
{
	cleanup_free char *copy = xstrdup(text);
	struct proc_timer *v = NULL, *t = NULL;
	char *save = NULL;
	int cnt = 0;

	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long long sigval;
		char how[16], who[8];
		int id, sig, target, clock;

		if (sscanf(l, "ID: %d", &id) == 1) {
			v = xrealloc(v, (cnt + 1) * sizeof(*v));
			t = &v[cnt++];
			*t = (struct proc_timer){.id = id};
		} else if (t && sscanf(l, "signal: %d/%llx", &sig, &sigval) == 2) {
			t->has_signal = true;
			t->signo = sig;
			t->sigval = sigval;
		} else if (t && sscanf(l, "notify: %15[a-z]/%7[a-z].%d", how, who, &target) == 3) {
			t->has_notify = true;
			snprintf(t->notify, sizeof(t->notify), "%s", how);
			t->notify_thread = !strcmp(who, "tid");
			t->notify_pid = target;
		} else if (t && sscanf(l, "ClockID: %d", &clock) == 1) {
			t->has_clock = true;
			t->clock = clock;
		}
	}
	*out = v;
	*n = cnt;
	return 0;
}

const char *proc_cmdline_option(const char *cmd, size_t len, const char *name)
{
	cleanup_free char *eq2 = xasprintf("--%s=", name), *eq1 = xasprintf("-%s=", name);
	cleanup_free char *sp2 = xasprintf("--%s", name), *sp1 = xasprintf("-%s", name);

	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
		const char *a = cmd + i, *v = NULL;

		if (!strncmp(a, eq2, strlen(eq2)) || !strncmp(a, eq1, strlen(eq1)))
			v = strchr(a, '=') + 1;
		else if ((!strcmp(a, sp2) || !strcmp(a, sp1)) && i + strlen(a) + 1 < len)
			v = a + strlen(a) + 1;
		if (v && *v)
			return v;
	}
	return NULL;
}

bool proc_parse_fd_link(const char *link, const char *type, unsigned long long *ino)
{
	size_t l = strlen(type);
	char end;

	return !strncmp(link, type, l) && link[l] == ':' &&
	       sscanf(link + l, ":[%llu]%c", ino, &end) == 1;
}
