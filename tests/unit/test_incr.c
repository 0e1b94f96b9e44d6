/*
 * tests/unit/test_incr.c - the range arithmetic incremental checkpoints
 * decide with (mem-incr.c): which pages are referenced in the parent
 * ((tracked & parent's) - written) and how a run of present pages splits
 * into copied and referenced parts.
 */
#include <stdlib.h>
#include <string.h>

#include "mem/mem-incr.h"
#include "tap.h"
#include "util/util.h"

#define P(n) ((uint64_t)(n)*PAGE_SIZE)

/* "a-b c-d" in pages, for comparing. */
static char *show(const struct mem_ranges *s)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < s->n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%lu-%lu", i ? " " : "",
				(unsigned long)(s->r[i][0] / PAGE_SIZE),
				(unsigned long)(s->r[i][1] / PAGE_SIZE));
	return buf;
}

static struct mem_ranges of(const uint64_t *pairs, size_t n)
{
	struct mem_ranges s = {0};

	for (size_t i = 0; i < n; i += 2)
		ranges_add(&s, P(pairs[i]), P(pairs[i + 1]));
	return s;
}

struct calls {
	char buf[256];
	size_t len;
};

static int copy_cb(void *arg, uint64_t a, uint64_t e, ckpt_err_t *err)
{
	struct calls *c = arg;

	(void)err;
	c->len += snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s%lu-%lu", c->len ? " " : "",
			   (unsigned long)(a / PAGE_SIZE), (unsigned long)(e / PAGE_SIZE));
	return 0;
}

int main(void)
{
	struct mem_ranges a, b, out = {0}, used = {0};
	struct calls calls = {0};
	ckpt_err_t err = {0};
	size_t cur = 0;

	plan(9);

	a = of((uint64_t[]){0, 4, 4, 6, 8, 9, 9, 12}, 8);
	is_str(show(&a), "0-6 8-12", "ranges_add merges touching ranges");
	ok(ranges_pages(&a) == 10, "ranges_pages counts pages");

	b = of((uint64_t[]){2, 3, 5, 10, 11, 20}, 6);
	ranges_and(&a, &b, &out);
	is_str(show(&out), "2-3 5-6 8-10 11-12", "ranges_and: the pages in both");
	ranges_free(&out);

	ranges_sub(&a, &b, &out);
	is_str(show(&out), "0-2 3-5 10-11", "ranges_sub: the pages of a not in b");
	ranges_free(&out);

	ranges_sub(&a, &(struct mem_ranges){0}, &out);
	is_str(show(&out), "0-6 8-12", "ranges_sub of nothing leaves a whole");
	ranges_free(&out);

	/* referenced: tracked and held by the parent, less what was written */
	{
		struct mem_ranges tracked = of((uint64_t[]){0, 100}, 2);
		struct mem_ranges held = of((uint64_t[]){10, 50, 60, 70}, 4);
		struct mem_ranges written = of((uint64_t[]){20, 21, 45, 65}, 4);
		struct mem_ranges both = {0};

		ranges_and(&tracked, &held, &both);
		ranges_sub(&both, &written, &out);
		is_str(show(&out), "10-20 21-45 65-70", "refs: (tracked & held) - written");
		ranges_free(&tracked);
		ranges_free(&held);
		ranges_free(&written);
		ranges_free(&both);
	}

	/* a present region split: copied outside refs, refs collected; cursor kept */
	ok(mem_incr_split(&out, &cur, P(5), P(25), copy_cb, &calls, &used, &err) == 0 &&
		   mem_incr_split(&out, &cur, P(40), P(80), copy_cb, &calls, &used, &err) == 0,
	   "mem_incr_split walks two regions");
	is_str(calls.buf, "5-10 20-21 45-65 70-80", "the pages outside refs are copied");
	is_str(show(&used), "10-20 21-25 40-45 65-70", "the pages inside refs are referenced");
	ranges_free(&out);
	ranges_free(&used);
	ranges_free(&a);
	ranges_free(&b);
	return done_testing();
}
