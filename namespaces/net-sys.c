/*
 * namespaces/net-sys.c - what of a network namespace lives outside
 * rtnetlink: the nftables ruleset ("nft" of net.json, listed inside the
 * namespace and applied at restore through libnftables) and the sysctls under
 * net.ipv4 and net.ipv6 whose value differs from a fresh namespace's
 * ("sysctl"). Restore runs from ckpt-oci once the tree exists (finish),
 * so the per-interface entries (conf/eth0/...) exist by then.
 */
#define LOG_PREFIX "net: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

#define SYSCTL_ROOT "/proc/sys/net/"

/*
 * Every readable and writable file under the directory dfd (whose key,
 * relative to SYSCTL_ROOT, is key[0..klen)) into o: key -> value. Lookups
 * are relative to the directory's fd: a full path walk through the sysctl
 * tree for each of the ~500 files costs more than the reads. dfd is
 * consumed.
 *
 * A file is opened read-write, never written: for root, sysctl grants
 * that exactly when the owner may read and write (proc_sys_permission), the
 * files restore can set, so no stat is needed; a directory is known by its
 * d_type.
 */
static void sysctl_walk(int dfd, char *key, size_t klen, struct json *o)
{
	cleanup_dir DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name);
		bool dir = de->d_type == DT_DIR;
		char buf[4096];
		struct stat st;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.' || klen + 1 + nlen >= PATH_MAX)
			continue;
		key[klen] = '/';
		memcpy(key + klen + 1, de->d_name, nlen + 1);
		if (de->d_type == DT_UNKNOWN && fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			dir = S_ISDIR(st.st_mode);
		if (dir) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				sysctl_walk(fd, key, klen + 1 + nlen, o);
			continue;
		}
		fd = openat(dirfd(d), de->d_name, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		json_set(o, key, json_str(buf));
	}
	key[klen] = '\0';
}

/* net.ipv4 and net.ipv6 of the caller's network namespace into o. */
static void sysctl_read_all(struct json *o)
{
	static const char *const tops[] = {"ipv4", "ipv6"};
	cleanup_close int root = open(SYSCTL_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char key[PATH_MAX];

	for (size_t i = 0; root >= 0 && i < ARRAY_SIZE(tops); i++) {
		int fd = openat(root, tops[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		snprintf(key, sizeof(key), "%s", tops[i]);
		if (fd >= 0)
			sysctl_walk(fd, key, strlen(key), o);
	}
}

/*
 * The defaults: the sysctls of a fresh namespace, read by a thread that
 * unshares one (for itself only: a network namespace is per thread) in
 * parallel with the walk of the tree's own namespace, about as long: two
 * cores make the pair cost one.
 */
struct fresh_job {
	pthread_t t;
	struct json *fresh;
	int err; /* errno of unshare */
};

static void *fresh_thread(void *arg)
{
	struct fresh_job *j = arg;

	if (unshare(CLONE_NEWNET) < 0) {
		j->err = errno;
		return NULL;
	}
	sysctl_read_all(j->fresh);
	return NULL;
}

/* A fresh namespace has no conf/eth0: compare per-interface keys with conf/default. */
static const char *sysctl_get(const struct json *map, const char *key)
{
	struct doc_at at = DOC_TOP("sysctl");
	ckpt_err_t e = {0};
	const char *v = NULL;

	if (doc_opt_str(&at, map, key, 4096, &v, &e) < 0)
		ckpt_error_clear(&e);
	return v;
}

static const char *fresh_value(const struct json *fresh, const char *key)
{
	cleanup_free char *alt = NULL;
	const char *p, *v = sysctl_get(fresh, key);
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
	return sysctl_get(fresh, alt);
}

/*
 * The ruleset as `nft list ruleset` prints it, only when the namespace has
 * a table: most have none, and a listing costs milliseconds while the tree
 * is frozen.
 */
static int nft_read(struct json *out, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	ckpt_err_t e = {0};
	int has = nft_has_tables();

	if (has == 0)
		return 0;
	if (has < 0)
		pr_debug("nftables table dump: %s, listing the ruleset", strerror(-has));
	if (nft_cmd("list ruleset", &text, &e) < 0) {
		if (e.code == EFBIG)
			return ckpt_error_msg(err, e.code, "%s", e.msg);
		pr_warn("%s: no ruleset saved", e.msg);
		return 0;
	}
	if (text[0])
		json_set(out, "nft", json_str(text));
	return 0;
}

int net_sys_read(struct json *out, ckpt_err_t *err)
{
	cleanup_json struct json *now = json_obj(), *fresh = json_obj();
	struct json *diff = json_set(out, "sysctl", json_obj());
	struct fresh_job j = {.fresh = fresh};
	int ret = pthread_create(&j.t, NULL, fresh_thread, &j);

	if (ret)
		return ckpt_error(err, ret, "thread to read a fresh namespace's sysctls");
	ret = nft_read(out, err);
	sysctl_read_all(now);
	pthread_join(j.t, NULL);
	if (ret < 0)
		return ret;
	if (j.err)
		return ckpt_error(err, j.err, "unshare a fresh network namespace");
	for (size_t i = 0; i < json_len(now); i++) {
		struct doc_at at = DOC_TOP("sysctl");
		const char *k, *v, *f;

		if (doc_map_str(&at, now, i, 4096, &k, &v, err) < 0)
			return -err->code;
		f = fresh_value(fresh, k);
		if (f && strcmp(f, v))
			json_set(diff, k, json_str(v));
	}
	return 0;
}

/* Sysctls and ruleset of net.json, in the caller thread's network namespace. */
static int sys_apply(const struct net_doc *net, ckpt_err_t *err)
{
	const char *rules = net->nft;
	cleanup_close int root = open(SYSCTL_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; i < net->nsys; i++) {
		const char *k = net->sys_key[i], *v = net->sys_val[i];
		int fd = openat(root, k, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			pr_warn("sysctl net/%s = `%s`: %m, ignoring", k, v);
		if (fd >= 0)
			close(fd);
	}
	if (rules && nft_cmd(rules, NULL, err) < 0)
		return ckpt_error_wrap(err, "the saved ruleset");
	return 0;
}

/*
 * The sysctls sockets need to be made at all (ping sockets: the group
 * range), written here in the caller's namespace, the tree's, before its
 * tasks make their sockets; finish writes them again with the rest.
 */
void net_sys_early(const struct net_doc *net)
{
	for (size_t i = 0; i < net->nsys; i++) {
		const char *k = net->sys_key[i], *v = net->sys_val[i];
		cleanup_free char *path = NULL;
		int fd;

		if (strcmp(k, "ipv4/ping_group_range"))
			continue;
		path = xasprintf(SYSCTL_ROOT "%s", k);
		fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			pr_warn("sysctl net/%s = `%s`: %m, ignoring", k, v);
		if (fd >= 0)
			close(fd);
	}
}

/*
 * Only this thread joins the tree's namespace, and only for the writes and
 * the ruleset (libnftables' socket is made in the thread's namespace): no
 * helper process to fork, and nothing at all when there is nothing to set.
 */
int net_sys_restore(const struct net_doc *net, pid_t pid, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int nsfd = -1, own = -1;
	int ret;

	if (!net->nsys && !net->nft)
		return 0;
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return ckpt_error(err, errno, "open %s", path);
	own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0 || setns(nsfd, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "join the tree's network namespace");
	ret = sys_apply(net, err);
	if (setns(own, CLONE_NEWNET) < 0)
		return ckpt_error(err, errno, "back to ckpt-oci's network namespace");
	return ret;
}
