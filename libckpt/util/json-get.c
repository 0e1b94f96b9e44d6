/*
 * libckpt/util/json-get.c - the JSON wrapper's checked getters: a member of
 * the type asked for or an error naming the key (json_get_*), and hex
 * values ("0x" and 1..16 digits, or a non-negative integer) and hex
 * buffers. Bundle documents are read through util/doc.h, built on these.
 */
#include <errno.h>
#include <string.h>

#include "util/json.h"
#include "util/json-priv.h"
#include "util/util.h"

static int get_typed(const struct json *obj, const char *key, enum json_type t, const char *what,
		     struct json **out, ckpt_err_t *err)
{
	struct json *v = json_get(obj, key);

	if (!v)
		return ckpt_error_msg(err, EPROTO, "missing `%s`", key);
	if (v->type != t)
		return ckpt_error_msg(err, EPROTO, "`%s`: expected %s", key, what);
	*out = v;
	return 0;
}

int json_get_str(const struct json *obj, const char *key, const char **out, ckpt_err_t *err)
{
	struct json *v = NULL;
	int ret = get_typed(obj, key, JSON_STR, "a string", &v, err);

	if (ret == 0)
		*out = v->str.s;
	return ret;
}

int json_get_int(const struct json *obj, const char *key, int64_t *out, ckpt_err_t *err)
{
	struct json *v = NULL;
	int ret = get_typed(obj, key, JSON_INT, "an integer", &v, err);

	if (ret == 0)
		*out = v->i;
	return ret;
}

int json_get_bool(const struct json *obj, const char *key, bool *out, ckpt_err_t *err)
{
	struct json *v = NULL;
	int ret = get_typed(obj, key, JSON_BOOL, "true or false", &v, err);

	if (ret == 0)
		*out = v->b;
	return ret;
}

int json_get_arr(const struct json *obj, const char *key, struct json **out, ckpt_err_t *err)
{
	return get_typed(obj, key, JSON_ARR, "an array", out, err);
}

int json_get_obj(const struct json *obj, const char *key, struct json **out, ckpt_err_t *err)
{
	return get_typed(obj, key, JSON_OBJ, "an object", out, err);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool json_hex_value(const struct json *v, uint64_t *out)
{
	const char *s;
	uint64_t x = 0;
	size_t n;

	if (v && v->type == JSON_INT && v->i >= 0) {
		*out = v->i;
		return true;
	}
	if (!v || v->type != JSON_STR)
		return false;
	s = v->str.s;
	n = v->str.len;
	/* exactly "0x" and 1..16 hex digits: no sign, no spaces, no overflow */
	if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (size_t i = 2; i < n; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	*out = x;
	return true;
}

size_t json_str_len(const struct json *j)
{
	return j && j->type == JSON_STR ? j->str.len : 0;
}

int json_get_hex(const struct json *obj, const char *key, uint64_t *out, ckpt_err_t *err)
{
	struct json *v = json_get(obj, key);

	if (!v)
		return ckpt_error_msg(err, EPROTO, "missing `%s`", key);
	if (!json_hex_value(v, out))
		return ckpt_error_msg(err, EPROTO, "`%s`: bad hex value", key);
	return 0;
}

int json_get_hexbuf(const struct json *obj, const char *key, void *buf, size_t len, ckpt_err_t *err)
{
	unsigned char *p = buf;
	struct json *v = NULL;
	int ret = get_typed(obj, key, JSON_STR, "a hex string", &v, err);

	if (ret < 0)
		return ret;
	if (v->str.len != 2 * len)
		return ckpt_error_msg(err, EPROTO, "`%s`: expected %zu hex digits, got %zu", key,
				      2 * len, v->str.len);
	for (size_t i = 0; i < len; i++) {
		int hi = hexval(v->str.s[2 * i]), lo = hexval(v->str.s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return ckpt_error_msg(err, EPROTO, "`%s`: bad hex digit", key);
		p[i] = hi << 4 | lo;
	}
	return 0;
}
