/*
 * oci/checkpoint.c - checkpoint a container by name: find it in the
 * runtime's state, hold its lock, dump the tree of its init (every process
 * of a container descends from it) frozen through its cgroup, with its
 * config.json in the bundle; then remove the runtime's state of the
 * stopped container, as `runc delete -f` does. A migration
 * (`ckpt-oci migrate CONTAINER`) is the same around ckpt_migrate: the
 * state goes only once the container runs on the other node.
 */
#define LOG_PREFIX "oci: "
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "util/doc.h"
#include "util/json.h"
#include "oci/oci.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/util.h"

static int check_status(const struct oci_container *c, ckpt_err_t *err)
{
	switch (c->status) {
	case OCI_RUNNING:
	case OCI_PAUSED: /* allowed: the engine leaves its freezer frozen */
		return 0;
	default:
		return ckpt_error_msg(err, EINVAL, "container `%s` is not running (%s)", c->id,
				      oci_status_name(c->status));
	}
}

/*
 * oci.json: which runtime held the container, under which root and id, and
 * its state file as the runtime wrote it: restore hands the tree back to
 * that runtime by writing the same state with what changed.
 */
static int oci_json(const struct oci_container *c, char **out, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj(), *st = NULL;
	int ret;

	ret = json_parse(c->state, strlen(c->state), &st, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s state of `%s`", c->runtime, c->id);
	json_set(doc, "runtime", json_str(c->runtime));
	json_set(doc, "root", json_str(c->root));
	json_set(doc, "id", json_str(c->id));
	json_set(doc, "state", steal_pointer(&st));
	*out = json_dump(doc, true, NULL);
	return 0;
}

/* A read-only root (root.readonly in config.json) cannot have changed. */
static bool root_readonly(const char *config)
{
	struct doc_at at = DOC_TOP("config.json"), rat = DOC_KEY(&at, "root");
	cleanup_json struct json *doc = NULL;
	const struct json *root = NULL;
	ckpt_err_t e = {0};
	bool ro = false;

	if (json_parse(config, strlen(config), &doc, &e) < 0 ||
	    doc_opt_obj(&at, doc, "root", &root, &e) < 0 ||
	    (root && doc_opt_bool(&rat, root, "readonly", false, &ro, &e) < 0))
		ro = false;
	ckpt_error_clear(&e);
	return ro;
}

/* The dump's frozen hook: the root directory's changes, file state to go with memory. */
static int rootfs_frozen(struct ckpt_dump_opts *d, struct ckpt_bundle *b, ckpt_err_t *err)
{
	const struct oci_container *c = d->frozen_arg;
	struct doc_at at = DOC_TOP("state");
	cleanup_json struct json *st = NULL;
	const char *created = NULL;
	int ret;

	if (!c->rootfs)
		return ckpt_error_msg(err, EPROTO, "%s state of `%s` names no root directory",
				      c->runtime, c->id);
	ret = json_parse(c->state, strlen(c->state), &st, err);
	/* a creation time missing or not a string: oci_rootfs_dump refuses it */
	if (ret == 0 && doc_opt_str(&at, st, "created", 64, &created, NULL) < 0)
		created = NULL;
	if (ret == 0)
		ret = oci_rootfs_dump(b, c->rootfs, created, err);
	return ret;
}

/*
 * Look up, lock, check the status, run (ckpt_dump, or a migration around
 * it) on the init's tree, clean up the runtime's state once it is gone.
 */
static int container_dump(struct oci_checkpoint_opts *o,
			  int (*run)(struct ckpt_dump_opts *d, void *arg, ckpt_err_t *err),
			  void *arg, ckpt_err_t *err)
{
	struct oci_container c = {0};
	cleanup_free char *bundle = NULL, *lock_path = NULL;
	int lock;
	struct ckpt_extra_file extra[2];
	cleanup_free char *ocij = NULL;
	int ret;

	ret = oci_find(o->runtime, o->root, o->id, &c, err);
	if (ret < 0)
		return ret;
	lock = oci_lock(&c, &lock_path, err);
	oci_container_free(&c);
	if (lock < 0)
		return lock;
	/* Read the state again under the lock: a checkpoint that just ended changed it. */
	ret = oci_find(o->runtime, o->root, o->id, &c, err);
	if (ret == 0)
		ret = check_status(&c, err);
	if (ret < 0)
		goto out;
	if (!o->dump.bundle)
		o->dump.bundle = bundle = xasprintf("%s-checkpoint", c.id);
	o->dump.pid = c.pid;
	o->dump.cgroup = c.cgroup;
	ret = oci_json(&c, &ocij, err);
	if (ret < 0)
		goto out;
	extra[0] = (struct ckpt_extra_file){"config.json", c.config};
	extra[1] = (struct ckpt_extra_file){"oci.json", ocij};
	o->dump.extra = extra;
	o->dump.nextra = 2;
	o->dump.own_cgroup = true;
	if (!o->no_rootfs && !root_readonly(c.config)) {
		o->dump.frozen = rootfs_frozen;
		o->dump.frozen_arg = &c;
	}
	ret = run(&o->dump, arg, err);
	if (ret == 0 && !o->dump.leave_running) {
		ret = oci_delete(&c, err);
		if (ret < 0)
			ckpt_error_wrap(err,
					"bundle written, processes stopped, but state not removed");
		else if (c.rootfs)
			oci_rootfs_base_drop(c.rootfs); /* a restore takes its own */
	}
out:
	o->dump.extra = NULL;
	o->dump.nextra = 0;
	o->dump.frozen = NULL;
	o->dump.frozen_arg = NULL;
	o->dump.cgroup = NULL;
	if (bundle)
		o->dump.bundle = NULL;
	oci_container_free(&c);
	lockfile_release(lock_path, lock);
	return ret;
}

static int run_dump(struct ckpt_dump_opts *d, void *arg, ckpt_err_t *err)
{
	(void)arg;
	return ckpt_dump(d, err);
}

int oci_checkpoint(struct oci_checkpoint_opts *o, ckpt_err_t *err)
{
	return container_dump(o, run_dump, NULL, err);
}

/* The migration's final checkpoint is the container's dump: its documents, rootfs, cgroup. */
static int run_migrate(struct ckpt_dump_opts *d, void *arg, ckpt_err_t *err)
{
	struct ckpt_migrate_opts *m = arg;
	int ret;

	m->pid = d->pid;
	m->dump = d;
	ret = ckpt_migrate(m, err);
	m->dump = NULL;
	return ret;
}

int oci_migrate(struct oci_migrate_opts *o, ckpt_err_t *err)
{
	struct oci_checkpoint_opts c = {.runtime = o->runtime, .root = o->root, .id = o->id};

	return container_dump(&c, run_migrate, &o->migrate, err);
}
