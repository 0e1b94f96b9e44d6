/*
 * libckpt/lazy/lazy.h - lazy restore (post-copy): the tree resumes before its
 * private anonymous memory is back; the pages come on fault and in the
 * background, from the bundle or from a page server on another node.
 *
 * Folder libckpt/lazy/: page-src.c hands out verified chunks of page
 * images (pages-PID.img, checked against pages-PID.img.sums as each chunk
 * is first read), from the bundle's directory or over TCP from a page
 * server (page-server.c, which also serves them); uffd-server.c is the
 * lazy-pages process, a child of ckpt-oci that outlives `restore -d`,
 * holding one userfaultfd per restored address space, serving faults
 * with UFFDIO_COPY and copying the rest in the background; lazy.c is the
 * restore side: which VMAs go lazy, the userfaultfd made in each task.
 */
#ifndef CKPT_LAZY_H
#define CKPT_LAZY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "ckpt/error.h"
#include "mem/mem-incr.h"
#include "mem/mem.h"

/* --- page-src.c --- */
struct page_src;
/*
 * The page images of bundle b: from its directory, or (server "HOST:PORT",
 * for the images the bundle does not hold, bundle_file_remote) from a
 * page server, authenticated with the bundle's key.
 */
int page_src_open(struct ckpt_bundle *b, const char *server, struct page_src **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void page_src_close(struct page_src *s);
/* Copy len bytes at offset off of pages-PID.img into dst, every chunk checked. */
int page_src_read(struct page_src *s, pid_t pid, uint64_t off, void *dst, size_t len,
		  ckpt_err_t *err) __attribute__((warn_unused_result));
/* Chunk idx of pages-PID.img, checked: *data stays valid until the next call. */
int page_src_chunk(struct page_src *s, pid_t pid, uint64_t idx, const uint8_t **data, size_t *len,
		   ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * len bytes at off in chunk idx of pages-PID.img, checked, into *data
 * (valid until the next call): of a live image only those bytes are
 * asked of the page server (a reply with its own MAC) unless the chunk
 * is at hand; of any other the whole chunk is read and checked.
 */
int page_src_part(struct page_src *s, pid_t pid, uint64_t idx, size_t off, size_t len,
		  const uint8_t **data, ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- page-server.c --- */
/*
 * Serve the page images of bundle b on addr ("HOST:PORT") until a client
 * that connected says it is done (once) or forever. ready, when not NULL,
 * is called once listening, with the address bound ("HOST:PORT").
 */
int page_server_run(struct ckpt_bundle *b, const char *addr, bool once,
		    void (*ready)(const char *bound, void *arg), void *arg, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* "HOST:PORT" into a socket: listening (server) or connected (client). */
int lazy_listen(const char *addr, ckpt_err_t *err) __attribute__((warn_unused_result));
int lazy_connect(const char *addr, ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * page_server_run on a socket already listening (lsk, closed when done);
 * live: the tasks whose live page images (bundle.h) are read from their
 * memory (n of them; NULL: none); held: the read end (O_NONBLOCK) of a
 * pipe whose only writer holds the tree stopped and closes it before the
 * tree may resume: at its end of file no live chunk is read or sent;
 * idle_ms (> 0): once SIGUSR1 comes (the caller has it blocked before
 * this process exists: it is taken only while waiting), it ends
 * (-ETIMEDOUT) when no client asked for anything that long; and a client
 * that neither reads nor writes for that long is dropped (0: no limit).
 */
int page_server_serve(struct ckpt_bundle *b, int lsk, bool once, const struct ckpt_live_task *live,
		      int nlive, int held, int idle_ms, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* The address a listening socket was bound to, as HOST:PORT. */
void lazy_bound_name(int sk, char *out, size_t len);
/*
 * The handshake of page-server.c and migrate.c, both ends: the client
 * proves it holds key (a keyed BLAKE2b over the server's nonce); NULL: none.
 */
int ps_auth_server(int sk, const uint8_t *key, ckpt_err_t *err);
int ps_auth_client(int sk, const uint8_t *key, ckpt_err_t *err);
/* The MAC of len bytes at buf, at off in chunk idx of live image name (page-proto.h). */
void ps_live_mac(const uint8_t key[BUNDLE_LIVE_KEY_BYTES], const char *name, uint64_t idx,
		 uint32_t off, const void *buf, uint32_t len, uint8_t mac[32]);

/* --- uffd-server.c --- */
/*
 * One run of lazy pages: npages at addr, from page off of the task's image
 * in level of the chain (0: the bundle, k: its k-th parent, mem-chain.c).
 */
struct lazy_run {
	uint64_t addr, npages, off, level;
};
#define LAZY_LEVELS (CHAIN_MAX + 1)

struct uffd_server {
	pid_t pid; /* the lazy-pages process */
	int sk;	   /* to it: one message per task */
};

/* The guard of the tree's userfaultfds (lazy-guard.c), in the lazy-pages process. */
struct lazy_guard {
	pid_t pid;
	int sk; /* to it: one message per task, then "done" */
};

/*
 * Fork the guard; it closes others[] (the lazy-pages process's own fds).
 * Each task restored is handed to it (its userfaultfd and a pidfd of
 * host_pid); done once every page is back. Should the lazy-pages process
 * die before, the guard kills the tree rather than let it fault zeros.
 */
int lazy_guard_start(struct lazy_guard *g, const int *others, int nothers, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int lazy_guard_add(struct lazy_guard *g, int uffd, pid_t host_pid, ckpt_err_t *err)
	__attribute__((warn_unused_result));
void lazy_guard_done(struct lazy_guard *g);

/*
 * Start the lazy-pages process for bundle b and the parents of its chain ch
 * (NULL: none; their images local, b's from server: see page_src_open);
 * its log goes to log_path.
 */
int uffd_server_start(struct ckpt_bundle *b, const struct mem_chain *ch, const char *server,
		      const char *log_path, struct uffd_server *us, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Hand it the userfaultfd of task pid and the task's lazy runs. */
int uffd_server_add(struct uffd_server *us, pid_t pid, pid_t host_pid, int uffd,
		    const struct lazy_run *runs, size_t nruns, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* The tree runs: the process goes on alone. kill: the restore failed, it goes. */
void uffd_server_release(struct uffd_server *us, bool kill);

/* The features a lazy restore asks of userfaultfd. */
int uffd_api(int uffd, ckpt_err_t *err) __attribute__((warn_unused_result));

#endif
