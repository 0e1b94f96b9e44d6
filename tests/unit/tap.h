/*
 * tests/unit/tap.h - a tiny TAP producer for the unit tests.
 *
 *	plan(n);  ok(cond, "what");  is_int(got, want, "what");
 *	is_str(got, want, "what");  skip(n, "why");  return done_testing();
 *
 * done_testing() returns 0 when every check passed, 1 when one failed, and
 * 77 (automake's "skipped") when everything was skipped.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed, tap_skipped, tap_planned = -1;

static inline void plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
}

__attribute__((format(printf, 2, 3))) static inline int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...)                                                                     \
	({                                                                                         \
		long long _g = (long long)(got), _w = (long long)(want);                           \
		int _r = ok(_g == _w, __VA_ARGS__);                                                \
		if (!_r)                                                                           \
			printf("#   got %lld, want %lld\n", _g, _w);                               \
		_r;                                                                                \
	})

#define is_str(got, want, ...)                                                                     \
	({                                                                                         \
		const char *_g = (got), *_w = (want);                                              \
		int _r = ok(_g && _w ? !strcmp(_g, _w) : _g == _w, __VA_ARGS__);                   \
		if (!_r)                                                                           \
			printf("#   got \"%s\", want \"%s\"\n", _g ? _g : "(null)",                \
			       _w ? _w : "(null)");                                                \
		_r;                                                                                \
	})

/* ok() that a string contains a fragment (for error messages). */
#define like(got, frag, ...)                                                                       \
	({                                                                                         \
		const char *_g = (got), *_f = (frag);                                              \
		int _r = ok(_g && strstr(_g, _f) != NULL, __VA_ARGS__);                            \
		if (!_r)                                                                           \
			printf("#   \"%s\" does not contain \"%s\"\n", _g ? _g : "(null)", _f);    \
		_r;                                                                                \
	})

static inline void skip(int n, const char *why)
{
	for (int i = 0; i < n; i++) {
		tap_run++;
		tap_skipped++;
		printf("ok %d # skip %s\n", tap_run, why);
	}
}

static inline void diag(const char *msg)
{
	printf("# %s\n", msg);
}

static inline int done_testing(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_run);
	else if (tap_planned != tap_run) {
		printf("# planned %d checks, ran %d\n", tap_planned, tap_run);
		return 1;
	}
	if (tap_failed) {
		printf("# %d of %d checks failed\n", tap_failed, tap_run);
		return 1;
	}
	return tap_run && tap_skipped == tap_run ? 77 : 0;
}

#endif
