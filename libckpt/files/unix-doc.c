/*
 * libckpt/files/unix-doc.c - the unix sockets of files.json ("unix"), read
 * through one field table: every member checked before restore
 * (unix-restore.c) makes a socket, and inspect's describe of a unix fd
 * (its name, queued bytes, fds in flight) from the same reader.
 */
#define LOG_PREFIX "unix: "
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "files/files.h"
#include "files/unix.h"
#include "util/doc.h"
#include "util/util.h"

static const struct doc_field unix_fields[] = {
	DOC_INT(struct unix_saved, id, "id", 1, UINT32_MAX),
	DOC_OPT_INT(struct unix_saved, peer, "peer", 0, UINT32_MAX),
	DOC_INT(struct unix_saved, type, "type", SOCK_STREAM, SOCK_SEQPACKET),
	DOC_INT(struct unix_saved, state, "state", 0, TCP_CLOSING),
	DOC_OPT_INT(struct unix_saved, backlog, "backlog", 0, INT32_MAX),
	DOC_OPT_INT(struct unix_saved, shutdown, "shutdown", 0, 3),
	DOC_OPT_BOOL(struct unix_saved, passcred, "passcred"),
	DOC_OPT_BOOL(struct unix_saved, deleted, "deleted"),
	DOC_OPT_BOOL(struct unix_saved, peer_taken, "peer_taken"),
	DOC_OPT_INT(struct unix_saved, file_dev, "file_dev", 0, INT64_MAX),
	DOC_OPT_INT(struct unix_saved, file_ino, "file_ino", 0, INT64_MAX),
	DOC_OPT_STR(struct unix_saved, name, "name",
		    2 * sizeof(((struct sockaddr_un *)0)->sun_path)),
	DOC_OPT_STR(struct unix_saved, dir, "dir", PATH_MAX),
	DOC_OPT_STR(struct unix_saved, ext_peer, "ext_peer",
		    2 * sizeof(((struct sockaddr_un *)0)->sun_path)),
	DOC_OPT_STR(struct unix_saved, peer_name, "peer_name",
		    2 * sizeof(((struct sockaddr_un *)0)->sun_path)),
	DOC_OPT_STR(struct unix_saved, image, "image", 255),
	DOC_END,
};

static int unix_check(struct unix_saved *u, ckpt_err_t *err)
{
	int ret;

	memset(u, 0, offsetof(struct unix_saved, it));
	ret = doc_read(&u->it.at, u->it.obj, unix_fields, u, err);
	if (ret == 0)
		ret = attr_read(&u->it.at, u->it.obj, &u->attr, err);
	if (ret == 0 && u->type != SOCK_STREAM && u->type != SOCK_DGRAM &&
	    u->type != SOCK_SEQPACKET)
		ret = doc_error(err, &u->it.at, "socket type %d", u->type);
	if (ret == 0 && u->name && strlen(u->name) % 2)
		ret = doc_error(err, &u->it.at, "name: an odd number of hex digits");
	if (ret == 0 && u->peer_name && strlen(u->peer_name) % 2)
		ret = doc_error(err, &u->it.at, "peer_name: an odd number of hex digits");
	/* bound again as it is: a path is absolute (unix.c refuses a relative one) */
	if (ret == 0 && u->peer_name && strncmp(u->peer_name, "00", 2) &&
	    strncmp(u->peer_name, "2f", 2))
		ret = doc_error(err, &u->it.at, "peer_name: neither an absolute path nor abstract");
	if (u->peer_taken) /* another socket holds it now: never bound */
		u->peer_name = NULL;
	return ret;
}

/* Socket id of files.json into u: 1, 0 when absent, < 0 on a bad document. */
int unix_get(const struct json *doc, uint64_t id, struct unix_saved *u, ckpt_err_t *err)
{
	int ret = files_find(doc, "unix", id, &u->it, err);

	return ret <= 0 ? ret : unix_check(u, err) < 0 ? -err->code : 1;
}

/* How many sockets files.json lists. */
int unix_count(const struct json *doc, size_t *n, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("files.json");
	const struct json *list;

	*n = 0;
	return doc ? doc_opt_arr(&top, doc, "unix", FILES_LIST_MAX, &list, n, err) : 0;
}

/* Socket i of files.json into u. */
int unix_nth(const struct json *doc, size_t i, struct unix_saved *u, ckpt_err_t *err)
{
	int ret;

	u->it.top = DOC_TOP("files.json");
	u->it.list = DOC_KEY(&u->it.top, "unix");
	u->it.at = DOC_IDX(&u->it.list, i);
	ret = doc_elem_obj(&u->it.list, json_get(doc, "unix"), i, &u->it.obj, err);
	return ret < 0 ? ret : unix_check(u, err);
}

/* Element k of u's integer array key (inode numbers, sizes, indexes). */
int unix_elem(const struct unix_saved *u, const char *key, const struct json *arr, size_t k,
	      int64_t hi, int64_t *out, ckpt_err_t *err)
{
	struct doc_at at = DOC_KEY(&u->it.at, key);

	return doc_elem_int(&at, arr, k, 0, hi, out, err);
}

/*
 * The listener that has client among its pending connections ("icons"):
 * 1 (into l), 0 none.
 */
int unix_listener_find(const struct json *doc, uint64_t client, struct unix_saved *l,
		       ckpt_err_t *err)
{
	size_t n;
	int ret = unix_count(doc, &n, err);

	for (size_t i = 0; ret == 0 && i < n; i++) {
		const struct json *icons;
		size_t ni;

		ret = unix_nth(doc, i, l, err);
		if (ret == 0)
			ret = doc_opt_arr(&l->it.at, l->it.obj, "icons", FILES_LIST_MAX, &icons,
					  &ni, err);
		for (size_t k = 0; ret == 0 && k < ni; k++) {
			int64_t c;

			ret = unix_elem(l, "icons", icons, k, UINT32_MAX, &c, err);
			if (ret == 0 && (uint64_t)c == client)
				return 1;
		}
	}
	return ret;
}

/*
 * A unix socket's bound name, saved as hex digits: "@" for the zero byte
 * that starts an abstract name, "?" for any other byte not printable; a
 * name bound relative to a directory is followed by that directory.
 */
static void describe_name(FILE *out, const struct unix_saved *u)
{
	const char *hex = u->name;

	if (!hex || !*hex)
		return;
	fputs(" name ", out);
	for (size_t i = 0; hex[i] && hex[i + 1]; i += 2) {
		unsigned int c = 0;

		if (sscanf(hex + i, "%2x", &c) != 1)
			break;
		/* a path name may carry its terminating zero byte: stop there */
		if (c == 0 && i && strncmp(hex, "00", 2))
			break;
		fputc(i == 0 && c == 0 ? '@' : c >= 0x20 && c < 0x7f ? (int)c : '?', out);
	}
	if (u->dir)
		fprintf(out, " in %s", u->dir);
}

/* A unix socket: its name, queued bytes, and fds in flight in its messages. */
int unix_describe(const struct fd_entry *o, const struct json *files, bool lines, FILE *out,
		  ckpt_err_t *err)
{
	struct doc_at rat;
	const struct json *rights;
	struct unix_saved u;
	size_t inflight = 0, nr;
	int64_t bytes;
	uint64_t id;
	int ret;

	if (lines)
		return 0;
	ret = doc_u64(&o->at, o->obj, "id", UINT32_MAX, &id, err);
	if (ret == 0)
		ret = unix_get(files, id, &u, err);
	if (ret < 0)
		return ret;
	fprintf(out, " socket %" PRIu64, id);
	if (ret == 0)
		return 0;
	describe_name(out, &u);
	rat = DOC_KEY(&u.it.at, "rights");
	ret = doc_opt_int(&u.it.at, u.it.obj, "bytes", 0, INT64_MAX, 0, &bytes, err);
	if (ret == 0)
		ret = doc_opt_arr(&u.it.at, u.it.obj, "rights", FILES_LIST_MAX, &rights, &nr, err);
	for (size_t i = 0; ret == 0 && i < nr; i++) {
		struct doc_at at = DOC_IDX(&rat, i);
		const struct json *r, *f;
		size_t nf;

		ret = doc_elem_obj(&rat, rights, i, &r, err);
		if (ret == 0)
			ret = doc_arr(&at, r, "files", 253, &f, &nf, err);
		inflight += ret == 0 ? nf : 0;
	}
	if (ret < 0)
		return ret;
	if (bytes)
		fprintf(out, " %" PRId64 " bytes queued", bytes);
	if (inflight)
		fprintf(out, " %zu fds in flight", inflight);
	return 0;
}
