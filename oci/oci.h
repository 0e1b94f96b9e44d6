/*
 * oci/oci.h - containers of OCI runtimes (runc, crun): where their state
 * lives, what it says, and checkpointing one by name. cmd/ calls this;
 * this calls the engine through include/ckpt/ckpt.h.
 */
#ifndef CKPT_OCI_H
#define CKPT_OCI_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckpt/ckpt.h"

enum oci_status { OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };

/* What a runtime's state directory says about one container. */
struct oci_container {
	char *runtime; /* "runc" or "crun" */
	char *root;    /* the runtime's state root, e.g. /run/runc */
	char *id;
	pid_t pid;		  /* init process, in our pid namespace */
	unsigned long long start; /* its start time (clock ticks since boot) */
	enum oci_status status;
	char *bundle; /* OCI bundle directory (holds config.json) */
	char *rootfs;
	char *cgroup; /* cgroup to freeze: v1 freezer or v2 directory */
	char *config; /* text of BUNDLE/config.json */
	char *state;  /* text of the runtime's state file (state.json / status) */
};

const char *oci_status_name(enum oci_status s);
/* The runtime's own state root: /run/runc or /run/crun. */
const char *oci_default_root(const char *runtime);

/*
 * Find container id in runtime's state under root (NULL: the runtime's
 * default root). runtime NULL: runc, or crun when only crun knows the id.
 */
int oci_find(const char *runtime, const char *root, const char *id, struct oci_container *c,
	     ckpt_err_t *err) CKPT_WARN_UNUSED;
void oci_container_free(struct oci_container *c);

/* Start time of pid (field 22 of /proc/PID/stat); -ESRCH for a zombie. */
int oci_proc_starttime(pid_t pid, unsigned long long *start);

/*
 * Take the per-container lock: a second holder gets EBUSY. Returns the fd;
 * *path (to free) is for lockfile_release, which removes the file.
 */
int oci_lock(const struct oci_container *c, char **path, ckpt_err_t *err) CKPT_WARN_UNUSED;

/* Remove the runtime's state of a container whose processes are gone. */
int oci_delete(const struct oci_container *c, ckpt_err_t *err) CKPT_WARN_UNUSED;

struct oci_checkpoint_opts {
	const char *runtime; /* NULL: found by oci_find */
	const char *root;    /* NULL: the runtime's default */
	const char *id;
	bool no_rootfs;		    /* leave the root filesystem's changes out */
	struct ckpt_dump_opts dump; /* pid, cgroup and extra are filled in here */
};

/* Look up, lock, check the status, dump the init's tree, clean up the state. */
int oci_checkpoint(struct oci_checkpoint_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;

/*
 * `ckpt-oci migrate CONTAINER`: as oci_checkpoint, the container's bundle
 * (rootfs changes and all) streamed by ckpt_migrate (pid and dump are
 * filled in here); its runtime's state removed once it runs there.
 */
struct oci_migrate_opts {
	const char *runtime; /* NULL: found by oci_find */
	const char *root;    /* NULL: the runtime's default */
	const char *id;
	struct ckpt_migrate_opts migrate;
};
int oci_migrate(struct oci_migrate_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;

/*
 * Restore a container bundle (one with oci.json) under the runtime it came
 * from (or o->runtime), in o->root or the runtime's default state root, as
 * o->name or its old id. Host locations never come from the bundle: the
 * state root is o->root or the runtime's own; the root directory is
 * o->rootfs, or the one an authenticated bundle recorded.
 */
struct oci_restore_opts {
	const char *runtime; /* NULL: the one in the bundle (runc or crun) */
	const char *root;    /* NULL: the runtime's default (oci_default_root) */
	const char *name;    /* NULL: the container's id at checkpoint */
	const char *rootfs;  /* NULL: the old root directory, if the MAC verified */
	bool no_runtime;     /* restore the processes only, unknown to the runtime */
	struct ckpt_restore_opts restore;
	struct oci_container restored; /* out: runtime, root and id it runs as (to free) */
};

bool oci_is_container_bundle(const char *bundle);
int oci_restore(struct oci_restore_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;

/*
 * The OCI runtime hook (`ckpt-oci hook [STAGE]`, oci/hook.c): state is the
 * runtime's state JSON (stdin). stage NULL: poststop when the state says
 * "stopped", else poststart. poststart with checkpoint annotations starts
 * the checkpoint supervisor; poststop stops it. An error is also appended
 * to the checkpoint directory's log when that is known.
 */
int oci_hook(const char *stage, const char *state, size_t len, ckpt_err_t *err) CKPT_WARN_UNUSED;

/* rootfs.c: the root directory's changes since creation (rootfs-diff.tar). */
int oci_rootfs_dump(struct ckpt_bundle *b, const char *dir, const char *created,
		    ckpt_err_t *err) CKPT_WARN_UNUSED;
bool oci_rootfs_in_bundle(struct ckpt_bundle *b);
/*
 * rootfs-base.c: the root directory's first state, taken by the
 * createRuntime hook before the container's program runs (take), removed
 * at poststop (drop). load gives 1 and the base, or 0 when none was taken.
 */
struct rootfs_base;
struct stat;
/*
 * Each entry below the directory fd (taken), depth first, as "./a/b" with
 * its lstat; directories on device dev are walked into. fn's error stops it.
 */
int oci_rootfs_walk(int fd, dev_t dev,
		    int (*fn)(void *arg, const char *path, const struct stat *st, ckpt_err_t *err),
		    void *arg, ckpt_err_t *err) CKPT_WARN_UNUSED;
int oci_rootfs_base_take(const char *root, ckpt_err_t *err) CKPT_WARN_UNUSED;
void oci_rootfs_base_drop(const char *root);
int oci_rootfs_base_load(int rootfd, struct rootfs_base **out, ckpt_err_t *err) CKPT_WARN_UNUSED;
void oci_rootfs_base_free(struct rootfs_base *b);
/* path ("./a/b") changed since the base, or is new; marks it seen. */
bool oci_rootfs_base_changed(struct rootfs_base *b, const char *path, const struct stat *st);
/* Each path of the base the walk did not see (under a deleted directory, only it). */
int oci_rootfs_base_deleted(struct rootfs_base *b, int (*fn)(void *, const char *), void *arg);
/*
 * rootfs-tar.c: spawn children (libarchive). Create: NUL-separated names
 * on stdin, read in directory arg, as a tar on stdout. Extract: the tar on
 * stdin into directory arg. Exit code 0, else a line on stderr.
 */
int rootfs_tar_create(void *arg);
int rootfs_tar_extract(void *arg);
int oci_rootfs_apply(struct ckpt_bundle *b, const char *dir, ckpt_err_t *err) CKPT_WARN_UNUSED;
/*
 * rootfs-apply.c: move the staged entries into root without following its
 * links; device nodes only from an authenticated bundle.
 */
/* Remove each path ("./a/b", as rootfs-diff.json lists them) in root, never leaving it. */
int oci_rootfs_delete(const char *root, const char *const *paths, size_t n, unsigned long *gone,
		      ckpt_err_t *err) CKPT_WARN_UNUSED;
int oci_rootfs_move(const char *stage, const char *root, bool authenticated, unsigned long *moved,
		    ckpt_err_t *err) CKPT_WARN_UNUSED;

#endif
