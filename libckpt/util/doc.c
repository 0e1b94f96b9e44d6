/*
 * libckpt/util/doc.c - checked accessors and field tables for bundle
 * documents (see doc.h). Every error is EPROTO and names the file and the
 * key path, so a damaged or crafted bundle is refused in one line before
 * restore makes anything.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/doc.h"

/* Render the key path of at into buf: "threads[1].tid". */
static void doc_path(const struct doc_at *at, char *buf, size_t len)
{
	const struct doc_at *chain[32];
	size_t n = 0, off = 0;

	for (; at && at->up && n < 32; at = at->up)
		chain[n++] = at;
	buf[0] = '\0';
	while (n-- > 0 && off < len) {
		const struct doc_at *a = chain[n];
		int w;

		if (a->key)
			w = snprintf(buf + off, len - off, "%s%s", off ? "." : "", a->key);
		else
			w = snprintf(buf + off, len - off, "[%zu]", a->idx);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

int doc_error(ckpt_err_t *err, const struct doc_at *at, const char *fmt, ...)
{
	char path[256], msg[512];
	va_list ap;

	doc_path(at, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ckpt_error_msg(err, EPROTO, "%s: %s%s%s", at && at->file ? at->file : "document",
			      path, path[0] ? ": " : "", msg);
}

/*
 * The member key of obj, or NULL when absent (absent is an error unless
 * optional). obj itself must be an object.
 */
static int member(const struct doc_at *at, const struct json *obj, const char *key, bool optional,
		  const struct json **out, ckpt_err_t *err)
{
	if (json_type(obj) != JSON_OBJ)
		return doc_error(err, at, "expected an object");
	*out = json_get(obj, key);
	if (!*out && !optional) {
		struct doc_at k = DOC_KEY(at, key);

		return doc_error(err, &k, "missing");
	}
	return 0;
}

static int check_int(const struct doc_at *at, const struct json *v, int64_t lo, int64_t hi,
		     int64_t *out, ckpt_err_t *err)
{
	int64_t x;

	if (json_type(v) != JSON_INT)
		return doc_error(err, at, "expected an integer");
	x = json_as_int(v);
	if (x < lo || x > hi)
		return doc_error(err, at, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, x,
				 lo, hi);
	*out = x;
	return 0;
}

static int check_u64(const struct doc_at *at, const struct json *v, uint64_t hi, uint64_t *out,
		     ckpt_err_t *err)
{
	uint64_t x;

	if (!json_hex_value(v, &x))
		return doc_error(err, at, "expected a hex string or a non-negative integer");
	if (x > hi)
		return doc_error(err, at, "0x%" PRIx64 " is out of range 0..0x%" PRIx64, x, hi);
	*out = x;
	return 0;
}

static int check_str(const struct doc_at *at, const struct json *v, size_t maxlen, const char **out,
		     ckpt_err_t *err)
{
	const char *s = json_as_str(v);
	size_t len = json_str_len(v);

	if (!s)
		return doc_error(err, at, "expected a string");
	if (!maxlen)
		maxlen = DOC_STR_MAX;
	if (len > maxlen)
		return doc_error(err, at, "string of %zu bytes, at most %zu allowed", len, maxlen);
	if (strlen(s) != len)
		return doc_error(err, at, "string holds a NUL byte");
	*out = s;
	return 0;
}

static int check_arr(const struct doc_at *at, const struct json *v, size_t maxn,
		     const struct json **out, size_t *n, ckpt_err_t *err)
{
	if (json_type(v) != JSON_ARR)
		return doc_error(err, at, "expected an array");
	if (json_len(v) > maxn)
		return doc_error(err, at, "%zu elements, at most %zu allowed", json_len(v), maxn);
	*out = v;
	*n = json_len(v);
	return 0;
}

static int check_bool(const struct doc_at *at, const struct json *v, bool *out, ckpt_err_t *err)
{
	if (json_type(v) != JSON_BOOL)
		return doc_error(err, at, "expected true or false");
	*out = json_as_bool(v);
	return 0;
}

static int check_obj(const struct doc_at *at, const struct json *v, const struct json **out,
		     ckpt_err_t *err)
{
	if (json_type(v) != JSON_OBJ)
		return doc_error(err, at, "expected an object");
	*out = v;
	return 0;
}

/* What a typed getter wants of a member: its type and range. */
struct want {
	enum { W_INT, W_U64, W_BOOL, W_STR, W_ARR, W_OBJ } type;
	int64_t lo, hi;	  /* W_INT */
	uint64_t max;	  /* W_U64: the highest value; W_STR: length; W_ARR: elements */
	size_t *n;	  /* W_ARR: how many */
	bool null_absent; /* a JSON null is as if absent */
};

static int check_want(const struct doc_at *k, const struct json *v, const struct want *w, void *out,
		      ckpt_err_t *err)
{
	switch (w->type) {
	case W_INT:
		return check_int(k, v, w->lo, w->hi, out, err);
	case W_U64:
		return check_u64(k, v, w->max, out, err);
	case W_BOOL:
		return check_bool(k, v, out, err);
	case W_STR:
		return check_str(k, v, w->max, out, err);
	case W_ARR:
		return check_arr(k, v, w->max, out, w->n, err);
	default:
		return check_obj(k, v, out, err);
	}
}

/*
 * The one lookup of every typed getter: member key of obj checked as w
 * says into *out. dflt NULL: the member is required; else, when it is
 * absent, *out becomes *dflt (size bytes) and an array has 0 elements.
 */
static int get(const struct doc_at *at, const struct json *obj, const char *key,
	       const struct want *w, const void *dflt, size_t size, void *out, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, key);
	const struct json *v;
	int ret = member(at, obj, key, dflt != NULL, &v, err);

	if (ret < 0)
		return ret;
	if (v && !(w->null_absent && json_type(v) == JSON_NULL))
		return check_want(&k, v, w, out, err);
	memcpy(out, dflt, size);
	if (w->n)
		*w->n = 0;
	return 0;
}

int doc_int(const struct doc_at *at, const struct json *obj, const char *key, int64_t lo,
	    int64_t hi, int64_t *out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_INT, .lo = lo, .hi = hi}, NULL, 0, out,
		   err);
}

int doc_opt_int(const struct doc_at *at, const struct json *obj, const char *key, int64_t lo,
		int64_t hi, int64_t dflt, int64_t *out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_INT, .lo = lo, .hi = hi}, &dflt,
		   sizeof(dflt), out, err);
}

int doc_u64(const struct doc_at *at, const struct json *obj, const char *key, uint64_t hi,
	    uint64_t *out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_U64, .max = hi}, NULL, 0, out, err);
}

int doc_opt_u64(const struct doc_at *at, const struct json *obj, const char *key, uint64_t hi,
		uint64_t dflt, uint64_t *out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_U64, .max = hi}, &dflt, sizeof(dflt), out,
		   err);
}

int doc_bool(const struct doc_at *at, const struct json *obj, const char *key, bool *out,
	     ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_BOOL}, NULL, 0, out, err);
}

int doc_opt_bool(const struct doc_at *at, const struct json *obj, const char *key, bool dflt,
		 bool *out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_BOOL}, &dflt, sizeof(dflt), out, err);
}

int doc_str(const struct doc_at *at, const struct json *obj, const char *key, size_t maxlen,
	    const char **out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_STR, .max = maxlen}, NULL, 0, out, err);
}

int doc_opt_str(const struct doc_at *at, const struct json *obj, const char *key, size_t maxlen,
		const char **out, ckpt_err_t *err)
{
	static const char *const none = NULL;

	return get(at, obj, key, &(struct want){.type = W_STR, .max = maxlen, .null_absent = true},
		   &none, sizeof(none), out, err);
}

int doc_arr(const struct doc_at *at, const struct json *obj, const char *key, size_t maxn,
	    const struct json **out, size_t *n, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_ARR, .max = maxn, .n = n}, NULL, 0, out,
		   err);
}

int doc_opt_arr(const struct doc_at *at, const struct json *obj, const char *key, size_t maxn,
		const struct json **out, size_t *n, ckpt_err_t *err)
{
	static const struct json *const none = NULL;

	return get(at, obj, key, &(struct want){.type = W_ARR, .max = maxn, .n = n}, &none,
		   sizeof(none), out, err);
}

int doc_obj(const struct doc_at *at, const struct json *obj, const char *key,
	    const struct json **out, ckpt_err_t *err)
{
	return get(at, obj, key, &(struct want){.type = W_OBJ}, NULL, 0, out, err);
}

int doc_opt_obj(const struct doc_at *at, const struct json *obj, const char *key,
		const struct json **out, ckpt_err_t *err)
{
	static const struct json *const none = NULL;

	return get(at, obj, key, &(struct want){.type = W_OBJ}, &none, sizeof(none), out, err);
}

int doc_hexbuf(const struct doc_at *at, const struct json *obj, const char *key, void *buf,
	       size_t len, ckpt_err_t *err)
{
	struct doc_at k = DOC_KEY(at, key);
	ckpt_err_t e = {0};
	const struct json *v;
	int ret = member(at, obj, key, false, &v, err);

	if (ret < 0)
		return ret;
	ret = json_get_hexbuf(obj, key, buf, len, &e);
	if (ret < 0) {
		ret = doc_error(err, &k, "expected %zu bytes as hex digits", len);
		ckpt_error_clear(&e);
	}
	return ret;
}

int doc_elem_obj(const struct doc_at *at, const struct json *arr, size_t i, const struct json **out,
		 ckpt_err_t *err)
{
	struct doc_at e = DOC_IDX(at, i);
	const struct json *v = json_at(arr, i);

	if (json_type(arr) != JSON_ARR || !v)
		return doc_error(err, &e, "missing");
	if (json_type(v) != JSON_OBJ)
		return doc_error(err, &e, "expected an object");
	*out = v;
	return 0;
}

int doc_elem_int(const struct doc_at *at, const struct json *arr, size_t i, int64_t lo, int64_t hi,
		 int64_t *out, ckpt_err_t *err)
{
	struct doc_at e = DOC_IDX(at, i);
	const struct json *v = json_at(arr, i);

	if (json_type(arr) != JSON_ARR || !v)
		return doc_error(err, &e, "missing");
	return check_int(&e, v, lo, hi, out, err);
}

int doc_elem_str(const struct doc_at *at, const struct json *arr, size_t i, size_t maxlen,
		 const char **out, ckpt_err_t *err)
{
	struct doc_at e = DOC_IDX(at, i);
	const struct json *v = json_at(arr, i);

	if (json_type(arr) != JSON_ARR || !v)
		return doc_error(err, &e, "missing");
	return check_str(&e, v, maxlen, out, err);
}

int doc_value_str(const struct doc_at *at, const struct json *v, size_t maxlen, const char **out,
		  ckpt_err_t *err)
{
	return check_str(at, v, maxlen, out, err);
}

/* Member i of an object used as a map: its key and value. */
static int map_member(const struct doc_at *at, const struct json *obj, size_t i, const char **key,
		      const struct json **v, ckpt_err_t *err)
{
	*key = json_key_at(obj, i);
	if (json_type(obj) != JSON_OBJ || !*key)
		return doc_error(err, at, "member %zu missing", i);
	*v = json_at(obj, i);
	return 0;
}

int doc_map_int(const struct doc_at *at, const struct json *obj, size_t i, int64_t lo, int64_t hi,
		const char **key, int64_t *val, ckpt_err_t *err)
{
	const struct json *v;
	int ret = map_member(at, obj, i, key, &v, err);
	struct doc_at e = DOC_KEY(at, *key);

	return ret < 0 ? ret : check_int(&e, v, lo, hi, val, err);
}

int doc_map_str(const struct doc_at *at, const struct json *obj, size_t i, size_t maxlen,
		const char **key, const char **val, ckpt_err_t *err)
{
	const struct json *v;
	int ret = map_member(at, obj, i, key, &v, err);
	struct doc_at e = DOC_KEY(at, *key);

	return ret < 0 ? ret : check_str(&e, v, maxlen, val, err);
}

/* Store x into a member of size bytes; the table's range made sure it fits. */
static void store_int(void *p, unsigned char size, uint64_t x)
{
	switch (size) {
	case 1: {
		uint8_t v = (uint8_t)x;
		memcpy(p, &v, 1);
		break;
	}
	case 2: {
		uint16_t v = (uint16_t)x;
		memcpy(p, &v, 2);
		break;
	}
	case 4: {
		uint32_t v = (uint32_t)x;
		memcpy(p, &v, 4);
		break;
	}
	default:
		memcpy(p, &x, 8);
		break;
	}
}

/* Read a member back, sign-extended when the table's range is signed. */
static uint64_t load_int(const void *p, unsigned char size, bool is_signed)
{
	switch (size) {
	case 1: {
		uint8_t v;
		memcpy(&v, p, 1);
		return is_signed ? (uint64_t)(int64_t)(int8_t)v : v;
	}
	case 2: {
		uint16_t v;
		memcpy(&v, p, 2);
		return is_signed ? (uint64_t)(int64_t)(int16_t)v : v;
	}
	case 4: {
		uint32_t v;
		memcpy(&v, p, 4);
		return is_signed ? (uint64_t)(int64_t)(int32_t)v : v;
	}
	default: {
		uint64_t v;
		memcpy(&v, p, 8);
		return v;
	}
	}
}

/* The widest value a member of size bytes holds (signed or not). */
static bool fits(unsigned char size, int64_t lo, uint64_t hi)
{
	if (size >= 8)
		return true;
	if (lo < 0)
		return lo >= -(INT64_C(1) << (size * 8 - 1)) &&
		       hi <= (UINT64_C(1) << (size * 8 - 1)) - 1;
	return hi <= (UINT64_C(1) << (size * 8)) - 1;
}

int doc_read(const struct doc_at *at, const struct json *obj, const struct doc_field *fields,
	     void *st, ckpt_err_t *err)
{
	const struct doc_field *f;
	int ret;

	for (f = fields; f->key; f++) {
		struct doc_at k = DOC_KEY(at, f->key);
		char *p = (char *)st + f->off;
		const struct json *v;
		int64_t i;
		uint64_t u;
		bool b = false;
		const char *s;

		ret = member(at, obj, f->key, f->optional, &v, err);
		if (ret < 0)
			return ret;
		if (!v)
			continue;
		switch (f->type) {
		case DOC_T_INT:
			/* a table whose range does not fit its member is a bug here */
			if (!fits(f->size, f->lo, f->hi))
				return doc_error(err, &k, "field table range too wide");
			ret = check_int(&k, v, f->lo,
					f->hi > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)f->hi,
					&i, err);
			if (ret == 0)
				store_int(p, f->size, (uint64_t)i);
			break;
		case DOC_T_HEX:
			ret = check_u64(&k, v, f->hi, &u, err);
			if (ret == 0)
				store_int(p, f->size, u);
			break;
		case DOC_T_BOOL:
			ret = check_bool(&k, v, &b, err);
			if (ret == 0)
				memcpy(p, &b, sizeof(b));
			break;
		case DOC_T_STR:
			ret = check_str(&k, v, f->hi, &s, err);
			if (ret == 0)
				memcpy(p, &s, sizeof(s));
			break;
		default:
			ret = doc_error(err, &k, "field table type %d unknown", f->type);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

void doc_write(struct json *obj, const struct doc_field *fields, const void *st)
{
	const struct doc_field *f;

	for (f = fields; f->key; f++) {
		const char *p = (const char *)st + f->off;
		const char *s;
		bool b;

		switch (f->type) {
		case DOC_T_INT:
			json_set(obj, f->key, json_int((int64_t)load_int(p, f->size, f->lo < 0)));
			break;
		case DOC_T_HEX:
			json_set(obj, f->key, json_hex(load_int(p, f->size, false)));
			break;
		case DOC_T_BOOL:
			memcpy(&b, p, sizeof(b));
			json_set(obj, f->key, json_bool(b));
			break;
		case DOC_T_STR:
			memcpy(&s, p, sizeof(s));
			if (s)
				json_set(obj, f->key, json_str(s));
			break;
		}
	}
}
