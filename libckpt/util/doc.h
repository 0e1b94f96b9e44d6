/*
 * libckpt/util/doc.h - bundle documents as typed structs: checked accessors
 * and field tables shared by the writer, the reader and inspect.
 *
 * A document read from a bundle is untrusted input. Every reader pulls its
 * members through this file, never through json_as_*: a missing member, a
 * member of the wrong type or a value out of range is one EPROTO error that
 * names the file and the key path, e.g.
 *
 *	task-12.json: threads[1].tid: 0 is out of range 1..4194304
 *
 * Two ways to use it:
 *  - accessors (doc_int, doc_u64, doc_str, ...) at a position (struct
 *    doc_at) inside a document, for members read one by one;
 *  - a field table (struct doc_field[]) describing a C struct: doc_read()
 *    fills the struct from an object, doc_write() makes the object from the
 *    struct, and inspect prints from the same table, so each key name is
 *    written once.
 *
 * Optional members (doc_opt_* and DOC_OPT_* rows) take their default
 * when absent; present with the wrong type they are still an error.
 */
#ifndef CKPT_UTIL_DOC_H
#define CKPT_UTIL_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ckpt/error.h"
#include "util/json.h"

/* The largest pid or tid the kernel hands out (PID_MAX_LIMIT on 64-bit). */
#define DOC_PID_MAX 4194304
/* Longest string member a document may hold unless a reader says otherwise. */
#define DOC_STR_MAX 4096

/*
 * Where a member sits: the document's file name and the chain of keys and
 * array indexes above it. Lives on the stack of the reader; cheap to make.
 */
struct doc_at {
	const char *file;	 /* "task-12.json" */
	const struct doc_at *up; /* the enclosing position, NULL at the top */
	const char *key;	 /* member name, or NULL: an array element */
	size_t idx;		 /* index in the enclosing array */
};

#define DOC_TOP(f)    ((struct doc_at){.file = (f)})
#define DOC_KEY(u, k) ((struct doc_at){.file = (u)->file, .up = (u), .key = (k)})
#define DOC_IDX(u, i) ((struct doc_at){.file = (u)->file, .up = (u), .idx = (i)})

/* "file: a.b[2].c: <message>" as an EPROTO error. */
__attribute__((format(printf, 3, 4))) int doc_error(ckpt_err_t *err, const struct doc_at *at,
						    const char *fmt, ...);

/* Required members. */
int doc_int(const struct doc_at *at, const struct json *obj, const char *key, int64_t lo,
	    int64_t hi, int64_t *out, ckpt_err_t *err) __attribute__((warn_unused_result));
/* A "0x.." string or a non-negative integer, at most hi. */
int doc_u64(const struct doc_at *at, const struct json *obj, const char *key, uint64_t hi,
	    uint64_t *out, ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_bool(const struct doc_at *at, const struct json *obj, const char *key, bool *out,
	     ckpt_err_t *err) __attribute__((warn_unused_result));
/* A string of at most maxlen bytes with no NUL inside (0: DOC_STR_MAX). */
int doc_str(const struct doc_at *at, const struct json *obj, const char *key, size_t maxlen,
	    const char **out, ckpt_err_t *err) __attribute__((warn_unused_result));
/* An array of at most maxn elements; *n its length. */
int doc_arr(const struct doc_at *at, const struct json *obj, const char *key, size_t maxn,
	    const struct json **out, size_t *n, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int doc_obj(const struct doc_at *at, const struct json *obj, const char *key,
	    const struct json **out, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Exactly len bytes as lowercase hex digits (json_hexbuf). */
int doc_hexbuf(const struct doc_at *at, const struct json *obj, const char *key, void *buf,
	       size_t len, ckpt_err_t *err) __attribute__((warn_unused_result));

/* Optional members: absent gives dflt (NULL, 0 elements). */
int doc_opt_int(const struct doc_at *at, const struct json *obj, const char *key, int64_t lo,
		int64_t hi, int64_t dflt, int64_t *out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int doc_opt_u64(const struct doc_at *at, const struct json *obj, const char *key, uint64_t hi,
		uint64_t dflt, uint64_t *out, ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_opt_bool(const struct doc_at *at, const struct json *obj, const char *key, bool dflt,
		 bool *out, ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_opt_str(const struct doc_at *at, const struct json *obj, const char *key, size_t maxlen,
		const char **out, ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_opt_arr(const struct doc_at *at, const struct json *obj, const char *key, size_t maxn,
		const struct json **out, size_t *n, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int doc_opt_obj(const struct doc_at *at, const struct json *obj, const char *key,
		const struct json **out, ckpt_err_t *err) __attribute__((warn_unused_result));

/* Element i of an array that must be an object (or an integer in range). */
int doc_elem_obj(const struct doc_at *at, const struct json *arr, size_t i, const struct json **out,
		 ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_elem_int(const struct doc_at *at, const struct json *arr, size_t i, int64_t lo, int64_t hi,
		 int64_t *out, ckpt_err_t *err) __attribute__((warn_unused_result));
int doc_elem_str(const struct doc_at *at, const struct json *arr, size_t i, size_t maxlen,
		 const char **out, ckpt_err_t *err) __attribute__((warn_unused_result));
/*
 * Member i of an object used as a map of strings ("limits": {"pids.max":
 * "10"}): its key and its value, a string of at most maxlen bytes.
 */
int doc_map_str(const struct doc_at *at, const struct json *obj, size_t i, size_t maxlen,
		const char **key, const char **val, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* The same, for a map of integers in lo..hi ("symbols": {"__vdso_time": 3584}). */
int doc_map_int(const struct doc_at *at, const struct json *obj, size_t i, int64_t lo, int64_t hi,
		const char **key, int64_t *val, ckpt_err_t *err);
/* A value the caller already holds (at names it): a string of at most maxlen bytes. */
int doc_value_str(const struct doc_at *at, const struct json *v, size_t maxlen, const char **out,
		  ckpt_err_t *err);

/*
 * Field tables: one row per member of a C struct.
 *
 *	struct creds { uint32_t uid; uint64_t cap_eff; const char *comm; };
 *	static const struct doc_field creds_fields[] = {
 *		DOC_INT(struct creds, uid, "uid", 0, UINT32_MAX),
 *		DOC_HEX(struct creds, cap_eff, "cap_eff", UINT64_MAX),
 *		DOC_OPT_STR(struct creds, comm, "comm", 16),
 *		DOC_END
 *	};
 *
 * Integers may be 1, 2, 4 or 8 bytes wide, signed or not: the range decides
 * what fits, and doc_read refuses what does not. Strings are const char *
 * pointing into the parsed document (valid while it is).
 */
enum doc_type {
	DOC_T_INT = 1, /* JSON integer in lo..hi */
	DOC_T_HEX,     /* "0x.." string (or integer) up to hi; written as hex */
	DOC_T_BOOL,
	DOC_T_STR, /* at most hi bytes */
};

struct doc_field {
	const char *key;
	enum doc_type type;
	unsigned char size; /* sizeof the member */
	bool optional;	    /* absent: the member is left as the caller set it */
	size_t off;
	int64_t lo;
	uint64_t hi;
};

#define DOC_F(st, m, k, t, l, h, opt)                                                              \
	{                                                                                          \
		.key = (k), .type = (t), .size = (unsigned char)sizeof(((st *)0)->m),              \
		.optional = (opt), .off = offsetof(st, m), .lo = (l), .hi = (uint64_t)(h)          \
	}
#define DOC_INT(st, m, k, l, h)	  DOC_F(st, m, k, DOC_T_INT, l, h, false)
#define DOC_HEX(st, m, k, h)	  DOC_F(st, m, k, DOC_T_HEX, 0, h, false)
#define DOC_BOOL(st, m, k)	  DOC_F(st, m, k, DOC_T_BOOL, 0, 1, false)
#define DOC_STR(st, m, k, maxlen) DOC_F(st, m, k, DOC_T_STR, 0, maxlen, false)
/* The same, for members that may be absent (the struct keeps its value). */
#define DOC_OPT_INT(st, m, k, l, h)   DOC_F(st, m, k, DOC_T_INT, l, h, true)
#define DOC_OPT_HEX(st, m, k, h)      DOC_F(st, m, k, DOC_T_HEX, 0, h, true)
#define DOC_OPT_BOOL(st, m, k)	      DOC_F(st, m, k, DOC_T_BOOL, 0, 1, true)
#define DOC_OPT_STR(st, m, k, maxlen) DOC_F(st, m, k, DOC_T_STR, 0, maxlen, true)
#define DOC_END                                                                                    \
	{                                                                                          \
		.key = NULL                                                                        \
	}

/* Fill *st from obj through the table (ended by a row with key NULL). */
int doc_read(const struct doc_at *at, const struct json *obj, const struct doc_field *fields,
	     void *st, ckpt_err_t *err) __attribute__((warn_unused_result));
/* Set each member of the table on obj from *st (strings NULL are left out). */
void doc_write(struct json *obj, const struct doc_field *fields, const void *st);

#endif
