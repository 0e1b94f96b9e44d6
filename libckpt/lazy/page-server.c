/*
 * libckpt/lazy/page-server.c - `ckpt-oci page-server`: a bundle's page images
 * over TCP, chunk by chunk, for a lazy restore on another node (page-src.c
 * is the client; page-proto.h the format).
 *
 * A client proves it holds the bundle's key (a keyed BLAKE2b over a fresh
 * nonce) before it is sent a byte; only page images listed in the
 * manifest are served. The server does not check the chunks it sends:
 * the client does, against the digests it holds, so nothing on the way
 * can alter a page unnoticed. Several clients at once (the restore and
 * its lazy-pages process) are served from one poll() loop.
 *
 * Live page images (a lazy migration's final checkpoint, bundle.h) are
 * not on disk: their chunks are read from the stopped tree's memory
 * (/proc/PID/mem, opened while the dump held the tree, so a pid reused
 * since can never be read), placed by the runs of pagemap-PID.json, and
 * each sent with its MAC (page-proto.h) in place of a digest; a client
 * may ask part of a chunk, which then has a MAC of its own.
 *
 * A live chunk is read and sent only while migrate holds the tree: the
 * server holds the read end of a pipe whose only writer is migrate's
 * worker, which closes it before it resumes the tree, and a worker that
 * dies has its files closed before the kernel detaches its tracees. The
 * pipe is looked at (its lock taken) before each read and again after it,
 * before the reply: a chunk is sent only if the tree was still held once
 * the last byte of it was read. At its end of file the server answers
 * ESRCH and stops; its death signal (PR_SET_PDEATHSIG) only comes later.
 *
 * Live, once migrate armed it (SIGUSR1: node B runs the tree, the live
 * phase began), it also ends when no client asked for anything for
 * idle_ms (node B's lazy-pages process stopped, its node down, the
 * network cut); before, node B's restore may take its time. And a
 * client that takes no byte, or sends half a request, for that long is
 * dropped: migrate then leaves the tree stopped (migrate.c), never waits
 * for ever. Every connection has keepalive and TCP_USER_TIMEOUT besides.
 */
#define LOG_PREFIX "page-server: "
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "ckpt/ckpt.h"
#include "lazy/lazy.h"
#include "lazy/page-proto.h"
#include "mem/mem-incr.h"
#include "mem/mem.h"
#include "util/doc.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/util.h"

#define CLIENTS_MAX 16

/* "HOST:PORT", "[V6]:PORT" or ":PORT" (any address, listening). */
static int resolve(const char *addr, bool passive, struct addrinfo **out, ckpt_err_t *err)
{
	cleanup_free char *host = xstrdup(addr);
	char *port = strrchr(host, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
	char *h = host;
	int ret;

	if (!port || !port[1])
		return ckpt_error_msg(err, EINVAL, "address `%s`: want HOST:PORT", addr);
	*port++ = '\0';
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	ret = getaddrinfo(*h ? h : NULL, port, &hints, out);
	if (ret)
		return ckpt_error_msg(err, EINVAL, "address `%s`: %s", addr, gai_strerror(ret));
	return 0;
}

/*
 * Every connection: no Nagle delay; and a peer gone silent (its node
 * down, the network black-holed) is found within LAZY_USER_TIMEOUT_MS:
 * keepalive probes while idle, a cap on unacknowledged data (and zero
 * window probes) while sending.
 */
#define LAZY_USER_TIMEOUT_MS 30000
static void tune(int sk, int user_timeout_ms)
{
	int one = 1, idle = 10, intvl = 5, cnt = 3;

	(void)setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(sk, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(sk, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(sk, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(sk, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(sk, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
			 sizeof(user_timeout_ms));
}

/* A live client's reads and writes give up after ms: a peer that stopped reading. */
static void tune_live(int sk, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000};

	tune(sk, ms);
	(void)setsockopt(sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	(void)setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int lazy_listen(const char *addr, ckpt_err_t *err)
{
	struct addrinfo *ai;
	int sk, one = 1, ret = resolve(addr, true, &ai, err);

	if (ret < 0)
		return ret;
	sk = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(sk, ai->ai_addr, ai->ai_addrlen) < 0 || listen(sk, CLIENTS_MAX) < 0) {
		ret = ckpt_error(err, errno, "listen on %s", addr);
		if (sk >= 0)
			close(sk);
		sk = ret;
	}
	freeaddrinfo(ai);
	return sk;
}

int lazy_connect(const char *addr, ckpt_err_t *err)
{
	struct addrinfo *ai;
	int sk, ret = resolve(addr, false, &ai, err);

	if (ret < 0)
		return ret;
	sk = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || connect(sk, ai->ai_addr, ai->ai_addrlen) < 0) {
		ret = ckpt_error(err, errno, "connect to %s", addr);
		if (sk >= 0)
			close(sk);
		sk = ret;
	} else {
		tune(sk, LAZY_USER_TIMEOUT_MS);
	}
	freeaddrinfo(ai);
	return sk;
}

static void hello_mac(const uint8_t *key, const uint8_t *hello, uint8_t mac[32])
{
	memset(mac, 0, 32);
	if (key)
		crypto_generichash(mac, 32, hello, sizeof(PS_MAGIC) - 1 + PS_NONCE, key,
				   BUNDLE_KEY_BYTES);
}

int ps_auth_server(int sk, const uint8_t *key, ckpt_err_t *err)
{
	uint8_t hello[sizeof(PS_MAGIC) - 1 + PS_NONCE], want[32], got[32];
	int32_t status = 0;

	memcpy(hello, PS_MAGIC, sizeof(PS_MAGIC) - 1);
	randombytes_buf(hello + sizeof(PS_MAGIC) - 1, PS_NONCE);
	if (write_all(sk, hello, sizeof(hello)) < 0 ||
	    read_all(sk, got, sizeof(got)) != sizeof(got))
		return ckpt_error(err, EPIPE, "handshake");
	hello_mac(key, hello, want);
	if (sodium_memcmp(want, got, sizeof(got)))
		status = EACCES;
	if (write_all(sk, &status, sizeof(status)) < 0)
		return ckpt_error(err, EPIPE, "handshake");
	if (status)
		return ckpt_error_msg(err, EACCES, "client does not hold the bundle's key");
	return 0;
}

int ps_auth_client(int sk, const uint8_t *key, ckpt_err_t *err)
{
	uint8_t hello[sizeof(PS_MAGIC) - 1 + PS_NONCE], mac[32];
	int32_t status;

	if (read_all(sk, hello, sizeof(hello)) != sizeof(hello) ||
	    memcmp(hello, PS_MAGIC, sizeof(PS_MAGIC) - 1))
		return ckpt_error_msg(err, EPROTO, "not a ckpt-oci page server");
	hello_mac(key, hello, mac);
	if (write_all(sk, mac, sizeof(mac)) < 0 ||
	    read_all(sk, &status, sizeof(status)) != sizeof(status))
		return ckpt_error(err, EPIPE, "handshake");
	if (status)
		return ckpt_error_msg(err, status,
				      "refused: this bundle's key is not the server's");
	return 0;
}

void ps_live_mac(const uint8_t key[BUNDLE_LIVE_KEY_BYTES], const char *name, uint64_t idx,
		 uint32_t off, const void *buf, uint32_t len, uint8_t mac[32])
{
	crypto_generichash_state st;
	uint64_t le_idx = htole64(idx);
	uint32_t le_off = htole32(off), le_len = htole32(len);

	crypto_generichash_init(&st, key, BUNDLE_LIVE_KEY_BYTES, PS_MAC_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
	crypto_generichash_update(&st, (const uint8_t *)&le_idx, sizeof(le_idx));
	crypto_generichash_update(&st, (const uint8_t *)&le_off, sizeof(le_off));
	crypto_generichash_update(&st, (const uint8_t *)&le_len, sizeof(le_len));
	crypto_generichash_update(&st, buf, len);
	crypto_generichash_final(&st, mac, PS_MAC_BYTES);
}

/* The stopped tree the live images are read from. */
struct live_src {
	const struct ckpt_live_task *tasks;
	int n;
	struct mem_run **runs; /* per task, read once: pagemap-PID.json */
	size_t *nruns;
	uint8_t key[BUNDLE_LIVE_KEY_BYTES];
	int held;      /* the pipe whose end of file says the tree may run (lazy.h) */
	bool released; /* it said so: nothing more is read */
	bool flip;     /* fault injection: alter the next chunk sent */
	int death_fd;  /* fault injection (live-late-death): migrate's worker, or -1 */
	bool late;     /* the chunk under way was read after that worker died */

	uint64_t nparts; /* replies of part of a chunk */
};

/* Whether the tree is still held: the pipe's writer there (EAGAIN), not its end of file. */
static bool live_held(struct live_src *ls)
{
	char c;

	if (!ls->released && read(ls->held, &c, 1) < 0 && errno == EAGAIN)
		return true;
	ls->released = true;
	return false;
}

/* live-late-death: whether migrate's worker has died (its pidfd readable). */
static bool worker_dead(const struct live_src *ls)
{
	struct pollfd p = {.fd = ls->death_fd, .events = POLLIN};

	return ls->death_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Task i's runs, from its pagemap (verified: the bundle is authenticated). */
static int live_runs(struct ckpt_bundle *b, struct live_src *ls, int i, uint64_t size,
		     ckpt_err_t *err)
{
	char name[64];
	size_t n;
	int ret;

	if (ls->runs[i])
		return 0;
	snprintf(name, sizeof(name), "pagemap-%d.json", ls->tasks[i].ns_pid);
	ret = mem_runs_get(b, name, true, size / PAGE_SIZE, &ls->runs[i], &n, err);
	if (ret < 0)
		return ret;
	ls->nruns[i] = n;
	return 0;
}

/* len bytes at offset off of task i's image into buf: each run's part, from its memory. */
static int live_read(struct live_src *ls, int i, uint64_t off, uint8_t *buf, size_t len)
{
	const struct mem_run *r = ls->runs[i];
	size_t lo = 0, hi = ls->nruns[i], done = 0;

	/* the first run ending after off: runs are in image order */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if ((r[mid].off + r[mid].npages) * PAGE_SIZE <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t k = lo; k < ls->nruns[i] && done < len; k++) {
		uint64_t at = off + done, rs = r[k].off * PAGE_SIZE;
		uint64_t in = at - rs, n = MIN(len - done, r[k].npages * PAGE_SIZE - in);

		if (at < rs)
			return EPROTO; /* a hole in the image: no run says what is there */
		while (n) {
			ssize_t got =
				pread(ls->tasks[i].memfd, buf + done, n, (off_t)(r[k].addr + in));

			if (got <= 0)
				return got < 0 ? errno : EIO; /* the tree is gone */
			done += got;
			in += got;
			n -= got;
		}
	}
	return done == len ? 0 : EPROTO;
}

/*
 * Chunk idx of a live image, or its part at off (*len bytes, 0: all of
 * it), into buf (*len set), its MAC into mac: 0 or an errno.
 */
static int live_chunk(struct ckpt_bundle *b, struct live_src *ls, const char *name, uint64_t idx,
		      uint32_t off, uint8_t *buf, uint32_t *len, uint8_t *mac, ckpt_err_t *err)
{
	int ns_pid, end = 0, i;
	uint64_t size, clen;

	if (!ls || sscanf(name, "pages-%d.img%n", &ns_pid, &end) != 1 || name[end])
		return ENOENT;
	for (i = 0; i < ls->n && ls->tasks[i].ns_pid != ns_pid; i++)
		;
	if (i == ls->n || bundle_file_size(b, name, &size, err) < 0)
		return ENOENT;
	if (idx >= (size + BUNDLE_CHUNK_BYTES - 1) / BUNDLE_CHUNK_BYTES)
		return ERANGE;
	if (live_runs(b, ls, i, size, err) < 0) {
		pr_warn("%s", err->msg);
		return EPROTO;
	}
	clen = MIN((uint64_t)BUNDLE_CHUNK_BYTES, size - idx * BUNDLE_CHUNK_BYTES);
	if (!*len && !off)
		*len = (uint32_t)clen;
	if (!*len || off > clen || *len > clen - off)
		return ERANGE;
	if (!live_held(ls))
		return ESRCH;
	ls->late = worker_dead(ls);
	i = live_read(ls, i, idx * BUNDLE_CHUNK_BYTES + off, buf, *len);
	if (i) {
		pr_warn("%s chunk %llu: %s", name, (unsigned long long)idx, strerror(i));
		return i;
	}
	/* held still after the last byte: held while every byte was read */
	if (!live_held(ls))
		return ESRCH;
	if (ls->late)
		pr_warn("%s chunk %llu read after migrate's worker died, sent", name,
			(unsigned long long)idx);
	ps_live_mac(ls->key, name, idx, off, buf, *len, mac);
	ls->nparts += *len < clen;
	/* CKPT_OCI_FAULT=live-flip (util/fault.h): the bytes altered on the way */
	if (ls->flip && *len) {
		ls->flip = false;
		buf[*len / 2] ^= 0x01;
	}
	return 0;
}

/* One request of a client: 1 to go on, 0 when it said bye or left, < 0 on error. */
static int serve_one(struct ckpt_bundle *b, struct live_src *ls, int sk, uint8_t *buf,
		     ckpt_err_t *err)
{
	struct ps_req req;
	struct ps_resp resp = {0};
	ssize_t n = read_all(sk, &req, sizeof(req));
	cleanup_close int fd = -1;
	uint64_t size = 0;

	if (n == 0 && ls)
		return ckpt_error_msg(err, ECONNRESET, "client left before it said it was done");
	if (n == 0)
		return 0;
	if (n != sizeof(req))
		return ckpt_error_msg(err, EPROTO, "client: short request");
	if (req.chunk == PS_BYE)
		return 0;
	req.name[PS_NAME_MAX - 1] = '\0';
	if (bundle_file_live(b, req.name)) {
		uint8_t mac[PS_MAC_BYTES];
		uint32_t len = req.len;

		resp.status = live_chunk(b, ls, req.name, req.chunk, req.off, buf, &len, mac, err);
		resp.len = resp.status ? 0 : len;
		ckpt_error_clear(err);
		if (write_all(sk, &resp, sizeof(resp)) < 0 ||
		    (resp.len &&
		     (write_all(sk, buf, resp.len) < 0 || write_all(sk, mac, sizeof(mac)) < 0)))
			return ckpt_error(err, EPIPE, "client went away");
		return 1;
	}
	if (req.off || req.len) /* a digest covers a whole chunk only */
		resp.status = EINVAL;
	else if (strncmp(req.name, "pages-", 6) ||
		 bundle_open_file(b, req.name, &fd, &size, err) < 0)
		resp.status = ENOENT;
	else if (req.chunk >= (size + BUNDLE_CHUNK_BYTES - 1) / BUNDLE_CHUNK_BYTES)
		resp.status = ERANGE;
	if (!resp.status) {
		resp.len = MIN((uint64_t)BUNDLE_CHUNK_BYTES, size - req.chunk * BUNDLE_CHUNK_BYTES);
		n = pread(fd, buf, resp.len, (off_t)(req.chunk * BUNDLE_CHUNK_BYTES));
		if (n != (ssize_t)resp.len) {
			resp.status = n < 0 ? errno : EIO;
			resp.len = 0;
		}
	}
	ckpt_error_clear(err);
	if (write_all(sk, &resp, sizeof(resp)) < 0 ||
	    (resp.len && write_all(sk, buf, resp.len) < 0))
		return ckpt_error(err, EPIPE, "client went away");
	return 1;
}

static int accept_one(struct ckpt_bundle *b, int lsk, struct pollfd *fds, int *n, int idle_ms)
{
	ckpt_err_t e = {0};
	int sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);

	if (sk < 0)
		return 0;
	if (idle_ms > 0)
		tune_live(sk, idle_ms);
	else
		tune(sk, LAZY_USER_TIMEOUT_MS);
	if (*n == CLIENTS_MAX || ps_auth_server(sk, bundle_key_bytes(b), &e) < 0) {
		pr_warn("client refused: %s", *n == CLIENTS_MAX ? "too many" : e.msg);
		close(sk);
		return 0;
	}
	fds[*n] = (struct pollfd){.fd = sk, .events = POLLIN};
	(*n)++;
	return 1;
}

/* The address a listening socket was bound to, as HOST:PORT. */
void lazy_bound_name(int sk, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(sk, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(out, len, "?");
		return;
	}
	snprintf(out, len, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
}

int page_server_run(struct ckpt_bundle *b, const char *addr, bool once,
		    void (*ready)(const char *bound, void *arg), void *arg, ckpt_err_t *err)
{
	int lsk = lazy_listen(addr, err);

	if (lsk < 0)
		return lsk;
	if (ready) {
		char name[NI_MAXHOST + NI_MAXSERV + 4];

		lazy_bound_name(lsk, name, sizeof(name));
		ready(name, arg);
	}
	return page_server_serve(b, lsk, once, NULL, 0, -1, 0, err);
}

static volatile sig_atomic_t live_armed;

static void on_arm(int sig)
{
	live_armed = 1;
}

int page_server_serve(struct ckpt_bundle *b, int lsk, bool once, const struct ckpt_live_task *live,
		      int nlive, int held, int idle_ms, ckpt_err_t *err)
{
	struct pollfd fds[CLIENTS_MAX + 1];
	cleanup_free uint8_t *buf = xzalloc(BUNDLE_CHUNK_BYTES);
	struct live_src ls = {.tasks = live, .n = nlive, .held = held, .death_fd = -1};
	int n = 1, ret, dropped = 0;
	bool served = false, idle = false;
	sigset_t arm_mask;

	/* SIGUSR1 (blocked by the caller, taken only inside ppoll) arms idle_ms */
	if (idle_ms > 0) {
		sigprocmask(SIG_BLOCK, NULL, &arm_mask);
		sigdelset(&arm_mask, SIGUSR1);
		signal(SIGUSR1, on_arm);
	}
	if (live) {
		ret = bundle_live_key(b, ls.key, err);
		if (ret < 0) {
			close(lsk);
			return ret;
		}
		ls.flip = ckpt_fault_is("live-flip");
		/* live-late-death (util/fault.h): a chunk read after the worker died is told */
		if (ckpt_fault_is("live-late-death"))
			ls.death_fd = (int)syscall(SYS_pidfd_open, getppid(), 0);
		ls.runs = xzalloc((nlive + 1) * sizeof(*ls.runs));
		ls.nruns = xzalloc((nlive + 1) * sizeof(*ls.nruns));
	}

	fds[0] = (struct pollfd){.fd = lsk, .events = POLLIN};
	/* once: until every client that came has left, and one did; live: while held */
	while (!(once && served && n == 1) && !ls.released) {
		/* idle_ms counts once armed: node B's restore may take long */
		struct timespec ts = {.tv_sec = idle_ms / 1000,
				      .tv_nsec = idle_ms % 1000 * 1000000L};
		int ready = ppoll(fds, n, idle_ms > 0 && live_armed ? &ts : NULL,
				  idle_ms > 0 ? &arm_mask : NULL);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0) {
			close(lsk);
			return ckpt_error(err, errno, "poll");
		}
		/* a node B that asks for nothing more (stopped, cut off) ends it */
		if (ready == 0) {
			idle = true;
			break;
		}
		if (fds[0].revents & POLLIN) {
			int nc = n - 1;

			if (accept_one(b, lsk, fds + 1, &nc, idle_ms))
				n = nc + 1;
		}
		for (int i = n - 1; i >= 1; i--) {
			int r;

			if (!fds[i].revents)
				continue;
			r = serve_one(b, live ? &ls : NULL, fds[i].fd, buf, err);
			if (r > 0)
				continue;
			/* live, a lost client is migrate's to tell (migrate.c) */
			if (r < 0 && live)
				pr_info("%s, client dropped", err->msg);
			else if (r < 0)
				pr_warn("%s, client dropped", err->msg);
			dropped += r < 0;
			ckpt_error_clear(err);
			close(fds[i].fd);
			fds[i] = fds[--n];
			served = true;
		}
	}
	close(lsk);
	if (live)
		pr_info("%llu live replies of part of a chunk", (unsigned long long)ls.nparts);
	for (int i = 1; i < n; i++)
		close(fds[i].fd);
	for (int i = 0; live && i < nlive; i++)
		free(ls.runs[i]);
	free(ls.runs);
	free(ls.nruns);
	sodium_memzero(ls.key, sizeof(ls.key));
	if (ls.death_fd >= 0)
		close(ls.death_fd);
	if (idle)
		return ckpt_error_msg(err, ETIMEDOUT, "no request from node B in %d.%03d s",
				      idle_ms / 1000, idle_ms % 1000);
	if (ls.released)
		return ckpt_error_msg(err, ESRCH,
				      "migrate let the tree go (it ended, or its worker died): "
				      "no live page is read or sent from a tree that may run");
	if (live && dropped)
		return ckpt_error_msg(err, ECONNRESET,
				      "%d client(s) of the live pages left before they were done",
				      dropped);
	return 0;
}

int ckpt_page_server(const struct ckpt_page_server_opts *o, ckpt_err_t *err)
{
	struct ckpt_bundle *b = NULL;
	int ret;

	/* the images are not hashed here: the client checks every chunk */
	ret = bundle_open_lazy(o->bundle,
			       &(struct bundle_auth){.key_file = o->key_file,
						     .insecure = o->insecure_unauthenticated},
			       false, &b, err);
	if (ret < 0)
		return ret;
	ret = page_server_run(b, o->listen, o->once, o->ready, o->arg, err);
	bundle_close(b);
	return ret;
}
