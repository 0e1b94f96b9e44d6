/*
 * tests/fuzz/bundle_fuzz.c - libFuzzer target for the bundle reader.
 *
 * Input: one mode byte, then files, each "@@NAME\n" followed by its bytes
 * up to the next "\n@@" (see pack-seed.sh). The files are written into a
 * fresh bundle directory, then bundle_open(), bundle_get_json() of every
 * listed file, bundle_check_host() and ckpt_inspect() run on it.
 *
 * Mode bit 0 rewrites the manifest's sizes and digests to match the
 * files, so the fuzzer gets past verification into the JSON documents
 * (it cannot forge BLAKE2b digests by mutation alone). The MAC it cannot
 * forge at all: the bundle is opened as --insecure-unauthenticated does,
 * so that what lies behind the MAC check is fuzzed too.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle/bundle-priv.h"
#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "util/json.h"
#include "util/util.h"

#define MAX_FILES 8

struct rec {
	char name[64];
	const uint8_t *data;
	size_t len;
};

static char root[64];
static const struct bundle_auth insecure = {
	.key_file = "/nonexistent", .insecure = true, .quiet = true};

static bool name_safe(const char *n)
{
	return *n && n[0] != '.' &&
	       strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-_.") == strlen(n);
}

/* Split the input into records; returns how many. */
static int split(const uint8_t *p, size_t len, struct rec *r)
{
	const uint8_t *end = p + len, *nl, *next;
	int n = 0;

	while (n < MAX_FILES && end - p >= 3 && p[0] == '@' && p[1] == '@') {
		nl = memchr(p + 2, '\n', end - p - 2);
		if (!nl || nl - p - 2 >= (long)sizeof(r[n].name))
			break;
		memcpy(r[n].name, p + 2, nl - p - 2);
		r[n].name[nl - p - 2] = '\0';
		r[n].data = nl + 1;
		next = memmem(nl + 1, end - nl - 1, "\n@@", 3);
		r[n].len = (next ? next : end) - (nl + 1);
		p = next ? next + 1 : end;
		if (name_safe(r[n].name))
			n++;
	}
	return n;
}

/* Make the manifest's sizes and checksums match the written files. */
static void fix_manifest(const char *dir, struct rec *r, int n)
{
	cleanup_free char *path = xasprintf("%s/manifest.json", dir), *text = NULL;
	cleanup_json struct json *m = NULL;
	struct json *files;
	uint8_t sum[BUNDLE_SUM_BYTES];
	size_t len;

	if (read_file_at(AT_FDCWD, path, 1 << 20, &text, &len, NULL) < 0 ||
	    json_parse(text, len, &m, NULL) < 0)
		return;
	files = json_get(m, "files");
	for (size_t i = 0; i < json_len(files); i++) {
		struct json *f = json_at(files, i);
		const char *name = json_as_str(json_get(f, "name"));

		for (int k = 0; name && k < n; k++) {
			if (strcmp(name, r[k].name))
				continue;
			json_set(f, "size", json_int(r[k].len));
			bundle_digest(r[k].data, r[k].len, sum);
			json_set(f, BUNDLE_SUM_ALG, json_hexbuf(sum, sizeof(sum)));
		}
	}
	free(text);
	text = json_dump(m, true, &len);
	if (text)
		(void)write_file_at(AT_FDCWD, path, text, len, 0600, NULL);
}

static void read_all_members(const char *dir)
{
	struct ckpt_bundle *b = NULL;
	const struct json *files;
	ckpt_err_t err;

	if (bundle_open(dir, &insecure, &b, &err) < 0)
		return;
	files = json_get(bundle_manifest(b), "files");
	for (size_t i = 0; i < json_len(files); i++) {
		const char *name = json_as_str(json_get(json_at(files, i), "name"));
		struct json *j = NULL;

		if (name && bundle_get_json(b, name, &j, &err) == 0)
			json_free(j);
	}
	(void)bundle_check_host(b, &err);
	bundle_close(b);
}

static void remove_root(void)
{
	cleanup_free char *dir = xasprintf("%s/b", root);

	(void)bundle_rmtree(AT_FDCWD, dir);
	(void)rmdir(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec r[MAX_FILES];
	cleanup_free char *dir = NULL;
	ckpt_err_t err;
	FILE *devnull;
	int n;

	if (!root[0]) {
		snprintf(root, sizeof(root), "%s/bundle-fuzz-XXXXXX",
			 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (!mkdtemp(root))
			abort();
		atexit(remove_root);
	}
	if (size < 1)
		return 0;
	n = split(data + 1, size - 1, r);
	dir = xasprintf("%s/b", root);
	(void)bundle_rmtree(AT_FDCWD, dir);
	if (mkdir(dir, 0700) < 0)
		abort();
	for (int i = 0; i < n; i++) {
		cleanup_free char *p = xasprintf("%s/%s", dir, r[i].name);

		(void)write_file_at(AT_FDCWD, p, r[i].data, r[i].len, 0600, NULL);
	}
	if (data[0] & 1)
		fix_manifest(dir, r, n);
	read_all_members(dir);
	devnull = fopen("/dev/null", "we");
	if (devnull) {
		(void)ckpt_inspect(dir, "/nonexistent", NULL, devnull, data[0] & 2, &err);
		fclose(devnull);
	}
	return 0;
}
