/*
 * oci/restore.c - restore a container bundle under the runtime it came
 * from, so that `runc list`, `runc state`, `runc kill`, `runc exec` and
 * `runc delete` (or crun's) work on the restored container.
 *
 * The engine restores the tree as for any bundle: fresh namespaces, the
 * mounts of the bundle, and, since a container's cgroups are recorded at
 * checkpoint, new cgroups named after the container below ckpt-oci's own
 * (where the runtime would have made them). Once the whole tree exists and
 * before it resumes (the adopt callback), the runtime's state is written
 * for it: the state file saved at checkpoint (oci.json), with what differs
 * now: the id, the init's pid and start time, the namespaces and cgroups
 * of the new tree, the creation time, the stdio. A runtime reads nothing
 * else about a running container, so from then on it manages it as one it
 * started. Nothing of the runtime's runs during the restore; runc's own
 * `runc restore` works the same way around CRIU (DESIGN.md, containers).
 *
 * Trust: the bundle is authenticated (its MAC) before oci.json is read, and
 * even so it never chooses where on the host we write: the state root is
 * --root or the runtime's default, never the one recorded; the root
 * directory is --rootfs, or the recorded one only when the MAC verified,
 * and never the host's "/". A bundle restored unauthenticated
 * (--insecure-unauthenticated) also loses what would run on the host: its
 * runtime hooks, and the periodic checkpoints its annotations ask for.
 */
#define LOG_PREFIX "oci: "
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "util/doc.h"
#include "util/json.h"
#include "oci/oci.h"
#include "util/journal.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

struct adopt {
	struct oci_restore_opts *o;
	struct json *saved;				   /* oci.json */
	const char *saved_runtime, *saved_root, *saved_id; /* in oci.json: names only */
	struct json *config; /* the bundle's config.json, NULL if none */
	struct json *mounts; /* its mounts.json, read only when it is not authenticated */
	bool authenticated;  /* the bundle's MAC verified */
	const char *runtime, *root, *name;
	char *dir;	    /* ROOT/NAME */
	bool made;	    /* dir made by us */
	int journal;	    /* its journal entry, until the tree runs */
	const char *rootfs; /* the root directory the tree gets */
	char *mapping;	    /* OLD=NEW for the root mount, with --rootfs */
};

bool oci_is_container_bundle(const char *bundle)
{
	cleanup_free char *path = xasprintf("%s/oci.json", bundle);

	return access(path, F_OK) == 0;
}

static bool valid_name(const char *id)
{
	return *id && strlen(id) < 1024 && !strchr(id, '/') && strcmp(id, ".") && strcmp(id, "..");
}

/* "2026-11-26T09:08:26.699173866Z", as the runtimes write it. */
static char *now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

/* Directory of pid's cgroup for key; the tree must have one of its own. */
static int cg_dir(pid_t pid, const char *key, char **out, ckpt_err_t *err)
{
	cleanup_free char *mnt = proc_cgroup_mount(key), *rel = proc_cgroup_path(pid, key);

	if (!mnt || !rel)
		return ckpt_error_msg(err, ENOENT, "cgroup hierarchy `%s` not found here",
				      *key ? key : "unified");
	if (!strcmp(rel, "/"))
		return ckpt_error_msg(err, EPROTO,
				      "the restored tree has no cgroup of its own "
				      "in `%s`",
				      *key ? key : "unified");
	*out = xasprintf("%s%s", mnt, rel);
	return 0;
}

/* Where fd n of pid leads, for the runtime's record of the stdio. */
static struct json *fd_target(pid_t pid, int n)
{
	cleanup_free char *path = xasprintf("/proc/%d/fd/%d", pid, n);
	char buf[4096];
	ssize_t len = readlink(path, buf, sizeof(buf) - 1);

	if (len < 0)
		return json_str("/dev/null");
	return json_strn(buf, len);
}

static const char *const ns_keys[][2] = {
	{"NEWCGROUP", "cgroup"}, {"NEWIPC", "ipc"},   {"NEWNET", "net"}, {"NEWNS", "mnt"},
	{"NEWPID", "pid"},	 {"NEWUSER", "user"}, {"NEWUTS", "uts"}, {"NEWTIME", "time"},
};

static int runc_state(struct adopt *a, struct json *st, pid_t pid, unsigned long long start,
		      ckpt_err_t *err)
{
	struct json *cfg = json_get(st, "config"), *cg = json_get(st, "cgroup_paths");
	struct json *nsp = json_set(st, "namespace_paths", json_obj());
	struct json *ext = json_set(st, "external_descriptors", json_arr());
	cleanup_json struct json *paths = json_obj();
	cleanup_free char *created = now_rfc3339();

	json_set(st, "id", json_str(a->name));
	json_set(st, "init_process_pid", json_int(pid));
	json_set(st, "init_process_start", json_int(start));
	json_set(st, "created", json_str(created));
	if (!cfg)
		return ckpt_error_msg(err, EPROTO, "oci.json: state.config: missing");
	json_set(cfg, "rootfs", json_str(a->rootfs));
	/* runc runs the config's poststop hooks as root at `runc delete` */
	if (!a->authenticated)
		json_set(cfg, "hooks", json_obj());
	if (json_get(cfg, "cgroups"))
		json_set(json_get(cfg, "cgroups"), "name", json_str(a->name));
	for (size_t i = 0; i < json_len(cg); i++) {
		const char *key = json_key_at(cg, i);
		cleanup_free char *dir = NULL;

		if (!key || cg_dir(pid, key, &dir, err) < 0)
			return key ? -err->code : ckpt_error_msg(err, EPROTO, "bad cgroup_paths");
		json_set(paths, key, json_str(dir));
	}
	json_set(st, "cgroup_paths", steal_pointer(&paths));
	for (size_t i = 0; i < ARRAY_SIZE(ns_keys); i++) {
		cleanup_free char *p = xasprintf("/proc/%d/ns/%s", pid, ns_keys[i][1]);

		if (access(p, F_OK) == 0)
			json_set(nsp, ns_keys[i][0], json_str(p));
	}
	for (int n = 0; n < 3; n++)
		json_push(ext, fd_target(pid, n));
	return 0;
}

/* crun's status: the cgroup relative to the hierarchies (freezer's, else v2). */
static int crun_state(struct adopt *a, struct json *st, pid_t pid, unsigned long long start,
		      ckpt_err_t *err)
{
	cleanup_free char *rel = proc_cgroup_path(pid, "freezer"), *created = now_rfc3339();
	struct json *ext;

	if (!rel || !strcmp(rel, "/")) {
		free(rel);
		rel = proc_cgroup_path(pid, "");
	}
	if (!rel || !strcmp(rel, "/"))
		return ckpt_error_msg(err, EPROTO, "the restored tree has no cgroup of its own");
	json_set(st, "pid", json_int(pid));
	json_set(st, "process-start-time", json_int(start));
	json_set(st, "cgroup-path", json_str(rel));
	json_set(st, "rootfs", json_str(a->rootfs));
	json_set(st, "created", json_str(created));
	ext = json_set(st, "external_descriptors", json_arr());
	for (int n = 0; n < 3; n++)
		json_push(ext, fd_target(pid, n));
	return 0;
}

static int write_doc(const char *dir, const char *file, const char *text, ckpt_err_t *err)
{
	cleanup_free char *tmp = xasprintf("%s/.%s.tmp", dir, file);
	cleanup_free char *path = xasprintf("%s/%s", dir, file);
	int ret;

	ret = write_file_at(AT_FDCWD, tmp, text, strlen(text), 0600, err);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = ckpt_error(err, errno, "rename %s", tmp);
	return ret;
}

/* The engine's adopt callback: the tree exists, stopped; hand it over. */
static int adopt(struct ckpt_restore_opts *ro, ckpt_err_t *err)
{
	struct adopt *a = ro->arg;
	bool runc = !strcmp(a->runtime, "runc");
	struct json *st = json_get(a->saved, "state");
	unsigned long long start = 0;
	cleanup_free char *text = NULL;
	int ret;

	ret = oci_proc_starttime(ro->root_pid, &start);
	if (ret < 0)
		return ckpt_error(err, -ret, "start time of %d", ro->root_pid);
	ret = runc ? runc_state(a, st, ro->root_pid, start, err)
		   : crun_state(a, st, ro->root_pid, start, err);
	if (ret < 0)
		return ret;
	if (mkdir(a->root, 0700) < 0 && errno != EEXIST)
		return ckpt_error(err, errno, "mkdir %s", a->root);
	a->journal = journal_add("rmtree", "%s", a->dir);
	if (mkdir(a->dir, 0711) < 0)
		return ckpt_error(err, errno, "mkdir %s", a->dir);
	a->made = true;
	if (!runc) {
		/* crun keeps the config beside the status, and runs its hooks at delete */
		cleanup_free char *cfg = NULL;

		if (!a->config)
			return ckpt_error_msg(err, EPROTO, "config.json: not in the bundle");
		if (!a->authenticated)
			json_set(a->config, "hooks", json_obj());
		cfg = json_dump(a->config, false, NULL);
		ret = write_doc(a->dir, "config.json", cfg, err);
		if (ret < 0)
			return ret;
	}
	text = json_dump(st, false, NULL);
	ret = write_doc(a->dir, runc ? "state.json" : "status", text, err);
	if (ret == 0)
		pr_info("%s knows the restored tree (pid %d) as `%s`", a->runtime, ro->root_pid,
			a->name);
	return ret;
}

/*
 * The engine's verified callback: put the root directory's changes back,
 * then take the root's state as the base the next checkpoint compares
 * with (the tree has not run yet). Without a base that checkpoint falls
 * back on change times: worth a warning, not a failed restore.
 */
static int put_rootfs(struct ckpt_restore_opts *ro, struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct adopt *a = ro->arg;
	ckpt_err_t e = {0};
	int ret;

	if (!oci_rootfs_in_bundle(b))
		return 0;
	ret = oci_rootfs_apply(b, a->rootfs, err);
	if (ret == 0 && oci_rootfs_base_take(a->rootfs, &e) < 0)
		pr_warn("%s", e.msg);
	return ret;
}

/* An optional string member at obj.key, NULL when absent or not a string. */
static const char *opt_str(const struct json *obj, const char *key)
{
	struct doc_at at = DOC_TOP("oci.json");
	const char *s = NULL;

	if (json_type(obj) != JSON_OBJ || doc_opt_str(&at, obj, key, PATH_MAX, &s, NULL) < 0)
		return NULL;
	return s;
}

/* The container's OCI bundle directory, as the runtime recorded it. */
static const char *old_bundle(const struct json *saved)
{
	const struct json *st = json_get(saved, "state");
	const struct json *labels = json_get(json_get(st, "config"), "labels");
	const char *b = opt_str(st, "bundle"), *l;
	struct doc_at at = DOC_TOP("oci.json");

	/* a label not a string is no bundle's */
	for (size_t i = 0; !b && json_type(labels) == JSON_ARR && i < json_len(labels); i++)
		if (doc_elem_str(&at, labels, i, PATH_MAX, &l, NULL) == 0 &&
		    !strncmp(l, "bundle=", 7))
			b = l + 7;
	return b;
}

/* The old root directory, as the runtime recorded it: a name for messages. */
static const char *old_rootfs(const struct json *saved)
{
	const struct json *st = json_get(saved, "state");
	const char *r = opt_str(json_get(st, "config"), "rootfs");

	return r ? r : opt_str(st, "rootfs");
}

/*
 * The engine's running callback: a container whose config.json asks for
 * periodic checkpoints (org.ckpt-oci.checkpoint-interval) got them from
 * its poststart hook; restored, it gets them again from the same hook code,
 * told the runtime and root it now lives under. A failure is logged where
 * the hook logs it, and the container runs on.
 */
static void restart_checkpoints(struct ckpt_restore_opts *ro)
{
	struct adopt *a = ro->arg;
	cleanup_json struct json *st = json_obj(), *copy = NULL;
	cleanup_free char *text = NULL;
	struct json *anns;
	ckpt_err_t e = {0};
	size_t len = 0;

	anns = json_get(a->config, "annotations");
	if (json_type(anns) != JSON_OBJ || !json_get(anns, "org.ckpt-oci.checkpoint-interval"))
		return;
	if (!a->authenticated) {
		/* its annotations would choose where on the host bundles are written */
		pr_warn("container `%s` runs, without periodic checkpoints: its bundle is not "
			"authenticated",
			a->name);
		return;
	}
	if (!json_get(anns, "org.ckpt-oci.runtime") && !json_get(anns, "org.ckpt-oci.root")) {
		json_set(anns, "org.ckpt-oci.runtime", json_str(a->runtime));
		json_set(anns, "org.ckpt-oci.root", json_str(a->root));
	}
	json_set(st, "ociVersion", json_str("1.0.2"));
	json_set(st, "id", json_str(a->name));
	json_set(st, "status", json_str("running"));
	json_set(st, "pid", json_int(ro->root_pid));
	json_set(st, "bundle", json_str(old_bundle(a->saved) ?: ro->bundle));
	text = json_dump(anns, false, &len);
	if (json_parse(text, len, &copy, &e) < 0)
		return;
	json_set(st, "annotations", steal_pointer(&copy));
	free(text);
	text = json_dump(st, false, &len);
	if (oci_hook("poststart", text, len, &e) < 0)
		pr_warn("container `%s` runs, without periodic checkpoints: %s", a->name, e.msg);
}

/* The runtime's directory for the container, removed with what is in it. */
static void remove_state(const char *dir)
{
	static const char *const files[] = {"state.json",      "status",      "config.json",
					    ".state.json.tmp", ".status.tmp", ".config.json.tmp"};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, files[i]);

		(void)unlink(p);
	}
	(void)rmdir(dir);
}

/*
 * oci.json and config.json through the bundle, after its MAC: the
 * runtime's name decides the code path; its recorded root, id and root
 * directory are names unless the command line or the MAC says otherwise.
 */
static int load_saved(struct adopt *a, struct ckpt_bundle *b, ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("oci.json");
	const struct json *st;
	int ret;

	ret = bundle_get_json(b, "oci.json", &a->saved, err);
	if (ret < 0)
		return ret;
	if (doc_str(&at, a->saved, "runtime", 16, &a->saved_runtime, err) < 0 ||
	    doc_str(&at, a->saved, "root", PATH_MAX, &a->saved_root, err) < 0 ||
	    doc_str(&at, a->saved, "id", 1024, &a->saved_id, err) < 0 ||
	    doc_obj(&at, a->saved, "state", &st, err) < 0)
		return -EPROTO;
	if (bundle_has_file(b, "config.json"))
		ret = bundle_get_json(b, "config.json", &a->config, err);
	if (ret == 0 && !a->authenticated && bundle_has_file(b, "mounts.json"))
		ret = bundle_get_json(b, "mounts.json", &a->mounts, err);
	return ret;
}

/* path is dir or below it (dir is len bytes). */
static bool path_under(const char *path, const char *dir, size_t len)
{
	return len && !strncmp(path, dir, len) &&
	       (!path[len] || path[len] == '/' || dir[len - 1] == '/');
}

/* A host path the command line gives: under --rootfs or an OLD of --mount-map. */
static bool on_command_line(const struct oci_restore_opts *o, const char *path)
{
	for (int i = 0; i < o->restore.nmount_map; i++) {
		const char *m = o->restore.mount_map[i], *eq = strchr(m, '=');

		if (eq && path_under(path, m, eq - m))
			return true;
	}
	return o->rootfs && path_under(path, o->rootfs, strlen(o->rootfs));
}

static int source_refused(const char *mnt, const char *src, ckpt_err_t *err)
{
	return ckpt_error_msg(err, EPERM,
			      "an unauthenticated bundle does not choose mount sources: mount `%s` "
			      "from `%s`: give --mount-map %s=DIR",
			      mnt, src, src);
}

/* Overlay layers are host directories too: lowerdir=a:b,upperdir=c,workdir=d. */
static int check_layers(const struct oci_restore_opts *o, const char *mnt, const char *opts,
			ckpt_err_t *err)
{
	static const char *const keys[] = {"lowerdir=", "upperdir=", "workdir="};
	cleanup_free char *copy = xstrdup(opts);
	char *save = NULL;

	for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			char *save2 = NULL;

			if (strncmp(opt, keys[k], strlen(keys[k])))
				continue;
			for (char *p = strtok_r(opt + strlen(keys[k]), ":", &save2); p;
			     p = strtok_r(NULL, ":", &save2))
				if (!on_command_line(o, p))
					return source_refused(mnt, p, err);
		}
	}
	return 0;
}

/*
 * An unauthenticated bundle names no host directory to mount: every
 * external mount's source and every overlay layer must be one the command
 * line maps (--rootfs for the root, --mount-map for the rest).
 */
static int check_mount_sources(const struct oci_restore_opts *o, const struct adopt *a,
			       ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("mounts.json"), lat = DOC_KEY(&at, "mounts");
	const struct json *list, *m;
	size_t n;

	if (a->authenticated || !a->mounts)
		return 0;
	if (doc_arr(&at, a->mounts, "mounts", 100000, &list, &n, err) < 0)
		return -EPROTO;
	for (size_t i = 0; i < n; i++) {
		struct doc_at el = DOC_IDX(&lat, i);
		const char *mnt, *kind, *fstype, *src = NULL, *opts = NULL;

		if (doc_elem_obj(&lat, list, i, &m, err) < 0 ||
		    doc_str(&el, m, "mountpoint", PATH_MAX, &mnt, err) < 0 ||
		    doc_str(&el, m, "kind", 16, &kind, err) < 0 ||
		    doc_str(&el, m, "fstype", 64, &fstype, err) < 0 ||
		    doc_opt_str(&el, m, "host_path", PATH_MAX, &src, err) < 0 ||
		    doc_opt_str(&el, m, "options", PATH_MAX, &opts, err) < 0)
			return -EPROTO;
		if (!strcmp(kind, "external") && (!src || !on_command_line(o, src)))
			return source_refused(mnt, src ? src : "?", err);
		if (!strcmp(kind, "fresh") && !strcmp(fstype, "overlay") && opts &&
		    check_layers(o, mnt, opts, err) < 0)
			return -EPERM;
	}
	return 0;
}

/* The same directory as the host's "/" (through any link): never a container's root. */
static bool is_host_root(const struct stat *st)
{
	struct stat root;

	return stat("/", &root) == 0 && root.st_dev == st->st_dev && root.st_ino == st->st_ino;
}

/*
 * The root directory: --rootfs DIR (a copy of the image, onto which the
 * changes go; the root mount is mapped there), else the recorded one when
 * the bundle is authenticated: an unauthenticated one only names it.
 */
static int choose_rootfs(struct oci_restore_opts *o, struct adopt *a, const char ***maps,
			 ckpt_err_t *err)
{
	const char *old = old_rootfs(a->saved);
	struct stat st;
	int n = o->restore.nmount_map;

	if (o->rootfs && o->rootfs[0] != '/')
		return ckpt_error_msg(err, EINVAL, "--rootfs wants an absolute path");
	if (!o->rootfs && !a->authenticated)
		return ckpt_error_msg(err, EPERM,
				      "an unauthenticated bundle does not choose the container's "
				      "root directory (it names `%s`): give --rootfs DIR",
				      old ? old : "none");
	if (!o->rootfs && !old)
		return ckpt_error_msg(err, EPROTO,
				      "oci.json: no root directory: give --rootfs DIR");
	a->rootfs = o->rootfs ?: old;
	if (stat(a->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return ckpt_error_msg(
			err, ENOENT,
			o->rootfs ? "--rootfs `%s` is not a directory"
				  : "root directory `%s` is gone: give --rootfs DIR (a copy of "
				    "the image)",
			a->rootfs);
	if (is_host_root(&st))
		return ckpt_error_msg(err, EPERM,
				      "root directory `%s` is the host's /, not a container's",
				      a->rootfs);
	if (!o->rootfs || !old || !strcmp(o->rootfs, old))
		return 0;
	/* the root mount is a bind of the old directory: take it from the new one */
	*maps = xzalloc((n + 1) * sizeof(**maps));
	if (n)
		memcpy(*maps, o->restore.mount_map, n * sizeof(**maps));
	(*maps)[n] = a->mapping = xasprintf("%s=%s", old, o->rootfs);
	o->restore.mount_map = *maps;
	o->restore.nmount_map = n + 1;
	return 0;
}

/*
 * The bundle, authenticated and its documents read, before anything else;
 * then runtime, state root and name, chosen by the command line first.
 */
static int prepare(struct oci_restore_opts *o, struct adopt *a, bool *has_cgroup, ckpt_err_t *err)
{
	struct bundle_auth auth = {.key_file = o->restore.key_file,
				   .insecure = o->restore.insecure_unauthenticated,
				   .seal_key_file = o->restore.decrypt_key,
				   .quiet = true /* ckpt_restore's own open warns */};
	struct ckpt_bundle *b = NULL;
	int ret;

	/* lazy from a page server (migrate --lazy): its page images are not here */
	if (o->restore.lazy && o->restore.page_server)
		ret = bundle_open_lazy(o->restore.bundle, &auth, true, &b, err);
	else
		ret = bundle_open_documents(o->restore.bundle, &auth, &b, err);
	if (ret < 0)
		return ret;
	a->authenticated = bundle_mac_status(b) == BUNDLE_MAC_VERIFIED;
	ret = load_saved(a, b, err);
	*has_cgroup = bundle_has_file(b, "cgroup.json");
	bundle_close(b);
	if (ret < 0)
		return ret;
	a->runtime = o->runtime ?: a->saved_runtime;
	a->root = o->root ?: oci_default_root(a->runtime);
	a->name = o->name ?: a->saved_id;
	if (strcmp(a->runtime, "runc") && strcmp(a->runtime, "crun"))
		return ckpt_error_msg(err, EINVAL, "unknown runtime `%s` (runc or crun)",
				      a->runtime);
	if (strcmp(a->runtime, a->saved_runtime))
		return ckpt_error_msg(err, EINVAL, "the bundle holds a %s container, not %s",
				      a->saved_runtime, a->runtime);
	if (!valid_name(a->name))
		return ckpt_error_msg(err, EINVAL, "bad container name `%s`", a->name);
	if (a->root[0] != '/')
		return ckpt_error_msg(err, EINVAL, "--root wants an absolute path");
	if (!o->no_runtime && !*has_cgroup)
		return ckpt_error_msg(err, EPROTO,
				      "the bundle records no cgroup for the "
				      "container: restore it with --no-runtime");
	if (!o->root && strcmp(a->saved_root, a->root))
		pr_info("the container came from state root %s; restored under %s (--root "
			"chooses another)",
			a->saved_root, a->root);
	return 0;
}

int oci_restore(struct oci_restore_opts *o, ckpt_err_t *err)
{
	struct adopt a = {.o = o, .journal = -1};
	const char *const *maps_given = o->restore.mount_map;
	const char **maps = NULL;
	bool has_cgroup = false;
	int ret;

	ret = prepare(o, &a, &has_cgroup, err);
	if (ret == 0)
		ret = choose_rootfs(o, &a, &maps, err);
	if (ret == 0)
		ret = check_mount_sources(o, &a, err);
	if (ret < 0)
		goto out;
	a.dir = xasprintf("%s/%s", a.root, a.name);
	if (!o->no_runtime && access(a.dir, F_OK) == 0) {
		ret = ckpt_error_msg(err, EEXIST, "container `%s` already exists in %s", a.name,
				     a.root);
		goto out;
	}
	if (!o->no_runtime) {
		o->restore.cgroup_name = a.name;
		o->restore.adopt = adopt;
		o->restore.running = restart_checkpoints;
	}
	o->restore.verified = put_rootfs;
	o->restore.arg = &a;
	ret = ckpt_restore(&o->restore, err);
	if (ret < 0 && a.made)
		remove_state(a.dir);
	journal_done(a.journal);
	if (ret == 0 && !o->no_runtime) {
		o->restored.runtime = xstrdup(a.runtime);
		o->restored.root = xstrdup(a.root);
		o->restored.id = xstrdup(a.name);
	}
out:
	o->restore.adopt = NULL;
	o->restore.running = NULL;
	o->restore.verified = NULL;
	o->restore.arg = NULL;
	o->restore.cgroup_name = NULL;
	if (maps) {
		o->restore.mount_map = maps_given;
		o->restore.nmount_map--;
		free(maps);
	}
	json_free(a.saved);
	json_free(a.config);
	json_free(a.mounts);
	free(a.dir);
	free(a.mapping);
	return ret;
}
