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
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "namespaces/net.h"
#include "util/log.h"
#include "util/util.h"

#define SYSCTL_ROOT "/proc/sys/net/"

/*
 * Every readable and writable file under the directory dfd (whose key,
 * relative to SYSCTL_ROOT, is key[0..klen)) into o: key -> value. Lookups
 * are relative to the directory's fd: a full path walk through the sysctl
 * tree for each of the ~1000 files costs more than the reads. dfd is
 * consumed.
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
		char buf[4096];
		struct stat st;
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.' || klen + 1 + nlen >= PATH_MAX)
			continue;
		key[klen] = '/';
		memcpy(key + klen + 1, de->d_name, nlen + 1);
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0)
				sysctl_walk(fd, key, klen + 1 + nlen, o);
			continue;
		}
		if (!(st.st_mode & S_IRUSR) || !(st.st_mode & S_IWUSR))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
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
	static const char *const tops[] = { "ipv4", "ipv6" };
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
 * The defaults: the sysctls of a fresh namespace, read by a child of this
 * helper that unshares one, in parallel with the walk of the tree's own
 * namespace (about as long: two cores make the pair cost one). Its answer
 * comes back as JSON through a pipe; *rfd is the read end.
 */
static pid_t fresh_start(int *rfd, ckpt_err_t *err)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return ckpt_error(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return ckpt_error(err, errno, "fork");
	}
	if (pid == 0) {
		cleanup_json struct json *fresh = json_obj();
		cleanup_free char *text = NULL;
		size_t len;

		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		sysctl_read_all(fresh);
		text = json_dump(fresh, false, &len);
		_exit(write_all(p[1], text, len) < 0);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static int fresh_collect(pid_t pid, int rfd, struct json **fresh, ckpt_err_t *err)
{
	cleanup_free char *text = NULL;
	size_t len = 0, cap = 0;
	int status;
	ssize_t n;

	do {
		if (len + 65536 > cap)
			text = xrealloc(text, cap = cap * 2 + 65536);
		n = read(rfd, text + len, cap - len);
		if (n > 0)
			len += n;
	} while (n > 0 || (n < 0 && errno == EINTR));
	close(rfd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ckpt_error_msg(err, EIO, "unshare a fresh network namespace to read its "
				      "sysctls (status 0x%x)", status);
	return json_parse(text, len, fresh, err);
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

/*
 * `nft list ruleset`, only when the namespace has a table: most have none,
 * and nft's start costs tens of milliseconds while the tree is frozen.
 */
static int nft_read(struct json *out, ckpt_err_t *err)
{
	static char *const argv[] = { "nft", "list", "ruleset", NULL };
	cleanup_free char *text = NULL;
	int status, has = nft_has_tables();

	if (has == 0)
		return 0;
	if (has < 0)
		pr_debug("nftables table dump: %s, asking nft", strerror(-has));
	status = nft_run(argv, NULL, &text, true, err);
	if (status < 0)
		return status;
	if (status != 0) {
		pr_warn("`nft list ruleset` failed (status 0x%x): no ruleset saved", status);
		return 0;
	}
	if (text[0])
		json_set(out, "nft", json_str(text));
	return 0;
}

int net_sys_read(struct json *out, ckpt_err_t *err)
{
	cleanup_json struct json *now = json_obj(), *fresh = NULL;
	struct json *diff = json_set(out, "sysctl", json_obj());
	int rfd = -1, ret;
	pid_t pid = fresh_start(&rfd, err);

	if (pid < 0)
		return pid;
	ret = nft_read(out, err);
	sysctl_read_all(now);
	if (fresh_collect(pid, rfd, &fresh, err) < 0)
		return -err->code;
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_len(now); i++) {
		const char *k = json_key_at(now, i), *v = json_as_str(json_at(now, i));
		const char *f = fresh_value(fresh, k);

		if (f && strcmp(f, v))
			json_set(diff, k, json_str(v));
	}
	return 0;
}

/* Sysctls and ruleset of net.json, in the caller thread's network namespace. */
static int sys_apply(const struct json *net, ckpt_err_t *err)
{
	const struct json *sc = json_get(net, "sysctl");
	const char *rules = json_as_str(json_get(net, "nft"));
	cleanup_close int root = open(SYSCTL_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; i < json_len(sc); i++) {
		const char *v = json_as_str(json_at(sc, i));
		int fd = openat(root, json_key_at(sc, i), O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, v, strlen(v)) < 0)
			pr_warn("sysctl net/%s = `%s`: %m, ignoring", json_key_at(sc, i), v);
		if (fd >= 0)
			close(fd);
	}
	if (rules) {
		static char *const argv[] = { "nft", "-f", "-", NULL };
		int status = nft_run(argv, rules, NULL, false, err);

		if (status > 0)
			return ckpt_error_msg(err, EIO, "`nft -f -` refused the saved ruleset");
		if (status < 0)
			return status;
	}
	return 0;
}

/*
 * Only this thread joins the tree's namespace, and only for the writes and
 * nft's start (a child inherits the thread's namespaces): no helper
 * process to fork, and nothing at all when there is nothing to set.
 */
int net_sys_restore(const struct json *net, pid_t pid, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("/proc/%d/ns/net", pid);
	cleanup_close int nsfd = -1, own = -1;
	int ret;

	if (!json_len(json_get(net, "sysctl")) && !json_get(net, "nft"))
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
