/*
 * namespaces/mnt-restore.c - rebuild the tree's mount table (mounts.json)
 * inside the new mount namespace, in the root process before its children
 * exist. See mnt.c for the kinds of mounts.
 *
 * The namespace starts as a copy of ckpt-oci's. Every host source is
 * cloned first (open_tree, detached), while host paths still resolve; then
 * the copy is made private so nothing propagates back to the host, the
 * tree's root is attached on /tmp and the rest below it, parents first;
 * pivot_root makes it the root and the old one is detached. Per-mount
 * flags (read-only) and propagation (mnt-peers.c) come last: read-only
 * would stop the mounting of children, and pivot_root refuses a shared
 * new root.
 * Paths inside the tree are resolved with RESOLVE_IN_ROOT, as the restored
 * program will see them, so a symlink in a bundle cannot reach the host.
 */
#define LOG_PREFIX "mnt: "
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "files/files.h"
#include "namespaces/mnt.h"
#include "util/log.h"
#include "util/util.h"

#define MNT_STAGE "/tmp"

/* The --mount-map OLD=NEW whose OLD path is under (the first), or NULL. */
static const char *map_of(const struct ns_restore *r, const char *path)
{
	for (int i = 0; i < r->nmount_map; i++) {
		const char *eq = strchr(r->mount_map[i], '=');
		size_t len = eq ? (size_t)(eq - r->mount_map[i]) : 0;

		if (len && !strncmp(path, r->mount_map[i], len) &&
		    (!path[len] || path[len] == '/' || r->mount_map[i][len - 1] == '/'))
			return r->mount_map[i];
	}
	return NULL;
}

/* OLD=NEW from --mount-map: the first OLD that path is under. */
static char *map_path(const struct ns_restore *r, const char *path)
{
	const char *m = map_of(r, path), *eq = m ? strchr(m, '=') : NULL;

	return eq ? xasprintf("%s%s", eq + 1, path + (eq - m)) : xstrdup(path);
}

static char *map_layers(const struct ns_restore *r, const char *val)
{
	cleanup_free char *copy = xstrdup(val);
	char *out = xzalloc(1), *save = NULL;

	for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		cleanup_free char *m = map_path(r, p);
		char *o = xasprintf("%s%s%s", out, *out ? ":" : "", m);

		free(out);
		out = o;
	}
	return out;
}

/*
 * A cgroup mount needs its hierarchy on this host: a node with other
 * controllers (or cgroup v2 only) is refused before anything starts.
 */
static int cgroup_check(const struct rmount *m, ckpt_err_t *err)
{
	const char *super = m->rec.super ?: "";
	cleanup_free char *cg = proc_cgroup_path_for_mount(0, m->fstype, super);

	if (!cg)
		return ckpt_error_msg(err, ENOENT, "mount `%s`: this host has no %s hierarchy `%s`",
				      m->mountpoint, m->fstype, super);
	return 0;
}

/*
 * In ckpt-oci, before anything is created: every host source must exist,
 * every cgroup hierarchy too.
 */
int mnt_prepare(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	struct rmount *v = NULL;
	int n = 0, ret;

	ret = mnt_load(r, &doc, &v, &n, err);
	for (int i = 0; ret == 0 && i < n; i++) {
		cleanup_free char *p = NULL;
		struct stat st;

		if (!strcmp(v[i].kind, "cgroup")) {
			ret = cgroup_check(&v[i], err);
			continue;
		}
		if (strcmp(v[i].kind, "external"))
			continue;
		p = map_path(r, v[i].rec.host_path);
		/*
		 * A bundle never names a place on the host: unauthenticated,
		 * every source comes from --mount-map (a container's root and
		 * runtime restore give theirs so), which also makes the tree's
		 * root one the command line chose (restore.c: check_confine).
		 */
		if (bundle_mac_status(r->bundle) != BUNDLE_MAC_VERIFIED &&
		    !map_of(r, v[i].rec.host_path))
			ret = ckpt_error_msg(
				err, EPERM,
				"an unauthenticated bundle does not choose mount sources: "
				"mount `%s` from `%s`: give --mount-map %s=DIR",
				v[i].mountpoint, p, p);
		else if (stat(p, &st) < 0)
			ret = ckpt_error(err, errno,
					 "mount `%s`: host source `%s` (use --mount-map OLD=NEW "
					 "to give another)",
					 v[i].mountpoint, p);
	}
	mnt_rmounts_free(v, n);
	return ret;
}

/* A new superblock of the saved type, source and options: its context fd. */
static int fresh_context(struct ns_restore *r, const struct rmount *m, ckpt_err_t *err)
{
	cleanup_free char *super = xstrdup(m->rec.super ?: "");
	const char *source = m->rec.source ?: m->fstype;
	cleanup_close int fs = fsopen(m->fstype, FSOPEN_CLOEXEC);
	char *save = NULL;

	if (fs < 0)
		return ckpt_error(err, errno, "fsopen %s", m->fstype);
	if (fsconfig(fs, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return ckpt_error(err, errno, "%s: source `%s`", m->fstype, source);
	for (char *o = strtok_r(super, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		cleanup_free char *val = NULL;
		char *eq = strchr(o, '=');
		int rc;

		if (!strcmp(o, "rw") || !strcmp(o, "ro"))
			continue;
		if (eq) {
			*eq = '\0';
			val = strstr(o, "dir") ? map_layers(r, eq + 1) : xstrdup(eq + 1);
			rc = fsconfig(fs, FSCONFIG_SET_STRING, o, val, 0);
		} else {
			rc = fsconfig(fs, FSCONFIG_SET_FLAG, o, NULL, 0);
		}
		if (rc < 0)
			pr_warn("%s on `%s`: option `%s`: %s, ignoring", m->fstype, m->mountpoint,
				o, strerror(errno));
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return ckpt_error(err, errno, "create %s for `%s`", m->fstype, m->mountpoint);
	return steal_fd(&fs);
}

/*
 * The mount itself, made only when it is attached: mountinfo lists mounts
 * in the order they were made, so that order must be the saved one.
 */
static int fresh_mount(struct ns_restore *r, struct rmount *m, ckpt_err_t *err)
{
	int fd;

	if (m->src < 0)
		m->src = fresh_context(r, m, err);
	if (m->src < 0)
		return m->src;
	fd = fsmount(m->src, FSMOUNT_CLOEXEC, 0);
	if (fd < 0)
		return ckpt_error(err, errno, "fsmount %s", m->fstype);
	return fd;
}

/* mkdir -p of path below dirfd, from offset off on (what is before exists). */
static int mkdirs_at(int dirfd, const char *path, size_t off)
{
	cleanup_free char *p = xstrdup(path);

	for (char *c = p + off;; *c++ = '/') {
		c = strchr(c, '/');
		if (c)
			*c = '\0';
		if (mkdirat(dirfd, p, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (!c)
			return 0;
	}
}

/*
 * The restored tree's cgroup (plus the saved path below it) in the
 * hierarchy of m: mounted whole (inside a cgroup namespace the kernel
 * gives its root instead), then the tree's directory is cloned out of it.
 * The root process runs this after it joined its cgroups, so its own
 * /proc/self/cgroup names them, relative to its namespace as the mount is.
 */
static int cgroup_mount(struct ns_restore *r, struct rmount *m, ckpt_err_t *err)
{
	const char *rel = m->rec.cgroup_root;
	const char *super = m->rec.super ?: "";
	cleanup_free char *cg = proc_cgroup_path_for_mount(0, m->fstype, super);
	cleanup_free char *path = NULL;
	cleanup_close int whole = -1;
	int fd;

	if (!rel || strstr(rel, ".."))
		return ckpt_error_msg(err, EPROTO, "bad cgroup_root");
	if (!cg)
		return ckpt_error_msg(err, ENOENT, "this host has no %s hierarchy `%s`", m->fstype,
				      super);
	whole = fresh_mount(r, m, err);
	if (whole < 0)
		return whole;
	path = xasprintf(".%s/%s", cg, rel);
	/* a cgroup below the tree's (one the program made) is made again */
	if (*rel && mkdirs_at(whole, path, strlen(cg) + 2) < 0)
		return ckpt_error(err, errno, "make cgroup `%s`", path + 1);
	fd = open_tree(whole, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (fd < 0)
		return ckpt_error(err, errno, "clone cgroup `%s`", path + 1);
	return fd;
}

static int external_mount(struct rmount *m, ckpt_err_t *err)
{
	int fd = open_tree(m->src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

	if (fd < 0)
		return ckpt_error(err, errno, "clone its host source");
	return fd;
}

/* Host sources, while host paths still resolve; cloned when attached. */
static int open_sources(struct ns_restore *r, struct rmount *v, int n, ckpt_err_t *err)
{
	for (int i = 0; i < n; i++) {
		if (!strcmp(v[i].kind, "external")) {
			cleanup_free char *p = map_path(r, v[i].rec.host_path);

			v[i].src = open(p, O_PATH | O_CLOEXEC);
			if (v[i].src < 0)
				return ckpt_error(err, errno, "mount `%s`: open host `%s`",
						  v[i].mountpoint, p);
		} else if (!strcmp(v[i].kind, "fresh") && !strcmp(v[i].fstype, "overlay")) {
			/* its layers are host paths */
			v[i].src = fresh_context(r, &v[i], err);
			if (v[i].src < 0)
				return v[i].src;
		}
	}
	return 0;
}

static int open_in(int root, const char *path, int flags)
{
	struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};

	return syscall(SYS_openat2, root, path[0] == '/' ? path + 1 : path, &how, sizeof(how));
}

/* mkdir -p below the tree's root; the last component a file when dir is false. */
static int make_mountpoint(int root, const char *mp, bool dir, ckpt_err_t *err)
{
	const char *c = mp;

	while (*c) {
		cleanup_free char *parent = NULL, *name = NULL;
		cleanup_close int pfd = -1;
		struct stat st;
		size_t len;
		int rc;

		while (*c == '/')
			c++;
		len = strcspn(c, "/");
		if (!len)
			break;
		parent = xasprintf("/%.*s", (int)(c - mp), mp);
		name = xasprintf("%.*s", (int)len, c);
		c += len;
		pfd = open_in(root, parent, O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return ckpt_error(err, errno, "mountpoint: open `%s`", parent);
		/* an existing one as it is: /proc/keys cannot be opened for writing */
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (!*c && !dir) {
			rc = openat(pfd, name, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (rc >= 0)
				close(rc);
			else if (errno == EEXIST || errno == EISDIR || errno == ELOOP)
				rc = 0;
		} else {
			rc = mkdirat(pfd, name, 0755);
			if (rc < 0 && errno == EEXIST)
				rc = 0;
		}
		if (rc < 0)
			return ckpt_error(err, errno, "create the mountpoint");
	}
	return 0;
}

/*
 * A bind of a pty slave of the tree's own devpts (runc binds its console
 * over /dev/console): the new devpts is empty, so the pair is made first at
 * the slave's index, its master kept for the fds (files/tty-restore.c). 1: made,
 * 0: not such a bind.
 */
static int pts_source(int root, const char *of, const char *rel, ckpt_err_t *err)
{
	cleanup_close int dir = open_in(root, of, O_PATH | O_DIRECTORY);
	struct statfs sf;
	char *end;
	long index;

	if (dir < 0 || fstatfs(dir, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC)
		return 0;
	index = strtol(rel, &end, 10);
	if (end == rel || *end || index < 0 || index >= (1 << 20))
		return 0;
	return pty_make_early(dir, index, err) < 0 ? -err->code : 1;
}

/* The detached mount for a bind inside the tree: a clone of what is there now. */
static int bind_create(int root, const struct rmount *m, ckpt_err_t *err)
{
	const char *of = m->rec.bind_of;
	const char *rel = m->rec.bind_root;
	cleanup_free char *src = NULL;
	cleanup_close int sfd = -1;
	int fd;

	if (!of || !rel)
		return ckpt_error_msg(err, EPROTO, "bind without a source");
	/* "of" itself when the whole mount is bound: it may be a file */
	src = *rel ? xasprintf("%s/%s", of, rel) : xstrdup(of);
	sfd = open_in(root, src, O_PATH);
	if (sfd < 0 && errno == ENOENT && *rel) {
		int ret = pts_source(root, of, rel, err);

		if (ret < 0)
			return ckpt_error_wrap(err, "bind source `%s`", src);
		if (ret > 0)
			sfd = open_in(root, src, O_PATH);
		else
			errno = ENOENT;
	}
	if (sfd < 0)
		return ckpt_error(err, errno, "bind source `%s`", src);
	fd = open_tree(sfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (fd < 0)
		return ckpt_error(err, errno, "clone `%s`", src);
	return fd;
}

/* Attach mount m (i > 0: below root) and fill it when it has saved content. */
static int attach_one(struct ns_restore *r, int root, struct rmount *m, ckpt_err_t *err)
{
	const char *content = m->rec.content;
	cleanup_close int tfd = -1;
	int ret;

	if (!strcmp(m->kind, "fresh"))
		m->fd = fresh_mount(r, m, err);
	else if (!strcmp(m->kind, "bind"))
		m->fd = bind_create(root, m, err);
	else if (!strcmp(m->kind, "external"))
		m->fd = external_mount(m, err);
	else if (!strcmp(m->kind, "cgroup"))
		m->fd = cgroup_mount(r, m, err);
	else
		return ckpt_error_msg(err, EPROTO, "unknown kind `%s`", m->kind);
	if (m->fd < 0)
		return m->fd;
	ret = make_mountpoint(root, m->mountpoint, m->rec.dir, err);
	if (ret < 0)
		return ret;
	tfd = open_in(root, m->mountpoint, O_PATH);
	if (tfd < 0)
		return ckpt_error(err, errno, "open the mountpoint");
	if (move_mount(m->fd, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return ckpt_error(err, errno, "attach");
	if (!strcmp(m->kind, "external")) {
		/*
		 * A clone of a shared host mount is its peer: mounting below it
		 * would reach the host. A slave never sends; anything else is
		 * private until the end.
		 */
		const char *prop = m->rec.propagation ?: "";

		ret = mnt_set_propagation(m->fd, strncmp(prop, "slave", 5) ? MS_PRIVATE : MS_SLAVE,
					  m->mountpoint, err);
		if (ret < 0)
			return ret;
	}
	if (content) {
		cleanup_close int dfd = openat(m->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			return ckpt_error(err, errno, "open `%s`", m->mountpoint);
		return mnt_tmpfs_restore(r->bundle, content, dfd, err);
	}
	return 0;
}

/*
 * Per-mount flags from the options field: rw/ro, nosuid, nodev, noexec,
 * atime. mountinfo names "relatime" and "noatime" but not "strictatime":
 * a mount with neither (runc's /dev) updates atime always.
 */
static void mount_flags(const char *opts, struct mount_attr *a)
{
	cleanup_free char *copy = xstrdup(opts ?: "");
	char *save = NULL;

	a->attr_clr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
		      MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW;
	a->attr_set = MOUNT_ATTR_STRICTATIME;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		static const struct {
			const char *name;
			__u64 flag;
		} map[] = {
			{"ro", MOUNT_ATTR_RDONLY},
			{"nosuid", MOUNT_ATTR_NOSUID},
			{"nodev", MOUNT_ATTR_NODEV},
			{"noexec", MOUNT_ATTR_NOEXEC},
			{"noatime", MOUNT_ATTR_NOATIME},
			{"relatime", MOUNT_ATTR_RELATIME},
			{"nodiratime", MOUNT_ATTR_NODIRATIME},
			{"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW},
		};

		for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
			if (strcmp(o, map[i].name))
				continue;
			if (map[i].flag == MOUNT_ATTR_NOATIME || !strcmp(o, "relatime"))
				a->attr_set &= ~(__u64)MOUNT_ATTR__ATIME; /* one atime mode */
			a->attr_set |= map[i].flag;
		}
	}
}

/* Has SUPER (superblock options, as in mountinfo) the word "ro"? */
static bool super_ro(const char *super)
{
	cleanup_free char *s = xasprintf(",%s,", super ?: "");

	return strstr(s, ",ro,") != NULL;
}

/*
 * A read-only superblock (runc's tmpfs over /proc/acpi) is made read-only
 * only now, once its content is written. Never one ckpt-oci's namespace
 * also mounts: a sysfs of the host's network namespace is the host's.
 */
static int finish_super(struct rmount *m, const dev_t *host, int nh, ckpt_err_t *err)
{
	cleanup_close int fs = -1;
	struct stat st;

	if (strcmp(m->kind, "fresh") || !super_ro(m->rec.super))
		return 0;
	if (fstat(m->fd, &st) < 0)
		return ckpt_error(err, errno, "stat `%s`", m->mountpoint);
	for (int i = 0; i < nh; i++) {
		if (host[i] == st.st_dev) {
			pr_warn("`%s`: its %s superblock is the host's, left read-write",
				m->mountpoint, m->fstype);
			return 0;
		}
	}
	fs = fspick(m->fd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return ckpt_error(err, errno, "make the %s of `%s` read-only", m->fstype,
				  m->mountpoint);
	return 0;
}

/* Last: flags (read-only) and propagation, once nothing more is mounted. */
static int finish_mounts(struct rmount *v, int n, const dev_t *host, int nh, ckpt_err_t *err)
{
	for (int i = 0; i < n; i++) {
		struct mount_attr a = {0};
		int ret = finish_super(&v[i], host, nh, err);

		if (ret < 0)
			return ret;
		mount_flags(v[i].rec.options, &a);
		if (mount_setattr(v[i].fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
			return ckpt_error(err, errno, "flags of `%s`", v[i].mountpoint);
	}
	return mnt_peers_restore(v, n, err);
}

/* The tree on MNT_STAGE becomes the root; the old root goes away. */
static int switch_root(ckpt_err_t *err)
{
	cleanup_close int old = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (old < 0 || chdir(MNT_STAGE) < 0)
		return ckpt_error(err, errno, "enter the new root");
	/* pivot_root(".", "."): the old root ends up stacked on the new one */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return ckpt_error(err, errno, "pivot_root");
	if (fchdir(old) < 0 || umount2(".", MNT_DETACH) < 0)
		return ckpt_error(err, errno, "detach the old root");
	if (chdir("/") < 0)
		return ckpt_error(err, errno, "chdir /");
	return 0;
}

/* The superblocks ckpt-oci's namespace mounts (this one is still a copy of it). */
static int host_devs(dev_t **out, int *n, ckpt_err_t *err)
{
	struct proc_mount *m = NULL;
	int ret = proc_read_mountinfo(AT_FDCWD, "/proc/self/mountinfo", &m, n, err);

	if (ret < 0)
		return ret;
	*out = xzalloc((*n + 1) * sizeof(**out));
	for (int i = 0; i < *n; i++)
		(*out)[i] = makedev(m[i].major, m[i].minor);
	proc_mounts_free(m, *n);
	return 0;
}

int mnt_restore(struct ns_restore *r, ckpt_err_t *err)
{
	cleanup_json struct json *doc = NULL;
	cleanup_free dev_t *host = NULL;
	cleanup_close int root = -1;
	struct rmount *v = NULL;
	int n = 0, nh = 0, ret;

	ret = mnt_load(r, &doc, &v, &n, err);
	if (ret == 0)
		ret = host_devs(&host, &nh, err);
	if (ret == 0)
		ret = open_sources(r, v, n, err);
	if (ret == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		ret = ckpt_error(err, errno, "make the mount namespace private");
	if (ret == 0)
		v[0].fd = !strcmp(v[0].kind, "fresh") ? fresh_mount(r, &v[0], err)
			  : !strcmp(v[0].kind, "external")
				  ? external_mount(&v[0], err)
				  : ckpt_error_msg(err, EPROTO, "kind `%s` as the root", v[0].kind);
	if (ret == 0 && v[0].fd < 0)
		ret = ckpt_error_wrap(err, "mount `/`");
	if (ret == 0 && move_mount(v[0].fd, "", AT_FDCWD, MNT_STAGE, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		ret = ckpt_error(err, errno, "attach the root on %s", MNT_STAGE);
	if (ret == 0 && (root = open(MNT_STAGE, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		ret = ckpt_error(err, errno, "open the new root");
	if (ret == 0 && !strcmp(v[0].kind, "external"))
		ret = mnt_set_propagation(v[0].fd, MS_PRIVATE, "/", err);
	if (ret == 0 && v[0].rec.content) {
		cleanup_close int dfd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ret = dfd < 0 ? ckpt_error(err, errno, "open the new root")
			      : mnt_tmpfs_restore(r->bundle, v[0].rec.content, dfd, err);
	}
	for (int i = 1; ret == 0 && i < n; i++) {
		ret = attach_one(r, root, &v[i], err);
		if (ret < 0)
			ckpt_error_wrap(err, "mount `%s`", v[i].mountpoint);
	}
	if (ret == 0)
		ret = switch_root(err);
	if (ret == 0)
		ret = finish_mounts(v, n, host, nh, err);
	if (ret == 0)
		pr_info("%d mounts restored", n);
	mnt_rmounts_free(v, n);
	return ret;
}
