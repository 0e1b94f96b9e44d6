/*
 * libckpt/mem/mem-track.c - dirty-page tracking of a running tree, for
 * incremental checkpoints (no soft-dirty on these kernels).
 *
 * Each task gets a userfaultfd, made inside it by a remote call (a uffd
 * belongs to the mm of whoever creates it), taken out with pidfd_getfd and
 * closed in the task at once: the program never sees it in its fd table.
 * ckpt-oci registers the task's private VMAs on it in write-protect mode
 * with UFFD_FEATURE_WP_ASYNC: a write to a protected page is resolved by
 * the kernel itself (the page only loses its uffd-wp bit), so the program
 * never blocks and nobody reads the uffd. PAGEMAP_SCAN then reports the
 * pages that lost the bit (PAGE_IS_WRITTEN); with PM_SCAN_WP_MATCHING it
 * protects them again in the same walk. Arming protects present pages
 * only: a page faulted in later is born written, and a VMA of a terabyte
 * of reserved address space costs no page tables.
 *
 * The registration lives as long as the uffd does: between checkpoints a
 * tracker process, forked from ckpt-oci and detached, holds every task's
 * uffd and exits when the tree's root does. Its state (pid, the uffds'
 * numbers in it, the id of the last arm) is /run/ckpt-oci/track-ROOT-
 * START.json, removed by the tracker when the root exits and by the final
 * dump; a later dump takes the uffds back with pidfd_getfd.
 *
 * A VMA is tracked when PAGEMAP_SCAN accepts PM_SCAN_CHECK_WPASYNC on it:
 * one unmapped and mapped again, or moved by mremap, lost the registration
 * (no UFFD_FEATURE_EVENT_REMAP) and is dumped whole.
 */
#define LOG_PREFIX "track: "
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch/rsys.h"
#include "mem/mem-incr.h"
#include "util/doc.h"
#include "util/journal.h"
#include "util/lockfile.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/uapi.h"
#include "util/util.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#define SCAN_VEC 512

static char *state_path(pid_t root, unsigned long long start)
{
	return xasprintf(LOCKFILE_DIR "/track-%d-%llu.json", root, start);
}

static const struct doc_field state_fields[] = {
	DOC_INT(struct track_state, root, "root", 1, DOC_PID_MAX),
	DOC_INT(struct track_state, root_start, "root_start", 0, INT64_MAX),
	DOC_INT(struct track_state, tracker, "tracker", 1, DOC_PID_MAX),
	DOC_INT(struct track_state, tracker_start, "tracker_start", 0, INT64_MAX),
	DOC_END,
};

static const struct doc_field task_fields[] = {
	DOC_INT(struct track_task, pid, "pid", 1, DOC_PID_MAX),
	DOC_INT(struct track_task, start, "start", 0, INT64_MAX),
	DOC_INT(struct track_task, fd, "fd", 3, 1 << 20),
	DOC_END,
};

void track_state_free(struct track_state *st)
{
	free(st->tasks);
	memset(st, 0, sizeof(*st));
}

static int state_load_at(pid_t root, unsigned long long start, struct track_state *st,
			 ckpt_err_t *err)
{
	cleanup_free char *path = state_path(root, start);
	cleanup_free char *text = NULL;
	cleanup_json struct json *doc = NULL;
	struct doc_at at = DOC_TOP("track state");
	struct doc_at tat = DOC_KEY(&at, "tasks");
	const struct json *tasks;
	const char *id;
	size_t len, n;
	int ret;

	memset(st, 0, sizeof(*st));
	st->root = root;
	st->root_start = start;
	ret = read_file_at(AT_FDCWD, path, 16 << 20, &text, &len, err);
	if (ret == -ENOENT)
		return 0;
	if (ret == 0)
		ret = json_parse(text, len, &doc, err);
	if (ret == 0)
		ret = doc_read(&at, doc, state_fields, st, err);
	if (ret == 0)
		ret = doc_str(&at, doc, "id", TRACK_ID_LEN, &id, err);
	if (ret == 0)
		ret = doc_arr(&at, doc, "tasks", 1 << 20, &tasks, &n, err);
	if (ret < 0)
		return ckpt_error_wrap(err, "%s", path);
	snprintf(st->id, sizeof(st->id), "%s", id);
	st->tasks = xzalloc((n + 1) * sizeof(*st->tasks));
	for (size_t i = 0; i < n; i++) {
		struct doc_at e = DOC_IDX(&tat, i);
		const struct json *j;

		ret = doc_elem_obj(&tat, tasks, i, &j, err);
		if (ret == 0)
			ret = doc_read(&e, j, task_fields, &st->tasks[i], err);
		if (ret < 0) {
			track_state_free(st);
			return ckpt_error_wrap(err, "%s", path);
		}
		st->ntasks++;
	}
	/* a tracker that died took the registrations with it */
	if (st->root != root || st->root_start != start ||
	    journal_starttime(st->tracker) != st->tracker_start) {
		pr_info("tree of %d: tracker %d is gone", root, st->tracker);
		track_state_free(st);
		st->root = root;
		st->root_start = start;
	}
	return 0;
}

int track_state_load(pid_t root, struct track_state *st, ckpt_err_t *err)
{
	return state_load_at(root, journal_starttime(root), st, err);
}

/* Our copy of the uffd the tracker holds for (pid, its start time), or -1. */
static int tracker_fd(const struct track_state *st, pid_t pid)
{
	unsigned long long start = journal_starttime(pid);
	cleanup_close int pfd = -1;
	int fd;

	if (!st->tracker)
		return -1;
	for (size_t i = 0; i < st->ntasks; i++) {
		if (st->tasks[i].pid != pid || st->tasks[i].start != start)
			continue;
		pfd = syscall(__NR_pidfd_open, st->tracker, 0);
		if (pfd < 0)
			return -1;
		fd = syscall(__NR_pidfd_getfd, pfd, st->tasks[i].fd, 0);
		if (fd < 0)
			pr_warn("task %d: take its uffd from tracker %d: %m, tracking it anew", pid,
				st->tracker);
		return fd;
	}
	return -1;
}

/*
 * A uffd made by the task itself (ptrace-stopped thread tid): ours with
 * pidfd_getfd, then closed in the task. -1 when the task cannot have one
 * (the reason logged): it is then dumped whole.
 */
static int uffd_from_task(pid_t pid, pid_t tid, uint64_t sc, int *out, ckpt_err_t *err)
{
	struct rsys rs = {0};
	cleanup_close int pfd = -1;
	long fd = -1, r;
	int ret, e = 0;

	*out = -1;
	ret = rsys_init(&rs, tid, sc, err);
	if (ret < 0)
		return ret;
	/* user faults only: needs no privilege; async write-protect never delivers one */
	ret = RSYS(&rs, &fd, err, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0,
		   0, 0, 0, 0);
	if (ret == 0 && fd >= 0) {
		pfd = syscall(__NR_pidfd_open, pid, 0);
		*out = pfd < 0 ? -1 : syscall(__NR_pidfd_getfd, pfd, (int)fd, 0);
		e = errno;
		ret = RSYS(&rs, &r, err, SYS_close, fd, 0, 0, 0, 0, 0);
	}
	if (rsys_fini(&rs, ret < 0 ? NULL : err) < 0 && ret == 0)
		ret = -err->code;
	if (ret < 0) {
		if (*out >= 0)
			close(*out);
		*out = -1;
		return ret;
	}
	if (fd < 0)
		pr_info("task %d: userfaultfd: %s, its pages are saved whole", pid, strerror(-fd));
	else if (*out < 0)
		pr_info("task %d: take its uffd: %s, its pages are saved whole", pid, strerror(e));
	return 0;
}

static int uffd_api(int fd)
{
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};

	return ioctl(fd, UFFDIO_API, &api) < 0 ? -errno : 0;
}

/*
 * One PAGEMAP_SCAN walk over [s, e): pages in the categories of mask
 * (inverted ones in inv) go to out (may be NULL); with wp they are
 * protected again. -EPERM: a VMA in it is not tracked.
 */
static int scan_range(int pmfd, uint64_t s, uint64_t e, uint64_t flags, uint64_t mask,
		      uint64_t anyof, struct mem_ranges *out)
{
	struct page_region vec[SCAN_VEC];

	while (s < e) {
		struct pm_scan_arg arg = {
			.size = sizeof(arg),
			.flags = flags,
			.start = s,
			.end = e,
			.vec = (uintptr_t)vec,
			.vec_len = SCAN_VEC,
			.category_mask = mask,
			.category_anyof_mask = anyof,
			.return_mask = mask | anyof,
		};
		long n = ioctl(pmfd, PAGEMAP_SCAN, &arg);

		if (n < 0)
			return -errno;
		for (long i = 0; out && i < n; i++)
			ranges_add(out, vec[i].start, vec[i].end);
		if (arg.walk_end <= s)
			break;
		s = arg.walk_end;
	}
	return 0;
}

/* Register [s, e) for async write-protect and protect its present pages. */
static int vma_arm_new(int uffd, int pmfd, pid_t pid, uint64_t s, uint64_t e)
{
	struct uffdio_register reg = {.range = {.start = s, .len = e - s},
				      .mode = UFFDIO_REGISTER_MODE_WP};
	int ret;

	if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
		pr_debug("task %d: register %#lx-%#lx: %m, saved whole", pid, (unsigned long)s,
			 (unsigned long)e);
		return 0;
	}
	ret = scan_range(pmfd, s, e, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, 0,
			 PAGE_IS_PRESENT | PAGE_IS_SWAPPED, NULL);
	if (ret < 0)
		pr_debug("task %d: arm %#lx-%#lx: %s", pid, (unsigned long)s, (unsigned long)e,
			 strerror(-ret));
	return ret == -EPERM ? 0 : ret;
}

static int pagemap_open(pid_t pid, ckpt_err_t *err)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ckpt_error(err, errno, "open %s", path);
	return fd;
}

/*
 * The VMAs worth tracking, private and not the kernel's own, one by one
 * (not merged: one untracked VMA makes a whole scan fail with EPERM).
 */
static int vma_collect_each(const struct proc_vma *v, void *arg, ckpt_err_t *err)
{
	struct mem_ranges *s = arg;

	(void)err;
	if (v->shared || !strcmp(v->path, "[vsyscall]") || !strcmp(v->path, "[vdso]") ||
	    !strncmp(v->path, "[vvar", 5))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
	}
	s->r[s->n][0] = v->start;
	s->r[s->n++][1] = v->end;
	return 0;
}

/* Walk the private VMAs: tracked ones scanned for written pages (armed again with wp). */
static int vmas_walk(pid_t pid, int pmfd, bool wp, int uffd, struct mem_ranges *tracked,
		     struct mem_ranges *written, ckpt_err_t *err)
{
	struct mem_ranges vmas = {0};
	char dir[32];
	cleanup_close int procfd = -1;
	int ret;

	snprintf(dir, sizeof(dir), "/proc/%d", pid);
	procfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return ckpt_error(err, errno, "open %s", dir);
	ret = proc_read_maps(procfd, "maps", vma_collect_each, &vmas, err);
	for (size_t i = 0; ret == 0 && i < vmas.n; i++) {
		uint64_t s = vmas.r[i][0], e = vmas.r[i][1];
		uint64_t fl = PM_SCAN_CHECK_WPASYNC | (wp ? PM_SCAN_WP_MATCHING : 0);
		struct mem_ranges w = {0};
		int r = scan_range(pmfd, s, e, fl, PAGE_IS_WRITTEN, 0, &w);

		if (r == 0) {
			ranges_add(tracked, s, e);
			for (size_t k = 0; k < w.n; k++)
				ranges_add(written, w.r[k][0], w.r[k][1]);
		} else if (r == -EPERM && uffd >= 0) {
			r = vma_arm_new(uffd, pmfd, pid, s, e);
		} else if (r == -EPERM) {
			r = 0;
		}
		ranges_free(&w);
		if (r < 0)
			ret = ckpt_error(err, -r, "task %d: PAGEMAP_SCAN %#lx-%#lx", pid,
					 (unsigned long)s, (unsigned long)e);
	}
	ranges_free(&vmas);
	return ret;
}

int track_task_written(pid_t pid, struct mem_ranges *tracked, struct mem_ranges *written,
		       ckpt_err_t *err)
{
	cleanup_close int pmfd = pagemap_open(pid, err);

	if (pmfd < 0)
		return pmfd;
	return vmas_walk(pid, pmfd, false, -1, tracked, written, err);
}

int track_task_arm(const struct track_state *st, pid_t pid, pid_t tid, uint64_t sc, bool rearm,
		   int *fd, struct mem_ranges *tracked, struct mem_ranges *written, ckpt_err_t *err)
{
	cleanup_close int pmfd = -1;
	int ret;

	*fd = tracker_fd(st, pid);
	if (*fd < 0) {
		ret = uffd_from_task(pid, tid, sc, fd, err);
		if (ret < 0 || *fd < 0)
			return ret;
		ret = uffd_api(*fd);
		if (ret < 0) {
			pr_info("task %d: UFFDIO_API WP_ASYNC: %s, its pages are saved whole", pid,
				strerror(-ret));
			close(*fd);
			*fd = -1;
			return 0;
		}
	}
	pmfd = pagemap_open(pid, err);
	if (pmfd < 0)
		return pmfd;
	/*
	 * Tracked VMAs: written pages out and armed again (rearm), or all
	 * present pages armed (a first pre-dump); new ones registered.
	 */
	ret = vmas_walk(pid, pmfd, rearm, *fd, tracked, written, err);
	if (ret == 0 && !rearm) {
		for (size_t i = 0; ret == 0 && i < tracked->n; i++)
			ret = scan_range(pmfd, tracked->r[i][0], tracked->r[i][1],
					 PM_SCAN_WP_MATCHING, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
					 NULL);
		if (ret < 0)
			ret = ckpt_error(err, -ret, "task %d: arm write tracking", pid);
	}
	return ret;
}

/*
 * A pte marker reads in pagemap as a swap entry of type 31 (SWP_PTE_MARKER,
 * the last of the five type bits; real swap areas have lower types), shown
 * to CAP_SYS_ADMIN only: without it every type reads 0 and all is kept.
 */
#define PM_SWAP_TYPE	0x1fULL
#define SWP_TYPE_MARKER 0x1fULL

int track_swapped_runs(int pmfd, uint64_t s, uint64_t e,
		       int (*fn)(void *arg, uint64_t s, uint64_t e, ckpt_err_t *err), void *arg,
		       ckpt_err_t *err)
{
	uint64_t ent[SCAN_VEC], run = 0, a = s;
	bool in = false;
	int ret = 0;

	while (ret == 0 && a < e) {
		size_t n = MIN((size_t)SCAN_VEC, (size_t)((e - a) / PAGE_SIZE));
		ssize_t r =
			pread(pmfd, ent, n * sizeof(*ent), (off_t)(a / PAGE_SIZE * sizeof(*ent)));

		if (r != (ssize_t)(n * sizeof(*ent)))
			return ckpt_error(err, r < 0 ? errno : EIO, "read pagemap at %#llx",
					  (unsigned long long)a);
		for (size_t i = 0; ret == 0 && i < n; i++, a += PAGE_SIZE) {
			bool marker = (ent[i] & (PM_PRESENT | PM_SWAP)) == PM_SWAP &&
				      (ent[i] & PM_SWAP_TYPE) == SWP_TYPE_MARKER;

			if (!marker && !in)
				run = a;
			else if (marker && in)
				ret = fn(arg, run, a, err);
			in = !marker;
		}
	}
	if (ret == 0 && in)
		ret = fn(arg, run, e, err);
	return ret;
}

/* --- the tracker --- */

/*
 * The tracker: the uffds to 3.., the root's pidfd after them, then its pid
 * on ready. Every source is copied above every slot before any slot is
 * filled (a source may sit in a slot), and the pid is written only once
 * they are in place: the state file names these slots, and a pre-dump
 * run right after this one takes its uffds from them.
 */
static __attribute__((noreturn)) void tracker_main(const struct track_task *tasks, size_t n,
						   int rootfd, int ready, const char *state)
{
	int top = MAX(rootfd, ready), nul, *copy = xzalloc((n + 1) * sizeof(*copy));
	pid_t self = getpid();
	sigset_t all;
	struct pollfd p;

	(void)prctl(PR_SET_PDEATHSIG, 0);
	(void)prctl(PR_SET_NAME, "ckpt-oci-track");
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		(void)signal(s, SIG_DFL);
	for (size_t i = 0; i < n; i++)
		top = MAX(top, tasks[i].fd);
	top = MAX(top + 1, 4 + (int)n);
	for (size_t i = 0; i <= n; i++) {
		copy[i] = fcntl(i < n ? tasks[i].fd : rootfd, F_DUPFD, top);
		if (copy[i] < 0)
			_exit(1);
	}
	ready = fcntl(ready, F_DUPFD, top);
	for (size_t i = 0; i <= n; i++)
		if (ready < 0 || dup2(copy[i], 3 + (int)i) < 0)
			_exit(1);
	if (write(ready, &self, sizeof(self)) != sizeof(self))
		_exit(1);
	/* the uffds at 3.., the root's pidfd after them; nothing else kept */
	(void)syscall(SYS_close_range, 4 + n, ~0U, 0);
	nul = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3 && nul >= 0; i++)
		(void)dup2(nul, i);
	if (nul > 2)
		close(nul);
	if (chdir("/") < 0)
		_exit(1);
	p = (struct pollfd){.fd = 3 + (int)n, .events = POLLIN};
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	/* the tree is gone: so is what would find us (a replaced tracker is killed first) */
	(void)unlink(state);
	_exit(0);
}

/* A detached tracker holding tasks[i].fd at 3 + i, ready; its pid. */
static int tracker_spawn(pid_t root, const struct track_task *tasks, size_t n, const char *state,
			 pid_t *out, ckpt_err_t *err)
{
	cleanup_close int rootfd = syscall(__NR_pidfd_open, root, 0);
	int pipefd[2], status;
	pid_t pid, grand = 0;

	if (rootfd < 0)
		return ckpt_error(err, errno, "pidfd_open %d", root);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return ckpt_error(err, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return ckpt_error(err, errno, "fork tracker");
	}
	if (pid == 0) {
		(void)setsid();
		if (fork() != 0)
			_exit(0);
		close(pipefd[0]);
		tracker_main(tasks, n, rootfd, pipefd[1], state);
	}
	close(pipefd[1]);
	/* its pid comes from it once its slots are filled; none when it failed */
	if (read_all(pipefd[0], &grand, sizeof(grand)) != sizeof(grand))
		grand = 0;
	close(pipefd[0]);
	(void)waitpid(pid, &status, 0);
	if (grand <= 0)
		return ckpt_error_msg(err, ECHILD, "the tracker did not start");
	*out = grand;
	return 0;
}

static int state_write(const struct track_state *st, ckpt_err_t *err)
{
	cleanup_free char *path = state_path(st->root, st->root_start);
	cleanup_free char *tmp = xasprintf("%s.tmp", path);
	cleanup_json struct json *doc = json_obj();
	cleanup_free char *text = NULL;
	struct json *tasks;
	size_t len;
	int ret;

	doc_write(doc, state_fields, st);
	json_set(doc, "id", json_str(st->id));
	tasks = json_set(doc, "tasks", json_arr());
	for (size_t i = 0; i < st->ntasks; i++)
		doc_write(json_push(tasks, json_obj()), task_fields, &st->tasks[i]);
	text = json_dump(doc, true, &len);
	(void)mkdir(LOCKFILE_DIR, 0700);
	ret = write_file_at(AT_FDCWD, tmp, text, len, 0600, err);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = ckpt_error(err, errno, "rename %s", tmp);
	return ret;
}

static void tracker_kill(pid_t pid, unsigned long long start)
{
	if (pid > 0 && journal_starttime(pid) == start)
		(void)kill(pid, SIGKILL);
}

int track_state_commit(struct track_state *st, const struct track_task *tasks, size_t n,
		       const char *id, ckpt_err_t *err)
{
	struct track_state ns = {.root = st->root, .root_start = st->root_start};
	cleanup_free char *state = state_path(st->root, st->root_start);
	int ret;

	ret = tracker_spawn(st->root, tasks, n, state, &ns.tracker, err);
	if (ret < 0)
		return ret;
	ns.tracker_start = journal_starttime(ns.tracker);
	snprintf(ns.id, sizeof(ns.id), "%s", id);
	ns.tasks = xzalloc((n + 1) * sizeof(*ns.tasks));
	for (size_t i = 0; i < n; i++) {
		ns.tasks[i] = tasks[i];
		ns.tasks[i].fd = 3 + (int)i;
	}
	ns.ntasks = n;
	ret = state_write(&ns, err);
	if (ret < 0) {
		tracker_kill(ns.tracker, ns.tracker_start);
		track_state_free(&ns);
		return ret;
	}
	pr_info("tracker %d holds %zu uffds, arm %s", ns.tracker, n, id);
	tracker_kill(st->tracker, st->tracker_start);
	track_state_free(st);
	*st = ns;
	return 0;
}

void track_state_invalidate(pid_t root)
{
	struct track_state st;
	ckpt_err_t e = {0};

	if (track_state_load(root, &st, &e) < 0 || !st.tracker)
		return;
	st.id[0] = 0;
	if (state_write(&st, &e) < 0)
		pr_warn("%s, ignoring", e.msg);
	track_state_free(&st);
}

void track_stop(pid_t root, unsigned long long root_start)
{
	cleanup_free char *path = state_path(root, root_start);
	struct track_state st;
	ckpt_err_t e = {0};

	if (state_load_at(root, root_start, &st, &e) == 0 && st.tracker)
		tracker_kill(st.tracker, st.tracker_start);
	track_state_free(&st);
	(void)unlink(path);
}
