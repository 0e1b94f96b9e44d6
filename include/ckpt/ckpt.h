/*
 * include/ckpt/ckpt.h - the engine's entry points, what cmd/ calls.
 */
#ifndef CKPT_CKPT_H
#define CKPT_CKPT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ckpt/error.h"

#define CKPT_WARN_UNUSED __attribute__((warn_unused_result))

struct ckpt_bundle;

/* A JSON document the caller adds to the bundle as it is (e.g. config.json). */
struct ckpt_extra_file {
	const char *name; /* file name in the bundle, no '/' */
	const char *json; /* its text; parsed, so it must be valid JSON */
};

/* A task of a tree stopped for a live-pages checkpoint (ckpt_dump_opts). */
struct ckpt_live_task {
	pid_t ns_pid; /* pages-NS_PID.img */
	int memfd;    /* its /proc/PID/mem, opened while it was stopped */
};

struct ckpt_dump_opts {
	pid_t pid;	      /* root of the tree */
	const char *bundle;   /* output directory (created; must not exist) */
	const char *work_dir; /* where dump.log goes; default: bundle's parent */
	bool leave_running;   /* resume the tree instead of killing it */
	const char *cgroup;   /* freezer cgroup of the tree, NULL: seize thread by thread */
	bool verbose;	      /* progress on stderr */
	unsigned long long ghost_limit; /* largest unlinked file saved, bytes; 0: 64 MiB */
	bool tcp_established;		/* dump established TCP connections (TCP_REPAIR) */
	bool ext_unix_sk;	 /* datagram unix sockets connected outside: reconnect by name */
	bool skip_in_flight;	 /* leave out connections a listener has not accepted yet */
	bool own_cgroup;	 /* the tree's cgroups are its own (a container's): record them */
	const char *key_file;	 /* the bundle's MAC key; NULL: this host's, made on first use */
	bool no_sync;		 /* commit without flushing to stable storage (bundle.h) */
	bool compress;		 /* --compress zstd: every file compressed per chunk */
	int compress_level;	 /* zstd's level; 0: its fast default */
	const char *encrypt_key; /* --encrypt FILE: every file encrypted with this key */
	/*
	 * Copy memory only, the tree running, and track the pages it writes
	 * from here (the tree is left running); a later checkpoint with
	 * parent set to this bundle writes only those.
	 */
	bool pre_dump;
	const char *parent; /* a pre-dump of the same tree: pages it holds are referenced */
	uint64_t frozen_ns; /* out: first thread stopped to the tree resumed or killed */
	uint64_t frozen_at; /* out: now_ns() when the first thread was stopped */
	/* out, pre_dump: pages written (the rest referenced); live_pages: listed live */
	uint64_t pages_copied;
	/*
	 * Final checkpoint of a lazy migration: the pages not in the parent
	 * chain are not copied; pages-PID.img is listed live (bundle.h), its
	 * runs in pagemap-PID.json, and during committed live[] holds, per
	 * task, its /proc/PID/mem for a page server to read them from the
	 * stopped tree. Ignored for a sealed bundle (compress, encrypt).
	 */
	bool live_pages;
	const struct ckpt_live_task *live;
	int nlive;
	const struct ckpt_extra_file *extra; /* documents added to the bundle */
	int nextra;
	/*
	 * Called with the tree still frozen once every task is dumped, to add
	 * files of the caller's to the bundle (oci/: the rootfs changes).
	 */
	int (*frozen)(struct ckpt_dump_opts *o, struct ckpt_bundle *b, ckpt_err_t *err);
	/*
	 * Called once the bundle is committed, the tree still stopped; a
	 * failure resumes the tree as it was (migrate: the other node did not
	 * take it), success goes on as asked (killed, or left running).
	 */
	int (*committed)(struct ckpt_dump_opts *o, ckpt_err_t *err);
	/*
	 * Set by committed: the tree is neither resumed nor killed but left
	 * stopped, detached, written down for ckpt_held_release.
	 */
	bool leave_stopped;
	void *frozen_arg;
};

struct ckpt_restore_opts {
	const char *bundle;
	const char *work_dir; /* where restore.log goes */
	bool detach;	      /* -d: return once the tree runs */
	/*
	 * With detach: the root is born a child of the caller's parent
	 * (CLONE_PARENT), which waits for it as its own (CRIU's rst_sibling).
	 */
	bool sibling;
	const char *pid_file;	      /* write the root's pid here */
	int exit_status;	      /* out: root's exit status (without detach) */
	pid_t root_pid;		      /* out: the restored root */
	bool verbose;		      /* progress on stderr */
	bool ignore_file_changes;     /* restore files changed on disk since the checkpoint */
	bool tcp_close;		      /* TCP connections restored closed (reset), not repaired */
	const char *const *mount_map; /* OLD=NEW: host paths of external mounts */
	int nmount_map;
	const char *const *veth_map; /* CTNAME=HOSTNAME: host end of a veth */
	int nveth_map;
	const char *cgroup_name;       /* name of the cgroups made for the tree; NULL: NAME-rPID */
	const char *key_file;	       /* the bundle's MAC key; NULL: this host's */
	bool insecure_unauthenticated; /* restore a bundle whose MAC does not verify */
	const char *decrypt_key;       /* an encrypted bundle's key (--decrypt FILE) */
	bool lazy;		       /* resume before private memory is back (libckpt/lazy) */
	const char *page_server;       /* lazy: HOST:PORT serving the images not here */
	/*
	 * Called once the bundle is verified, before anything is made (oci/:
	 * the rootfs changes are put back); a failure stops the restore.
	 */
	int (*verified)(struct ckpt_restore_opts *o, struct ckpt_bundle *b, ckpt_err_t *err);
	/*
	 * Called once the whole tree exists, before it resumes (root_pid is
	 * set); a failure kills the tree. Used to hand it to a runtime.
	 */
	int (*adopt)(struct ckpt_restore_opts *o, ckpt_err_t *err);
	/*
	 * During adopt: the master of the tree's console (a pty slave whose
	 * master was outside the tree, made again in its devpts), for the
	 * caller to pass on (a runtime's console socket); else -1. Closed by
	 * the engine after adopt.
	 */
	int console_master;
	/* pass that master here (a unix socket, as runc's --console-socket) */
	const char *console_socket;
	bool console_to_adopt; /* or adopt passes it on (CRIU's orphan-pts-master) */
	/* Called once the tree runs, released (oci/: periodic checkpoints again). */
	void (*running)(struct ckpt_restore_opts *o);
	void *arg; /* the caller's, for the three above */
};

/* `ckpt-oci page-server`: a bundle's page images for restore --lazy elsewhere. */
struct ckpt_page_server_opts {
	const char *bundle;
	const char *listen;	       /* HOST:PORT (port 0: any free one) */
	const char *key_file;	       /* clients must hold this key; NULL: this host's */
	bool insecure_unauthenticated; /* serve a bundle whose MAC does not verify */
	bool once;		       /* exit once the clients that came are done */
	void (*ready)(const char *bound, void *arg); /* listening on bound */
	void *arg;
};
int ckpt_page_server(const struct ckpt_page_server_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;
/* `ckpt-oci migrate`: checkpoint a tree, restore it on a receiver, kill it here once it runs. */
#define CKPT_MIGRATE_ROUNDS_MAX 17 /* pre-copy rounds (16 at most) and the final one */
struct ckpt_migrate_round {
	uint64_t pages; /* pages copied: written since the round before */
	uint64_t bytes; /* bytes sent */
};
#define CKPT_LIVE_TIMEOUT_MS 30000
struct ckpt_migrate_opts {
	pid_t pid;	      /* root of the tree */
	const char *to;	      /* HOST:PORT of `ckpt-oci receive` */
	bool lazy;	      /* restore there before the pages are: served from here */
	const char *work_dir; /* where this node's bundle is written; NULL: /var/tmp */
	const char *key_file; /* the key both nodes hold; NULL: this host's */
	bool keep_bundle;     /* leave this node's bundle behind */
	bool verbose;
	int pre_copy; /* up to this many pre-dump rounds first, the tree running */
	/*
	 * Lazy: once node B runs the tree, how long (ms) the page server
	 * waits for its next request before it gives up and the tree is left
	 * stopped here (ckpt_held_release); 0: CKPT_LIVE_TIMEOUT_MS.
	 */
	int live_timeout_ms;
	/*
	 * The final checkpoint's options of the caller's (a container's:
	 * cgroup, own_cgroup, extra documents, the frozen hook and its arg);
	 * NULL: none. pid, bundle, work_dir, key, parent and committed are
	 * migrate's own.
	 */
	const struct ckpt_dump_opts *dump;
	/* Called as bytes go (round under way: nrounds + 1), and once a round ends. */
	void (*progress)(const struct ckpt_migrate_opts *o);
	uint64_t frozen_ns;  /* out: the tree stopped here */
	int pre_rounds;	     /* out: pre-dump rounds made */
	uint64_t bytes_sent; /* out: in all */
	pid_t root_pid;	     /* out: the root on the receiver */
	/* out: the rounds done, the pre-dumps' then the final one's */
	struct ckpt_migrate_round rounds[CKPT_MIGRATE_ROUNDS_MAX];
	int nrounds;
	uint64_t downtime_ns; /* out: the tree stopped for the final dump to "running" there */
	uint64_t total_ns;    /* out: the whole migration (lazy: until every page is served) */
};
int ckpt_migrate(struct ckpt_migrate_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;
/* `ckpt-oci receive`: take one tree from migrate, restore it here. */
struct ckpt_receive_opts {
	const char *listen;   /* HOST:PORT */
	const char *dir;      /* where the bundle goes, and the logs */
	const char *key_file; /* the sender must hold it; NULL: this host's */
	void (*ready)(const char *bound, void *arg); /* listening on bound */
	/*
	 * Restore the bundle received (r filled: bundle, work_dir, detach,
	 * key, lazy and page server); NULL: ckpt_restore. cmd/ hands a
	 * container's bundle to its runtime here.
	 */
	int (*restore)(struct ckpt_restore_opts *r, void *arg, ckpt_err_t *err);
	/*
	 * Undo a restore that succeeded, the sender gone before it heard:
	 * the tree is killed and what restore made for it removed; NULL:
	 * the root is killed.
	 */
	void (*discard)(struct ckpt_restore_opts *r, void *arg);
	void *arg;
	pid_t root_pid; /* out: the restored root */
};
int ckpt_receive(struct ckpt_receive_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;
int ckpt_dump(struct ckpt_dump_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;
int ckpt_restore(struct ckpt_restore_opts *o, ckpt_err_t *err) CKPT_WARN_UNUSED;

/*
 * Undo what runs that were killed left outside their trees (their journals
 * under /run/ckpt-oci/journal): report gets a line for each change undone.
 * Returns how many were, or -errno.
 */
int ckpt_recover(void (*report)(const char *what), ckpt_err_t *err) CKPT_WARN_UNUSED;
/*
 * Trees a lazy migration left stopped here (ckpt_dump_opts.leave_stopped):
 * report gets each one's root; returns how many. ckpt_held_release resumes
 * one (kill: kills it instead), once the other node's copy is known gone.
 */
int ckpt_held_list(void (*report)(pid_t root, void *arg), void *arg);
int ckpt_held_release(pid_t root, bool kill, ckpt_err_t *err) CKPT_WARN_UNUSED;

/* Probe every kernel feature; returns 0 when all required ones work, 1 if not. */
int ckpt_check(FILE *out, bool json, ckpt_err_t *err) CKPT_WARN_UNUSED;
/*
 * Human-readable (or JSON) summary of a verified bundle, with whether its
 * MAC verifies with key_file (NULL: this host's key).
 */
int ckpt_inspect(const char *bundle, const char *key_file, const char *decrypt_key, FILE *out,
		 bool json, ckpt_err_t *err) CKPT_WARN_UNUSED;

#endif
