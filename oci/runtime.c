/*
 * oci/runtime.c - find a container in an OCI runtime's state directory.
 *
 * runc keeps ROOT/ID/state.json (init_process_pid, init_process_start,
 * cgroup_paths, config.rootfs, the bundle in config.labels "bundle=DIR");
 * crun keeps ROOT/ID/status (pid, process-start-time, bundle, rootfs).
 * Neither records the status itself: like the runtimes, we derive it from
 * the init process (gone or pid reused: stopped), the exec.fifo both keep
 * until the container is started (created), and the freezer (paused).
 */
#define LOG_PREFIX "oci: "
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/doc.h"
#include "util/json.h"
#include "oci/oci.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/lockfile.h"
#include "util/spawn.h"
#include "util/util.h"

#define STATE_MAX (4u << 20)
#define LOCK_DIR  "/run/ckpt-oci"

const char *oci_status_name(enum oci_status s)
{
	static const char *const names[] = {"created", "running", "paused", "stopped"};

	return names[s];
}

const char *oci_default_root(const char *runtime)
{
	return !strcmp(runtime, "crun") ? "/run/crun" : "/run/runc";
}

/*
 * Field 22 of /proc/PID/stat: the process start time, to detect pid reuse.
 * A zombie counts as gone: an exited init waits there for the host's pid 1.
 */
int oci_proc_starttime(pid_t pid, unsigned long long *start)
{
	cleanup_free char *path = xasprintf("/proc/%d", pid);
	cleanup_close int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct proc_stat st;
	ckpt_err_t e = {0};

	if (procfd < 0)
		return -errno;
	if (proc_read_stat(procfd, &st, &e) < 0)
		return -e.code;
	if (st.state == 'Z' || st.state == 'X')
		return -ESRCH;
	*start = st.starttime;
	return 0;
}

/* A paused container's cgroup is frozen (v1 freezer.state or v2 cgroup.freeze). */
static bool cgroup_frozen(const char *dir)
{
	cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_free char *st = NULL;
	ckpt_err_t e = {0};

	if (fd < 0)
		return false;
	if (read_file_at(fd, "freezer.state", 64, &st, NULL, &e) == 0)
		return strncmp(st, "THAWED", 6) != 0;
	if (read_file_at(fd, "cgroup.freeze", 64, &st, NULL, &e) == 0)
		return st[0] == '1';
	return false;
}

static void derive_status(struct oci_container *c, int dirfd)
{
	unsigned long long start = 0;

	if (c->pid <= 0 || oci_proc_starttime(c->pid, &start) < 0 ||
	    (c->start && start != c->start))
		c->status = OCI_STOPPED;
	else if (faccessat(dirfd, "exec.fifo", F_OK, 0) == 0)
		c->status = OCI_CREATED;
	else if (c->cgroup && cgroup_frozen(c->cgroup))
		c->status = OCI_PAUSED;
	else
		c->status = OCI_RUNNING;
}

static char *dup_str(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* A state file's optional string at obj.key: NULL when absent or null. */
static int state_str(const struct doc_at *at, const struct json *obj, const char *key,
		     const char **out, ckpt_err_t *err)
{
	*out = NULL;
	return obj ? doc_opt_str(at, obj, key, PATH_MAX, out, err) : 0;
}

/* The label "bundle=DIR" among config.labels of runc's state.json: DIR, or NULL. */
static int runc_bundle_label(const struct doc_at *cfgat, const struct json *cfg, const char **out,
			     ckpt_err_t *err)
{
	struct doc_at lat = DOC_KEY(cfgat, "labels");
	const struct json *labels = NULL;
	size_t n = 0;
	int ret = cfg ? doc_opt_arr(cfgat, cfg, "labels", 4096, &labels, &n, err) : 0;

	*out = NULL;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		const char *l;

		ret = doc_elem_str(&lat, labels, i, PATH_MAX, &l, err);
		if (ret == 0 && !strncmp(l, "bundle=", 7))
			*out = l + 7;
	}
	return ret;
}

/* runc's state.json; the freezer cgroup (v1) or else the unified one. */
static int runc_load(struct oci_container *c, const struct json *st, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("state.json"), cgat = DOC_KEY(&at, "cgroup_paths");
	struct doc_at cfgat = DOC_KEY(&at, "config");
	const struct json *cg = NULL, *cfg = NULL;
	const char *freezer, *unified, *rootfs, *bundle = NULL;
	int64_t pid = 0, start = 0;
	int ret = doc_opt_int(&at, st, "init_process_pid", 0, DOC_PID_MAX, 0, &pid, err);

	if (ret == 0)
		ret = doc_opt_int(&at, st, "init_process_start", 0, INT64_MAX, 0, &start, err);
	if (ret == 0)
		ret = doc_opt_obj(&at, st, "cgroup_paths", &cg, err);
	if (ret == 0)
		ret = doc_opt_obj(&at, st, "config", &cfg, err);
	if (ret == 0)
		ret = state_str(&cgat, cg, "freezer", &freezer, err);
	if (ret == 0)
		ret = state_str(&cgat, cg, "", &unified, err);
	if (ret == 0)
		ret = state_str(&cfgat, cfg, "rootfs", &rootfs, err);
	if (ret == 0)
		ret = runc_bundle_label(&cfgat, cfg, &bundle, err);
	if (ret < 0)
		return ret;
	c->pid = pid;
	c->start = start;
	c->cgroup = dup_str(freezer);
	if (!c->cgroup)
		c->cgroup = dup_str(unified);
	c->rootfs = dup_str(rootfs);
	c->bundle = bundle ? xstrdup(bundle) : NULL;
	if (!c->bundle)
		return ckpt_error_msg(err, EPROTO, "state.json names no bundle directory");
	return 0;
}

/*
 * crun's status file names the cgroup relative to the hierarchies: the v1
 * freezer's directory when there is one, else the unified one. Neither
 * there: c->cgroup stays NULL and the engine finds the init's own cgroup.
 */
static void crun_cgroup(struct oci_container *c, const char *rel)
{
	/* the hierarchies' mounts as the freezer at dump finds them */
	static const char *const ctls[] = {"freezer", ""};
	static const char *const files[] = {"freezer.state", "cgroup.freeze"};

	for (int i = 0; rel && *rel && i < 2; i++) {
		cleanup_free char *mnt = proc_cgroup_mount(ctls[i]), *dir = NULL, *f = NULL;

		if (!mnt)
			continue;
		dir = xasprintf("%s%s%s", mnt, *rel == '/' ? "" : "/", rel);
		f = xasprintf("%s/%s", dir, files[i]);

		if (access(f, F_OK) == 0) {
			c->cgroup = steal_pointer(&dir);
			return;
		}
	}
}

static int crun_load(struct oci_container *c, const struct json *st, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("status");
	const char *cgroup, *bundle, *rootfs;
	int64_t pid = 0, start = 0;
	int ret = state_str(&at, st, "cgroup-path", &cgroup, err);

	if (ret == 0)
		ret = doc_opt_int(&at, st, "pid", 0, DOC_PID_MAX, 0, &pid, err);
	if (ret == 0)
		ret = doc_opt_int(&at, st, "process-start-time", 0, INT64_MAX, 0, &start, err);
	if (ret == 0)
		ret = state_str(&at, st, "bundle", &bundle, err);
	if (ret == 0)
		ret = state_str(&at, st, "rootfs", &rootfs, err);
	if (ret < 0)
		return ret;
	crun_cgroup(c, cgroup);
	c->pid = pid;
	c->start = start;
	c->bundle = dup_str(bundle);
	c->rootfs = dup_str(rootfs);
	if (!c->bundle)
		return ckpt_error_msg(err, EPROTO, "status names no bundle directory");
	return 0;
}

static int load_config(struct oci_container *c, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/config.json", c->bundle);
	cleanup_json struct json *doc = NULL;
	size_t len = 0;
	int ret;

	ret = read_file_at(AT_FDCWD, path, STATE_MAX, &c->config, &len, err);
	if (ret == 0)
		ret = json_parse(c->config, len, &doc, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", path);
	return 0;
}

static bool valid_id(const char *id)
{
	return *id && !strchr(id, '/') && strcmp(id, ".") && strcmp(id, "..");
}

/* The state directory of id under root, or -ENOENT. */
static int open_state(const char *root, const char *id)
{
	cleanup_free char *dir = xasprintf("%s/%s", root, id);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int load(struct oci_container *c, int dirfd, ckpt_err_t *err)
{
	bool runc = !strcmp(c->runtime, "runc");
	const char *file = runc ? "state.json" : "status";
	cleanup_json struct json *st = NULL;
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_file_at(dirfd, file, STATE_MAX, &buf, &len, err);
	if (ret == 0)
		ret = json_parse(buf, len, &st, err);
	if (ret == 0)
		ret = runc ? runc_load(c, st, err) : crun_load(c, st, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s/%s/%s", c->root, c->id, file);
	c->state = steal_pointer(&buf);
	derive_status(c, dirfd);
	return load_config(c, err);
}

int oci_find(const char *runtime, const char *root, const char *id, struct oci_container *c,
	     ckpt_err_t *err)
{
	cleanup_close int dirfd = -1;
	int ret;

	memset(c, 0, sizeof(*c));
	if (runtime && strcmp(runtime, "runc") && strcmp(runtime, "crun"))
		return ckpt_error_msg(err, EINVAL, "unknown runtime `%s` (runc or crun)", runtime);
	if (!valid_id(id))
		return ckpt_error_msg(err, EINVAL, "bad container name `%s`", id);
	dirfd = open_state(root ? root : oci_default_root(runtime ? runtime : "runc"), id);
	/* Without --runtime, a container only crun knows is crun's. */
	if (dirfd == -ENOENT && !runtime && !root) {
		dirfd = open_state(oci_default_root("crun"), id);
		if (dirfd >= 0)
			runtime = "crun";
		else
			dirfd = -ENOENT;
	}
	/* Under a --root of its own, the state file tells the runtime. */
	if (!runtime && dirfd >= 0 && faccessat(dirfd, "state.json", F_OK, 0) < 0 &&
	    faccessat(dirfd, "status", F_OK, 0) == 0)
		runtime = "crun";
	runtime = runtime ? runtime : "runc";
	root = root ? root : oci_default_root(runtime);
	if (dirfd == -ENOENT)
		return ckpt_error_msg(err, ENOENT, "no container `%s` in %s", id, root);
	if (dirfd < 0)
		return ckpt_error(err, -dirfd, "open %s/%s", root, id);
	c->runtime = xstrdup(runtime);
	c->root = xstrdup(root);
	c->id = xstrdup(id);
	ret = load(c, dirfd, err);
	if (ret < 0)
		oci_container_free(c);
	return ret;
}

void oci_container_free(struct oci_container *c)
{
	free(c->runtime);
	free(c->root);
	free(c->id);
	free(c->bundle);
	free(c->rootfs);
	free(c->cgroup);
	free(c->config);
	free(c->state);
	memset(c, 0, sizeof(*c));
}

int oci_lock(const struct oci_container *c, char **path, ckpt_err_t *err)
{
	/* one lock per runtime, state root and id: the same id under two roots is two containers */
	cleanup_free char *root = xstrdup(c->root);
	int fd;

	for (char *p = root; *p; p++)
		*p = *p == '/' ? '%' : *p;
	*path = xasprintf(LOCK_DIR "/%s:%s:%s.lock", c->runtime, root, c->id);
	fd = lockfile_take(*path, err);
	if (fd == -EBUSY)
		return ckpt_error_msg(err, EBUSY,
				      "container `%s` is busy: another "
				      "checkpoint of it is running",
				      c->id);
	return fd;
}

/* `RUNTIME --root ROOT delete -f ID`, as after `runc kill` + `runc delete`. */
int oci_delete(const struct oci_container *c, ckpt_err_t *err)
{
	const char *const argv[] = {c->runtime, "--root", c->root, "delete", "-f", c->id, NULL};
	struct spawn s = {
		.argv = argv, .out = SPAWN_PIPE, .out_max = 4096, .errout = SPAWN_TO_STDOUT};
	int ret = spawn_run(&s, err);

	if (ret == 0 && !spawn_ok(&s))
		ret = ckpt_error_msg(err, EIO, "%s delete -f %s failed: %s", c->runtime, c->id,
				     spawn_last_line(&s));
	spawn_free(&s);
	return ret;
}
