/*
 * libckpt/mem/mem-splice.c - a large task's private pages into its image
 * in one copy: the task itself vmsplice()s them into a pipe, and we
 * splice() the pipe into the image file. The pages never pass through our
 * memory: vmsplice only takes references to them (the task is stopped, so
 * they do not change), and the kernel's copy into the file is the only
 * one. The image digests them from the file (bundle_image_splice).
 *
 * A vmsplice call returns once the pipe is full (1 MiB without
 * CAP_SYS_RESOURCE): a remote call each would be 1,024 per GiB. So the
 * task runs a short loop instead (rsys_code_vmsplice: one remote run per
 * 16 MiB batch, up to IOV_MAX runs), left running while we drain the
 * pipe; measured on 1 GiB, 5-10% less wall and CPU than a remote call
 * per pipe, which stays the way where the task may not map executable
 * scratch memory.
 *
 * While a batch is under way the task holds two things of ours: a scratch
 * mapping (the loop's code, the iovec array) and the pipe's write end
 * (O_CLOEXEC). Both go
 * in mem_splice_close, on every exit, an abort included; the read end is
 * ours alone (pidfd_getfd, then closed in the task at once).
 *
 * A page vmsplice cannot take (PROT_NONE: no FOLL_FORCE) ends the batch
 * short; the caller copies the rest of the batch the old way.
 */
#define LOG_PREFIX "mem: "
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "engine.h"
#include "mem/mem.h"
#include "util/fault.h"
#include "util/log.h"
#include "util/uapi.h"
#include "util/util.h"

/*
 * Bytes per remote vmsplice: 64 calls per GiB, each ~60 us. The call
 * blocks whenever the pipe is full and we drain it meanwhile, so the
 * pipe may be smaller (pipe-max-size, 1 MiB, without CAP_SYS_RESOURCE).
 */
#define SPLICE_BATCH (16UL << 20)
/* The scratch page: the vmsplice loop's code, then the iovec array. */
#define SPLICE_IOV     4096UL
#define SPLICE_SCRATCH (SPLICE_IOV + IOV_MAX * sizeof(struct iovec))

struct mem_splice {
	struct task *t;
	struct rsys rs;
	uint64_t scratch; /* in the task: the iovec array, first the pipe's fds */
	int task_rfd;	  /* the pipe's read end in the task, until closed there */
	int task_wfd;	  /* its write end, in the task until mem_splice_close */
	int rfd;	  /* our copy of the read end */
	size_t cap;	  /* bytes per batch */
	bool code;	  /* the loop runs in the task (rsys_code_vmsplice) */
};

/*
 * A remote call of the undo: an abort request fails the first remote call
 * after it (ckpt_abort_check_once); the undo must still run, so it tries
 * once more.
 */
static void splice_undo(struct mem_splice *s, long nr, uint64_t a1, uint64_t a2)
{
	ckpt_err_t e = {0};
	char name[32];
	long r = 0;
	int ret = RSYS(&s->rs, &r, &e, nr, a1, a2, 0, 0, 0, 0);

	if (ret == -ECANCELED) {
		ckpt_error_clear(&e);
		ret = RSYS(&s->rs, &r, &e, nr, a1, a2, 0, 0, 0, 0);
	}
	if (ret < 0 || (r < 0 && r > -4096))
		pr_warn("task %d: undo %s failed: %s", s->t->pid, rsys_name(nr, name),
			ret < 0 ? e.msg : strerror(-r));
	ckpt_error_clear(&e);
}

int mem_splice_close(struct mem_splice *s, ckpt_err_t *err)
{
	int ret = 0;

	if (!s)
		return 0;
	if (s->rfd >= 0)
		close(s->rfd); /* pages still in the pipe are dropped with it */
	if (s->task_rfd >= 0)
		splice_undo(s, SYS_close, s->task_rfd, 0);
	if (s->task_wfd >= 0)
		splice_undo(s, SYS_close, s->task_wfd, 0);
	if (s->scratch)
		splice_undo(s, SYS_munmap, s->scratch, SPLICE_SCRATCH);
	if (rsys_fini(&s->rs, err) < 0)
		ret = -err->code;
	free(s);
	return ret;
}

/* Our copy of the task's fd: pidfd_getfd. */
static int take_fd(pid_t pid, int fd, ckpt_err_t *err)
{
	cleanup_close int pidfd = syscall(__NR_pidfd_open, pid, 0);
	int ours;

	if (pidfd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", pid);
	ours = syscall(__NR_pidfd_getfd, pidfd, fd, 0);
	if (ours < 0)
		return ckpt_error(err, errno, "pidfd_getfd %d of %d", fd, pid);
	return ours;
}

int mem_splice_open(struct task *t, struct mem_splice **out, ckpt_err_t *err)
{
	struct mem_splice *s = xzalloc(sizeof(*s));
	int fds[2];
	long r;
	int ret;

	s->t = t;
	s->task_rfd = s->task_wfd = s->rfd = -1;
	*out = NULL;
	ret = rsys_init(&s->rs, t->threads[0].tid, t->sc_addr, err);
	if (ret < 0) {
		free(s);
		return ret;
	}
	s->rs.signal_taken = t->threads[0].nstolen > 0;
	/* executable for the loop; where that is refused, one remote call per pipe */
	ret = RSYS(&s->rs, &r, err, SYS_mmap, 0, SPLICE_SCRATCH, PROT_READ | PROT_WRITE | PROT_EXEC,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->code = ret == 0 && (r >= 0 || r <= -4096);
	if (ret == 0 && !s->code)
		ret = RSYS_OK(&s->rs, &r, err, SYS_mmap, 0, SPLICE_SCRATCH, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ret < 0)
		goto fail;
	s->scratch = r;
	if (s->code)
		ret = rsys_poke(t->pid, s->scratch, rsys_code_vmsplice,
				rsys_code_vmsplice_end - rsys_code_vmsplice, err);
	if (ret < 0)
		goto fail;
	ret = RSYS_OK(&s->rs, &r, err, SYS_pipe2, s->scratch + SPLICE_IOV, O_CLOEXEC, 0, 0, 0, 0);
	if (ret == 0)
		ret = rsys_peek(t->pid, s->scratch + SPLICE_IOV, fds, sizeof(fds), err);
	if (ret < 0)
		goto fail;
	s->task_rfd = fds[0];
	s->task_wfd = fds[1];
	s->rfd = take_fd(t->pid, s->task_rfd, err);
	if (s->rfd < 0) {
		ret = s->rfd;
		goto fail;
	}
	ret = RSYS_OK(&s->rs, &r, err, SYS_close, s->task_rfd, 0, 0, 0, 0, 0);
	if (ret < 0)
		goto fail;
	s->task_rfd = -1;
	/* ours alone now: never block on it (splice_drain) */
	if (fcntl(s->rfd, F_SETFL, O_NONBLOCK) < 0) {
		ret = ckpt_error(err, errno, "task %d: pipe", t->pid);
		goto fail;
	}
	/* root may pass pipe-max-size; a smaller pipe only means more calls */
	/* the larger the pipe, the fewer wakeups: root may pass pipe-max-size */
	for (size_t size = SPLICE_BATCH; size >= (1 << 20); size /= 4)
		if (fcntl(s->rfd, F_SETPIPE_SZ, size) >= 0)
			break;
	s->cap = SPLICE_BATCH;
	*out = s;
	return 0;
fail:
	(void)mem_splice_close(s, NULL);
	return ret;
}

size_t mem_splice_cap(const struct mem_splice *s)
{
	return s->cap;
}

/* Has the remote run ended? 1 yes, 0 not yet, < 0 error (rsys_*_done). */
static int splice_done(struct mem_splice *s, ckpt_err_t *err)
{
	return s->code ? rsys_code_done(&s->rs, err) : rsys_call_done(&s->rs, err);
}

/*
 * After a failure: the task's vmsplice may wait for room in the pipe.
 * Drain it until the call ends (closing our end would make it EPIPE, with
 * a SIGPIPE left pending in the task).
 */
static int splice_drain(struct mem_splice *s, ckpt_err_t *err)
{
	char buf[65536];
	int ret;

	while ((ret = splice_done(s, err)) == 0) {
		struct pollfd p = {.fd = s->rfd, .events = POLLIN};

		while (read(s->rfd, buf, sizeof(buf)) > 0)
			;
		(void)poll(&p, 1, 1);
	}
	return ret < 0 ? ret : 0;
}

/*
 * Splice the pipe into the image while the remote run (started by the
 * caller) fills it, until want bytes moved or the run has ended (1: the
 * rest of its bytes are in the pipe). *moved: bytes moved so far.
 */
static int splice_pump(struct mem_splice *s, struct bundle_image *img, size_t want, size_t *moved,
		       ckpt_err_t *err)
{
	int ret = 0;
	size_t m;

	while (ret == 0 && *moved < want) {
		struct pollfd p = {.fd = s->rfd, .events = POLLIN};

		ret = bundle_image_splice(img, s->rfd, want - *moved, &m, err);
		*moved += m;
		if (ret < 0 || m)
			continue;
		ret = splice_done(s, err);
		if (ret == 0)
			(void)poll(&p, 1, 1);
	}
	return ret;
}

/* The rest of an ended run's bytes, left in the pipe: up to total. */
static int splice_rest(struct mem_splice *s, struct bundle_image *img, size_t total, size_t *moved,
		       ckpt_err_t *err)
{
	size_t m;
	int ret;

	while (*moved < total) {
		ret = bundle_image_splice(img, s->rfd, total - *moved, &m, err);
		if (ret < 0)
			return ret;
		if (!m)
			return ckpt_error_msg(err, EIO,
					      "task %d: %zu bytes vmspliced, %zu in the pipe",
					      s->t->pid, total, *moved);
		*moved += m;
	}
	return 0;
}

/*
 * The whole batch by the loop in the task (rsys_code_vmsplice), left
 * running while we splice the pipe into the image: one remote run per
 * batch, however small the pipe. Once it has ended, the rest of what it
 * moved (r15); a failed call (rax) ends it early, *done says how far.
 */
static int splice_code(struct mem_splice *s, struct bundle_image *img, int nr, size_t want,
		       size_t *done, ckpt_err_t *err)
{
	struct user_regs_struct regs;
	size_t moved = 0;
	int ret;

	if (ckpt_fault_span)
		ckpt_fault_span(true);
	ret = rsys_code_start(&s->rs, s->scratch, s->task_wfd, s->scratch + SPLICE_IOV, nr, err);
	if (ret < 0)
		return ret;
	ret = splice_pump(s, img, want, &moved, err);
	if (ret < 0) {
		ckpt_err_t e2 = {0};

		/* the loop must end before the thread can be driven again */
		if (splice_drain(s, &e2) < 0 || rsys_code_finish(&s->rs, NULL, &e2) < 0)
			pr_warn("task %d: the vmsplice loop did not end: %s", s->t->pid, e2.msg);
		ckpt_error_clear(&e2);
		return ret;
	}
	ret = rsys_code_finish(&s->rs, &regs, err);
	if (ckpt_fault_span)
		ckpt_fault_span(false);
	if (ret < 0)
		return ret;
	if (regs.r15 > want)
		return ckpt_error_msg(err, EIO, "task %d: the vmsplice loop says %llu bytes of %zu",
				      s->t->pid, (unsigned long long)regs.r15, want);
	if ((long)regs.rax < 0)
		pr_debug("task %d: vmsplice after %llu bytes: %s, the rest copied", s->t->pid,
			 (unsigned long long)regs.r15, strerror(-(long)regs.rax));
	ret = splice_rest(s, img, regs.r15, &moved, err);
	if (ret == 0)
		*done = moved;
	return ret;
}

/*
 * One remote vmsplice of the runs remote[at..nr) (at most a pipe's worth
 * of them: the call returns once the pipe is full), started and left
 * running while we splice the pipe into the image; once it has ended, the
 * rest of what it returned. *n: its result.
 */
static int splice_call(struct mem_splice *s, struct bundle_image *img, int at, int nr, size_t want,
		       long *n, ckpt_err_t *err)
{
	size_t moved = 0;
	int ret;

	if (ckpt_fault_span)
		ckpt_fault_span(true);
	ret = rsys_call_start(&s->rs, SYS_vmsplice, s->task_wfd,
			      s->scratch + SPLICE_IOV + at * sizeof(struct iovec), nr - at, 0, 0, 0,
			      err);
	if (ret < 0)
		return ret;
	ret = splice_pump(s, img, want, &moved, err);
	if (ret < 0) {
		ckpt_err_t e2 = {0};

		/* the call must end before the thread can be driven again */
		if (splice_drain(s, &e2) < 0 || rsys_call_finish(&s->rs, n, &e2) < 0)
			pr_warn("task %d: vmsplice did not end: %s", s->t->pid, e2.msg);
		ckpt_error_clear(&e2);
		return ret;
	}
	ret = rsys_call_finish(&s->rs, n, err);
	if (ckpt_fault_span)
		ckpt_fault_span(false);
	if (ret == 0 && *n > 0)
		ret = splice_rest(s, img, *n, &moved, err);
	return ret;
}

/*
 * The runs, a pipe's worth per remote call; the iovec array stays in the
 * task's scratch memory, its first run advanced in place after a short
 * call. A call that fails (a page vmsplice may not take) ends the batch:
 * *done says how far it got.
 */
int mem_splice_batch(struct mem_splice *s, struct bundle_image *img, const struct iovec *remote,
		     int nr, size_t *done, ckpt_err_t *err)
{
	size_t want = 0;
	struct iovec first;
	int i = 0, ret;
	long n;

	*done = 0;
	for (int k = 0; k < nr; k++)
		want += remote[k].iov_len;
	ret = rsys_poke(s->t->pid, s->scratch + SPLICE_IOV, remote, nr * sizeof(*remote), err);
	if (ret == 0 && s->code)
		return splice_code(s, img, nr, want, done, err);
	first = remote[0];
	while (ret == 0 && *done < want) {
		ret = splice_call(s, img, i, nr, want - *done, &n, err);
		if (ret < 0)
			return ret;
		if (n <= 0) {
			pr_debug("task %d: vmsplice at %p: %s, copied instead", s->t->pid,
				 first.iov_base, n ? strerror(-n) : "nothing moved");
			return 0;
		}
		*done += n;
		/* past the runs it took; the next call starts at the first one left */
		while (i < nr && (size_t)n >= first.iov_len) {
			n -= first.iov_len;
			if (++i < nr)
				first = remote[i];
		}
		if (i == nr)
			break;
		first.iov_base = (char *)first.iov_base + n;
		first.iov_len -= n;
		ret = rsys_poke(s->t->pid, s->scratch + SPLICE_IOV + i * sizeof(first), &first,
				sizeof(first), err);
	}
	return ret;
}
