/*
 * namespaces/ns.h - one module per namespace, each a struct ckpt_ns_ops;
 * ns.c holds the table and the walk. Core code never switches on a
 * namespace type.
 *
 * Dump: a namespace is the tree's own when the root's /proc/PID/ns/X
 * differs from ckpt-oci's; only those are dumped (ns.json lists them) and
 * restored into new namespaces. Every task of the tree must share the
 * root's namespaces.
 *
 * Restore, in order: prepare (in ckpt-oci, before the tree exists), the
 * root is created with the clone flags of every listed namespace, restore
 * (inside the root process, in its new namespaces, before it creates its
 * children; still ckpt-oci code), finish (in ckpt-oci, once the whole tree
 * exists and before it resumes), resume (in ckpt-oci, right before the
 * tree is detached and runs; a failure kills the tree).
 *
 * Dump, around the tasks' dumps: lock (after every namespace is dumped,
 * before any task is read) and unlock (when the tree runs on: released
 * with --leave-running or after a failure; a killed tree stays locked).
 * The network module locks the namespace so a peer sees no reset.
 */
#ifndef CKPT_NS_H
#define CKPT_NS_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckpt/bundle.h"
#include "ckpt/error.h"
#include "util/json.h"

struct ns_dump {
	struct ckpt_bundle *bundle;
	pid_t pid;	   /* the tree's root, in ckpt-oci's pid namespace */
	int nsfd;	   /* /proc/PID/ns/NAME */
	const pid_t *pids; /* every task of the tree (dump only) */
	int npids;
	bool owned;	  /* the namespace is the tree's own */
	bool tree_cgroup; /* the tree has cgroups of its own (a container's) */
};

struct ns_restore {
	struct ckpt_bundle *bundle;
	pid_t root_host_pid;	      /* once the tree exists (finish) */
	int flags;		      /* clone flags of every namespace restored */
	const char *const *mount_map; /* restore --mount-map OLD=NEW, for mnt */
	int nmount_map;
	const char *const *veth_map; /* restore --veth-map CTNAME=HOSTNAME, for net */
	int nveth_map;
	int join_flags;		 /* namespaces not the tree's own whose state is restored */
	const char *cgroup_name; /* leaf name of the cgroups made; NULL: NAME-rPID */
};

struct ckpt_ns_ops {
	const char *name; /* as in /proc/PID/ns */
	int clone_flag;
	/*
	 * Dumped even when the namespace is the host's, if the dump says the
	 * tree has a cgroup of its own (a container's cgroup, not namespaced):
	 * listed as "joined" in ns.json, restored without the clone flag.
	 */
	bool with_tree_cgroup;
	/*
	 * Dumped for every tree, its own namespace or not (listed as "joined"
	 * when not): the cgroups each task is in belong to the tree wherever
	 * they are.
	 */
	bool always;
	int (*dump)(const struct ns_dump *d, ckpt_err_t *err);
	int (*prepare)(struct ns_restore *r, ckpt_err_t *err); /* optional */
	int (*restore)(struct ns_restore *r, ckpt_err_t *err); /* optional */
	int (*finish)(struct ns_restore *r, ckpt_err_t *err);  /* optional */
	int (*resume)(struct ns_restore *r, ckpt_err_t *err);  /* optional */
	/*
	 * optional, in ckpt-oci around the root's clone: enter what the root
	 * is to be born in, then leave it (the root forks nothing before)
	 */
	int (*spawn)(struct ns_restore *r, ckpt_err_t *err);
	int (*spawned)(struct ns_restore *r, ckpt_err_t *err);
	/* optional: take back what prepare made, the restore having failed */
	void (*undo)(struct ns_restore *r);
	int (*lock)(const struct ns_dump *d, ckpt_err_t *err); /* optional */
	void (*unlock)(const struct ns_dump *d);	       /* optional; with lock, warns */
};

/*
 * Run fn in a child that joined the namespace behind nsfd; what it returns
 * comes back as a JSON document (the child cannot write into the bundle).
 */
int ns_exec_json(int nsfd, int nstype, struct json *(*fn)(void *arg, ckpt_err_t *err), void *arg,
		 struct json **out, ckpt_err_t *err);

/*
 * dump.c: the namespaces of the tree rooted at pid; pids are every task;
 * tree_cgroup: the tree has cgroups of its own (a container's).
 */
int ns_dump_all(struct ckpt_bundle *b, pid_t root, const pid_t *pids, int npids, bool tree_cgroup,
		ckpt_err_t *err);
/* dump.c: lock the tree's own namespaces once dumped; unlock if the tree runs on. */
int ns_lock_all(pid_t root, ckpt_err_t *err);
void ns_unlock_all(pid_t root);

/* restore.c / restore-child.c */
int ns_restore_load(struct ns_restore *r, struct ckpt_bundle *b, ckpt_err_t *err);
int ns_prepare_all(struct ns_restore *r, ckpt_err_t *err);
int ns_restore_all(struct ns_restore *r, ckpt_err_t *err);
int ns_finish_all(struct ns_restore *r, ckpt_err_t *err);
int ns_resume_all(struct ns_restore *r, ckpt_err_t *err);
int ns_spawn_all(struct ns_restore *r, ckpt_err_t *err);
int ns_spawned_all(struct ns_restore *r, ckpt_err_t *err);
/* A restore failed after ns_prepare_all: undo what the prepares made (tree killed). */
void ns_undo_all(struct ns_restore *r);

#endif
