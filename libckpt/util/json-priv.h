/*
 * libckpt/util/json-priv.h - the JSON wrapper's tree node, shared by its
 * two files (json.c: the tree, yajl parse and serialise; json-get.c: the
 * checked getters). Nothing else sees inside a struct json.
 */
#ifndef CKPT_JSON_PRIV_H
#define CKPT_JSON_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/json.h"

struct json {
	enum json_type type;
	union {
		bool b;
		int64_t i;
		double d;
		struct {
			char *s;
			size_t len;
		} str;
		struct {
			struct json **v;
			char **keys; /* objects only */
			size_t n, cap;
		} c;
	};
};

#endif
