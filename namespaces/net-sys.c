/*
 * namespaces/net-sys.c - what of a network namespace lives outside
 * rtnetlink: the nftables ruleset ("nft" of net.json, `nft list ruleset`
 * run inside the namespace, `nft -f -` at restore) and the sysctls under
 * net.ipv4 and net.ipv6 whose value differs from a fresh namespace's
 * ("sysctl"). Restore runs from ckpt-oci once the tree exists (finish),
 * so the per-interface entries (conf/eth0/...) exist by then.
 */
#define LOG_PREFIX "net: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

#define SYSCTL_ROOT "/proc/sys/net/"

/* Every readable file under SYSCTL_ROOT rel, into o (relative path -> value). */
static void sysctl_walk(const char *rel, struct json *o)
{
	cleanup_free char *dpath = xasprintf(SYSCTL_ROOT "%s", rel);
	DIR *d = opendir(dpath);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		cleanup_free char *sub = NULL, *path = NULL;
		char buf[4096];
		struct stat st;
		int fd;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", rel, de->d_name);
		path = xasprintf(SYSCTL_ROOT "%s", sub);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			sysctl_walk(sub, o);
			continue;
		}
		if (!(st.st_mode & S_IRUSR) || !(st.st_mode & S_IWUSR))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		json_set(o, sub, json_str(buf));
	}
	closedir(d);
}

/* A fresh namespace has no conf/eth0: compare per-interface keys with conf/default. */
static const char *fresh_value(const struct json *fresh, const char *key)
{
	cleanup_free char *alt = NULL;
	const char *p, *v = json_as_str(json_get(fresh, key));
	size_t pre;

	if (v)
		return v;
	p = strstr(key, "/conf/") ?: strstr(key, "/neigh/");
	if (!p)
		return NULL;
	p = strchr(p + 1, '/');
	pre = p - key + 1;
	p = strchr(p + 1, '/');
	if (!p)
		return NULL;
	alt = xasprintf("%.*sdefault%s", (int)pre, key, p);
	return json_as_str(json_get(fresh, alt));
}

static int nft_read(struct json *out, ckpt_err_t *err)
{
	FILE *f = popen("nft list ruleset 2>/dev/null", "re");
	char buf[4096];
	size_t n, len = 0;
	cleanup_free char *text = NULL;
	int status;

	if (!f)
		return ckpt_error(err, errno, "run nft");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		text = xrealloc(text, len + n + 1);
		memcpy(text + len, buf, n);
		len += n;
	}
	status = pclose(f);
	if (status != 0) {
		pr_warn("`nft list ruleset` failed (status 0x%x): no ruleset saved", status);
		return 0;
	}
	if (len) {
		text[len] = '\0';
		json_set(out, "nft", json_str(text));
	}
	return 0;
}

int net_sys_read(struct json *out, ckpt_err_t *err)
{
	cleanup_json struct json *now = json_obj(), *fresh = json_obj();
	struct json *diff = json_set(out, "sysctl", json_obj());
	int ret = nft_read(out, err);

	if (ret < 0)
		return ret;
	sysctl_walk("ipv4", now);
	sysctl_walk("ipv6", now);
	/* this helper process is thrown away: it may leave the tree's namespace */
	if (unshare(CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "unshare a fresh network namespace");
	sysctl_walk("ipv4", fresh);
	sysctl_walk("ipv6", fresh);
	for (size_t i = 0; i < json_len(now); i++) {
		const char *k = json_key_at(now, i), *v = json_as_str(json_at(now, i));
		const char *f = fresh_value(fresh, k);

		if (f && strcmp(f, v))
			json_set(diff, k, json_str(v));
	}
	return 0;
}

static struct json *sys_apply(void *arg, ckpt_err_t *err)
{
	const struct json *net = arg, *sc = json_get(net, "sysctl");
	const char *rules = json_as_str(json_get(net, "nft"));

	for (size_t i = 0; i < json_len(sc); i++) {
		cleanup_free char *path = xasprintf(SYSCTL_ROOT "%s", json_key_at(sc, i));
		const char *v = json_as_str(json_at(sc, i));
		int fd = open(path, O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			pr_warn("sysctl net/%s = `%s`: %m, ignoring", json_key_at(sc, i), v);
		if (fd >= 0)
			close(fd);
	}
	if (rules) {
		FILE *f = popen("nft -f -", "we");

		if (!f || fwrite(rules, 1, strlen(rules), f) != strlen(rules) || pclose(f) != 0) {
			ckpt_error_msg(err, EIO, "`nft -f -` refused the saved ruleset");
			return NULL;
		}
	}
	return json_obj();
}

int net_sys_restore(const struct json *net, pid_t pid, ckpt_err_t *err)
{
	cleanup_json struct json *res = NULL;
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int nsfd = open(path, O_RDONLY | O_CLOEXEC);

	if (nsfd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return ns_exec_json(nsfd, CLONE_NEWNET, sys_apply, (void *)net, &res, err);
}
