/*
 * libckpt/util/json.h - the one JSON wrapper. yajl is included only in json.c,
 * so moving to another JSON library changes one file.
 *
 * A document is a tree of struct json nodes. Containers own their
 * children: json_set()/json_push() take ownership of the value.
 * 64-bit addresses and masks travel as hex strings ("0x7ffd1000"),
 * because JSON integers above 2^53 are not portable.
 */
#ifndef CKPT_JSON_H
#define CKPT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"

enum json_type { JSON_NULL, JSON_BOOL, JSON_INT, JSON_DOUBLE, JSON_STR, JSON_ARR, JSON_OBJ };

struct json;

/* Limits applied by json_parse: nothing in a bundle is trusted. */
#define JSON_MAX_DEPTH 64

struct json *json_obj(void);
struct json *json_arr(void);
struct json *json_null(void);
struct json *json_bool(bool v);
struct json *json_int(int64_t v);
struct json *json_double(double v);
struct json *json_str(const char *s);		       /* copies s; NULL becomes null */
struct json *json_strn(const char *s, size_t len);     /* copies len bytes */
struct json *json_hex(uint64_t v);		       /* "0x..." string */
struct json *json_hexbuf(const void *buf, size_t len); /* lowercase hex digits, no 0x */

/* Take ownership of val; json_set replaces an existing key. Return val. */
struct json *json_set(struct json *obj, const char *key, struct json *val);
struct json *json_push(struct json *arr, struct json *val);

void json_free(struct json *j);
/* A deep copy of j (NULL for NULL), owned by the caller. */
struct json *json_clone(const struct json *j);
static inline void json_freep(struct json **j)
{
	json_free(*j);
}
#define cleanup_json __attribute__((cleanup(json_freep)))

enum json_type json_type(const struct json *j);
/* Members of an array or object; 0 for scalars and NULL. */
size_t json_len(const struct json *j);
struct json *json_at(const struct json *j, size_t i); /* array element or object value */
const char *json_key_at(const struct json *obj, size_t i);
struct json *json_get(const struct json *obj, const char *key); /* NULL if absent */

/* Scalar accessors: fall back to 0 / NULL / false on type mismatch. */
const char *json_as_str(const struct json *j);
int64_t json_as_int(const struct json *j);
bool json_as_bool(const struct json *j);
/* A "0x.." string or a non-negative integer; 0 for anything else. */
uint64_t json_as_hex(const struct json *j);
/* The same, telling a bad value (false) from "0x0". */
bool json_hex_value(const struct json *j, uint64_t *out);
/* Bytes of a string (which may hold a NUL); 0 for anything else. */
size_t json_str_len(const struct json *j);

/*
 * Checked getters for required members: a missing member or wrong type is
 * an EPROTO error naming the key. json_get_hex accepts "0x.." strings and
 * plain non-negative integers.
 */
int json_get_str(const struct json *obj, const char *key, const char **out, ckpt_err_t *err);
int json_get_int(const struct json *obj, const char *key, int64_t *out, ckpt_err_t *err);
int json_get_hex(const struct json *obj, const char *key, uint64_t *out, ckpt_err_t *err);
int json_get_bool(const struct json *obj, const char *key, bool *out, ckpt_err_t *err);
int json_get_arr(const struct json *obj, const char *key, struct json **out, ckpt_err_t *err);
int json_get_obj(const struct json *obj, const char *key, struct json **out, ckpt_err_t *err);
/* Decode a hex-digit string (json_hexbuf) into exactly len bytes. */
int json_get_hexbuf(const struct json *obj, const char *key, void *buf, size_t len,
		    ckpt_err_t *err);

/* Serialise; pretty adds newlines and indentation. Returns malloc'd text. */
char *json_dump(const struct json *j, bool pretty, size_t *len);
/* Parse len bytes; depth bounded by JSON_MAX_DEPTH. */
int json_parse(const char *buf, size_t len, struct json **out, ckpt_err_t *err);

#endif
