/*
 * libckpt/util/json.c - the JSON wrapper: a small owned tree, parsed with yajl's
 * callback parser and serialised with yajl_gen. The only file that includes
 * yajl; the checked getters (json_get_*, hex values) are json-get.c.
 *
 * Strings are byte strings: the parser does not insist on UTF-8, because
 * paths and comm names saved from a live system are arbitrary bytes and
 * must round-trip exactly (yajl_gen writes them through unchanged).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "util/json.h"
#include "util/json-priv.h"
#include "util/util.h"

static struct json *json_new(enum json_type t)
{
	struct json *j = xzalloc(sizeof(*j));

	j->type = t;
	return j;
}

struct json *json_obj(void)
{
	return json_new(JSON_OBJ);
}

struct json *json_arr(void)
{
	return json_new(JSON_ARR);
}

struct json *json_null(void)
{
	return json_new(JSON_NULL);
}

struct json *json_bool(bool v)
{
	struct json *j = json_new(JSON_BOOL);

	j->b = v;
	return j;
}

struct json *json_int(int64_t v)
{
	struct json *j = json_new(JSON_INT);

	j->i = v;
	return j;
}

struct json *json_double(double v)
{
	struct json *j = json_new(JSON_DOUBLE);

	j->d = v;
	return j;
}

struct json *json_strn(const char *s, size_t len)
{
	struct json *j = json_new(JSON_STR);

	j->str.s = xzalloc(len + 1);
	if (len)
		memcpy(j->str.s, s, len);
	j->str.len = len;
	return j;
}

struct json *json_str(const char *s)
{
	return s ? json_strn(s, strlen(s)) : json_null();
}

struct json *json_hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_str(buf);
}

struct json *json_hexbuf(const void *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = buf;
	struct json *j = json_new(JSON_STR);

	j->str.s = xzalloc(2 * len + 1);
	for (size_t i = 0; i < len; i++) {
		j->str.s[2 * i] = digits[p[i] >> 4];
		j->str.s[2 * i + 1] = digits[p[i] & 15];
	}
	j->str.len = 2 * len;
	return j;
}

static void container_grow(struct json *c)
{
	if (c->c.n < c->c.cap)
		return;
	c->c.cap = c->c.cap ? c->c.cap * 2 : 4;
	c->c.v = xrealloc(c->c.v, c->c.cap * sizeof(*c->c.v));
	if (c->type == JSON_OBJ)
		c->c.keys = xrealloc(c->c.keys, c->c.cap * sizeof(*c->c.keys));
}

static struct json *obj_set_n(struct json *obj, const char *key, size_t klen, struct json *val)
{
	for (size_t i = 0; i < obj->c.n; i++) {
		if (strlen(obj->c.keys[i]) == klen && !memcmp(obj->c.keys[i], key, klen)) {
			/* duplicate key: the last one wins, in the first one's place */
			json_free(obj->c.v[i]);
			obj->c.v[i] = val;
			return val;
		}
	}
	container_grow(obj);
	obj->c.keys[obj->c.n] = xzalloc(klen + 1);
	memcpy(obj->c.keys[obj->c.n], key, klen);
	obj->c.v[obj->c.n++] = val;
	return val;
}

struct json *json_set(struct json *obj, const char *key, struct json *val)
{
	if (!obj || obj->type != JSON_OBJ || !key) {
		json_free(val);
		return NULL;
	}
	if (!val)
		val = json_null();
	return obj_set_n(obj, key, strlen(key), val);
}

struct json *json_push(struct json *arr, struct json *val)
{
	if (!arr || arr->type != JSON_ARR) {
		json_free(val);
		return NULL;
	}
	if (!val)
		val = json_null();
	container_grow(arr);
	arr->c.v[arr->c.n++] = val;
	return val;
}

void json_free(struct json *j)
{
	if (!j)
		return;
	if (j->type == JSON_STR) {
		free(j->str.s);
	} else if (j->type == JSON_ARR || j->type == JSON_OBJ) {
		for (size_t i = 0; i < j->c.n; i++) {
			json_free(j->c.v[i]);
			if (j->c.keys)
				free(j->c.keys[i]);
		}
		free(j->c.v);
		free(j->c.keys);
	}
	free(j);
}

struct json *json_clone(const struct json *j)
{
	struct json *c;

	if (!j)
		return NULL;
	if (j->type == JSON_STR)
		return json_strn(j->str.s, j->str.len);
	c = json_new(j->type);
	if (j->type != JSON_ARR && j->type != JSON_OBJ) {
		*c = *j;
		return c;
	}
	c->c.cap = c->c.n = j->c.n;
	c->c.v = xzalloc((j->c.n + 1) * sizeof(*c->c.v));
	if (j->type == JSON_OBJ)
		c->c.keys = xzalloc((j->c.n + 1) * sizeof(*c->c.keys));
	for (size_t i = 0; i < j->c.n; i++) {
		c->c.v[i] = json_clone(j->c.v[i]);
		if (c->c.keys)
			c->c.keys[i] = xstrdup(j->c.keys[i]);
	}
	return c;
}

enum json_type json_type(const struct json *j)
{
	return j ? j->type : JSON_NULL;
}

size_t json_len(const struct json *j)
{
	if (!j || (j->type != JSON_ARR && j->type != JSON_OBJ))
		return 0;
	return j->c.n;
}

struct json *json_at(const struct json *j, size_t i)
{
	return i < json_len(j) ? j->c.v[i] : NULL;
}

const char *json_key_at(const struct json *obj, size_t i)
{
	if (!obj || obj->type != JSON_OBJ || i >= obj->c.n)
		return NULL;
	return obj->c.keys[i];
}

struct json *json_get(const struct json *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJ || !key)
		return NULL;
	for (size_t i = 0; i < obj->c.n; i++)
		if (!strcmp(obj->c.keys[i], key))
			return obj->c.v[i];
	return NULL;
}

const char *json_as_str(const struct json *j)
{
	return j && j->type == JSON_STR ? j->str.s : NULL;
}

uint64_t json_as_hex(const struct json *j)
{
	const char *s = json_as_str(j);

	if (s)
		return strtoull(s, NULL, 16);
	return (uint64_t)json_as_int(j);
}

int64_t json_as_int(const struct json *j)
{
	return j && j->type == JSON_INT ? j->i : 0;
}

bool json_as_bool(const struct json *j)
{
	return j && j->type == JSON_BOOL ? j->b : false;
}

/* --- serialise --- */

static yajl_gen_status gen_node(yajl_gen g, const struct json *j)
{
	yajl_gen_status st = yajl_gen_status_ok;

	switch (j->type) {
	case JSON_NULL:
		return yajl_gen_null(g);
	case JSON_BOOL:
		return yajl_gen_bool(g, j->b);
	case JSON_INT:
		return yajl_gen_integer(g, j->i);
	case JSON_DOUBLE:
		/* JSON has no NaN or infinity: write null rather than fail */
		return isfinite(j->d) ? yajl_gen_double(g, j->d) : yajl_gen_null(g);
	case JSON_STR:
		return yajl_gen_string(g, (const unsigned char *)j->str.s, j->str.len);
	case JSON_ARR:
		st = yajl_gen_array_open(g);
		for (size_t i = 0; st == yajl_gen_status_ok && i < j->c.n; i++)
			st = gen_node(g, j->c.v[i]);
		return st == yajl_gen_status_ok ? yajl_gen_array_close(g) : st;
	case JSON_OBJ:
		st = yajl_gen_map_open(g);
		for (size_t i = 0; st == yajl_gen_status_ok && i < j->c.n; i++) {
			st = yajl_gen_string(g, (const unsigned char *)j->c.keys[i],
					     strlen(j->c.keys[i]));
			if (st == yajl_gen_status_ok)
				st = gen_node(g, j->c.v[i]);
		}
		return st == yajl_gen_status_ok ? yajl_gen_map_close(g) : st;
	}
	return yajl_gen_in_error_state;
}

char *json_dump(const struct json *j, bool pretty, size_t *len)
{
	const unsigned char *buf;
	yajl_gen g;
	size_t n;
	char *out = NULL;

	if (!j)
		return NULL;
	g = yajl_gen_alloc(NULL);
	if (!g)
		abort();
	if (pretty) {
		yajl_gen_config(g, yajl_gen_beautify, 1);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	if (gen_node(g, j) == yajl_gen_status_ok &&
	    yajl_gen_get_buf(g, &buf, &n) == yajl_gen_status_ok) {
		out = xzalloc(n + 1);
		memcpy(out, buf, n);
		if (len)
			*len = n;
	}
	yajl_gen_free(g);
	return out;
}

/* --- parse --- */

struct parse_ctx {
	struct json *root;
	struct json *stack[JSON_MAX_DEPTH];
	int depth;
	char *key; /* pending object key */
	size_t keylen;
	bool too_deep;
};

/* Attach a finished value to the open container (or make it the root). */
static int attach(struct parse_ctx *p, struct json *v)
{
	struct json *top;

	if (p->depth == 0) {
		if (p->root) {
			json_free(v);
			return 0;
		}
		p->root = v;
		return 1;
	}
	top = p->stack[p->depth - 1];
	if (top->type == JSON_ARR) {
		json_push(top, v);
	} else {
		obj_set_n(top, p->key ? p->key : "", p->key ? p->keylen : 0, v);
		free(p->key);
		p->key = NULL;
	}
	return 1;
}

static int open_container(struct parse_ctx *p, struct json *c)
{
	if (p->depth >= JSON_MAX_DEPTH) {
		json_free(c);
		p->too_deep = true;
		return 0;
	}
	if (!attach(p, c))
		return 0;
	p->stack[p->depth++] = c;
	return 1;
}

static int cb_null(void *ctx)
{
	return attach(ctx, json_null());
}

static int cb_bool(void *ctx, int b)
{
	return attach(ctx, json_bool(b));
}

/*
 * Numbers arrive as text: yajl's own integer conversion rejects INT64_MIN,
 * which a signed 64-bit field may legitimately hold.
 */
static int cb_number(void *ctx, const char *s, size_t len)
{
	char buf[64], *end;
	long long i;
	double d;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	if (!strpbrk(buf, ".eE")) {
		i = strtoll(buf, &end, 10);
		/* beyond int64 is an error, not a silently rounded double */
		if (errno || *end)
			return 0;
		return attach(ctx, json_int(i));
	}
	d = strtod(buf, &end);
	if (*end)
		return 0;
	return attach(ctx, json_double(d));
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return attach(ctx, json_strn((const char *)s, len));
}

static int cb_start_map(void *ctx)
{
	return open_container(ctx, json_obj());
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct parse_ctx *p = ctx;

	/* an embedded NUL would make the key unreachable by json_get() */
	if (memchr(s, '\0', len))
		return 0;
	free(p->key);
	p->key = xzalloc(len + 1);
	memcpy(p->key, s, len);
	p->keylen = len;
	return 1;
}

static int cb_end(void *ctx)
{
	struct parse_ctx *p = ctx;

	if (p->depth > 0)
		p->depth--;
	return 1;
}

static int cb_start_array(void *ctx)
{
	return open_container(ctx, json_arr());
}

static const yajl_callbacks parse_callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_bool,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

static int parse_error(yajl_handle h, struct parse_ctx *p, const char *buf, size_t len,
		       ckpt_err_t *err)
{
	unsigned char *msg;
	size_t off;
	char *nl;

	if (p->too_deep)
		return ckpt_error_msg(err, EPROTO, "JSON nested deeper than %d levels",
				      JSON_MAX_DEPTH);
	off = yajl_get_bytes_consumed(h);
	msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
	/* yajl's message may end in a newline: keep the error one line */
	nl = msg ? strchr((char *)msg, '\n') : NULL;
	if (nl)
		*nl = '\0';
	ckpt_error_msg(err, EPROTO, "bad JSON near byte %zu: %s", off,
		       msg ? (char *)msg : "parse error");
	if (msg)
		yajl_free_error(h, msg);
	return -EPROTO;
}

int json_parse(const char *buf, size_t len, struct json **out, ckpt_err_t *err)
{
	struct parse_ctx p = {0};
	yajl_status st;
	yajl_handle h;
	int ret = 0;

	h = yajl_alloc(&parse_callbacks, NULL, &p);
	if (!h)
		abort();
	yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, (const unsigned char *)buf, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok)
		ret = parse_error(h, &p, buf, len, err);
	else if (!p.root)
		ret = ckpt_error_msg(err, EPROTO, "empty JSON document");
	yajl_free(h);
	free(p.key);
	if (ret < 0) {
		json_free(p.root);
		return ret;
	}
	*out = p.root;
	return 0;
}
