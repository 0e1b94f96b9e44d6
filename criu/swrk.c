/*
 * criu/swrk.c - CRIU's RPC service as callers run it: `criu swrk FD`, FD a
 * SOCK_SEQPACKET socket; one protobuf criu_req per message in, criu_resp
 * out. A DUMP or RESTORE may send NOTIFY responses on the way (CRIU's
 * action scripts) and waits for the caller's NOTIFY answer to each.
 *
 * The request names the caller's fds (images_dir_fd, work_dir_fd,
 * status_fd): CRIU opens them through /proc/CALLER/fd, CALLER being the
 * peer of the socket, and so does this. An error goes back in the response
 * (cr_errno, cr_errmsg) and, as "Error: ..." (the line runc quotes from the
 * log), into the log file the request named, after the lines of this
 * service (the request as decoded, the notifications); the engine's own
 * log is dump.log or restore.log in the same directory.
 */
#define LOG_PREFIX "criu: "
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "criu/swrk.h"
#include "util/log.h"
#include "util/util.h"

#define SWRK_MSG_MAX (1u << 20)

void swrk_log(struct swrk *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->journal)
		return;
	va_start(ap, fmt);
	vfprintf(s->journal, fmt, ap);
	va_end(ap);
	fputc('\n', s->journal);
}

int swrk_caller_fd(struct swrk *s, int fd, bool dir, int flags, char **path, ckpt_err_t *err)
{
	cleanup_free char *proc = xasprintf("/proc/%d/fd/%d", s->peer, fd);
	cleanup_close int ours = -1;
	struct stat a, b;
	char buf[4096];
	ssize_t n;

	if (fd < 0)
		return ckpt_error_msg(err, EBADF, "fd %d of the caller", fd);
	ours = open(proc, flags | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	if (ours < 0)
		return ckpt_error(err, errno, "fd %d of the caller (%s)", fd, proc);
	if (path) {
		/* the engine takes paths: the one the fd leads to, if it still does */
		n = readlink(proc, buf, sizeof(buf) - 1);
		if (n <= 0)
			return ckpt_error(err, n < 0 ? errno : EINVAL, "readlink %s", proc);
		buf[n] = '\0';
		if (buf[0] != '/' || stat(buf, &a) < 0 || fstat(ours, &b) < 0 ||
		    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			return ckpt_error_msg(err, ENOENT,
					      "fd %d of the caller: `%s` is not "
					      "reachable by that path",
					      fd, buf);
		*path = xstrdup(buf);
	}
	return steal_fd(&ours);
}

/* resp, with fd passed along (SCM_RIGHTS) unless it is -1. */
static int send_resp(struct swrk *s, CriuResp *resp, int fd, ckpt_err_t *err)
{
	size_t len = criu_resp__get_packed_size(resp);
	cleanup_free uint8_t *buf = xzalloc(len ? len : 1);
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *c;

	criu_resp__pack(resp, buf);
	iov = (struct iovec){buf, len};
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	if (sendmsg(s->sk, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		return ckpt_error(err, errno, "send the response");
	return 0;
}

int swrk_send(struct swrk *s, CriuResp *resp, ckpt_err_t *err)
{
	return send_resp(s, resp, -1, err);
}

/* One message; 0 with *req NULL when the caller closed the socket. */
static int swrk_recv(struct swrk *s, CriuReq **req, ckpt_err_t *err)
{
	cleanup_free uint8_t *buf = NULL;
	ssize_t n;

	*req = NULL;
	n = recv(s->sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		return ckpt_error(err, errno, "receive a request");
	if (n == 0)
		return 0;
	if ((size_t)n > SWRK_MSG_MAX)
		return ckpt_error_msg(err, EMSGSIZE, "request of %zd bytes", n);
	buf = xzalloc(n);
	n = recv(s->sk, buf, n, 0);
	if (n < 0)
		return ckpt_error(err, errno, "receive a request");
	*req = criu_req__unpack(NULL, n, buf);
	if (!*req)
		return ckpt_error_msg(err, EBADMSG, "request of %zd bytes is not a criu_req", n);
	return 0;
}

int swrk_notify_fd(struct swrk *s, const char *script, pid_t pid, int fd, ckpt_err_t *err)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuNotify nt = CRIU_NOTIFY__INIT;
	CriuReq *ans = NULL;
	int ret;

	if (!s->opts->notify_scripts)
		return 0;
	nt.script = (char *)script;
	nt.has_pid = pid > 0;
	nt.pid = pid;
	resp.type = CRIU_REQ_TYPE__NOTIFY;
	resp.success = true;
	resp.notify = &nt;
	swrk_log(s, "notify: %s (pid %d)", script, pid);
	ret = send_resp(s, &resp, fd, err);
	if (ret == 0)
		ret = swrk_recv(s, &ans, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "notify `%s`", script);
	if (!ans)
		ret = ckpt_error_msg(err, ECONNRESET, "the caller hung up at `%s`", script);
	else if (ans->type != CRIU_REQ_TYPE__NOTIFY)
		ret = ckpt_error_msg(err, EPROTO, "answer to `%s` is a request of type %d", script,
				     ans->type);
	else if (!ans->notify_success)
		ret = ckpt_error_msg(err, ECANCELED, "the caller failed its `%s` action", script);
	criu_req__free_unpacked(ans, NULL);
	return ret;
}

int swrk_notify(struct swrk *s, const char *script, pid_t pid, ckpt_err_t *err)
{
	return swrk_notify_fd(s, script, pid, -1, err);
}

int swrk_refuse(struct swrk *s, const char *what, ckpt_err_t *err)
{
	return ckpt_error_msg(err, EOPNOTSUPP, "%s is not supported by ckpt-oci (ckpt-oci-criu(1))",
			      what);
}

/* The request, as the log's first lines: what callers send is worth seeing. */
static void log_request(struct swrk *s)
{
	const CriuOpts *o = s->opts;

	swrk_log(s, "ckpt-oci %s serving CRIU request type %d for pid %d", CKPT_VERSION,
		 s->req->type, s->peer);
	if (!o)
		return;
	swrk_log(s,
		 "opts: pid %d root `%s` leave_running %d tcp_established %d "
		 "ext_unix_sk %d shell_job %d file_locks %d notify_scripts %d "
		 "manage_cgroups %d mode %d freeze_cgroup `%s` rst_sibling %d "
		 "orphan_pts_master %d log `%s` level %d",
		 o->pid, o->root ?: "", o->leave_running, o->tcp_established, o->ext_unix_sk,
		 o->shell_job, o->file_locks, o->notify_scripts, o->manage_cgroups,
		 o->has_manage_cgroups_mode ? (int)o->manage_cgroups_mode : -1,
		 o->freeze_cgroup ?: "", o->rst_sibling, o->orphan_pts_master, o->log_file ?: "",
		 o->log_level);
	for (size_t i = 0; i < o->n_ext_mnt; i++)
		swrk_log(s, "opts: ext_mnt `%s` = `%s`", o->ext_mnt[i]->key, o->ext_mnt[i]->val);
	for (size_t i = 0; i < o->n_inherit_fd; i++)
		swrk_log(s, "opts: inherit_fd `%s` = %d", o->inherit_fd[i]->key,
			 o->inherit_fd[i]->fd);
	for (size_t i = 0; i < o->n_cg_root; i++)
		swrk_log(s, "opts: cg_root `%s` = `%s`", o->cg_root[i]->ctrl ?: "",
			 o->cg_root[i]->path);
	for (size_t i = 0; i < o->n_external; i++)
		swrk_log(s, "opts: external `%s`", o->external[i]);
	for (size_t i = 0; i < o->n_join_ns; i++)
		swrk_log(s, "opts: join_ns %s `%s`", o->join_ns[i]->ns, o->join_ns[i]->ns_file);
	if (o->base.n_unknown_fields)
		swrk_log(s, "opts: %u fields unknown to this service, ignored",
			 o->base.n_unknown_fields);
}

/* The journal into the caller's log file (in the work directory), at the end. */
static void flush_journal(struct swrk *s)
{
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;
	const char *name = s->opts ? s->opts->log_file : NULL;

	if (s->journal)
		fclose(s->journal);
	s->journal = NULL;
	if (!s->work || !s->journal_len)
		return;
	if (!name || !*name || strchr(name, '/'))
		name = "criu.log";
	path = xasprintf("%s/%s", s->work, name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, s->journal_buf, s->journal_len) < 0)
		pr_warn("log `%s`: %m, ignoring", path);
}

/* images_dir_fd and work_dir_fd as paths, for the engine. */
static int open_dirs(struct swrk *s, ckpt_err_t *err)
{
	cleanup_close int ifd = -1, wfd = -1;

	ifd = swrk_caller_fd(s, s->opts->images_dir_fd, true, O_RDONLY, &s->images, err);
	if (ifd < 0)
		return ckpt_error_wrap(err, "images_dir_fd");
	if (s->opts->has_work_dir_fd) {
		wfd = swrk_caller_fd(s, s->opts->work_dir_fd, true, O_RDONLY, &s->work, err);
		if (wfd < 0)
			return ckpt_error_wrap(err, "work_dir_fd");
	} else {
		s->work = xstrdup(s->images);
	}
	return 0;
}

static int serve_version(struct swrk *s, CriuResp *resp, CriuVersion *v)
{
	v->major_number = SWRK_VERSION_MAJOR;
	v->minor_number = SWRK_VERSION_MINOR;
	v->name = (char *)"ckpt-oci " CKPT_VERSION;
	resp->version = v;
	return 0;
}

/*
 * Only what works: memory tracking for pre-dumps (userfaultfd, not
 * soft-dirty: mem-track.c); no lazy pages, no pidfd store. Each field is
 * sent: runc takes a missing one as yes.
 */
static int serve_features(struct swrk *s, CriuResp *resp, CriuFeatures *f)
{
	f->has_mem_track = f->has_lazy_pages = f->has_pidfd_store = true;
	f->mem_track = true;
	resp->features = f;
	return 0;
}

static int serve_check(struct swrk *s, ckpt_err_t *err)
{
	cleanup_file FILE *out = fopen("/dev/null", "we");
	int ret;

	if (!out)
		return ckpt_error(err, errno, "open /dev/null");
	ret = ckpt_check(out, false, err);
	if (ret > 0)
		return ckpt_error_msg(err, ENOSYS,
				      "kernel features ckpt-oci needs are missing "
				      "(`ckpt-oci check` says which)");
	return ret;
}

static int serve(struct swrk *s, CriuResp *resp, CriuVersion *v, CriuFeatures *f, ckpt_err_t *err)
{
	int ret;

	switch (s->req->type) {
	case CRIU_REQ_TYPE__VERSION:
		return serve_version(s, resp, v);
	case CRIU_REQ_TYPE__FEATURE_CHECK:
		return serve_features(s, resp, f);
	case CRIU_REQ_TYPE__CHECK:
		return serve_check(s, err);
	case CRIU_REQ_TYPE__DUMP:
	case CRIU_REQ_TYPE__PRE_DUMP:
	case CRIU_REQ_TYPE__RESTORE:
		if (!s->opts)
			return ckpt_error_msg(err, EINVAL, "request without opts");
		ret = open_dirs(s, err);
		if (ret == 0)
			ret = swrk_key(s, &s->key, err);
		if (ret < 0)
			return ret;
		return s->req->type == CRIU_REQ_TYPE__RESTORE ? swrk_restore(s, resp, err)
							      : swrk_dump(s, resp, err);
	case CRIU_REQ_TYPE__PAGE_SERVER:
	case CRIU_REQ_TYPE__PAGE_SERVER_CHLD:
		return swrk_refuse(s, "PAGE_SERVER", err);
	case CRIU_REQ_TYPE__CPUINFO_DUMP:
	case CRIU_REQ_TYPE__CPUINFO_CHECK:
		return swrk_refuse(s,
				   "CPUINFO_DUMP/CHECK (the bundle's manifest records the "
				   "CPU and restore checks it)",
				   err);
	default:
		return ckpt_error_msg(err, EINVAL, "unknown request type %d", s->req->type);
	}
}

/* One request and its answer; *more when the caller asked to keep the line open. */
static int serve_one(struct swrk *s, bool *more)
{
	CriuResp resp = CRIU_RESP__INIT;
	CriuVersion v = CRIU_VERSION__INIT;
	CriuFeatures f = CRIU_FEATURES__INIT;
	ckpt_err_t err = {0};
	int ret;

	*more = false;
	ret = swrk_recv(s, &s->req, &err);
	if (ret < 0 || !s->req) {
		if (ret < 0)
			fprintf(stderr, "ckpt-oci criu: %s\n", err.msg);
		return ret < 0 ? 1 : 0;
	}
	s->opts = s->req->opts;
	s->journal = open_memstream(&s->journal_buf, &s->journal_len);
	log_request(s);
	ret = serve(s, &resp, &v, &f, &err);
	resp.type = s->req->type;
	resp.success = ret >= 0;
	if (ret < 0) {
		resp.has_cr_errno = true;
		resp.cr_errno = err.code;
		resp.cr_errmsg = err.msg;
		swrk_log(s, "Error (ckpt-oci): %s", err.msg);
		fprintf(stderr, "ckpt-oci criu: %s\n", err.msg);
	}
	flush_journal(s);
	if (swrk_send(s, &resp, &err) < 0) {
		fprintf(stderr, "ckpt-oci criu: %s\n", err.msg);
		ret = -1;
	}
	*more = ret >= 0 && s->req->keep_open;
	criu_req__free_unpacked(s->req, NULL);
	s->req = NULL;
	s->opts = NULL;
	free(s->images);
	free(s->work);
	free(s->key);
	free(s->journal_buf);
	s->images = s->work = s->key = s->journal_buf = NULL;
	s->journal_len = 0;
	return ret < 0 ? 1 : 0;
}

int swrk_serve(int sk)
{
	struct swrk s = {.sk = sk};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	bool more = true;
	int ret = 0;

	if (getsockopt(sk, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		fprintf(stderr, "ckpt-oci criu: swrk %d: not a connected socket: %m\n", sk);
		return 1;
	}
	s.peer = cred.pid;
	while (more && ret == 0)
		ret = serve_one(&s, &more);
	return ret;
}
