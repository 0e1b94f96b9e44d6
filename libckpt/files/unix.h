/*
 * libckpt/files/unix.h - what sock_diag says about one unix socket, and
 * what the unix files share: at checkpoint unix.c, unix-queue.c,
 * unix-check.c, unix-diag.c, unix-inflight.c; unix-doc.c for both; at
 * restore unix-restore.c, unix-names.c, unix-fill.c.
 */
#ifndef CKPT_FILES_UNIX_H
#define CKPT_FILES_UNIX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

#include "ckpt/error.h"
#include "files/files.h"

/* An O_PATH fd of the file a socket is bound to (linux/un.h, 6.x). */
#include <linux/sockios.h>
#ifndef SIOCUNIXFILE
#define SIOCUNIXFILE (SIOCPROTOPRIVATE + 0)
#endif

struct unix_diag_info {
	uint8_t type, state; /* SOCK_*, TCP_ESTABLISHED / TCP_LISTEN / TCP_CLOSE */
	uint32_t ino, peer;  /* peer 0: none */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int name_len;		 /* 0: unbound; name[0] == 0: abstract */
	uint32_t rqueue, wqueue; /* listeners: pending and backlog */
	uint32_t *icons;	 /* listeners: peers (clients) of pending connections */
	int nicons;
	uint8_t shutdown; /* RCV_SHUTDOWN 1, SEND_SHUTDOWN 2 */
};

struct json;
struct fd_info;
struct files_dctx;
struct unix_diag_sk;

/*
 * unix-diag.c: the sock_diag socket of the network namespace socket sk is
 * in (made on first use, kept in dc until files_dump_finish).
 */
int unix_diag_for(struct files_dctx *dc, int sk, struct unix_diag_sk **ds, ckpt_err_t *err);
/* unix-diag.c: ask sock_diag socket ds about socket ino (its namespace's). */
int unix_diag_get(struct unix_diag_sk *ds, uint32_t ino, struct unix_diag_info *ui,
		  ckpt_err_t *err);
/* unix-diag.c: socket ino in any network namespace the dump met sockets in. */
int unix_diag_find(struct files_dctx *dc, uint32_t ino, struct unix_diag_info *ui, ckpt_err_t *err);
/*
 * unix-diag.c: the shutdown bits (1 receive, 2 send) sock_diag gives for
 * the inet socket ino of family fam and protocol proto, or -errno.
 */
int inet_diag_shutdown(struct unix_diag_sk *ds, int fam, int proto, uint32_t ino, ckpt_err_t *err);
/*
 * unix-diag.c: whether a socket of type type of a network namespace the
 * dump met sockets in, not one of skip's (NULL: any), is bound to the
 * abstract name (len bytes, its zero byte first): 1, 0 none.
 */
int unix_diag_name_held(struct files_dctx *dc, const char *name, int len, int type,
			const struct json *skip, ckpt_err_t *err);
/*
 * unix-diag.c: a socket of a network namespace the dump met bound to the
 * file st (device and inode), not one of skip's: its inode, 0 none.
 */
int unix_diag_file_held(struct files_dctx *dc, const struct stat *st, const struct json *skip,
			ckpt_err_t *err);
/* unix-diag.c: whether a socket of ckpt-oci's network namespace is bound to file st. */
int unix_diag_file_held_here(const struct stat *st, ckpt_err_t *err);
/* unix-diag.c: close the sock_diag sockets of dc. */
void unix_diag_close_all(struct files_dctx *dc);
bool unix_match(const struct fd_info *fi);
int unix_dump(const struct fd_info *fi, struct json *o, struct files_dctx *dc, ckpt_err_t *err);

/*
 * fds in flight (SCM_RIGHTS) are dumped once every task is (unix-inflight.c):
 * a queue holding some is marked "held_by" [pid, fd] at first and peeked
 * again then, each fd the peek installs in ckpt-oci dumped as an entry of
 * files.json "inflight" and kept open until the end (kcmp compares later
 * fds against it).
 */
struct unix_inflight {
	struct files_dctx *dc;
	int procfd; /* /proc/self: where the peeked fds are */
	int *held;
	int nheld;
};

/* unix-queue.c: dump the receive queue of socket e (sk a copy of fd fi->fd of fi->pid) */
int unix_dump_queue(const struct fd_info *fi, int sk, uint32_t ino, int type, struct json *e,
		    struct files_dctx *dc, struct unix_inflight *inf, ckpt_err_t *err);
/* unix-inflight.c: dump the fds a peek returned; refs gets their "inflight" indexes */
int unix_inflight_add(struct unix_inflight *inf, const int *fds, int n, struct json *refs,
		      ckpt_err_t *err);
/* unix-inflight.c: every queue marked "held_by", with its fds in flight */
int unix_dump_inflight(struct files_dctx *dc, ckpt_err_t *err);

struct files_rctx;
/* unix-restore.c: refill every queue (with fds inflight[ref] attached), then options */
int unix_fill_all(struct files_rctx *rc, const int *inflight, int ninflight, ckpt_err_t *err);

/* A socket of files.json "unix", read through unix-doc.c's field table. Never copied. */
struct unix_saved {
	uint64_t id, peer; /* inode numbers; peer 0: none */
	int type, state, backlog, shutdown;
	bool passcred, deleted;		/* deleted: its bound file was unlinked since */
	bool peer_taken;		/* its closed peer's name is another's now: not bound */
	int64_t file_dev, file_ino;	/* the bound file at checkpoint, 0: unknown */
	const char *name, *dir, *image; /* name: hex digits */
	const char *ext_peer;		/* hex name of a peer outside the tree (--ext-unix-sk) */
	const char *peer_name;		/* hex name of its peer, closed since */
	struct file_attr attr;		/* of the bound file (a path) */
	struct files_item it;
};

/* unix-doc.c: socket id of files.json into u: 1, 0 when absent, < 0 on a bad document */
int unix_get(const struct json *doc, uint64_t id, struct unix_saved *u, ckpt_err_t *err);
/* unix-doc.c: how many sockets files.json lists */
int unix_count(const struct json *doc, size_t *n, ckpt_err_t *err);
/* unix-doc.c: socket i of files.json into u */
int unix_nth(const struct json *doc, size_t i, struct unix_saved *u, ckpt_err_t *err);
/* unix-doc.c: element k of u's integer array key (inode numbers, sizes, indexes) */
int unix_elem(const struct unix_saved *u, const char *key, const struct json *arr, size_t k,
	      int64_t hi, int64_t *out, ckpt_err_t *err);
/* unix-doc.c: the listener with client among its pending connections: 1 (into l), 0 none */
int unix_listener_find(const struct json *doc, uint64_t client, struct unix_saved *l,
		       ckpt_err_t *err);
/* unix-doc.c: inspect's line of a unix fd (name, queued bytes, fds in flight) */
int unix_describe(const struct fd_entry *o, const struct json *files, bool lines, FILE *out,
		  ckpt_err_t *err);

/* end 1 of ("unix", id): the dropped peer of an orphan (unix-restore.c, unix-fill.c) */
#define UNIX_ORPHAN_END 1

/*
 * A name taken for an instant (unix_name_take .. unix_name_drop): what is at a path
 * name is moved aside in its directory and put back after, the file bind
 * made is unlinked, the directory keeps its times. An abstract name goes
 * with the socket that holds it.
 */
struct unix_name_hold {
	struct sockaddr_un a;
	socklen_t l;
	char aside[sizeof(((struct sockaddr_un *)0)->sun_path) + 32];
	bool moved, bound;
	struct attr_dir dir;
	int old; /* the cwd to go back to (unix_enter_dir) */
};

/*
 * A name of a socket: u's own ("name", relative to "dir"), or with peer
 * the one its closed peer had ("peer_name"); u NULL: none.
 */
struct unix_name {
	const struct unix_saved *u;
	bool peer;
};

/* unix-names.c: the address u's key ("name", "ext_peer") holds; *len 0 when none */
int unix_addr_key(const struct unix_saved *u, const char *key, const char *hex,
		  struct sockaddr_un *a, socklen_t *len, ckpt_err_t *err);
/* unix-names.c: the address u was bound to; *len 0 when it was not bound */
int unix_addr_of(const struct unix_saved *u, struct sockaddr_un *a, socklen_t *len,
		 ckpt_err_t *err);
/* unix-names.c: go into u's "dir" (*old: the cwd to go back to, -1 none) */
int unix_enter_dir(const struct unix_saved *u, int *old, ckpt_err_t *err);
/* unix-names.c: back to cwd old from unix_enter_dir */
void unix_leave_dir(int old);
/* unix-names.c: bind sk to u's name, its file as it was */
int unix_bind(const struct files_rctx *rc, int sk, const struct unix_saved *u, ckpt_err_t *err);
/* unix-names.c: connect sk to the name of to */
int unix_connect(int sk, const struct unix_saved *to, ckpt_err_t *err);
/* unix-names.c: bind sk to a for an instant (l 0: nothing done) */
int unix_name_take_addr(int sk, const struct sockaddr_un *a, socklen_t l, struct unix_name_hold *h,
			ckpt_err_t *err);
/* unix-names.c: bind sk to name n for an instant (the cwd in its "dir" until unix_name_drop) */
int unix_name_take(int sk, struct unix_name n, struct unix_name_hold *h, ckpt_err_t *err);
bool unix_has_name(struct unix_name n);
/* unix-names.c: give back what unix_name_take moved aside; ret: the caller's result so far */
int unix_name_drop(struct unix_name_hold *h, int ret, ckpt_err_t *err);

#endif
