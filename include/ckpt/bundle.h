/*
 * include/ckpt/bundle.h - the bundle: a directory of JSON documents and raw
 * images, described by manifest.json (format version, tool version, source
 * host, and every file's size and checksum).
 *
 * Writing: bundle_create() makes NAME.tmp (0700); files are added (0600);
 * bundle_commit() writes the manifest, fsyncs, and renames NAME.tmp to NAME.
 * Reading: bundle_open() verifies everything before anyone trusts a byte.
 */
#ifndef CKPT_BUNDLE_H
#define CKPT_BUNDLE_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ckpt/error.h"

struct json;
struct ckpt_bundle;
struct bundle_image;

#define BUNDLE_FORMAT_MAJOR 1
#define BUNDLE_FORMAT_MINOR 0
/* Largest JSON document a reader accepts. */
#define BUNDLE_JSON_MAX (64u << 20)

/* --- writing --- */
int bundle_create(const char *path, struct ckpt_bundle **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Add a JSON document (pretty-printed). */
int bundle_put_json(struct ckpt_bundle *b, const char *name, const struct json *doc,
		    ckpt_err_t *err) __attribute__((warn_unused_result));
/* Stream a raw image: checksum and size are computed as bytes are written. */
int bundle_image_create(struct ckpt_bundle *b, const char *name, struct bundle_image **out,
			ckpt_err_t *err) __attribute__((warn_unused_result));
int bundle_image_write(struct bundle_image *img, const void *buf, size_t len, ckpt_err_t *err)
	__attribute__((warn_unused_result));
uint64_t bundle_image_size(const struct bundle_image *img);
/* Finish an image: record its size and checksum for the manifest, close it. */
int bundle_image_close(struct bundle_image *img, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Drop an unfinished image (error paths); accepts NULL. */
void bundle_image_abort(struct bundle_image *img);
/* Write manifest.json, fsync every file and the directory, rename into place. */
int bundle_commit(struct ckpt_bundle *b, ckpt_err_t *err) __attribute__((warn_unused_result));

/* --- reading --- */
/* Verify manifest, versions, file list, sizes and checksums; then open. */
int bundle_open(const char *path, struct ckpt_bundle **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
int bundle_get_json(struct ckpt_bundle *b, const char *name, struct json **out, ckpt_err_t *err)
	__attribute__((warn_unused_result));
/* Open a listed file read-only (O_CLOEXEC); *size from the manifest. */
int bundle_open_file(struct ckpt_bundle *b, const char *name, int *fd, uint64_t *size,
		     ckpt_err_t *err) __attribute__((warn_unused_result));
/* true when the manifest lists name. */
int bundle_has_file(struct ckpt_bundle *b, const char *name);
const struct json *bundle_manifest(const struct ckpt_bundle *b);
const char *bundle_path(const struct ckpt_bundle *b);
int bundle_dirfd(const struct ckpt_bundle *b);

/*
 * Close either kind. A bundle being written that was not committed is
 * removed (NAME.tmp and all in it): a failed checkpoint leaves nothing.
 */
void bundle_close(struct ckpt_bundle *b);

/*
 * Remove name (in parentfd) and everything below it, never following a
 * link (O_NOFOLLOW, unlinkat); 0 when gone or absent, else -errno.
 */
int bundle_rmtree(int parentfd, const char *name);

/* Host facts recorded in and checked against the manifest. */
struct bundle_host {
	char kernel[128];
	char cpu_model[128];
	uint64_t xcr0;	   /* XSAVE feature mask, 0 without XSAVE */
	long page_size;
};
void bundle_host_probe(struct bundle_host *h);
/* Refuse a bundle whose CPU state this host cannot hold (xcr0 not a subset). */
int bundle_check_host(const struct ckpt_bundle *b, ckpt_err_t *err)
	__attribute__((warn_unused_result));

#endif
