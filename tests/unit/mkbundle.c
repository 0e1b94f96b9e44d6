/*
 * tests/unit/mkbundle.c - test-only tool: write a small valid bundle
 * through the bundle API (pstree.json, task-PID.json, pages-PID.img), in
 * the shape the engine writes, for the inspect tests.
 *
 *	mkbundle PATH [KEYFILE]		(default key: this host's, made if missing)
 *	mkbundle --reseal PATH [KEYFILE]	(sizes and digests of manifest.json made
 *						 true again after a test edited a file,
 *						 and the manifest MAC'd again with the
 *						 key: what only a key holder can do)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle/bundle-priv.h"
#include "ckpt/bundle.h"
#include "util/json.h"
#include "util/util.h"

static struct json *pstree(void)
{
	struct json *t = json_obj(), *tasks, *task, *thr;

	json_set(t, "root", json_int(100));
	tasks = json_set(t, "tasks", json_arr());
	for (int pid = 100; pid <= 101; pid++) {
		task = json_push(tasks, json_obj());
		json_set(task, "pid", json_int(pid));
		json_set(task, "ppid", json_int(pid == 100 ? 1 : 100));
		json_set(task, "pgid", json_int(100));
		json_set(task, "sid", json_int(100));
		json_set(task, "comm", json_str(pid == 100 ? "sh" : "sleep"));
		json_set(task, "state", json_str("S"));
		thr = json_set(task, "threads", json_arr());
		json_push(thr, json_int(pid));
	}
	return t;
}

static struct json *task(int pid)
{
	struct json *t = json_obj(), *creds, *a, *th, *v, *fds;

	json_set(t, "pid", json_int(pid));
	json_set(t, "comm", json_str(pid == 100 ? "sh" : "sleep"));
	json_set(t, "exe", json_str("/bin/busybox"));
	json_set(t, "cwd", json_str("/"));
	a = json_set(t, "threads", json_arr());
	th = json_push(a, json_obj());
	json_set(th, "tid", json_int(pid));
	/* as the engine writes them: creds per thread, registers under "gpr" */
	creds = json_set(th, "creds", json_obj());
	a = json_set(creds, "uids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(0));
	a = json_set(creds, "gids", json_arr());
	for (int i = 0; i < 4; i++)
		json_push(a, json_int(0));
	json_set(creds, "groups", json_arr());
	json_set(creds, "cap_eff", json_hex(0x1ffffffffffULL));
	v = json_set(json_set(th, "regs", json_obj()), "gpr", json_obj());
	json_set(v, "rip", json_hex(0x401000));
	json_set(v, "rsp", json_hex(0x7ffc0000f000ULL));
	json_set(th, "sigmask", json_hex(0));
	a = json_set(t, "vmas", json_arr());
	v = json_push(a, json_obj());
	json_set(v, "start", json_hex(0x400000));
	json_set(v, "end", json_hex(0x402000));
	json_set(v, "prot", json_str("r-xp"));
	json_set(v, "path", json_str("/bin/busybox"));
	v = json_push(a, json_obj());
	json_set(v, "start", json_hex(0x7ffc00000000ULL));
	json_set(v, "end", json_hex(0x7ffc00021000ULL));
	json_set(v, "prot", json_str("rw-p"));
	json_set(v, "path", json_str("[stack]"));
	fds = json_set(t, "fds", json_arr());
	for (int fd = 0; fd < 3; fd++) {
		v = json_push(fds, json_obj());
		json_set(v, "fd", json_int(fd));
		json_set(v, "kind", json_str("chr"));
		json_set(v, "flags", json_int(02));
		json_set(v, "pos", json_int(0));
		json_set(v, "path", json_str("/dev/null"));
	}
	return t;
}

static int write_bundle(const char *path, const char *key, ckpt_err_t *err)
{
	struct ckpt_bundle *b = NULL;
	struct bundle_image *img = NULL;
	char name[64], page[4096];
	int ret;

	ret = bundle_create(path, &(struct bundle_auth){.key_file = key}, &b, err);
	for (int pid = 100; ret == 0 && pid <= 101; pid++) {
		cleanup_json struct json *t = task(pid);

		snprintf(name, sizeof(name), "task-%d.json", pid);
		ret = bundle_put_json(b, name, t, err);
		snprintf(name, sizeof(name), "pages-%d.img", pid);
		if (ret == 0)
			ret = bundle_image_create(b, name, &img, err);
		for (int i = 0; ret == 0 && i < 4; i++) {
			memset(page, 'a' + i, sizeof(page));
			ret = bundle_image_write(img, page, sizeof(page), err);
		}
		if (ret == 0)
			ret = bundle_image_close(steal_pointer(&img), err);
	}
	if (ret == 0) {
		cleanup_json struct json *t = pstree();

		ret = bundle_put_json(b, "pstree.json", t, err);
	}
	if (ret == 0)
		ret = bundle_commit(b, err);
	bundle_image_abort(img);
	bundle_close(b);
	return ret;
}

/* The whole of dir/name in a buffer (the files a test edits are small). */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	cleanup_free char *path = xasprintf("%s/%s", dir, name);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;

	if (fd < 0 || fstat(fd, &st) < 0)
		return NULL;
	buf = xzalloc(st.st_size + 1);
	if (read_all(fd, buf, st.st_size) != st.st_size) {
		free(buf);
		return NULL;
	}
	*len = st.st_size;
	return buf;
}

static int reseal(const char *dir, const char *key, ckpt_err_t *err)
{
	struct ckpt_bundle b = {.dirfd = -1};
	int ret;
	cleanup_json struct json *m = NULL;
	cleanup_free char *text = NULL, *out = NULL, *path = NULL;
	struct json *files;
	size_t len;

	text = slurp(dir, "manifest.json", &len);
	if (!text)
		return ckpt_error(err, errno, "read %s/manifest.json", dir);
	if (json_parse(text, len, &m, err) < 0)
		return -EPROTO;
	files = json_get(m, "files");
	for (size_t i = 0; i < json_len(files); i++) {
		struct json *f = json_at(files, i);
		const char *name = json_as_str(json_get(f, "name"));
		cleanup_free char *data = name ? slurp(dir, name, &len) : NULL;
		uint8_t sum[BUNDLE_SUM_BYTES];

		if (!data)
			return ckpt_error(err, errno, "read %s/%s", dir, name ?: "?");
		bundle_digest(data, len, sum);
		json_set(f, "size", json_int(len));
		json_set(f, BUNDLE_SUM_ALG, json_hexbuf(sum, sizeof(sum)));
	}
	out = json_dump(m, true, &len);
	path = xasprintf("%s/manifest.json", dir);
	ret = write_file_at(AT_FDCWD, path, out, len, 0644, err);
	if (ret < 0)
		return ret;
	b.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.dirfd < 0)
		return ckpt_error(err, errno, "open %s", dir);
	ret = bundle_key_load(&b, &(struct bundle_auth){.key_file = key}, false, err);
	if (ret == 0)
		ret = bundle_mac_write(&b, out, len, err);
	close(b.dirfd);
	return ret;
}

int main(int argc, char **argv)
{
	ckpt_err_t err = {0};

	if ((argc == 3 || argc == 4) && !strcmp(argv[1], "--reseal")) {
		if (reseal(argv[2], argc == 4 ? argv[3] : NULL, &err) < 0) {
			fprintf(stderr, "mkbundle: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: mkbundle [--reseal] PATH [KEYFILE]\n");
		return 2;
	}
	if (write_bundle(argv[1], argc == 3 ? argv[2] : NULL, &err) < 0) {
		fprintf(stderr, "mkbundle: %s\n", err.msg);
		return 1;
	}
	return 0;
}
