/*
 * libckpt/task/seccomp.c - each thread's seccomp mode and filters
 * (threads[i].seccomp_mode, "seccomp_filters": the classic BPF programs as
 * hex, oldest first), read with PTRACE_SECCOMP_GET_FILTER and loaded again
 * by the thread itself, before its credentials drop CAP_SYS_ADMIN.
 *
 * libseccomp reads the programs: the syscalls a filter tests, by name, for
 * inspect, and the architectures it accepts, so that a filter made for
 * another architecture is refused before restore makes anything rather
 * than loaded to kill the program at its first syscall.
 */
#define LOG_PREFIX "seccomp: "
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include "engine.h"
#include "restore/restore.h"
#include "task/task.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/util.h"

#define FILTERS_MAX 64

/*
 * PTRACE_SECCOMP_GET_FILTER counts from the oldest filter (index 0), and
 * the bundle lists them oldest first, the order restore loads them in.
 * The order matters: of filters returning the same action, the newest
 * one's data (an errno) wins.
 */
static int seccomp_dump_thread(struct task_dump *d, struct thread *th, ckpt_err_t *err)
{
	struct json *filters;

	json_set(d->out, "seccomp_mode", json_int(d->status->seccomp));
	if (d->status->seccomp != SECCOMP_MODE_FILTER)
		return 0;
	filters = json_set(d->out, "seccomp_filters", json_arr());
	for (long i = 0;; i++) {
		struct sock_filter prog[BPF_MAXINSNS];
		long n = ptrace(PTRACE_SECCOMP_GET_FILTER, th->tid, i, prog);

		if (n < 0 && errno == ENOENT)
			return 0;
		if (n < 0 || i == FILTERS_MAX)
			return ckpt_error(err, n < 0 ? errno : E2BIG,
					  "thread %d: read seccomp filter %ld", th->tid, i);
		json_push(filters, json_hexbuf(prog, n * sizeof(prog[0])));
	}
}

/* ---- what a filter tests ---- */

struct bpf_test {
	uint32_t arch; /* AUDIT_ARCH_*, 0 when the filter did not say */
	uint32_t nr;
};

struct bpf_summary {
	uint32_t arches[8]; /* compared against seccomp_data.arch */
	size_t narches;
	struct bpf_test *tests; /* compared against seccomp_data.nr (jeq) */
	size_t ntests;
	size_t ranges; /* nr compared by range (jgt, jge, jset) */
};

/* What the accumulator holds when an instruction runs. */
struct bpf_acc {
	bool reached;
	char kind;     /* 'n' syscall number, 'a' architecture, 0 anything else */
	uint32_t arch; /* the architecture this path has checked, or 0 */
};

static void acc_merge(struct bpf_acc *to, const struct bpf_acc *from)
{
	if (!to->reached) {
		*to = *from;
		return;
	}
	if (to->kind != from->kind)
		to->kind = 0;
	if (to->arch != from->arch)
		to->arch = 0;
}

static void add_arch(uint32_t *arches, size_t *n, uint32_t arch)
{
	for (size_t i = 0; i < *n; i++)
		if (arches[i] == arch)
			return;
	if (*n < 8)
		arches[(*n)++] = arch;
}

/* A return that lets the syscall run (or hands it to someone who may). */
static bool ret_lets_through(uint32_t k)
{
	switch (k & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_ALLOW:
	case SECCOMP_RET_LOG:
	case SECCOMP_RET_TRACE:
	case SECCOMP_RET_USER_NOTIF:
		return true;
	}
	return false;
}

/*
 * Whether a syscall of architecture arch can get through the filter: run
 * it forward with the architecture word known and everything else unknown
 * (both branches taken). A jump on the architecture word takes only the
 * branch that arch would; `ja` is followed (libseccomp routes the other
 * architectures of a long filter through one). Classic BPF only jumps
 * forward, so one pass sees every path. a_is_arch[i]: bit 0, reached with
 * A holding the architecture; bit 1, reached with A holding anything else.
 */
static bool arch_lets_through(const struct sock_filter *p, size_t len, uint32_t arch)
{
	cleanup_free unsigned char *st = xzalloc(len + 1);

	if (len)
		st[0] = 2;
	for (size_t i = 0; i < len; i++) {
		uint16_t code = p[i].code;
		unsigned char in = st[i], out = in;

		if (!in)
			continue;
		if (BPF_CLASS(code) == BPF_RET) {
			if (BPF_RVAL(code) != BPF_K || ret_lets_through(p[i].k))
				return true;
			continue;
		}
		if (code == (BPF_LD | BPF_W | BPF_ABS))
			out = p[i].k == offsetof(struct seccomp_data, arch) ? 1 : 2;
		else if (BPF_CLASS(code) == BPF_LD || BPF_CLASS(code) == BPF_ALU ||
			 code == (BPF_MISC | BPF_TXA))
			out = 2;
		if (code == (BPF_JMP | BPF_JA)) {
			if (i + 1 + p[i].k <= len)
				st[i + 1 + p[i].k] |= out;
			continue;
		}
		if (BPF_CLASS(code) == BPF_JMP) {
			bool known = in == 1 && BPF_OP(code) == BPF_JEQ && BPF_SRC(code) == BPF_K;
			bool eq = p[i].k == arch;

			if ((!known || eq) && i + 1 + p[i].jt <= len)
				st[i + 1 + p[i].jt] |= in;
			if ((!known || !eq) && i + 1 + p[i].jf <= len)
				st[i + 1 + p[i].jf] |= in;
			continue;
		}
		st[i + 1] |= out;
	}
	return false;
}

static void add_test(struct bpf_summary *s, uint32_t arch, uint32_t nr)
{
	for (size_t i = 0; i < s->ntests; i++)
		if (s->tests[i].arch == arch && s->tests[i].nr == nr)
			return;
	s->tests = xrealloc(s->tests, (s->ntests + 1) * sizeof(*s->tests));
	s->tests[s->ntests++] = (struct bpf_test){arch, nr};
}

/*
 * One pass in program order: classic BPF only jumps forward, so each
 * instruction's incoming state is complete when it is reached. A jeq on
 * the architecture word tells the true branch which architecture it is
 * on; a jeq on the syscall number is a syscall the filter tests.
 */
static void bpf_summarize(const struct sock_filter *p, size_t len, struct bpf_summary *s)
{
	cleanup_free struct bpf_acc *acc = xzalloc((len + 1) * sizeof(*acc));

	memset(s, 0, sizeof(*s));
	if (len)
		acc[0].reached = true;
	for (size_t i = 0; i < len; i++) {
		struct bpf_acc in = acc[i], t, f;
		uint16_t code = p[i].code;

		if (!in.reached)
			continue;
		switch (BPF_CLASS(code)) {
		case BPF_RET:
			continue;
		case BPF_LD:
			in.kind = 0;
			if (code == (BPF_LD | BPF_W | BPF_ABS))
				in.kind = p[i].k == offsetof(struct seccomp_data, nr)	  ? 'n'
					  : p[i].k == offsetof(struct seccomp_data, arch) ? 'a'
											  : 0;
			break;
		case BPF_ALU:
			in.kind = 0;
			break;
		case BPF_MISC:
			if (BPF_MISCOP(code) == BPF_TXA)
				in.kind = 0;
			break;
		case BPF_JMP:
			if (BPF_OP(code) == BPF_JA) {
				if (i + 1 + p[i].k <= len)
					acc_merge(&acc[i + 1 + p[i].k], &in);
				continue;
			}
			t = f = in;
			if (BPF_SRC(code) == BPF_K && BPF_OP(code) == BPF_JEQ && in.kind == 'a') {
				add_arch(s->arches, &s->narches, p[i].k);
				t.arch = p[i].k;
			} else if (BPF_SRC(code) == BPF_K && BPF_OP(code) == BPF_JEQ &&
				   in.kind == 'n') {
				add_test(s, in.arch, p[i].k);
			} else if (in.kind == 'n') {
				s->ranges++;
			}
			if (i + 1 + p[i].jt <= len)
				acc_merge(&acc[i + 1 + p[i].jt], &t);
			if (i + 1 + p[i].jf <= len)
				acc_merge(&acc[i + 1 + p[i].jf], &f);
			continue;
		default: /* LDX, ST, STX leave A alone */
			break;
		}
		acc_merge(&acc[i + 1], &in);
	}
}

static const char *arch_name(uint32_t arch, char buf[16])
{
	switch (arch) {
	case AUDIT_ARCH_X86_64:
		return "x86_64";
	case AUDIT_ARCH_I386:
		return "x86";
	case AUDIT_ARCH_AARCH64:
		return "aarch64";
	case AUDIT_ARCH_ARM:
		return "arm";
	}
	snprintf(buf, 16, "%#x", arch);
	return buf;
}

void seccomp_describe_filter(FILE *out, const struct sock_filter *prog, size_t len)
{
	struct bpf_summary s;
	char buf[16];
	size_t shown = 0;

	bpf_summarize(prog, len, &s);
	fprintf(out, "%zu insns", len);
	for (size_t i = 0; i < s.narches; i++)
		fprintf(out, "%s%s", i ? ", " : "; arch ", arch_name(s.arches[i], buf));
	fprintf(out, "; %zu syscalls tested", s.ntests);
	for (size_t i = 0; i < s.ntests && shown < 64; i++, shown++) {
		uint32_t arch = s.tests[i].arch ?: seccomp_arch_native();
		char *name = seccomp_syscall_resolve_num_arch(arch, (int)s.tests[i].nr);

		if (!name && arch == AUDIT_ARCH_X86_64 && s.tests[i].nr & 0x40000000)
			name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X32, (int)s.tests[i].nr);
		fprintf(out, "%s", i ? " " : ": ");
		if (arch != seccomp_arch_native())
			fprintf(out, "%s:", arch_name(arch, buf));
		if (name)
			fprintf(out, "%s", name);
		else
			fprintf(out, "%u", s.tests[i].nr);
		free(name);
	}
	if (shown < s.ntests)
		fprintf(out, " ... (%zu more)", s.ntests - shown);
	if (s.ranges)
		fprintf(out, "; %zu range tests", s.ranges);
	free(s.tests);
}

/* ---- parse, restore, describe ---- */

/*
 * A filter that validates the architecture word and accepts none that
 * this host runs would kill the program at its first syscall: refuse it
 * here, before anything is made.
 */
static int check_arch(const struct doc_at *at, const struct seccomp_filter_state *f,
		      ckpt_err_t *err)
{
	uint32_t native = seccomp_arch_native(), through[8];
	struct bpf_summary s;
	char buf[16], hbuf[16];
	size_t n = 0;

	if (arch_lets_through(f->prog, f->len, native))
		return 0;
	bpf_summarize(f->prog, f->len, &s);
	free(s.tests);
	for (size_t i = 0; i < s.narches; i++)
		if (arch_lets_through(f->prog, f->len, s.arches[i]))
			through[n++] = s.arches[i];
	/* a filter that lets nothing through at all was the program's choice */
	if (!n)
		return 0;
	return doc_error(err, at, "filter accepts only architecture %s%s, this host is %s",
			 arch_name(through[0], buf), n > 1 ? " and others" : "",
			 arch_name(native, hbuf));
}

static int seccomp_parse_thread(const struct doc_at *at, const struct json *th,
				struct thread_state *ts, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, "seccomp_filters");
	const struct json *arr;
	int64_t mode;
	int ret = doc_int(at, th, "seccomp_mode", 0, SECCOMP_MODE_FILTER, &mode, err);

	if (ret == 0)
		ret = doc_opt_arr(at, th, "seccomp_filters", FILTERS_MAX, &arr, &ts->nfilters, err);
	if (ret < 0)
		return ret;
	ts->seccomp_mode = mode;
	if (mode != SECCOMP_MODE_FILTER)
		ts->nfilters = 0;
	ts->filters = xzalloc((ts->nfilters ?: 1) * sizeof(*ts->filters));
	for (size_t i = 0; i < ts->nfilters; i++) {
		struct seccomp_filter_state *f = &ts->filters[i];
		struct doc_at e = DOC_IDX(&k, i);
		size_t bytes = 0;

		f->prog = xzalloc(BPF_MAXINSNS * sizeof(struct sock_filter));
		ret = task_hexbuf(&e, json_at(arr, i), f->prog,
				  BPF_MAXINSNS * sizeof(struct sock_filter),
				  sizeof(struct sock_filter), &bytes, err);
		f->len = bytes / sizeof(struct sock_filter);
		if (ret == 0 && !f->len)
			ret = doc_error(err, &e, "empty filter");
		if (ret == 0)
			ret = check_arch(&e, f, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * How many filters, oldest first, every thread of the task has alike: a
 * filter installed with SECCOMP_FILTER_FLAG_TSYNC is one object shared by
 * all threads, and a later TSYNC works only while every thread's filters
 * are the caller's. Those are loaded once, by the leader, synchronised to
 * every thread; each thread adds the rest on its own.
 */
static size_t shared_prefix(const struct task_state *ts)
{
	const struct thread_state *lead = &ts->threads[0];
	size_t n = lead->seccomp_mode == SECCOMP_MODE_FILTER ? lead->nfilters : 0;

	for (size_t k = 1; k < ts->nthreads && n; k++) {
		const struct thread_state *th = &ts->threads[k];
		size_t i = 0;

		if (th->seccomp_mode != SECCOMP_MODE_FILTER)
			return 0;
		while (i < n && i < th->nfilters && th->filters[i].len == lead->filters[i].len &&
		       !memcmp(th->filters[i].prog, lead->filters[i].prog,
			       lead->filters[i].len * sizeof(struct sock_filter)))
			i++;
		n = i;
	}
	return ts->nthreads > 1 ? n : 0;
}

static int load_filter(struct rsys *rs, const struct seccomp_filter_state *f, unsigned int flags,
		       ckpt_err_t *err)
{
	struct sock_fprog fp = {
		.len = f->len,
		.filter = (struct sock_filter *)(uintptr_t)rsys_at(rs, 64),
	};
	long r;
	int ret;

	ret = rsys_put(rs, 0, &fp, sizeof(fp), err);
	if (ret == 0)
		ret = rsys_put(rs, 64, f->prog, f->len * sizeof(*f->prog), err);
	if (ret == 0)
		ret = RSYS_OK(rs, &r, err, SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags,
			      rsys_at(rs, 0), 0, 0, 0);
	/* TSYNC answers with the id of a thread that could not take it */
	if (ret == 0 && r > 0)
		ret = ckpt_error_msg(err, EBUSY, "thread %ld has other filters", r);
	return ret;
}

/*
 * A filter of this thread alone, queued: its program and the sock_fprog
 * that points to it in one batch. One synced to every thread answers with
 * a thread id that must be read: load_filter.
 */
static int queue_filter(struct rsys *rs, const struct seccomp_filter_state *f, size_t i,
			ckpt_err_t *err)
{
	size_t len = f->len * sizeof(*f->prog);
	struct sock_fprog fp = {.len = f->len};
	uint64_t prog, at;
	int ret = 0;

	if (!rs->queue)
		return load_filter(rs, f, 0, err) < 0
			       ? ckpt_error_wrap(err, "seccomp filter %zu", i)
			       : 0;
	if (!rsys_batch_room(rs->queue, len + sizeof(fp) + 16))
		ret = rsys_flush(rs, err);
	if (ret == 0)
		ret = rsys_queue_data(rs, f->prog, len, &prog, err);
	fp.filter = (struct sock_filter *)(uintptr_t)prog;
	if (ret == 0)
		ret = rsys_queue_data(rs, &fp, sizeof(fp), &at, err);
	if (ret == 0)
		ret = rsys_queue(rs, 0, 0, SYS_seccomp,
				 (uint64_t[6]){SECCOMP_SET_MODE_FILTER, 0, at}, err,
				 "seccomp filter %zu: seccomp", i);
	return ret;
}

static int seccomp_restore_thread(struct rctx *rc, struct rtask *t, struct rthread *th,
				  ckpt_err_t *err)
{
	const struct thread_state *ts = rthread_state(t, th);
	struct rsys *rs = rthread_rsys(t, th);
	size_t shared = shared_prefix(t->state);
	int ret;

	(void)rc;
	if (ts->seccomp_mode == SECCOMP_MODE_STRICT)
		return rsys_queue(rs, 0, 0, SYS_seccomp, (uint64_t[6]){SECCOMP_SET_MODE_STRICT},
				  err, "seccomp");
	for (size_t i = 0; i < ts->nfilters; i++) {
		if (i < shared && th != &t->threads[0])
			continue; /* the leader gave it */
		if (i >= shared) {
			ret = queue_filter(rs, &ts->filters[i], i, err);
			if (ret < 0)
				return ret;
			continue;
		}
		ret = load_filter(rs, &ts->filters[i], SECCOMP_FILTER_FLAG_TSYNC, err);
		if (ret < 0)
			return ckpt_error_wrap(err, "seccomp filter %zu%s", i,
					       i < shared ? " (every thread)" : "");
	}
	return 0;
}

static void seccomp_describe(FILE *out, const struct task_state *ts)
{
	for (size_t k = 0; k < ts->nthreads; k++) {
		const struct thread_state *th = &ts->threads[k];

		if (!th->seccomp_mode)
			continue;
		if (th->seccomp_mode == SECCOMP_MODE_STRICT) {
			fprintf(out, "  seccomp: thread %d strict\n", th->tid);
			continue;
		}
		/* threads nearly always share their filters: show them once */
		if (k > 0 && th->nfilters == ts->threads[0].nfilters) {
			bool same = true;

			for (size_t i = 0; i < th->nfilters && same; i++)
				same = th->filters[i].len == ts->threads[0].filters[i].len &&
				       !memcmp(th->filters[i].prog, ts->threads[0].filters[i].prog,
					       th->filters[i].len * sizeof(struct sock_filter));
			if (same)
				continue;
		}
		for (size_t i = 0; i < th->nfilters; i++) {
			fprintf(out, "  seccomp: thread %d filter %zu: ", th->tid, i);
			seccomp_describe_filter(out, th->filters[i].prog, th->filters[i].len);
			fputc('\n', out);
		}
	}
}

static void seccomp_free(struct task_state *ts)
{
	for (size_t k = 0; k < ts->nthreads; k++) {
		for (size_t i = 0; ts->threads[k].filters && i < ts->threads[k].nfilters; i++)
			free(ts->threads[k].filters[i].prog);
		free(ts->threads[k].filters);
	}
}

const struct task_state_ops task_seccomp_ops = {
	.name = "seccomp",
	.dump_thread = seccomp_dump_thread,
	.parse_thread = seccomp_parse_thread,
	.restore_thread = seccomp_restore_thread,
	.describe = seccomp_describe,
	.free = seccomp_free,
};
