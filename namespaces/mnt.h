/*
 * namespaces/mnt.h - what the mount namespace's files share: the tmpfs
 * content image and the mounts of mounts.json. mountinfo is parsed by
 * util/proc.h (struct proc_mount).
 */
#ifndef CKPT_NS_MNT_H
#define CKPT_NS_MNT_H

#include <stdbool.h>
#include <sys/types.h>

#include "namespaces/ns.h"
#include "util/doc.h"
#include "util/proc.h"

/*
 * mnt-tmpfs.c: the content of one tmpfs mount, one record per inode
 * (directories first, then what is in them), in image NAME. dirfd is the
 * mount's root; entries on another device (child mounts) are left out.
 */
int mnt_tmpfs_dump(struct ckpt_bundle *b, const char *name, int dirfd, dev_t dev, ckpt_err_t *err);
int mnt_tmpfs_restore(struct ckpt_bundle *b, const char *name, int dirfd, ckpt_err_t *err);

/*
 * One mount of mounts.json ("mounts": [...], parents first), written by
 * mnt.c and read back by mnt-doc.c through the same table (mnt_fields).
 * Strings point into the mountinfo lines at dump, into the parsed
 * document at restore.
 */
struct mnt_rec {
	int32_t id;		/* mountinfo's, names the tmpfs image */
	const char *mountpoint; /* absolute, in the tree's root */
	const char *root;	/* path inside the filesystem */
	const char *fstype, *source, *options, *super;
	const char *propagation; /* private, shared, slave, slave+shared, unbindable */
	int32_t shared, master;	 /* peer group ids, 0: none */
	bool dir;		 /* the mountpoint is a directory, not a file */
	const char *kind;	 /* external, bind, fresh, cgroup (see mnt.c) */
	const char *host_path;	 /* external: where the host shows it */
	const char *bind_of;	 /* bind: the mountpoint of its source in the tree */
	const char *bind_root;	 /* bind: the path below that source */
	const char *cgroup_root; /* cgroup: the path below the tree's cgroup */
	const char *content;	 /* fresh tmpfs: its content image */
};

extern const struct doc_field mnt_fields[], mnt_shared_fields[], mnt_master_fields[];

/* One mount of mounts.json at restore (mnt-restore.c, mnt-peers.c). */
struct rmount {
	struct mnt_rec rec;
	const char *kind, *mountpoint, *fstype;
	int src; /* host source (O_PATH) or overlay context, opened early */
	int fd;	 /* the mount, detached until attached; kept for its flags */
};

/* mnt-peers.c: peer groups and slaves inside the tree, once all is mounted. */
int mnt_peers_restore(struct rmount *v, int n, ckpt_err_t *err);
int mnt_set_propagation(int fd, unsigned long prop, const char *mp, ckpt_err_t *err);

/* mnt-doc.c: "mounts" of mounts.json, every one checked; *out malloc'd, strings in doc. */
int mnt_doc_read(const struct json *doc, struct mnt_rec **out, size_t *n, ckpt_err_t *err);
/* mnt-doc.c: mounts.json, every mount checked (*doc holds their strings) */
int mnt_load(struct ns_restore *r, struct json **doc, struct rmount **out, int *n, ckpt_err_t *err);
/* mnt-doc.c: close the mounts' fds and free them */
void mnt_rmounts_free(struct rmount *v, int n);

/* mnt-restore.c */
int mnt_prepare(struct ns_restore *r, ckpt_err_t *err);
int mnt_restore(struct ns_restore *r, ckpt_err_t *err);

#endif
