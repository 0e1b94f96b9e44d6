/*
 * libckpt/files/unix-check.c - the checks at the end of a dump, once every
 * unix socket of the tree is recorded (unix_dump_check): each connected
 * socket's peer is in the tree or a pending connection of a listener in
 * it (else --ext-unix-sk for a datagram one), each queued datagram's
 * sender name can be given back (unix_check_from), and a closed peer's
 * name taken since is marked ("peer_taken").
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "files/files.h"
#include "files/unix.h"
#include "util/doc.h"
#include "util/log.h"
#include "util/util.h"

/* An inode number this dump wrote (0 if none). */
static uint64_t ino_of(const struct json *j)
{
	uint64_t v = 0;

	return json_hex_value(j, &v) ? v : 0;
}

/* A listener in list with client ino among its pending connections. */
static const struct json *unix_listener_of(const struct json *list, uint64_t client)
{
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *icons = json_get(json_at(list, i), "icons");

		for (size_t k = 0; k < json_len(icons); k++)
			if (ino_of(json_at(icons, k)) == client)
				return json_at(list, i);
	}
	return NULL;
}

/* Every pending connection of listener e comes from a client in the tree. */
static int unix_check_icons(const struct json *list, const struct json *e, ckpt_err_t *err)
{
	const struct json *icons = json_get(e, "icons");

	for (size_t k = 0; k < json_len(icons); k++) {
		uint64_t c = ino_of(json_at(icons, k));

		if (!files_list_find(list, c))
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported unix socket %lu: pending connection "
					      "from socket %lu outside the tree",
					      (unsigned long)ino_of(json_get(e, "id")),
					      (unsigned long)c);
	}
	return 0;
}

/*
 * --ext-unix-sk: a datagram socket connected to a socket outside the tree
 * bound to an absolute path or an abstract name ("ext_peer") is connected
 * to that name again at restore. Its queue holds what that peer sent,
 * which nothing can send again: refused, as is every other kind of peer.
 */
static int unix_ext_peer(struct files_dctx *dc, struct json *e, const struct unix_diag_info *ui,
			 ckpt_err_t *err)
{
	uint64_t id = ino_of(json_get(e, "id"));
	uint64_t type = 0;

	(void)json_hex_value(json_get(e, "type"), &type);
	if (!dc->ext_unix_sk)
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported unix socket %lu: connected to socket %u outside "
				      "the tree%s",
				      (unsigned long)id, ui->ino,
				      type == SOCK_DGRAM ? " (--ext-unix-sk reconnects by name)"
							 : "");
	if (type != SOCK_DGRAM || !ui->name_len || (ui->name[0] && ui->name[0] != '/'))
		return ckpt_error_msg(
			err, ENOTSUP,
			"unsupported unix socket %lu: connected to socket %u outside "
			"the tree, not a datagram one with an absolute or abstract name",
			(unsigned long)id, ui->ino);
	if (json_get(e, "image"))
		return ckpt_error_msg(err, ENOTSUP,
				      "unsupported unix socket %lu: messages queued from socket %u "
				      "outside the tree",
				      (unsigned long)id, ui->ino);
	json_set(e, "ext_peer", json_hexbuf(ui->name, ui->name_len));
	return 0;
}

#define HEXNAME_MAX (2 * sizeof(((struct sockaddr_un *)0)->sun_path))

/* The hex name of socket id of list ("" unbound); NULL when not in the list. */
static const char *name_in(const struct json *list, uint64_t id)
{
	const struct json *s = id ? files_list_find(list, id) : NULL;
	struct doc_at at = DOC_TOP("files.json");
	const char *n = NULL;

	if (!s)
		return NULL;
	if (doc_opt_str(&at, s, "name", HEXNAME_MAX, &n, &(ckpt_err_t){0}) < 0 || !n)
		return "";
	return n;
}

/* Whether a datagram socket of list is bound to hex name. */
static bool dgram_named(const struct json *list, const char *name)
{
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *s = json_at(list, i);
		uint64_t type = 0;
		const char *n = name_in(list, ino_of(json_get(s, "id")));

		(void)json_hex_value(json_get(s, "type"), &type);
		if (type == SOCK_DGRAM && n && !strcmp(n, name))
			return true;
	}
	return false;
}

/*
 * Each queued datagram comes back from its sender's name ("from"), sent
 * at restore from the socket of the tree bound to it, else from one
 * bound to it for an instant. Refused: a datagram from another than the
 * peer a socket is connected to (the kernel takes none), from more than
 * one name into a socket whose peer is closed (the dropped end refills
 * it), or from a relative name no socket of the tree holds (relative to
 * an unknown directory).
 */
/* Hex name hex as bytes into name (of room cap): its length, -1 if not hex. */
static int unhex(const char *hex, char *name, size_t cap)
{
	size_t n = strlen(hex) / 2;

	if (n > cap)
		return -1;
	for (size_t k = 0; k < n; k++) {
		unsigned int c = 0;

		if (sscanf(hex + 2 * k, "%2x", &c) != 1)
			return -1;
		name[k] = c;
	}
	return n;
}

/*
 * A socket outside the tree (not in list) bound to absolute path name
 * now, found by the inode of the file at that path in the tree's root:
 * its inode, 0 none.
 */
static int path_held_outside(struct files_dctx *dc, const struct json *list, const char *name,
			     int len, ckpt_err_t *err)
{
	char path[PATH_MAX + 64];
	struct stat st;

	if (dc->ntree_pids > 0)
		snprintf(path, sizeof(path), "/proc/%d/root%.*s", (int)dc->tree_pids[0], len, name);
	else
		snprintf(path, sizeof(path), "%.*s", len, name);
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return unix_diag_file_held(dc, &st, list, err);
}

/*
 * A name a datagram comes from that no socket of the tree holds is bound
 * again at restore (a path's file moved aside for that instant): refused
 * when a socket outside holds it now. 1 abstract, 2 path held; 0 free.
 */
static int from_free(struct files_dctx *dc, const struct json *list, const char *hex,
		     ckpt_err_t *err)
{
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n = unhex(hex, name, sizeof(name)), ret;

	if (n <= 0)
		return 0;
	if (name[0] == '/') {
		ret = path_held_outside(dc, list, name, strnlen(name, n), err);
		return ret > 0 ? 2 : ret;
	}
	if (name[0])
		return 0;
	return unix_diag_name_held(dc, name, n, SOCK_DGRAM, NULL, err);
}

static int unix_check_from(struct files_dctx *dc, const struct json *list, const struct json *e,
			   ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json"), at = DOC_KEY(&top, "from");
	uint64_t id = ino_of(json_get(e, "id")), peer = ino_of(json_get(e, "peer")), state = 0;
	const struct json *from = json_get(e, "from");
	const char *pname = name_in(list, peer), *own = name_in(list, id), *first = NULL;
	struct doc_at eat = DOC_TOP("files.json");
	bool orphan;

	if (doc_opt_str(&eat, e, "peer_name", HEXNAME_MAX, &first, err) < 0)
		return -err->code;

	(void)json_hex_value(json_get(e, "state"), &state);
	orphan = !pname && (peer || (state == TCP_ESTABLISHED && !*own));
	for (size_t i = 0; i < json_len(from); i++) {
		const char *f = NULL;
		const char *why = NULL;

		if (doc_elem_str(&at, from, i, HEXNAME_MAX, &f, err) < 0)
			return -err->code;
		if (!first)
			first = f;
		if (pname && strcmp(f, pname))
			why = "from another socket than the one it is connected to";
		else if (orphan && strcmp(f, first))
			why = "from another name than its closed peer's";
		else if (*f && strncmp(f, "00", 2) && strncmp(f, "2f", 2) && !dgram_named(list, f))
			why = "from a relative name no socket of the tree holds";
		if (!why && !pname && *f && !dgram_named(list, f) &&
		    !(orphan && json_get(e, "peer_taken"))) {
			int held = from_free(dc, list, f, err);

			if (held < 0)
				return held;
			if (held == 1)
				why = "from an abstract name a socket outside the tree holds";
			else if (held)
				why = "from a path a socket outside the tree holds (restore would "
				      "move its file aside)";
		}
		if (why)
			return ckpt_error_msg(err, ENOTSUP,
					      "unsupported unix socket %lu: a datagram queued %s",
					      (unsigned long)id, why);
	}
	return 0;
}

/*
 * The name a closed peer had ("peer_name", else the first datagram's
 * sender for a datagram orphan) is bound again at restore by the end
 * restore drops. Another socket may hold it now (the name was bound
 * again since, a daemon restarted): one outside the tree holding a path
 * is refused (restore would move its file aside); else, held by one
 * outside the tree or (a datagram one: made before the orphan is filled)
 * of the tree, the name is left out
 * ("peer_taken": the dropped end stays unnamed, what it sent reads back
 * no name) and the log says so.
 */
static int unix_peer_taken(struct files_dctx *dc, const struct json *list, struct json *e,
			   ckpt_err_t *err)
{
	struct doc_at at = DOC_TOP("files.json");
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)], path[PATH_MAX + 64];
	uint64_t id = ino_of(json_get(e, "id")), peer = ino_of(json_get(e, "peer"));
	uint64_t type = 0, state = 0;
	const char *hex = NULL, *own;
	struct stat st;
	bool orphan;
	int n, held;

	if (doc_opt_str(&at, e, "peer_name", HEXNAME_MAX, &hex, err) < 0)
		return -err->code;
	(void)json_hex_value(json_get(e, "type"), &type);
	(void)json_hex_value(json_get(e, "state"), &state);
	/* an orphan as unix_check_from tells one */
	own = name_in(list, id);
	orphan = !name_in(list, peer) && (peer || (state == TCP_ESTABLISHED && own && !*own));
	if (!hex && orphan && json_len(json_get(e, "from")) &&
	    doc_elem_str(&DOC_KEY(&at, "from"), json_get(e, "from"), 0, HEXNAME_MAX, &hex, err) < 0)
		return -err->code;
	n = hex ? unhex(hex, name, sizeof(name)) : 0;
	if (n <= 0 || (name[0] && name[0] != '/'))
		return 0;
	if (!name[0]) {
		held = unix_diag_name_held(dc, name, n, type, type == SOCK_DGRAM ? NULL : list,
					   err);
	} else {
		n = strnlen(name, n);
		held = path_held_outside(dc, list, name, n, err);
		if (held > 0)
			return ckpt_error_msg(
				err, ENOTSUP,
				"unsupported unix socket %lu: its closed peer's path "
				"`%.*s` is held by socket %d outside the tree (restore "
				"would move its file aside)",
				(unsigned long)id, n, name, held);
		if (dc->ntree_pids > 0)
			snprintf(path, sizeof(path), "/proc/%d/root%.*s", (int)dc->tree_pids[0], n,
				 name);
		else
			snprintf(path, sizeof(path), "%.*s", n, name);
		/* a stream one's name is bound before the tree's listeners are */
		if (held == 0 && type == SOCK_DGRAM && lstat(path, &st) == 0 &&
		    S_ISSOCK(st.st_mode))
			held = unix_diag_file_held(dc, &st, NULL, err);
	}
	if (held <= 0)
		return held;
	pr_info("unix socket %lu: its closed peer's name `%s%.*s` is held by another socket now: "
		"left out, the restored socket names no peer",
		(unsigned long)id, name[0] ? "" : "@", name[0] ? n : n - 1,
		name[0] ? name : name + 1);
	json_set(e, "peer_taken", json_bool(true));
	return 0;
}

int unix_dump_check(struct files_dctx *dc, ckpt_err_t *err)
{
	const struct json *list;
	int ret = unix_dump_inflight(dc, err);

	if (ret < 0)
		return ret;
	list = dc->doc ? json_get(dc->doc, "unix") : NULL;
	for (size_t i = 0; i < json_len(list); i++) {
		const struct json *e = json_at(list, i);
		uint64_t id = ino_of(json_get(e, "id")), peer;
		struct unix_diag_info ui;

		ret = unix_check_icons(list, e, err);
		if (ret == 0)
			ret = unix_peer_taken(dc, list, json_at(list, i), err);
		if (ret == 0)
			ret = unix_check_from(dc, list, e, err);
		if (ret == 0 && json_get(e, "peer_relative") && !unix_listener_of(list, id))
			ret = ckpt_error_msg(
				err, ENOTSUP,
				"unsupported unix socket %lu: its closed peer was bound "
				"to a relative path",
				(unsigned long)id);
		if (ret < 0)
			return ret;
		peer = ino_of(json_get(e, "peer"));
		if (!peer || files_list_find(list, peer) || unix_listener_of(list, id))
			continue;
		/* a peer that no longer exists is a closed end: restored as such */
		if (unix_diag_find(dc, peer, &ui, err) < 0) {
			ckpt_error_clear(err);
			continue;
		}
		free(ui.icons);
		ret = unix_ext_peer(dc, json_at(list, i), &ui, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
