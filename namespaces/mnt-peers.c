/*
 * namespaces/mnt-peers.c - mount propagation rebuilt at restore: peer
 * groups (mounts that were "shared:N" with one N are peers again) and
 * slaves of a group inside the tree ("master:N"), from the "shared" and
 * "master" group ids mounts.json keeps. Runs last, once every mount of the
 * tree is attached and nothing more will be mounted.
 *
 * Peers and masters are joined with move_mount(MOVE_MOUNT_SET_GROUP),
 * which the kernel allows only between mounts of one superblock, from a
 * mount whose root contains the other's, onto a mount that is private at
 * the time; a slave is made by joining its master's group, then MS_SLAVE.
 * So a group's widest member goes first, and a mount waits for the group
 * it needs. A slave of a group outside the tree (the host's) was set up
 * when its host source was cloned (mnt-restore.c).
 */
#define LOG_PREFIX "mnt: "
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "namespaces/mnt.h"
#include "util/log.h"
#include "util/util.h"

struct peer {
	int shared, master;  /* saved group ids, 0 for none */
	bool master_in_tree; /* some mount of the tree was in the master group */
	dev_t dev;
	const char *root; /* path inside the filesystem */
	bool done;
};

int mnt_set_propagation(int fd, unsigned long prop, const char *mp, ckpt_err_t *err)
{
	struct mount_attr a = {.propagation = prop};

	if (mount_setattr(fd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		return ckpt_error(err, errno, "propagation of `%s`", mp);
	return 0;
}

/* Does filesystem path a contain b (or equal it)? */
static bool root_contains(const char *a, const char *b)
{
	size_t len = strlen(a);

	if (!strcmp(a, "/"))
		return true;
	return !strncmp(a, b, len) && (!b[len] || b[len] == '/');
}

/*
 * A member of group g that mount i can take its group from: done, same
 * superblock, root containing i's. -1 if none.
 */
static int peer_source(const struct peer *p, int n, int g, int i)
{
	for (int j = 0; g && j < n; j++)
		if (j != i && p[j].shared == g && p[j].done && p[j].dev == p[i].dev &&
		    root_contains(p[j].root, p[i].root))
			return j;
	return -1;
}

/* Is a peer of i still to be done whose root strictly contains i's? */
static bool wider_pending(const struct peer *p, int n, int i)
{
	for (int j = 0; p[i].shared && j < n; j++)
		if (j != i && p[j].shared == p[i].shared && !p[j].done && p[j].dev == p[i].dev &&
		    strcmp(p[j].root, p[i].root) && root_contains(p[j].root, p[i].root))
			return true;
	return false;
}

static int set_group(struct rmount *v, int from, int to, ckpt_err_t *err)
{
	if (move_mount(v[from].fd, "", v[to].fd, "",
		       MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
	    0)
		return ckpt_error(err, errno, "`%s`: join the peer group of `%s`", v[to].mountpoint,
				  v[from].mountpoint);
	return 0;
}

/*
 * One mount's propagation, when what it needs is there: 1 done, 0 wait.
 * force: nothing else will come; a group with no usable member yet gets
 * this mount as its first.
 */
static int peer_one(struct rmount *v, struct peer *p, int n, int i, bool force, ckpt_err_t *err)
{
	/*
	 * A slave of a group outside the tree (the host's, set when it was
	 * attached, or one gone with the old tree) heads its own group, if
	 * any: a mount that follows a master cannot join a group.
	 */
	bool outside = p[i].master && !p[i].master_in_tree;
	int rep = outside ? -1 : peer_source(p, n, p[i].shared, i), m;

	if (rep >= 0) /* a peer ready: its group and its master both */
		return set_group(v, rep, i, err) < 0 ? -1 : 1;
	if (!outside && !force && wider_pending(p, n, i))
		return 0; /* a wider peer comes first */
	if (p[i].master_in_tree) {
		m = peer_source(p, n, p[i].master, i);
		if (m < 0 && !force)
			return 0;
		if (m < 0)
			pr_warn("`%s`: its master group has no mount it can follow; not a slave",
				v[i].mountpoint);
		else if (set_group(v, m, i, err) < 0 ||
			 mnt_set_propagation(v[i].fd, MS_SLAVE, v[i].mountpoint, err) < 0)
			return -1;
	}
	if (p[i].shared && mnt_set_propagation(v[i].fd, MS_SHARED, v[i].mountpoint, err) < 0)
		return -1;
	return 1;
}

static void peers_load(struct rmount *v, int n, struct peer *p)
{
	struct stat st;

	for (int i = 0; i < n; i++) {
		const char *prop = v[i].rec.propagation ?: "private";

		p[i].shared = v[i].rec.shared;
		p[i].master = v[i].rec.master;
		/* older bundles: no ids, "shared" makes a group of its own */
		if (!p[i].shared && strstr(prop, "shared"))
			p[i].shared = -1 - i;
		p[i].root = v[i].rec.root ?: "/";
		p[i].dev = fstat(v[i].fd, &st) == 0 ? st.st_dev : 0;
		p[i].done = !p[i].shared && !p[i].master;
	}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n && p[i].master; j++)
			p[i].master_in_tree |= p[j].shared == p[i].master;
	for (int i = 0; i < n; i++) {
		if (p[i].master && !p[i].master_in_tree && strcmp(v[i].kind, "external"))
			/* its master was a group outside the tree, not the host's */
			pr_warn("`%s` was a slave of a group gone with the old tree; now private",
				v[i].mountpoint);
		if (!strcmp(v[i].kind, "external") && !p[i].master_in_tree && !p[i].shared)
			p[i].done = true; /* private or the host's slave: set when attached */
	}
}

int mnt_peers_restore(struct rmount *v, int n, ckpt_err_t *err)
{
	cleanup_free struct peer *p = xzalloc(n * sizeof(*p));
	bool progress = true, force = false;
	int left = 0, ret;

	peers_load(v, n, p);
	for (int i = 0; i < n; i++)
		left += !p[i].done;
	/* each pass makes at least one mount ready, or forces one */
	while (left > 0) {
		progress = false;
		for (int i = 0; i < n; i++) {
			if (p[i].done)
				continue;
			ret = peer_one(v, p, n, i, force, err);
			if (ret < 0)
				return -err->code;
			if (ret > 0) {
				p[i].done = progress = true;
				left--;
				force = false;
			}
			if (force && progress)
				break;
		}
		force = !progress;
	}
	/* last: making a mount a slave clears unbindable */
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].rec.propagation ?: "", "unbindable") &&
		    mnt_set_propagation(v[i].fd, MS_UNBINDABLE, v[i].mountpoint, err) < 0)
			return -err->code;
	return 0;
}
