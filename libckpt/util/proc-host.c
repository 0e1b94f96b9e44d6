/*
 * libckpt/util/proc-host.c - /proc files about the host or a network
 * namespace rather than one process: cpuinfo (the CPU model a bundle
 * records) and net/tcp, net/tcp6 (the TCP sockets of a namespace, which
 * the network lock of a tree in the host's namespace picks its own from).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/proc.h"
#include "util/util.h"

/* One line of cpuinfo: its value into out when it is "model name". */
static bool cpu_model_line(const char *line, size_t len, char *out, size_t size)
{
	const char *v = memchr(line, ':', len);

	if (len < 10 || strncmp(line, "model name", 10) || !v)
		return false;
	v += strspn(v + 1, " \t") + 1;
	snprintf(out, size, "%.*s", (int)(len - (v - line)), v);
	return true;
}

bool proc_parse_cpu_model(const char *text, char *out, size_t size)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (cpu_model_line(l, strcspn(l, "\n"), out, size))
			return true;
	return false;
}

void proc_cpu_model(char *out, size_t size)
{
	cleanup_file FILE *f = fopen("/proc/cpuinfo", "re");
	char line[512];

	snprintf(out, size, "unknown");
	/* line by line, up to the first model: the kernel makes the rest on demand */
	while (f && fgets(line, sizeof(line), f))
		if (cpu_model_line(line, strcspn(line, "\n"), out, size))
			return;
}

/* "0100007F:1F90" (tcp) or 32 hex digits and a port (tcp6) into addr, port. */
static int tcp_addr(const char *s, int family, uint8_t addr[16], uint16_t *port)
{
	size_t words = family == AF_INET ? 1 : 4;

	memset(addr, 0, 16);
	for (size_t w = 0; w < words; w++) {
		char hex[9];
		uint32_t v;

		memcpy(hex, s + 8 * w, 8);
		hex[8] = '\0';
		v = (uint32_t)strtoul(hex, NULL, 16);
		memcpy(addr + 4 * w, &v, 4); /* the kernel prints the raw word */
	}
	if (s[8 * words] != ':')
		return -1;
	*port = (uint16_t)strtoul(s + 8 * words + 1, NULL, 16);
	return 0;
}

bool proc_parse_tcp_line(const char *line, int family, struct proc_tcp_sock *s)
{
	char local[64], rem[64];

	memset(s, 0, sizeof(*s));
	if (sscanf(line, " %*u: %63s %63s %x %*s %*s %*s %*u %*u %lu", local, rem, &s->state,
		   &s->inode) != 4)
		return false;
	if (strlen(local) < (family == AF_INET ? 9u : 33u) ||
	    strlen(rem) < (family == AF_INET ? 9u : 33u))
		return false;
	return tcp_addr(local, family, s->local, &s->lport) == 0 &&
	       tcp_addr(rem, family, s->peer, &s->pport) == 0;
}

int proc_read_tcp(pid_t pid, const char *file, int family,
		  int (*fn)(const struct proc_tcp_sock *s, void *arg, ckpt_err_t *err), void *arg,
		  ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/net/%s", pid, file), *line = NULL;
	cleanup_file FILE *f = fopen(path, "re");
	size_t cap = 0;

	if (!f)
		return errno == ENOENT ? 0 : ckpt_error(err, errno, "open %s", path);
	while (getline(&line, &cap, f) > 0) {
		struct proc_tcp_sock s;
		int ret;

		if (!proc_parse_tcp_line(line, family, &s))
			continue;
		ret = fn(&s, arg, err);
		if (ret)
			return ret;
	}
	return 0;
}
