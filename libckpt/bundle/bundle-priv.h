/*
 * libckpt/bundle/bundle-priv.h - what bundle.c (writing, host facts) and
 * bundle-read.c (verifying, reading) share.
 */
#ifndef CKPT_BUNDLE_PRIV_H
#define CKPT_BUNDLE_PRIV_H

#include <stdbool.h>

#include "ckpt/bundle.h"

#define BUNDLE_MANIFEST "manifest.json"
/* Streaming I/O buffer: large enough that syscalls cost nothing, small enough for L2. */
#define BUNDLE_IOBUF (1u << 20)

struct bundle_file {
	char *name;
	uint64_t size;
	uint64_t xxh64;
};

struct ckpt_bundle {
	char *path;	/* final name */
	char *tmp_path; /* NAME.tmp while writing, NULL when reading */
	int dirfd;
	bool writing, committed;
	int open_images; /* images created and not yet closed or aborted */
	struct bundle_file *files;
	size_t nfiles;
	struct json *manifest; /* reading: parsed manifest.json */
};

/* A plain file name: no '/', not "..", not starting with '.', not empty. */
bool bundle_name_ok(const char *name);
struct bundle_file *bundle_find(const struct ckpt_bundle *b, const char *name);

#endif
