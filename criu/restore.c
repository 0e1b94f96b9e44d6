/*
 * criu/restore.c - RESTORE: CRIU's restore request mapped onto
 * ckpt_restore(), the bundle taken from the images directory.
 *
 * The caller (runc) made the container's state, cgroups and root
 * directory, and put this service into the cgroups: the tree is born
 * there, its namespaces are the bundle's, its root is the request's root
 * (mapped from the one recorded at dump). Its stdio pipes are ours
 * (inherit_fd, which runc points at fds 0-2: the engine gives a restored
 * pipe leading outside the tree the restore's own). Notify points, with
 * the tree complete and not yet running: setup-namespaces and
 * post-setup-namespaces, post-restore (with the root's pid: runc writes
 * its state then), network-unlock, pre-resume; post-resume once it runs.
 */
#define LOG_PREFIX "criu: "
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "criu/swrk.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/util.h"

struct restore_run {
	struct swrk *s;
	int master; /* the new terminal's master, for the caller */
	uint64_t t0, t_adopt;
};

static int restore_refused(struct swrk *s, const char *netkey, ckpt_err_t *err)
{
	const CriuOpts *o = s->opts;

	if (o->lazy_pages)
		return swrk_refuse(s, "lazy_pages", err);
	if (o->ps)
		return swrk_refuse(s, "ps (page server)", err);
	/* parent_img: the bundle names its parent itself (chain.json) */
	if (o->n_external)
		return swrk_refuse(s, "external (external namespaces and resources)", err);
	if (o->n_join_ns)
		return swrk_refuse(s, "join_ns (joining existing namespaces)", err);
	/*
	 * runc always asks for an empty network namespace ("runc doesn't manage
	 * network devices"): the engine keeps the one the tree had, loopback
	 * and all, which is what a runc container's holds. Others are refused.
	 */
	if (o->empty_ns & ~(uint32_t)CLONE_NEWNET)
		return swrk_refuse(s, "empty_ns other than the network namespace", err);
	if (o->n_exec_cmd)
		return swrk_refuse(s, "exec_cmd", err);
	if (o->lsm_profile && *o->lsm_profile)
		return swrk_refuse(s, "lsm_profile", err);
	if (o->n_skip_mnt)
		return swrk_refuse(s, "skip_mnt", err);
	for (size_t i = 0; i < o->n_inherit_fd; i++) {
		const InheritFd *f = o->inherit_fd[i];

		if (netkey && !strcmp(f->key, netkey))
			continue; /* the caller's network namespace (extns.c) */
		/* runc's stdio: descriptors.json's pipes at the init's fds 0-2 */
		if (strncmp(f->key, "pipe:[", 6) || f->fd < 0 || f->fd > 2)
			return ckpt_error_msg(err, EOPNOTSUPP,
					      "inherit_fd `%s` at fd %d: only "
					      "the stdio pipes (fds 0-2) are taken over",
					      f->key, f->fd);
	}
	return 0;
}

/* What dump recorded (criu.json), untrusted: keys to map, not paths to use. */
struct saved {
	char *root;	   /* the tree's root directory then */
	char *netkey;	   /* the caller's network namespace, if it was one */
	unsigned int ttys; /* fds 0-2 that were a terminal, a bit each */
};

static void saved_free(struct saved *d)
{
	free(d->root);
	free(d->netkey);
}

static int read_doc(const char *bundle, struct saved *d, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/%s", bundle, SWRK_DOC), *buf = NULL;
	cleanup_json struct json *doc = NULL;
	struct doc_at at = DOC_TOP(SWRK_DOC), tat = DOC_KEY(&at, "tty_fds");
	const struct json *ttys = NULL;
	const char *root, *key;
	size_t len = 0, n = 0;
	int64_t fd;
	int ret;

	ret = read_file_at(AT_FDCWD, path, 1 << 16, &buf, &len, err);
	if (ret == -ENOENT)
		return ckpt_error_msg(err, ENOENT,
				      "%s: not a bundle dumped through CRIU's RPC (no %s)", bundle,
				      SWRK_DOC);
	if (ret == 0)
		ret = json_parse(buf, len, &doc, err);
	if (ret == 0)
		ret = doc_str(&at, doc, "root", PATH_MAX, &root, err);
	if (ret == 0)
		ret = doc_opt_str(&at, doc, "external_net", 255, &key, err);
	if (ret == 0)
		ret = doc_opt_arr(&at, doc, "tty_fds", 3, &ttys, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = doc_elem_int(&tat, ttys, i, 0, 2, &fd, err);
		d->ttys |= 1u << fd;
	}
	if (ret < 0)
		return ret;
	if (root[0] != '/')
		return doc_error(err, &at, "root: `%s` is not an absolute path", root);
	d->root = xstrdup(root);
	d->netkey = key ? xstrdup(key) : NULL;
	return 0;
}

/*
 * orphan_pts_master: the tree's terminal was the caller's (runc's console)
 * and is gone. A new pseudo-terminal takes its place: its slave becomes our
 * fds that were a terminal (the engine gives a restored terminal leading
 * outside the restore's own), its master goes to the caller with the
 * orphan-pts-master notification, for runc to pass to its console socket.
 */
static int new_terminal(struct swrk *s, unsigned int ttys, int *master, ckpt_err_t *err)
{
	cleanup_close int m = -1, slave = -1;
	char name[64];

	*master = -1;
	if (!ttys)
		return 0;
	if (!s->opts->orphan_pts_master) {
		swrk_log(s, "the tree had a terminal and no orphan_pts_master: its stdio is ours");
		return 0;
	}
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)))
		return ckpt_error(err, errno, "new terminal");
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return ckpt_error(err, errno, "open %s", name);
	for (int fd = 0; fd < 3; fd++)
		if ((ttys & (1u << fd)) && dup2(slave, fd) < 0)
			return ckpt_error(err, errno, "dup2 %s to fd %d", name, fd);
	swrk_log(s, "terminal: %s for fds 0x%x", name, ttys);
	*master = steal_fd(&m);
	return 0;
}

/* OLD=NEW for the engine, the caller's; freed with mount_maps_free. */
struct mount_maps {
	char **v;
	int n;
};

static void mount_maps_add(struct mount_maps *m, const char *old, const char *new)
{
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n++] = xasprintf("%s=%s", old, new);
}

static void mount_maps_free(struct mount_maps *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
}

/*
 * ext_mnt KEY=VAL at restore: the mount at KEY in the tree comes from VAL
 * on the host now. The engine takes a bind of a host path from the path
 * it recorded (mounts.json, host_path) unless told OLD=NEW: each external
 * mount at KEY whose recorded path differs from VAL gets OLD=VAL. Podman
 * gives a restored container new hosts, resolv.conf, /dev/shm... sources.
 */
static int ext_mnt_maps(struct swrk *s, const char *bundle, struct mount_maps *m, ckpt_err_t *err)
{
	cleanup_free char *path = xasprintf("%s/mounts.json", bundle), *buf = NULL;
	cleanup_json struct json *doc = NULL;
	struct doc_at top = DOC_TOP("mounts.json"), at;
	const struct json *list, *e;
	size_t len = 0, n = 0;
	int ret;

	if (!s->opts->n_ext_mnt)
		return 0;
	ret = read_file_at(AT_FDCWD, path, 64u << 20, &buf, &len, err);
	if (ret == -ENOENT)
		return 0; /* the tree had no mount namespace of its own */
	if (ret == 0)
		ret = json_parse(buf, len, &doc, err);
	if (ret == 0)
		ret = doc_arr(&top, doc, "mounts", 1 << 16, &list, &n, err);
	at = DOC_KEY(&top, "mounts");
	for (size_t i = 0; ret == 0 && i < n; i++) {
		struct doc_at el = DOC_IDX(&at, i);
		const char *mp, *kind, *host;

		ret = doc_elem_obj(&at, list, i, &e, err);
		if (ret == 0)
			ret = doc_str(&el, e, "mountpoint", PATH_MAX, &mp, err);
		if (ret == 0)
			ret = doc_opt_str(&el, e, "kind", 64, &kind, err);
		if (ret == 0)
			ret = doc_opt_str(&el, e, "host_path", PATH_MAX, &host, err);
		if (ret < 0 || !kind || strcmp(kind, "external") || !host)
			continue;
		for (size_t k = 0; k < s->opts->n_ext_mnt; k++) {
			const ExtMountMap *x = s->opts->ext_mnt[k];

			if (strcmp(x->key, mp) || x->val[0] != '/' || !strcmp(x->val, host))
				continue;
			swrk_log(s, "mount %s: from %s (was %s)", mp, x->val, host);
			mount_maps_add(m, host, x->val);
			break;
		}
	}
	return ret;
}

/* The engine's adopt callback: the tree is complete, stopped; runc takes it. */
static int restore_adopt(struct ckpt_restore_opts *ro, ckpt_err_t *err)
{
	struct restore_run *r = ro->arg;
	static const char *const points[] = {"setup-namespaces", "post-setup-namespaces",
					     "post-restore", "network-unlock", "pre-resume"};
	int ret = 0;

	r->t_adopt = now_ns();
	/* the engine's when the tree's own devpts held the console, else ours */
	if (ro->console_master >= 0 && r->s->opts->orphan_pts_master)
		ret = swrk_notify_fd(r->s, "orphan-pts-master", 0, ro->console_master, err);
	else if (r->master >= 0)
		ret = swrk_notify_fd(r->s, "orphan-pts-master", 0, r->master, err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(points); i++) {
		bool with_pid = !strcmp(points[i], "setup-namespaces") ||
				!strcmp(points[i], "post-restore");

		ret = swrk_notify(r->s, points[i], with_pid ? ro->root_pid : 0, err);
	}
	return ret;
}

/* The engine's running callback: the tree runs. */
static void restore_running(struct ckpt_restore_opts *ro)
{
	struct restore_run *r = ro->arg;
	ckpt_err_t e = {0};

	if (swrk_notify(r->s, "post-resume", ro->root_pid, &e) < 0)
		swrk_log(r->s, "%s, ignoring: the tree runs", e.msg);
}

/* status_fd: one '\0' once the tree runs, as CRIU writes it. */
static void restore_status(struct swrk *s)
{
	cleanup_close int fd = -1;
	ckpt_err_t e = {0};

	if (!s->opts->has_status_fd || s->opts->status_fd < 0)
		return;
	fd = swrk_caller_fd(s, s->opts->status_fd, false, O_WRONLY, NULL, &e);
	if (fd < 0 || write(fd, "", 1) != 1)
		swrk_log(s, "status_fd %d: %s, ignoring", s->opts->status_fd,
			 fd < 0 ? e.msg : strerror(errno));
}

/*
 * What restore needs before the engine runs, from criu.json of bundle and
 * CRIU's options: the caller's network namespace checked, a new terminal
 * (master) when the root's stdio was one, the external mounts mapped.
 */
static int restore_prepare(struct swrk *s, const char *bundle, struct mount_maps *maps, int *master,
			   ckpt_err_t *err)
{
	const CriuOpts *o = s->opts;
	struct saved d = {0};
	int ret = read_doc(bundle, &d, err);

	if (ret == 0)
		ret = restore_refused(s, d.netkey, err);
	if (ret == 0)
		ret = swrk_external_net_restore(s, d.netkey, err);
	if (ret == 0)
		ret = new_terminal(s, d.ttys, master, err);
	if (ret == 0)
		ret = ext_mnt_maps(s, bundle, maps, err);
	if (ret < 0) {
		mount_maps_free(maps);
		saved_free(&d);
		return ret;
	}
	/* last: the first OLD a path is under wins, and mounts lie under the root */
	if (o->root && *o->root && strcmp(o->root, d.root))
		mount_maps_add(maps, d.root, o->root);
	saved_free(&d);
	return 0;
}

/*
 * ckpt_restore's options from CRIU's: bundle, mount map maps, run r. The
 * veth map is returned (malloc'd, each entry too; NULL when none).
 */
static const char **restore_opts(struct swrk *s, const char *bundle, const struct mount_maps *maps,
				 struct restore_run *r, struct ckpt_restore_opts *ro)
{
	const CriuOpts *o = s->opts;
	const char **veths = NULL;

	ro->mount_map = (const char *const *)maps->v;
	ro->nmount_map = maps->n;
	if (o->n_veths) {
		veths = xzalloc(o->n_veths * sizeof(*veths));
		for (size_t i = 0; i < o->n_veths; i++)
			veths[i] = xasprintf("%s=%s", o->veths[i]->if_in, o->veths[i]->if_out);
		ro->veth_map = veths;
		ro->nveth_map = o->n_veths;
	}
	/* rst_sibling: the root is the caller's child, as CRIU makes it (CLONE_PARENT) */
	ro->sibling = o->rst_sibling;
	ro->tcp_close = o->tcp_close;
	ro->bundle = bundle;
	ro->work_dir = s->work;
	ro->key_file = s->key;
	ro->detach = true;
	ro->console_to_adopt = o->orphan_pts_master;
	ro->adopt = restore_adopt;
	ro->running = restore_running;
	ro->arg = r;
	return veths;
}

/* stats-restore of the tree restored from bundle as pid root, and the log line. */
static void restore_stats(struct swrk *s, const char *bundle, const struct restore_run *r,
			  pid_t root)
{
	struct swrk_restore_stats st = {0};
	ckpt_err_t e2 = {0};

	st.restore_us = (now_ns() - r->t0) / 1000;
	st.forking_us = r->t_adopt ? (r->t_adopt - r->t0) / 1000 : 0;
	st.pages = swrk_bundle_pages(bundle);
	if (swrk_write_restore_stats(s->work, &st, &e2) < 0)
		swrk_log(s, "%s, ignoring", e2.msg);
	swrk_log(s, "restored %s as pid %d in %.3f s", bundle, root, st.restore_us / 1e6);
}

int swrk_restore(struct swrk *s, CriuResp *resp, ckpt_err_t *err)
{
	static CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	const CriuOpts *o = s->opts;
	struct restore_run r = {.s = s};
	struct ckpt_restore_opts ro = {0};
	cleanup_free char *bundle = NULL;
	cleanup_close int master = -1;
	cleanup_free const char **veths = NULL;
	struct mount_maps maps = {0};
	int ret;

	bundle = xasprintf("%s/%s", s->images, SWRK_BUNDLE);
	if (access(bundle, F_OK) < 0)
		return ckpt_error_msg(err, ENOENT,
				      "no ckpt-oci bundle in %s (images dumped by "
				      "CRIU itself are not restored by ckpt-oci)",
				      s->images);
	ret = restore_prepare(s, bundle, &maps, &master, err);
	if (ret < 0)
		return ret;
	r.master = master;
	veths = restore_opts(s, bundle, &maps, &r, &ro);
	r.t0 = now_ns();
	ret = ckpt_restore(&ro, err);
	for (size_t i = 0; i < o->n_veths; i++)
		free((char *)veths[i]);
	mount_maps_free(&maps);
	if (ret < 0)
		return ret;
	restore_status(s);
	restore_stats(s, bundle, &r, ro.root_pid);
	rr.pid = ro.root_pid;
	resp->restore = &rr;
	return 0;
}
