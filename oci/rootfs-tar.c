/*
 * oci/rootfs-tar.c - rootfs-diff.tar written and read with libarchive, in
 * a child of ckpt-oci (util/spawn) that works from inside the directory,
 * as `tar --directory` did: no tar program is looked up or run.
 *
 * Written: the NUL-separated names on stdin ("./etc/x", from the root's
 * walk, never through a link: rootfs.c) but sockets (a bound socket's file
 * is made by that socket's restore), each with its owner and group as
 * numbers, mode, times, extended attributes and, for a file, its data;
 * hard links within the list are kept as links. POSIX pax format, as GNU
 * tar reads it. Read: into the staging directory, owners, modes, times and
 * extended attributes kept, never through a symbolic link, never above the
 * directory (no `..`, no absolute name): rootfs-apply.c then moves the
 * entries into the root. A failure is one line on stderr.
 */
#define LOG_PREFIX "rootfs: "
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/oci.h"
#include "util/util.h"

#define TAR_BLOCK 10240

static int tar_fail(struct archive *a, const char *what, const char *name)
{
	fprintf(stderr, "%s `%s`: %s\n", what, name,
		a ? archive_error_string(a) ?: "failed" : strerror(errno));
	return 1;
}

/* One name's data, read through a descriptor opened without following links. */
static int tar_copy(struct archive *a, const char *name)
{
	char buf[64 << 10];
	int fd = open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return tar_fail(NULL, "open", name);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, n) != n) {
			close(fd);
			return tar_fail(a, "write", name);
		}
	close(fd);
	return n < 0 ? tar_fail(NULL, "read", name) : 0;
}

static int tar_put(struct archive *a, struct archive_entry *e)
{
	const char *name = archive_entry_pathname(e);

	if (archive_write_header(a, e) < ARCHIVE_WARN)
		return tar_fail(a, "header of", name);
	if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
	    !archive_entry_hardlink(e))
		return tar_copy(a, name);
	return 0;
}

/* Child: the names on stdin, read from directory arg (the root), as a tar on stdout. */
int rootfs_tar_create(void *arg)
{
	struct archive *a = archive_write_new(), *disk = archive_read_disk_new();
	struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
	FILE *in = fdopen(STDIN_FILENO, "r");
	char *name = NULL;
	size_t cap = 0;
	int ret = 0;

	if (chdir(arg) < 0)
		return tar_fail(NULL, "enter", arg);
	if (!a || !disk || !links || !in)
		return tar_fail(NULL, "start", "libarchive");
	archive_read_disk_set_symlink_physical(disk);
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, TAR_BLOCK) != ARCHIVE_OK ||
	    archive_write_open_fd(a, STDOUT_FILENO) != ARCHIVE_OK)
		return tar_fail(a, "open", "stdout");
	archive_entry_linkresolver_set_strategy(links, archive_format(a));
	while (ret == 0 && getdelim(&name, &cap, '\0', in) > 0) {
		struct archive_entry *e = archive_entry_new(), *sparse = NULL;

		archive_entry_copy_sourcepath(e, name);
		archive_entry_copy_pathname(e, name);
		if (archive_read_disk_entry_from_file(disk, e, -1, NULL) < ARCHIVE_WARN) {
			/* gone since the walk: nothing to keep */
			archive_entry_free(e);
			continue;
		}
		if (archive_entry_filetype(e) == AE_IFSOCK) {
			/* a socket file is made again by its socket's restore (tar skips them too)
			 */
			archive_entry_free(e);
			continue;
		}
		archive_entry_sparse_clear(e);
		/* owners as numbers only, as --numeric-owner */
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		archive_entry_linkify(links, &e, &sparse);
		if (e)
			ret = tar_put(a, e);
		if (ret == 0 && sparse)
			ret = tar_put(a, sparse);
		archive_entry_free(e);
		archive_entry_free(sparse);
	}
	free(name);
	if (ret == 0 && archive_write_close(a) != ARCHIVE_OK)
		ret = tar_fail(a, "close", "stdout");
	archive_entry_linkresolver_free(links);
	archive_read_free(disk);
	archive_write_free(a);
	return ret;
}

/* A name to extract: relative, and no `..` in it. */
static bool tar_name_ok(const char *name)
{
	const char *p = name;

	if (name[0] == '/')
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && !strncmp(p, "..", 2))
			return false;
		p += n + (p[n] == '/');
	}
	return true;
}

/* Child: the tar on stdin, extracted into directory arg (the staging directory). */
int rootfs_tar_extract(void *arg)
{
	struct archive *a = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	int r;

	if (chdir(arg) < 0)
		return tar_fail(NULL, "enter", arg);
	if (!a || !out)
		return tar_fail(NULL, "start", "libarchive");
	archive_read_support_format_tar(a);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
						    ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						    ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
	if (archive_read_open_fd(a, STDIN_FILENO, TAR_BLOCK) != ARCHIVE_OK)
		return tar_fail(a, "open", "rootfs-diff.tar");
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
		const void *buf;
		size_t len;
		int64_t off;

		if (!tar_name_ok(name) || (link && !tar_name_ok(link))) {
			fprintf(stderr, "`%s`: a name leaving the root directory\n", name);
			return 1;
		}
		if (archive_write_header(out, e) < ARCHIVE_WARN)
			return tar_fail(out, "extract", name);
		while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, buf, len, off) < ARCHIVE_WARN)
				return tar_fail(out, "write", name);
		if (r != ARCHIVE_EOF)
			return tar_fail(a, "read", name);
		if (archive_write_finish_entry(out) < ARCHIVE_WARN)
			return tar_fail(out, "finish", name);
	}
	if (r != ARCHIVE_EOF)
		return tar_fail(a, "read", "rootfs-diff.tar");
	if (archive_write_close(out) != ARCHIVE_OK)
		return tar_fail(out, "close", "the staging directory");
	archive_write_free(out);
	archive_read_free(a);
	return 0;
}
