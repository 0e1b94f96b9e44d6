/*
 * tests/unit/test_json.c - the JSON wrapper: build, dump, parse round trip,
 * key order, duplicate keys, depth limit, bad input, integer overflow,
 * checked getters and the hex helpers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"
#include "tap.h"
#include "util/util.h"

static int parse(const char *s, struct json **out, ckpt_err_t *err)
{
	return json_parse(s, strlen(s), out, err);
}

int main(void)
{
	cleanup_json struct json *doc = json_obj(), *back = NULL, *j = NULL;
	ckpt_err_t err = {0};
	cleanup_free char *text = NULL, *deep = NULL;
	unsigned char bytes[4];
	struct json *arr;
	const char *s;
	uint64_t hx;
	int64_t iv;
	size_t len;

	json_set(doc, "pid", json_int(42));
	json_set(doc, "comm", json_str("a \"b\"\n\x01"));
	json_set(doc, "rip", json_hex(0xffffffffff600000ULL));
	json_set(doc, "big", json_int(INT64_MIN));
	json_set(doc, "ok", json_bool(true));
	json_set(doc, "nothing", json_null());
	json_set(doc, "ratio", json_double(0.5));
	json_set(doc, "xstate", json_hexbuf("\x01\xab\xff", 3));
	arr = json_set(doc, "threads", json_arr());
	json_push(arr, json_int(1));
	json_push(arr, json_str("two"));
	json_set(doc, "pid", json_int(43)); /* replaces in place */

	is_int(json_len(doc), 9, "object has 9 keys (set replaced one)");
	is_str(json_key_at(doc, 0), "pid", "insertion order kept after replace");
	is_int(json_as_int(json_get(doc, "pid")), 43, "replaced value");
	text = json_dump(doc, true, &len);
	ok(text && strlen(text) == len && strchr(text, '\n'), "pretty dump has newlines");
	is_int(json_parse(text, len, &back, &err), 0, "dump parses back");
	free(text);
	text = json_dump(back, false, &len);
	{
		cleanup_free char *again = json_dump(doc, false, NULL);

		is_str(text, again, "round trip is byte identical");
	}
	{
		struct json *copy = json_clone(doc);
		cleanup_free char *a = json_dump(doc, false, NULL), *b = NULL;

		json_set(doc, "pid", json_int(44));
		json_set(doc, "pid", json_int(43)); /* the copy owns nothing of doc */
		b = json_dump(copy, false, NULL);
		is_str(b, a, "json_clone is a deep copy");
		ok(json_clone(NULL) == NULL, "json_clone of NULL");
		json_free(copy);
	}
	is_str(json_as_str(json_get(back, "comm")), "a \"b\"\n\x01", "escapes survive");
	is_int(json_as_int(json_get(back, "big")), INT64_MIN, "INT64_MIN survives");
	is_str(json_as_str(json_get(back, "rip")), "0xffffffffff600000", "json_hex format");
	is_int(json_get_hex(back, "rip", &hx, &err), 0, "json_get_hex");
	ok(hx == 0xffffffffff600000ULL, "hex value");
	is_int(json_get_hexbuf(back, "xstate", bytes, 3, &err), 0, "json_get_hexbuf");
	ok(!memcmp(bytes, "\x01\xab\xff", 3), "hexbuf bytes");
	is_int(json_get_hexbuf(back, "xstate", bytes, 4, &err), -EPROTO, "hexbuf wrong length");
	is_int(json_get_int(back, "comm", &iv, &err), -EPROTO, "wrong type is EPROTO");
	is_str(err.msg, "`comm`: expected an integer", "wrong type names the key");
	is_int(json_get_str(back, "absent", &s, &err), -EPROTO, "missing key is EPROTO");
	is_str(err.msg, "missing `absent`", "missing key names it");
	is_int(json_len(json_get(back, "threads")), 2, "array length");
	is_int(json_type(json_at(json_get(back, "threads"), 1)), JSON_STR, "array element type");
	ok(json_as_bool(json_get(back, "ok")), "bool");
	is_int(json_type(json_get(back, "nothing")), JSON_NULL, "null");
	ok(json_get(back, "ratio") && json_type(json_get(back, "ratio")) == JSON_DOUBLE, "double");

	is_int(parse("{\"a\":1,\"a\":2}", &j, &err), 0, "duplicate keys accepted");
	ok(json_len(j) == 1 && json_as_int(json_get(j, "a")) == 2, "last duplicate wins");
	json_free(steal_pointer(&j));
	is_int(parse("{\"a\":\"0x1g\"}", &j, &err), 0, "parse hex-ish string");
	is_int(json_get_hex(j, "a", &hx, &err), -EPROTO, "bad hex digit refused");
	json_free(steal_pointer(&j));
	is_int(parse("{\"a\":\"0x10000000000000000\"}", &j, &err), 0, "parse 17 digits");
	is_int(json_get_hex(j, "a", &hx, &err), -EPROTO, "hex overflow refused");
	json_free(steal_pointer(&j));

	is_int(parse("{\"n\": 9223372036854775808}", &j, &err), -EPROTO, "int64 overflow refused");
	is_int(parse("{\"n\": 1,}", &j, &err), -EPROTO, "trailing comma refused");
	ok(strchr(err.msg, '\n') == NULL, "parse error is one line");
	is_int(parse("", &j, &err), -EPROTO, "empty input refused");
	is_int(parse("[1] [2]", &j, &err), -EPROTO, "two documents refused");
	is_int(parse("{\"a\":", &j, &err), -EPROTO, "truncated document refused");

	deep = xzalloc(2 * (JSON_MAX_DEPTH + 1) + 1);
	memset(deep, '[', JSON_MAX_DEPTH);
	memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	is_int(parse(deep, &j, &err), 0, "nesting at the limit accepted");
	json_free(steal_pointer(&j));
	memset(deep, '[', JSON_MAX_DEPTH + 1);
	memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	is_int(parse(deep, &j, &err), -EPROTO, "nesting beyond the limit refused");
	like(err.msg, "deeper than", "depth error says so");

	is_int(parse("\"\\u00e9\xff\"", &j, &err), 0, "non-UTF-8 bytes accepted");
	ok(json_as_str(j) && !strcmp(json_as_str(j), "\xc3\xa9\xff"), "bytes kept exactly");
	json_free(steal_pointer(&j));
	ok(json_get(NULL, "x") == NULL && json_len(NULL) == 0 && json_as_str(NULL) == NULL,
	   "accessors accept NULL");
	return done_testing();
}
