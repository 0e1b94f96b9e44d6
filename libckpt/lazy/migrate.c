/*
 * libckpt/lazy/migrate.c - `ckpt-oci migrate` (the old node) and `ckpt-oci
 * receive` (the new one): a tree moves between nodes in one command.
 *
 * migrate checkpoints the tree into a bundle of its own work directory
 * and, once the bundle is committed but the tree still stopped (the
 * dump's committed hook), streams it to the receiver: every file of the
 * bundle, the rootfs changes among them, or (--lazy) all but the page
 * images, which a page server of this node then serves. The receiver
 * writes them into a bundle of its own, restores it (detached; lazy, with
 * this node's page server) and answers; only on its "running" is the old
 * tree killed. Any failure before that (the receiver gone, a refusal, a
 * broken stream) resumes the old tree as it was: nothing is lost. A
 * container's final checkpoint takes the caller's dump options (its
 * documents, cgroup, rootfs changes: oci/checkpoint.c), and the receiver
 * hands a bundle to its caller's restore (cmd/: the runtime); a failed
 * restore leaves no bundle there.
 *
 * Each round (the pre-dumps, then the final one) counts the pages it
 * copied and the bytes it sent; the downtime is from the tree stopped for
 * the final checkpoint to the receiver's "running".
 *
 * --lazy: the final checkpoint copies no page (live_pages): it lists the
 * pages written since the last pre-dump, and the page server reads them
 * from the tree, stopped still, as node B asks (each chunk with a MAC
 * under the bundle's key bound to its manifest, page-proto.h). The tree
 * is killed only once node B answered "running" and then every client
 * of the page server said it was done. No page is served from a tree
 * that may run again: the page server reads and sends a chunk only while
 * the write end of a pipe (held) is open here, and it is closed before
 * the tree can resume: by us before a rollback (the page server killed
 * and waited for too), by the kernel when migrate's worker dies (its
 * files are closed before its tracees are let go; page-server.c). The
 * page server then answers no more and dies (PR_SET_PDEATHSIG too), and
 * node B's lazy-pages process, its pages gone, kills its tree: the one
 * left is node A's.
 *
 * The live phase, node B running the tree, cannot be undone from here:
 * when the page server loses node B before it said it had every page
 * (the connection broken, or no request for the live timeout) or an abort
 * request (SIGTERM) ends the wait, node B may run the tree (only its
 * "done" lost) or have killed it (its pages gone). Resumed, the tree could
 * run twice; killed, nowhere. So it is left stopped, detached
 * (leave_stopped, dump/held.c), and migrate fails saying how to resume or
 * kill it (`ckpt-oci recover --resume|--kill PID`) once node B's fate is
 * known.
 *
 * This node's bundles are not flushed to stable storage (no_sync): they
 * only feed the stream and the page server, and a crash of this node
 * takes the tree with them; a flush of the final checkpoint was most of
 * the time the tree stood frozen (0.8 s of 1.7 at 1 GiB, 180 MB written).
 *
 * --pre-copy N: first up to N pre-dumps (checkpoint --pre-dump) into
 * pre-1, pre-2, ... beside the bundle, each the parent of the next, the
 * tree running; each is streamed as soon as it is committed. The rounds
 * stop early once one copies no fewer pages than the one before (the
 * tree writes as fast as they go). The final checkpoint then has the last
 * one as its parent: the tree is stopped only for the pages written since.
 *
 * The stream, after the handshake of page-server.c (the sender proves it
 * holds the key): records { le32 type, le32 name length, le64 size },
 * the name, then size bytes. MIG_DIR (size 0) names the directory, beside
 * the receiver's bundle, that the files after it go into (a pre-dump: the
 * parent paths in chain.json are relative); an empty name, the bundle
 * again. MIG_END carries the page server's port and whether to restore
 * lazily, and the receiver answers a struct mig_reply. On "running" the
 * sender sends one byte (MIG_ACK) before it kills its tree; a receiver
 * that gets none (the sender gone, or rolled back by a signal: its close
 * arrives after the answer was written) kills its copy: a written answer
 * alone does not say the sender read it.
 */
#define LOG_PREFIX "migrate: "
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "lazy/lazy.h"
#include "util/abort.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/util.h"

enum { MIG_FILE = 1, MIG_END = 2, MIG_DIR = 3 };
#define MIG_ACK 'K' /* the sender read "running" and kills its tree */

struct mig_rec {
	uint32_t type;
	uint32_t name_len;
	uint64_t size; /* MIG_END: lazy << 32 | page server port */
};

struct mig_reply {
	int32_t status; /* 0: the tree runs there; else an errno */
	int32_t root_pid;
	char msg[512];
};

#define MIG_NAME_MAX 255

struct mig {
	struct ckpt_dump_opts dump; /* first: the committed hook finds the rest from it */
	struct ckpt_migrate_opts *o;
	char *bundle;	  /* this node's bundle */
	char *parent;	  /* --pre-copy: the last pre-dump */
	int sk;		  /* to the receiver, or -1 */
	pid_t server;	  /* lazy: the page server */
	pid_t parent_pid; /* its parent: us */
	int held;	  /* live: the page server reads the tree while this is open */
	char lost[256];	  /* live: why node B may not have every page (the tree held) */
	uint8_t key[BUNDLE_KEY_BYTES];
};

/* n more bytes of the round under way sent. */
static void mig_sent(struct mig *m, uint64_t n)
{
	struct ckpt_migrate_opts *o = m->o;

	o->bytes_sent += n;
	o->rounds[o->nrounds].bytes += n;
	if (o->progress)
		o->progress(o);
}

/* The round under way is over: pages copied in it. */
static void mig_round_end(struct mig *m, uint64_t pages)
{
	struct ckpt_migrate_opts *o = m->o;

	o->rounds[o->nrounds++].pages = pages;
	if (o->progress)
		o->progress(o);
}

/* Sent in pieces this size, the progress told between them. */
#define MIG_SEND_PIECE (4u << 20)

static int send_file(struct mig *m, int dirfd, const char *name, ckpt_err_t *err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int sk = m->sk;
	struct mig_rec r = {.type = MIG_FILE, .name_len = strlen(name)};
	struct stat st;
	off_t off = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return ckpt_error(err, errno, "open %s", name);
	r.size = st.st_size;
	if (write_all(sk, &r, sizeof(r)) < 0 || write_all(sk, name, r.name_len) < 0)
		return ckpt_error(err, errno ? errno : EPIPE, "send %s", name);
	mig_sent(m, sizeof(r) + r.name_len);
	while ((uint64_t)off < r.size) {
		ssize_t n = sendfile(sk, fd, &off, MIN(r.size - off, (uint64_t)MIG_SEND_PIECE));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ckpt_error(err, n < 0 ? errno : EPIPE, "send %s", name);
		mig_sent(m, n);
	}
	return 0;
}

/* Pages in the page images of bundle dirfd (the final round's count). */
static uint64_t bundle_pages(int dirfd)
{
	cleanup_dir DIR *d = fdopendir(dup(dirfd));
	uint64_t bytes = 0;
	struct dirent *de;
	struct stat st;
	size_t len;

	while (d && (de = readdir(d))) {
		len = strlen(de->d_name);
		if (!strncmp(de->d_name, "pages-", 6) && len > 10 &&
		    !strcmp(de->d_name + len - 4, ".img") &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			bytes += st.st_size;
	}
	return bytes / (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Whether name is a page image a page server will serve instead. */
static bool served_later(int dirfd, const char *name)
{
	char sums[MIG_NAME_MAX + 8];
	struct stat st;

	if (strncmp(name, "pages-", 6) || strlen(name) > MIG_NAME_MAX)
		return false;
	snprintf(sums, sizeof(sums), "%s" BUNDLE_SUMS_SUFFIX, name);
	return fstatat(dirfd, sums, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * The files of bundle path; lazy: but the page images a page server
 * serves. *pages (if set): how many its page images hold.
 */
static int send_bundle(struct mig *m, const char *path, bool lazy, uint64_t *pages, ckpt_err_t *err)
{
	cleanup_close int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int ret = 0;

	if (dirfd < 0 || !(d = opendir(path)))
		return ckpt_error(err, errno, "open bundle `%s`", path);
	while (ret == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.' || (lazy && served_later(dirfd, de->d_name)))
			continue;
		ret = send_file(m, dirfd, de->d_name, err);
	}
	if (ret == 0 && pages)
		*pages = bundle_pages(dirfd);
	return ret;
}

/* The files after this go into the receiver's directory name ("": the bundle). */
static int send_dir(struct mig *m, const char *name, ckpt_err_t *err)
{
	struct mig_rec r = {.type = MIG_DIR, .name_len = strlen(name)};

	if (write_all(m->sk, &r, sizeof(r)) < 0 || write_all(m->sk, name, r.name_len) < 0)
		return ckpt_error(err, errno ? errno : EPIPE, "send directory `%s`", name);
	mig_sent(m, sizeof(r) + r.name_len);
	return 0;
}

/* The connection to the receiver, made once, the key proven. */
static int mig_connect(struct mig *m, ckpt_err_t *err)
{
	int ret;

	if (m->sk >= 0)
		return 0;
	m->sk = lazy_connect(m->o->to, err);
	if (m->sk < 0)
		return m->sk;
	ret = ps_auth_client(m->sk, m->key, err);
	if (ret < 0) {
		close(m->sk);
		m->sk = -1;
	}
	return ret;
}

/*
 * --pre-copy: pre-dumps into dir/pre-1, pre-2, ..., each streamed once
 * committed; m->parent the last. A failure leaves the tree running (a
 * pre-dump never stops it for longer than the arm).
 */
static int pre_copy(struct mig *m, const char *dir, ckpt_err_t *err)
{
	uint64_t prev = UINT64_MAX;
	int ret = mig_connect(m, err);

	for (int i = 1; ret == 0 && i <= m->o->pre_copy; i++) {
		char name[32];
		char *path;
		struct ckpt_dump_opts d = {.pid = m->o->pid,
					   .work_dir = dir,
					   .key_file = m->o->key_file,
					   .verbose = m->o->verbose,
					   .pre_dump = true,
					   .no_sync = true,
					   .parent = m->parent};

		snprintf(name, sizeof(name), "pre-%d", i);
		path = xasprintf("%s/%s", dir, name);
		d.bundle = path;
		ret = ckpt_dump(&d, err);
		if (ret == 0)
			ret = send_dir(m, name, err);
		if (ret == 0)
			ret = send_bundle(m, path, false, NULL, err);
		if (ret < 0) {
			free(path);
			break;
		}
		free(m->parent);
		m->parent = path;
		m->o->pre_rounds = i;
		mig_round_end(m, d.pages_copied);
		pr_info("pre-copy round %d: %llu pages, %llu bytes sent", i,
			(unsigned long long)d.pages_copied, (unsigned long long)m->o->bytes_sent);
		/* the tree writes as fast as the rounds copy: more would not shrink it */
		if (d.pages_copied == 0 || d.pages_copied >= prev)
			break;
		prev = d.pages_copied;
	}
	return ret < 0 ? ckpt_error_wrap(err, "pre-copy to %s", m->o->to) : 0;
}

#define PS_EXIT_IDLE 2 /* the page server's status: node B asked for nothing in time */

static int live_timeout_ms(const struct ckpt_migrate_opts *o)
{
	return o->live_timeout_ms > 0 ? o->live_timeout_ms : CKPT_LIVE_TIMEOUT_MS;
}

/* Lazy: a page server on this end of the connection, in a process of its own. */
static int start_server(struct mig *m, int sk, uint16_t *port, ckpt_err_t *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], addr[NI_MAXHOST + 8], bound[NI_MAXHOST + 16];
	int lsk, held[2] = {-1, -1};
	sigset_t usr1, mask;

	if (getsockname(sk, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL, 0, NI_NUMERICHOST))
		return ckpt_error(err, errno, "local address");
	snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:0" : "%s:0", host);
	lsk = lazy_listen(addr, err);
	if (lsk < 0)
		return lsk;
	lazy_bound_name(lsk, bound, sizeof(bound));
	*port = (uint16_t)atoi(strrchr(bound, ':') + 1);
	/* live pages: the pipe that says the tree is held (see --lazy above) */
	if (m->dump.live && pipe2(held, O_CLOEXEC | O_NONBLOCK) < 0) {
		close(lsk);
		return ckpt_error(err, errno, "pipe for the page server");
	}
	m->parent_pid = getpid();
	/* SIGUSR1 arms its live timeout (live_wait): blocked until it waits for it */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &mask);
	m->server = fork();
	if (m->server != 0)
		sigprocmask(SIG_SETMASK, &mask, NULL);
	if (m->server < 0) {
		close(lsk);
		if (m->dump.live) {
			close(held[0]);
			close(held[1]);
		}
		return ckpt_error(err, errno, "fork the page server");
	}
	if (m->server == 0) {
		struct ckpt_bundle *b = NULL;
		ckpt_err_t e = {0};
		int ret;

		if (m->dump.live)
			close(held[1]); /* ours only: its end of file is the tree let go */
		/* CKPT_OCI_FAULT=live-late-death (util/fault.h): the death signal never comes */
		if (m->dump.live && !ckpt_fault_is("live-late-death") &&
		    (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != m->parent_pid))
			_exit(1);
		close(sk);
		ret = bundle_open_lazy(m->bundle, &(struct bundle_auth){.key_file = m->o->key_file},
				       false, &b, &e);
		if (ret == 0)
			ret = page_server_serve(b, lsk, true, m->dump.live, m->dump.nlive,
						m->dump.live ? held[0] : -1,
						m->dump.live ? live_timeout_ms(m->o) : 0, &e);
		/* live: its status says why to the worker (live_wait), which says it once */
		if (ret < 0 && m->dump.live)
			pr_info("page server: %s", e.msg);
		else if (ret < 0)
			pr_warn("page server: %s", e.msg);
		_exit(ret == 0 ? 0 : e.code == ETIMEDOUT ? PS_EXIT_IDLE : 1);
	}
	close(lsk);
	if (m->dump.live) {
		close(held[0]);
		m->held = held[1];
	}
	pr_info("page server on %s", bound);
	return 0;
}

/*
 * The receiver's answer. The restore there may take long: an abort request
 * (a signal to migrate, cmd/worker.c) ends the wait, and the tree resumes.
 */
static int mig_wait_reply(struct mig *m, struct mig_reply *rep, ckpt_err_t *err)
{
	struct pollfd p = {.fd = m->sk, .events = POLLIN};
	int ret;

	for (;;) {
		ret = ckpt_abort_check(err);
		if (ret < 0)
			return ret;
		ret = poll(&p, 1, 100);
		if (ret > 0)
			break;
		if (ret < 0 && errno != EINTR)
			return ckpt_error(err, errno, "wait for the receiver");
	}
	if (read_all(m->sk, rep, sizeof(*rep)) != sizeof(*rep))
		return ckpt_error_msg(err, EPIPE,
				      "the receiver went away before the tree ran there");
	return 0;
}

/*
 * Before the tree may resume: the page server reads it no more (the pipe
 * closed under its lock), is killed and waited for.
 */
static void stop_server(struct mig *m)
{
	if (m->held >= 0)
		close(m->held);
	m->held = -1;
	if (m->server > 0) {
		kill(m->server, SIGKILL);
		while (waitpid(m->server, NULL, 0) < 0 && errno == EINTR)
			;
	}
	m->server = 0;
}

/*
 * The live phase: node B runs the tree, its pages still come from here.
 * 0 once the page server ended with node B's word that it had every page;
 * else -1, m->lost saying why: the page server gave up on node B (it asked
 * for nothing in the live timeout, its connection broke), or an abort
 * request (SIGTERM to migrate) ended the wait. Either way the page server
 * is stopped and the tree may be neither resumed (node B may run it, and
 * only its "done" was lost) nor killed (node B may have killed its own).
 */
static int live_wait(struct mig *m)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, m->server, 0);
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	ckpt_err_t e = {0};
	int status = 0;

	kill(m->server, SIGUSR1); /* node B runs the tree: its live timeout counts */
	while (pidfd >= 0 && poll(&p, 1, 100) <= 0) {
		if (ckpt_abort_check(&e) < 0) {
			snprintf(m->lost, sizeof(m->lost), "%.128s while node B fetched its pages",
				 e.msg);
			stop_server(m);
			return -1;
		}
	}
	while (waitpid(m->server, &status, 0) < 0 && errno == EINTR)
		;
	m->server = 0;
	stop_server(m);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == PS_EXIT_IDLE)
		snprintf(m->lost, sizeof(m->lost),
			 "node B asked for no page in %d.%03d s (stopped, or cut off)",
			 live_timeout_ms(m->o) / 1000, live_timeout_ms(m->o) % 1000);
	else
		snprintf(m->lost, sizeof(m->lost),
			 "the page server lost node B before it had every page");
	return -1;
}

/* The dump's committed hook: the bundle there, restored and running, or an error. */
static int mig_committed(struct ckpt_dump_opts *d, ckpt_err_t *err)
{
	struct mig *m = (struct mig *)d; /* its first member */
	struct mig_rec end = {.type = MIG_END};
	struct mig_reply rep;
	uint64_t pages = 0;
	uint16_t port = 0;
	int ret;

	ret = mig_connect(m, err);
	if (ret == 0 && m->o->lazy)
		ret = start_server(m, m->sk, &port, err);
	if (ret == 0 && m->parent)
		ret = send_dir(m, "", err);
	if (ret == 0)
		ret = send_bundle(m, m->bundle, m->o->lazy, d->live ? NULL : &pages, err);
	if (d->live)
		pages = d->pages_copied; /* listed live, read from the tree as asked */
	end.size = (uint64_t)m->o->lazy << 32 | port;
	if (ret == 0 && write_all(m->sk, &end, sizeof(end)) < 0)
		ret = ckpt_error(err, errno ? errno : EPIPE, "send the end of the bundle");
	if (ret == 0)
		ret = mig_wait_reply(m, &rep, err);
	if (ret == 0 && rep.status) {
		rep.msg[sizeof(rep.msg) - 1] = '\0';
		ret = ckpt_error_msg(err, rep.status, "the receiver could not restore: %s",
				     rep.msg);
	}
	if (ret == 0 && write_all(m->sk, &(char){MIG_ACK}, 1) < 0)
		ret = ckpt_error(err, errno ? errno : EPIPE, "acknowledge the tree running there");
	if (ret < 0) {
		stop_server(m); /* the dump resumes the tree on our error */
		return ckpt_error_wrap(err, "to %s", m->o->to);
	}
	m->o->root_pid = rep.root_pid;
	m->o->downtime_ns = now_ns() - d->frozen_at;
	mig_round_end(m, pages);
	/* live pages: the tree stays stopped until node B has every one */
	if (d->live && m->server > 0 && live_wait(m) < 0) {
		/* node B may run the tree or have killed it: neither resumed nor killed */
		d->leave_stopped = true;
		pr_info("%s: the tree is left stopped", m->lost); /* said once, by the caller */
		return 0;
	}
	if (d->live)
		pr_info("every live page sent, %.3f s after the tree stopped",
			(now_ns() - d->frozen_at) / 1e9);
	pr_info("running on %s as %d; %llu bytes sent", m->o->to, rep.root_pid,
		(unsigned long long)m->o->bytes_sent);
	return 0;
}

int ckpt_migrate(struct ckpt_migrate_opts *o, ckpt_err_t *err)
{
	struct mig m = {.o = o, .sk = -1, .held = -1};
	cleanup_free char *tmpl =
		xasprintf("%s/ckpt-migrate.XXXXXX", o->work_dir ? o->work_dir : "/var/tmp");
	cleanup_free char *dir = NULL;
	struct ckpt_dump_opts *d = &m.dump;
	uint64_t t0 = now_ns();
	int ret;

	if (o->dump)
		*d = *o->dump;
	d->pid = o->pid;
	d->key_file = o->key_file;
	d->verbose = o->verbose;
	d->committed = mig_committed;
	d->no_sync = true; /* see no_sync in the head comment */
	d->leave_running = false;
	d->leave_stopped = false;
	d->pre_dump = false;
	d->live_pages = o->lazy; /* see --lazy in the head comment */
	o->bytes_sent = 0;
	o->nrounds = 0;
	memset(o->rounds, 0, sizeof(o->rounds));

	ret = bundle_key_file(o->key_file, m.key, err);
	if (ret < 0)
		return ret;
	if (!mkdtemp(tmpl))
		return ckpt_error(err, errno, "make a work directory in `%s`", o->work_dir);
	dir = xstrdup(tmpl);
	m.bundle = xasprintf("%s/bundle", dir);
	d->bundle = m.bundle;
	d->work_dir = dir;
	ret = o->pre_copy > 0 ? pre_copy(&m, dir, err) : 0;
	d->parent = m.parent;
	/* the final checkpoint ends the pre-dumps' tracking (or the tree's exit does) */
	if (ret == 0)
		ret = ckpt_dump(d, err);
	/* one line: what to do with the tree left stopped (see live_wait) */
	if (ret == 0 && d->leave_stopped)
		ret = ckpt_error_msg(err, EHOSTUNREACH,
				     "%s: node B may run the tree or have killed it, so the tree "
				     "of %d is left stopped here; once node B's is known gone, "
				     "`ckpt-oci recover --resume %d` resumes it "
				     "(or `ckpt-oci recover --kill %d`)",
				     m.lost, o->pid, o->pid, o->pid);
	o->frozen_ns = d->frozen_ns;
	if (m.sk >= 0)
		close(m.sk);
	if (m.held >= 0)
		close(m.held); /* the tree is resumed or killed by now */
	if (m.server > 0 && ret < 0)
		kill(m.server, SIGKILL);
	/* lazy: the pages go on being served until the new node has them all */
	if (m.server > 0)
		while (waitpid(m.server, NULL, 0) < 0 && errno == EINTR)
			;
	/* the bundle goes; on a failure dump.log stays, to say why */
	if (!o->keep_bundle) {
		cleanup_close int parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (parent >= 0)
			(void)bundle_rmtree(parent, "bundle");
		for (int i = 1; parent >= 0 && i <= o->pre_rounds + 1 && i <= o->pre_copy; i++) {
			char name[32];

			snprintf(name, sizeof(name), "pre-%d", i);
			(void)bundle_rmtree(parent, name);
		}
		if (parent >= 0 && ret == 0)
			(void)unlinkat(parent, "dump.log", 0);
		if (ret == 0)
			(void)unlinkat(AT_FDCWD, dir, AT_REMOVEDIR);
	}
	free(m.bundle);
	free(m.parent);
	o->total_ns = now_ns() - t0;
	return ret;
}

/* --- the receiving end --- */

static bool name_ok(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/');
}

static int recv_file(int sk, int dirfd, const struct mig_rec *r, uint8_t *buf, ckpt_err_t *err)
{
	char name[MIG_NAME_MAX + 1];
	cleanup_close int fd = -1;
	uint64_t left = r->size;

	if (r->name_len == 0 || r->name_len > MIG_NAME_MAX ||
	    read_all(sk, name, r->name_len) != (ssize_t)r->name_len)
		return ckpt_error_msg(err, EPROTO, "bad file record");
	name[r->name_len] = '\0';
	if (!name_ok(name))
		return ckpt_error_msg(err, EPERM, "file `%s`: not a plain name", name);
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ckpt_error(err, errno, "create %s", name);
	while (left) {
		size_t n = MIN(left, (uint64_t)BUNDLE_CHUNK_BYTES);

		if (read_all(sk, buf, n) != (ssize_t)n)
			return ckpt_error_msg(err, EPIPE, "%s: the sender went away", name);
		if (write_all(fd, buf, n) < 0)
			return ckpt_error(err, errno, "write %s", name);
		left -= n;
	}
	return 0;
}

/*
 * A directory being received: dir/NAME.tmp, renamed to dir/NAME once
 * whole. Not flushed to stable storage: a crash of this node before the
 * tree runs here fails the migration (the old node resumes its tree), one
 * after takes the tree with it whatever the bundle. A flush here (ext4
 * writes back the data of the files just written) cost 0.49 s of a 1.2 s
 * downtime when the last pre-dump's came inside it.
 */
struct recv_dir {
	char name[MIG_NAME_MAX + 1];
	int fd; /* -1: none open */
};

static int recv_dir_open(const char *dir, struct recv_dir *rd, const char *name, ckpt_err_t *err)
{
	cleanup_free char *tmp = xasprintf("%s/%s.tmp", dir, name);

	/* a name is set only for a directory of ours, removed on a failure */
	if (mkdir(tmp, 0700) < 0)
		return ckpt_error(err, errno, "make `%s`", tmp);
	snprintf(rd->name, sizeof(rd->name), "%s", name);
	rd->fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rd->fd < 0)
		return ckpt_error(err, errno, "open `%s`", tmp);
	return 0;
}

static int recv_dir_commit(const char *dir, struct recv_dir *rd, ckpt_err_t *err)
{
	cleanup_free char *tmp = xasprintf("%s/%s.tmp", dir, rd->name);
	cleanup_free char *final = xasprintf("%s/%s", dir, rd->name);
	int ret = 0;

	if (rename(tmp, final) < 0)
		ret = ckpt_error(err, errno, "rename `%s` to `%s`", tmp, rd->name);
	close(rd->fd);
	rd->fd = -1;
	return ret;
}

/* The pre-dumps received, committed beside the bundle. */
struct recv_made {
	char **names;
	size_t n;
};

/* The pre-dumps received go (the bundle's restore failed, or the stream). */
static void recv_made_remove(int parent, struct recv_made *made)
{
	for (size_t i = 0; parent >= 0 && i < made->n; i++)
		(void)bundle_rmtree(parent, made->names[i]);
}

static void recv_made_free(struct recv_made *made)
{
	for (size_t i = 0; i < made->n; i++)
		free(made->names[i]);
	free(made->names);
}

/*
 * The stream: the bundle into dir/NAME, the pre-dumps (MIG_DIR) beside it
 * under the names the sender gave (into *made); *end its last record. On
 * a failure nothing of it is left.
 */
static int recv_bundle(int sk, const char *dir, const char *name, struct mig_rec *end,
		       struct recv_made *made, ckpt_err_t *err)
{
	cleanup_free uint8_t *buf = xzalloc(BUNDLE_CHUNK_BYTES);
	struct recv_dir bundle = {.fd = -1}, pre = {.fd = -1};
	int ret;

	ret = recv_dir_open(dir, &bundle, name, err);
	while (ret == 0) {
		char dname[MIG_NAME_MAX + 1];

		if (read_all(sk, end, sizeof(*end)) != sizeof(*end)) {
			ret = ckpt_error_msg(err, EPIPE, "the sender went away");
			break;
		}
		if (end->type == MIG_END)
			break;
		if (end->type == MIG_FILE) {
			ret = recv_file(sk, pre.fd >= 0 ? pre.fd : bundle.fd, end, buf, err);
			continue;
		}
		if (end->type != MIG_DIR || end->size || end->name_len > 64 ||
		    read_all(sk, dname, end->name_len) != (ssize_t)end->name_len) {
			ret = ckpt_error_msg(err, EPROTO, "bad record");
			break;
		}
		dname[end->name_len] = '\0';
		if (pre.fd >= 0) {
			ret = recv_dir_commit(dir, &pre, err);
			if (ret < 0)
				break;
			made->names = xrealloc(made->names, (made->n + 1) * sizeof(*made->names));
			made->names[made->n++] = xstrdup(pre.name);
			pre.name[0] = '\0';
		}
		if (ret < 0 || !dname[0])
			continue;
		if (!name_ok(dname) || !strcmp(dname, name))
			ret = ckpt_error_msg(err, EPERM, "directory `%s`: not a plain name", dname);
		else
			ret = recv_dir_open(dir, &pre, dname, err);
	}
	if (ret == 0 && pre.fd >= 0)
		ret = ckpt_error_msg(err, EPROTO, "the stream ends in pre-dump `%s`", pre.name);
	if (ret == 0)
		ret = recv_dir_commit(dir, &bundle, err);
	if (ret < 0) {
		cleanup_close int parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct recv_dir *open_dirs[] = {&bundle, &pre};

		for (size_t i = 0; parent >= 0 && i < 2; i++) {
			cleanup_free char *base = xasprintf("%s.tmp", open_dirs[i]->name);

			if (open_dirs[i]->name[0])
				(void)bundle_rmtree(parent, base);
		}
		recv_made_remove(parent, made);
	}
	if (bundle.fd >= 0)
		close(bundle.fd);
	if (pre.fd >= 0)
		close(pre.fd);
	return ret;
}

/* The bundle received restored (r: its page server, if lazy, set here). */
static int recv_restore(struct ckpt_receive_opts *o, int sk, struct ckpt_restore_opts *r,
			const struct mig_rec *end, char **server, ckpt_err_t *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST];
	int ret;

	r->lazy = end->size >> 32 & 1;
	if (r->lazy) {
		if (getpeername(sk, (struct sockaddr *)&ss, &sl) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL, 0,
				NI_NUMERICHOST))
			return ckpt_error(err, errno, "the sender's address");
		*server = xasprintf(strchr(host, ':') ? "[%s]:%u" : "%s:%u", host,
				    (unsigned)(end->size & 0xffff));
		r->page_server = *server;
	}
	ret = o->restore ? o->restore(r, o->arg, err) : ckpt_restore(r, err);
	if (ret < 0)
		return ret;
	o->root_pid = r->root_pid;
	return 0;
}

int ckpt_receive(struct ckpt_receive_opts *o, ckpt_err_t *err)
{
	uint8_t key[BUNDLE_KEY_BYTES];
	cleanup_close int lsk = -1, sk = -1, parent = -1;
	cleanup_free char *bundle = NULL, *server = NULL;
	struct recv_made made = {0};
	struct ckpt_restore_opts r = {.work_dir = o->dir, .detach = true, .key_file = o->key_file};
	struct mig_rec end;
	struct mig_reply rep = {0};
	char name[64], ack = 0;
	bool wrote;
	int ret;

	ret = bundle_key_file(o->key_file, key, err);
	if (ret < 0)
		return ret;
	if (mkdir(o->dir, 0700) < 0 && errno != EEXIST)
		return ckpt_error(err, errno, "make `%s`", o->dir);
	lsk = lazy_listen(o->listen, err);
	if (lsk < 0)
		return lsk;
	if (o->ready) {
		char bound[NI_MAXHOST + NI_MAXSERV + 4];

		lazy_bound_name(lsk, bound, sizeof(bound));
		o->ready(bound, o->arg);
	}
	sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (sk < 0)
		return ckpt_error(err, errno, "accept");
	ret = ps_auth_server(sk, key, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "sender");
	snprintf(name, sizeof(name), "bundle-%llu", (unsigned long long)now_ns());
	bundle = xasprintf("%s/%s", o->dir, name);
	r.bundle = bundle;
	ret = recv_bundle(sk, o->dir, name, &end, &made, err);
	if (ret < 0) {
		recv_made_free(&made);
		return ret; /* the sender sees the connection go: its tree resumes */
	}
	ret = recv_restore(o, sk, &r, &end, &server, err);
	/* nothing of a tree that does not run here is kept: its bundle and parents go */
	if (ret < 0 && (parent = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)bundle_rmtree(parent, name);
		recv_made_remove(parent, &made);
	}
	recv_made_free(&made);
	rep.status = ret < 0 ? err->code : 0;
	rep.root_pid = o->root_pid;
	if (ret < 0)
		snprintf(rep.msg, sizeof(rep.msg), "%.*s", (int)sizeof(rep.msg) - 1, err->msg);
	wrote = write_all(sk, &rep, sizeof(rep)) == 0;
	if (ret == 0 && (!wrote || read_all(sk, &ack, 1) != 1 || ack != MIG_ACK)) {
		/* the old node cannot know the tree runs here: it resumes its own */
		if (o->discard)
			o->discard(&r, o->arg);
		else
			kill(o->root_pid, SIGKILL);
		return ckpt_error_msg(err, EPIPE, "the sender went away; restored tree killed");
	}
	return ret;
}
