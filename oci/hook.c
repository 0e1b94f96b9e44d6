/*
 * oci/hook.c - `ckpt-oci hook [STAGE]`, the OCI runtime hook. The runtime
 * gives the container's state JSON (id, pid, bundle, status, annotations)
 * on stdin; annotations say what to do:
 *
 *   org.ckpt-oci.checkpoint-interval=DURATION  (500ms, 10s, 5m, 1h)
 *   org.ckpt-oci.checkpoint-dir=DIR            (relative: to the bundle)
 *   org.ckpt-oci.keep=N                        (default 2)
 *   org.ckpt-oci.runtime, org.ckpt-oci.root    (where the container's state is)
 *
 * poststart starts the checkpoint supervisor (supervisor.c), poststop
 * stops it. org.ckpt-oci.restore-from is refused with the reason: the
 * runtime's own init is the container's pid 1 by the time any hook runs.
 *
 * Errors are returned (cmd/ prints them on stderr, which the runtime logs)
 * and, once DIR is known, also appended to DIR/supervisor.log, the log the
 * operator of a long job reads; the hook itself always exits 0.
 */
#define LOG_PREFIX "hook: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/doc.h"
#include "util/json.h"
#include "oci/hook.h"
#include "oci/oci.h"
#include "util/proc.h"
#include "util/util.h"

#define ANN	     "org.ckpt-oci."
#define DEFAULT_KEEP 2
#define MAX_KEEP     1000
#define MIN_INTERVAL (100ull * 1000000) /* below, the container is mostly frozen */
#define MAX_INTERVAL (366ull * 24 * 3600 * 1000000000)
#define CMDLINE_MAX  (64u << 10)
#define CONFIG_MAX   (4u << 20)

void hook_log(int logfd, const char *who, bool to_stderr, const char *fmt, ...)
{
	char msg[CKPT_ERR_MSG_MAX + 128], stamp[64];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (to_stderr)
		fprintf(stderr, "ckpt-oci hook: %s\n", msg);
	if (logfd < 0) {
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (dprintf(logfd, "%s.%03ldZ %s: %s\n", stamp, ts.tv_nsec / 1000000, who, msg) < 0) {
		/* a full disk must not turn logging into a failure; ignoring */
	}
	errno = saved;
}

/* "500ms", "10s", "5m", "1h": a unit is required, so "10" is not guessed at. */
static int parse_interval(const char *s, uint64_t *ns, ckpt_err_t *err)
{
	static const struct {
		const char *unit;
		uint64_t ns;
	} units[] = {{"ms", 1000000ull},
		     {"s", 1000000000ull},
		     {"m", 60000000000ull},
		     {"h", 3600000000000ull}};
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || errno)
		goto bad;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v > MAX_INTERVAL / units[i].ns)
			goto bad;
		*ns = v * units[i].ns;
		if (*ns < MIN_INTERVAL)
			return ckpt_error_msg(err, EINVAL,
					      ANN "checkpoint-interval `%s` is too "
						  "short: at least 100ms",
					      s);
		return 0;
	}
bad:
	return ckpt_error_msg(err, EINVAL,
			      "bad " ANN "checkpoint-interval `%s`: want a duration "
			      "such as 500ms, 10s, 5m or 1h",
			      s);
}

static int parse_keep(const char *s, unsigned *keep, ckpt_err_t *err)
{
	unsigned long v;
	char *end;

	*keep = DEFAULT_KEEP;
	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < 1 || v > MAX_KEEP)
		return ckpt_error_msg(err, EINVAL,
				      "bad " ANN "keep `%s`: want a number from 1 "
				      "to %d",
				      s, MAX_KEEP);
	*keep = v;
	return 0;
}

/* A string annotation, or NULL (absent, empty, or not a string). */
static const char *ann(const struct json *anns, const char *key)
{
	struct doc_at at = DOC_TOP("annotations");
	const char *v = NULL;

	if (json_type(anns) != JSON_OBJ || doc_opt_str(&at, anns, key, 0, &v, NULL) < 0)
		return NULL;
	return v && *v ? v : NULL;
}

static void conf_free(struct hook_conf *c)
{
	free(c->id);
	free(c->bundle);
	free(c->runtime);
	free(c->root);
	free(c->dir);
	free(c->interval);
	if (c->dirfd >= 0)
		close(c->dirfd);
	if (c->logfd >= 0)
		close(c->logfd);
}

/*
 * DIR (relative: to the container's bundle), created if missing, and its
 * log opened: from here on errors reach the operator there too.
 */
static int open_dir(struct hook_conf *c, const char *dir, ckpt_err_t *err)
{
	c->dir = dir[0] == '/' ? xstrdup(dir) : xasprintf("%s/%s", c->bundle, dir);
	if (mkdir(c->dir, 0700) < 0 && errno != EEXIST)
		return ckpt_error(err, errno, ANN "checkpoint-dir: mkdir `%s`", c->dir);
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return ckpt_error(err, errno, ANN "checkpoint-dir: open `%s`", c->dir);
	c->logfd = openat(c->dirfd, HOOK_LOG_FILE,
			  O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->logfd < 0)
		return ckpt_error(err, errno, "open %s/%s", c->dir, HOOK_LOG_FILE);
	return 0;
}

/* id, bundle (both required) and pid from the state. */
static int load_state(struct hook_conf *c, const struct json *st, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("state");
	const char *id, *bundle;
	int64_t pid;
	int ret;

	ret = json_get_str(st, "id", &id, err);
	if (ret == 0)
		ret = json_get_str(st, "bundle", &bundle, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "state on stdin");
	c->id = xstrdup(id);
	c->bundle = xstrdup(bundle);
	/* no pid at poststop: the init is gone */
	ret = doc_opt_int(&at, st, "pid", 0, DOC_PID_MAX, 0, &pid, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "state on stdin");
	c->pid = pid;
	return 0;
}

/*
 * The runtime's --root, or NULL. A relative one is taken against the
 * runtime's cwd as it is now (runc has moved into the bundle by then): a
 * guess like the rest, which oci_find confirms or the annotations replace.
 */
static char *root_arg(pid_t pp, const char *cmd, size_t len)
{
	const char *v = proc_cmdline_option(cmd, len, "root");
	char cwd[PATH_MAX], link[64];
	ssize_t n;

	if (!v)
		return NULL;
	if (*v == '/')
		return xstrdup(v);
	snprintf(link, sizeof(link), "/proc/%d/cwd", pp);
	n = readlink(link, cwd, sizeof(cwd) - 1);
	if (n <= 0)
		return NULL;
	cwd[n] = '\0';
	return xasprintf("%s/%s", cwd, v);
}

/*
 * Which runtime runs us, and its state root: runc and crun run hooks
 * themselves, so our parent is the runtime, its --root on its command line.
 * A guess the caller checks against the state (oci_find).
 */
static void parent_runtime(char **runtime, char **root)
{
	pid_t pp = getppid();
	cleanup_free char *cmd = NULL;
	char path[64], exe[PATH_MAX];
	ckpt_err_t e = {0};
	size_t len = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pp);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		const char *base;

		exe[n] = '\0';
		base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
		if (!strcmp(base, "runc") || !strcmp(base, "crun"))
			*runtime = xstrdup(base);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pp);
	if (read_file_at(AT_FDCWD, path, CMDLINE_MAX, &cmd, &len, &e) == 0)
		*root = root_arg(pp, cmd, len);
}

/* Where oci_find sees the container: annotations first, else our parent, else defaults. */
static int find_runtime(struct hook_conf *c, const struct json *anns, ckpt_err_t *err)
{
	const char *rt = ann(anns, ANN "runtime"), *root = ann(anns, ANN "root");
	cleanup_free char *prt = NULL, *proot = NULL;
	struct oci_container oc;
	bool given = rt || root;
	int ret;

	parent_runtime(&prt, &proot);
	ret = oci_find(rt ? rt : prt, root ? root : (rt ? NULL : proot), c->id, &oc, err);
	if (ret < 0 && !given) {
		ckpt_error_clear(err);
		ret = oci_find(NULL, NULL, c->id, &oc, err);
	}
	if (ret < 0)
		return ckpt_error_wrap(err, "find the container's runtime state (annotations " ANN
					    "runtime and " ANN "root say where)");
	if (c->pid && oc.pid != c->pid) {
		ret = ckpt_error_msg(err, ESRCH,
				     "%s/%s is another container: init %d, not %d "
				     "(annotations " ANN "runtime and " ANN "root say where)",
				     oc.root, c->id, (int)oc.pid, (int)c->pid);
		oci_container_free(&oc);
		return ret;
	}
	c->runtime = steal_pointer(&oc.runtime);
	c->root = steal_pointer(&oc.root);
	oci_container_free(&oc);
	return 0;
}

static int hook_poststart(struct hook_conf *c, const struct json *anns, ckpt_err_t *err)
{
	const char *interval = ann(anns, ANN "checkpoint-interval");
	pid_t pid;
	int ret;

	if (!interval)
		return 0;
	c->interval = xstrdup(interval);
	if (!c->dir)
		ret = ckpt_error_msg(err, EINVAL,
				     ANN "checkpoint-interval needs " ANN "checkpoint-dir");
	else
		ret = parse_interval(interval, &c->interval_ns, err);
	if (ret == 0)
		ret = parse_keep(ann(anns, ANN "keep"), &c->keep, err);
	if (ret == 0 && c->pid <= 0)
		ret = ckpt_error_msg(err, EPROTO, "state on stdin: no init pid");
	if (ret == 0)
		ret = find_runtime(c, anns, err);
	if (ret == 0)
		ret = supervisor_start(c, &pid, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "no checkpoints");
	hook_log(c->logfd, "hook poststart", true,
		 "container `%s`: supervisor %d checkpoints it "
		 "every %s into %s, keeping %u",
		 c->id, (int)pid, interval, c->dir, c->keep);
	return 0;
}

/* root.path of the bundle's config.json, taken against the bundle when relative. */
static int config_root(const struct hook_conf *c, char **root, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/config.json", c->bundle), *text = NULL;
	struct doc_at at = DOC_TOP("config.json"), rat = DOC_KEY(&at, "root");
	cleanup_json struct json *cfg = NULL;
	const struct json *r;
	const char *p;
	size_t len;
	int ret;

	ret = read_file_at(AT_FDCWD, path, CONFIG_MAX, &text, &len, err);
	if (ret == 0)
		ret = json_parse(text, len, &cfg, err);
	if (ret == 0)
		ret = doc_obj(&at, cfg, "root", &r, err);
	if (ret == 0)
		ret = doc_str(&rat, r, "path", PATH_MAX - 1, &p, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", path);
	*root = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", c->bundle, p);
	return 0;
}

/*
 * createRuntime (or prestart): the container is made, its program not yet
 * started: the root directory's first state, against which a checkpoint
 * finds what the container changed (rootfs-base.c).
 */
static int hook_create(struct hook_conf *c, ckpt_err_t *err)
{
	cleanup_free char *root = NULL;
	int ret = config_root(c, &root, err);

	if (ret == 0)
		ret = oci_rootfs_base_take(root, err);
	return ret;
}

static int hook_poststop(struct hook_conf *c, ckpt_err_t *err)
{
	cleanup_free char *root = NULL;
	ckpt_err_t e = {0};
	pid_t pid;
	int ret;

	if (config_root(c, &root, &e) == 0)
		oci_rootfs_base_drop(root);
	if (!c->dir)
		return 0;
	ret = supervisor_stop(c, &pid, err);
	if (ret < 0)
		return ret;
	if (pid)
		hook_log(c->logfd, "hook poststop", false,
			 "container `%s` stopped: supervisor %d "
			 "stopped",
			 c->id, (int)pid);
	return 0;
}

/*
 * By the time any hook runs, runc's init is the container's pid 1, in
 * namespaces and a rootfs runc made, and about to exec the configured
 * process. The restored tree's own pid 1 cannot take that pid, and a hook
 * cannot make runc's init become it: restoring belongs to `ckpt-oci
 * restore`, which makes the namespaces itself.
 */
static void refuse_restore_from(const struct hook_conf *c, const char *bundle)
{
	hook_log(c->logfd, "hook", true,
		 "container `%s`: " ANN "restore-from `%s` ignored, the "
		 "container starts fresh: a hook runs after the runtime made the container's "
		 "pid 1, which a restored tree cannot replace; use `ckpt-oci restore %s`",
		 c->id, bundle, bundle);
}

static const char *const stages[] = {"prestart",       "createRuntime", "createContainer",
				     "startContainer", "poststart",	"poststop"};

static bool known_stage(const char *stage)
{
	for (size_t i = 0; i < ARRAY_SIZE(stages); i++)
		if (!strcmp(stage, stages[i]))
			return true;
	return false;
}

static int hook_run(struct hook_conf *c, const char *stage, const char *state, size_t len,
		    ckpt_err_t *err)
{
	cleanup_json struct json *st = NULL;
	struct doc_at state_at = DOC_TOP("state");
	const struct json *anns;
	const char *status, *dir, *from;
	int ret;

	ret = json_parse(state, len, &st, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "state on stdin");
	ret = load_state(c, st, err);
	if (ret < 0)
		return ret;
	anns = json_get(st, "annotations");
	/* one hooks.d entry serves both stages: the state's status tells them apart */
	if (doc_opt_str(&state_at, st, "status", 0, &status, NULL) < 0)
		status = NULL;
	if (!stage && status && !strcmp(status, "creating"))
		stage = "createRuntime";
	if (!stage)
		stage = status && !strcmp(status, "stopped") ? "poststop" : "poststart";
	if (!known_stage(stage))
		return ckpt_error_msg(err, EINVAL, "unknown hook stage `%s`", stage);
	dir = ann(anns, ANN "checkpoint-dir");
	if (dir)
		ret = open_dir(c, dir, err);
	from = ann(anns, ANN "restore-from");
	if (ret == 0 && from && strcmp(stage, "poststop"))
		refuse_restore_from(c, from);
	if (ret == 0 && !strcmp(stage, "poststart"))
		ret = hook_poststart(c, anns, err);
	if (ret == 0 && (!strcmp(stage, "createRuntime") || !strcmp(stage, "prestart")))
		ret = hook_create(c, err);
	if (ret == 0 && !strcmp(stage, "poststop"))
		ret = hook_poststop(c, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "container `%s`", c->id);
	return 0;
}

int oci_hook(const char *stage, const char *state, size_t len, ckpt_err_t *err)
{
	struct hook_conf c = {.dirfd = -1, .logfd = -1};
	int ret;

	ret = hook_run(&c, stage, state, len, err);
	/* stderr is the caller's; the operator's log gets the same line */
	if (ret < 0)
		hook_log(c.logfd, "hook", false, "%s", err->msg);
	conf_free(&c);
	return ret;
}
