/*
 * libckpt/bundle/inspect.c - ckpt_inspect(): what a bundle holds, for people
 * (text) or tools (--json). The bundle is verified by bundle_open() first,
 * so a corrupt bundle fails here exactly as it would fail restore; one
 * whose MAC does not verify is shown, its first line saying so.
 * Reads manifest.json, pstree.json, task-PID.json, files.json (for the
 * shared objects behind fds), the namespaces' documents, and for a
 * container oci.json and rootfs-diff.json; every engine key is optional
 * here, so inspect keeps working while the schema grows.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ckpt/bundle.h"
#include "ckpt/ckpt.h"
#include "files/files.h"
#include "mem/mem-incr.h"
#include "namespaces/cgroup.h"
#include "namespaces/mnt.h"
#include "namespaces/net.h"
#include "task/task.h"
#include "util/doc.h"
#include "util/json.h"
#include "util/util.h"

/*
 * Inspect shows what it can of a member: one missing or of another type is
 * "-" (a string) or 0 (a number), read through the checked accessors.
 */
static const struct doc_at inspect_at = {.file = "inspect"};

static const char *opt_str(const struct json *obj, const char *key, const char *dflt)
{
	const char *s = NULL;

	if (doc_opt_str(&inspect_at, obj, key, SIZE_MAX, &s, NULL) < 0)
		s = NULL;
	return s ? s : dflt;
}

/* A member that may be missing: "-" rather than "(null)". */
static const char *str_or(const struct json *obj, const char *key)
{
	return opt_str(obj, key, "-");
}

static long long int_or(const struct json *obj, const char *key)
{
	int64_t v = 0;

	if (doc_opt_int(&inspect_at, obj, key, INT64_MIN, INT64_MAX, 0, &v, NULL) < 0)
		v = 0;
	return v;
}

static uint64_t hex_or(const struct json *obj, const char *key)
{
	uint64_t v = 0;

	if (json_get_hex(obj, key, &v, NULL) < 0)
		return 0;
	return v;
}

static void print_int_list(FILE *out, const struct json *arr)
{
	for (size_t i = 0; i < json_len(arr); i++) {
		int64_t v = 0;

		if (doc_elem_int(&inspect_at, arr, i, INT64_MIN, INT64_MAX, &v, NULL) < 0)
			v = 0;
		fprintf(out, "%s%lld", i ? "," : "", (long long)v);
	}
}

/* What the MAC says, in words a person acts on. */
static const char *const mac_words[] = {
	[BUNDLE_MAC_VERIFIED] = "verified (written with this key, not altered since)",
	[BUNDLE_MAC_NONE] = "none: not authenticated",
	[BUNDLE_MAC_BAD] = "BAD: altered after it was written, or written with another key",
	[BUNDLE_MAC_NO_KEY] = "not checked: no key here (give --key FILE)",
};

static void print_manifest(FILE *out, const struct ckpt_bundle *b)
{
	const struct json *m = bundle_manifest(b);
	const struct json *fmt = json_get(m, "format"), *host = json_get(m, "host");
	const struct json *files = json_get(m, "files");

	fprintf(out, "mac:       %s\n", mac_words[bundle_mac_status(b)]);
	fprintf(out, "format:    %lld.%lld\n", int_or(fmt, "major"), int_or(fmt, "minor"));
	fprintf(out, "tool:      %s\n", str_or(m, "tool"));
	fprintf(out, "created:   %s\n", str_or(m, "created"));
	fprintf(out, "host:      kernel %s, page size %lld, xcr0 %s\n", str_or(host, "kernel"),
		int_or(host, "page_size"), str_or(host, "xcr0"));
	fprintf(out, "cpu:       %s\n", str_or(host, "cpu_model"));
	if (bundle_sealed_with(b)) {
		const struct json *seal = json_get(m, "seal");
		long long stored = 0, plain = 0;

		for (size_t i = 0; i < json_len(files); i++) {
			stored += int_or(json_at(files, i), "size");
			plain += int_or(json_at(files, i), "plain_size");
		}
		fprintf(out, "sealed:    %s%s%s%s, %lld bytes stored for %lld (%.1f%%)\n",
			bundle_sealed_with(b), json_get(seal, "key_id") ? " (key id " : "",
			opt_str(seal, "key_id", ""), json_get(seal, "key_id") ? ")" : "", stored,
			plain, plain ? 100.0 * stored / plain : 100.0);
	}
	fprintf(out, "files:     %zu\n", json_len(files));
	for (size_t i = 0; i < json_len(files); i++) {
		const struct json *f = json_at(files, i);

		fprintf(out, "  %12lld  %.16s  %s", int_or(f, "size"), str_or(f, "blake2b"),
			str_or(f, "name"));
		if (json_get(f, "plain_size"))
			fprintf(out, " (%lld bytes plain)", int_or(f, "plain_size"));
		fputc('\n', out);
	}
}

static void print_pstree(FILE *out, const struct json *tree)
{
	const struct json *tasks = json_get(tree, "tasks");

	fprintf(out, "\nprocess tree (root %lld):\n", int_or(tree, "root"));
	fprintf(out, "  %7s %7s %7s %7s %-5s %-16s %s\n", "PID", "PPID", "PGID", "SID", "STATE",
		"COMM", "THREADS");
	for (size_t i = 0; i < json_len(tasks); i++) {
		const struct json *t = json_at(tasks, i);

		fprintf(out, "  %7lld %7lld %7lld %7lld %-5s %-16s ", int_or(t, "pid"),
			int_or(t, "ppid"), int_or(t, "pgid"), int_or(t, "sid"), str_or(t, "state"),
			str_or(t, "comm"));
		print_int_list(out, json_get(t, "threads"));
		fputc('\n', out);
	}
}

/*
 * The task state rooms describe a task (task/task.h); a document they
 * cannot read, restore would refuse too: inspect says why on one line.
 */
static void print_task_state(FILE *out, const struct json *t)
{
	ckpt_err_t e = {0};
	struct task_state *ts;
	struct doc_at at;
	bool zombie = false;
	char name[64];

	snprintf(name, sizeof(name), "task-%lld.json", int_or(t, "pid"));
	at = DOC_TOP(name);
	/* a zombie has no state left but its exit code */
	if (doc_opt_bool(&at, t, "zombie", false, &zombie, &e) < 0 || zombie) {
		ckpt_error_clear(&e);
		return;
	}
	ts = task_state_parse(name, t, &e);
	if (!ts) {
		fprintf(out, "  state:   not restorable: %s\n", e.msg);
		ckpt_error_clear(&e);
		return;
	}
	task_state_describe(out, ts);
	task_state_free(ts);
}

/* A bundle document if the bundle holds it, else NULL (not an error). */
static int get_optional(struct ckpt_bundle *b, const char *name, struct json **out, ckpt_err_t *err)
{
	*out = NULL;
	if (!bundle_has_file(b, name))
		return 0;
	return bundle_get_json(b, name, out, err);
}

/*
 * Which runtime, root and name a container came from (oci.json), and what
 * of its root directory the bundle carries (rootfs-diff.json).
 */
static int print_container(struct ckpt_bundle *b, FILE *out, ckpt_err_t *err)
{
	cleanup_json struct json *oci = NULL, *diff = NULL;
	int ret;

	ret = get_optional(b, "oci.json", &oci, err);
	if (ret == 0)
		ret = get_optional(b, "rootfs-diff.json", &diff, err);
	if (ret < 0 || !oci)
		return ret;
	fprintf(out, "container: %s, runtime %s, root %s\n", str_or(oci, "id"),
		str_or(oci, "runtime"), str_or(oci, "root"));
	if (diff)
		fprintf(out, "rootfs:    %s: %lld entries changed since %s, %lld bytes\n",
			str_or(diff, "rootfs"), int_or(diff, "entries"), str_or(diff, "since"),
			int_or(diff, "bytes"));
	else
		fprintf(out, "rootfs:    changes not saved (read-only root or --no-rootfs)\n");
	return 0;
}

/* The vdso the task started with: restore maps a proxy if this host's differs. */
static void print_vdso(FILE *out, const struct json *v)
{
	if (!v)
		return;
	fprintf(out,
		"  vdso:    text %lld bytes, vvar %lld bytes, hash 0x%" PRIx64 ", %zu symbols\n",
		int_or(v, "text_size"), int_or(v, "vvar_size"), hex_or(v, "hash"),
		json_len(json_get(v, "symbols")));
}

static int print_task(FILE *out, const struct json *t, const struct json *files, ckpt_err_t *err)
{
	char file[64];
	int ret;

	const struct json *threads = json_get(t, "threads"), *vmas = json_get(t, "vmas");
	const struct json *fds = json_get(t, "fds");

	fprintf(out, "\ntask %lld (%s)\n", int_or(t, "pid"), str_or(t, "comm"));
	fprintf(out, "  exe:     %s\n  cwd:     %s\n", str_or(t, "exe"), str_or(t, "cwd"));
	print_vdso(out, json_get(t, "vdso"));
	print_task_state(out, t);
	fprintf(out, "  threads: %zu\n", json_len(threads));
	for (size_t i = 0; i < json_len(threads); i++) {
		const struct json *th = json_at(threads, i);
		const struct json *gpr = json_get(json_get(th, "regs"), "gpr");

		fprintf(out,
			"    tid %-7lld %-16s rip 0x%016" PRIx64 " rsp 0x%016" PRIx64
			" sigmask 0x%" PRIx64 " pending %zu%s\n",
			int_or(th, "tid"), str_or(th, "comm"), hex_or(gpr, "rip"),
			hex_or(gpr, "rsp"), hex_or(th, "sigmask"),
			json_len(json_get(th, "pending")), json_get(th, "rseq") ? " rseq" : "");
	}
	fprintf(out, "  vmas:    %zu\n", json_len(vmas));
	for (size_t i = 0; i < json_len(vmas); i++) {
		const struct json *v = json_at(vmas, i);
		uint64_t start = hex_or(v, "start"), end = hex_or(v, "end");

		fprintf(out, "    %012" PRIx64 "-%012" PRIx64 " %-4s %8" PRIu64 "K %s\n", start,
			end, str_or(v, "prot"), end > start ? (end - start) >> 10 : 0,
			opt_str(v, "path", ""));
	}
	/* each kind says what matters of its fds (fd_ops describe) */
	fprintf(out, "  fds:     %zu\n", json_len(fds));
	snprintf(file, sizeof(file), "task-%lld.json", int_or(t, "pid"));
	for (size_t i = 0; i < json_len(fds); i++) {
		ret = files_describe(json_at(fds, i), file, i, files, out, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* task-PID.json for every task of pstree.json that the bundle holds. */
static int load_tasks(struct ckpt_bundle *b, const struct json *tree, struct json *tasks,
		      ckpt_err_t *err)
{
	const struct json *list = json_get(tree, "tasks");
	char name[64];

	for (size_t i = 0; i < json_len(list); i++) {
		long long pid = int_or(json_at(list, i), "pid");
		struct json *t = NULL;
		int ret;

		snprintf(name, sizeof(name), "task-%lld.json", pid);
		if (!bundle_has_file(b, name))
			continue;
		ret = bundle_get_json(b, name, &t, err);
		if (ret < 0)
			return ret;
		snprintf(name, sizeof(name), "%lld", pid);
		json_set(tasks, name, t);
	}
	return 0;
}

static void print_ns_list(FILE *out, const char *title, const struct json *list)
{
	fprintf(out, "%s", title);
	for (size_t i = 0; i < json_len(list); i++) {
		const char *s = NULL;

		if (doc_elem_str(&inspect_at, list, i, SIZE_MAX, &s, NULL) < 0)
			s = NULL;
		fprintf(out, " %s", s ?: "?");
	}
}

/* Mount point, type, kind, options, then propagation with its peer groups. */
static int print_mounts(FILE *out, const struct json *doc, ckpt_err_t *err)
{
	cleanup_free struct mnt_rec *m = NULL;
	size_t n;
	int ret = mnt_doc_read(doc, &m, &n, err);

	if (ret < 0)
		return ret;
	fprintf(out, "mounts:    %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const char *prop = m[i].propagation ?: "-";

		fprintf(out, "    %-24s %-8s %-8s %s", m[i].mountpoint, m[i].fstype, m[i].kind,
			m[i].options ?: "-");
		/* the group ids (0: none) say shared and slave; only unbindable needs its name */
		if (m[i].shared <= 0 && m[i].master <= 0 && strcmp(prop, "private") &&
		    strcmp(prop, "-"))
			fprintf(out, " %s", prop);
		if (m[i].shared > 0)
			fprintf(out, " shared:%d", m[i].shared);
		if (m[i].master > 0)
			fprintf(out, " master:%d", m[i].master);
		fputc('\n', out);
	}
	return 0;
}

static int print_net(FILE *out, const struct json *doc, ckpt_err_t *err)
{
	struct net_doc d;
	int ret = net_doc_read(doc, &d, err);

	if (ret < 0)
		return ret;
	fprintf(out, "network:   %zu links, %zu addresses, %zu routes\n", d.nlinks, d.naddrs,
		d.nroutes);
	for (size_t i = 0; i < d.nlinks; i++) {
		const struct net_link *l = &d.links[i];

		fprintf(out, "    %-10s %-8s %s mtu %u", l->name, l->kind, l->up ? "up  " : "down",
			l->mtu);
		for (size_t k = 0; k < d.naddrs; k++)
			if (d.addrs[k].index == l->index)
				fprintf(out, " %s/%d", d.addrs[k].addr, d.addrs[k].prefixlen);
		fputc('\n', out);
	}
	net_doc_free(&d);
	return 0;
}

/* Each hierarchy's cgroup ("v2" for the unified one) and the limits saved there. */
static int print_cgroups(FILE *out, const struct json *doc, ckpt_err_t *err)
{
	struct cg_doc d;
	int ret = cg_doc_read(doc, &d, err);

	if (ret < 0)
		return ret;
	fprintf(out, "cgroups:   %zu\n", d.ncgroups);
	for (size_t i = 0; i < d.ncgroups; i++) {
		const struct cg_entry *c = &d.cgroups[i];

		fprintf(out, "    %-24s %s", *c->controllers ? c->controllers : "v2", c->path);
		for (size_t k = 0; k < c->nlim; k++)
			fprintf(out, "%s%s=%s", k ? ", " : " (", c->lim_file[k], c->lim_val[k]);
		fprintf(out, "%s\n", c->nlim ? ")" : "");
	}
	cg_doc_free(&d);
	return 0;
}

/* The tree's namespaces and what was saved of each. */
static int print_namespaces(struct ckpt_bundle *b, FILE *out, ckpt_err_t *err)
{
	static const char *const docs[] = {"uts.json", "mounts.json", "net.json", "cgroup.json"};
	struct json *d[ARRAY_SIZE(docs)] = {NULL};
	cleanup_json struct json *ns = NULL;
	int ret;

	ret = get_optional(b, "ns.json", &ns, err);
	for (size_t i = 0; ret == 0 && i < ARRAY_SIZE(docs); i++)
		ret = get_optional(b, docs[i], &d[i], err);
	if (ret == 0 && ns) {
		print_ns_list(out, "\nnamespaces of its own:", json_get(ns, "owned"));
		fprintf(out, "%s\n",
			json_len(json_get(ns, "owned")) ? "" : " none (the caller's are used)");
		/* shared with the caller, but the tree's part saved (a container's cgroups) */
		if (json_len(json_get(ns, "joined"))) {
			print_ns_list(out, "namespaces joined, the tree's part saved:",
				      json_get(ns, "joined"));
			fputc('\n', out);
		}
		if (d[0])
			fprintf(out, "hostname:  %s (domain %s)\n", str_or(d[0], "nodename"),
				str_or(d[0], "domainname"));
		if (d[1])
			ret = print_mounts(out, d[1], err);
		if (ret == 0 && d[2])
			ret = print_net(out, d[2], err);
		if (ret == 0 && d[3])
			ret = print_cgroups(out, d[3], err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(docs); i++)
		json_free(d[i]);
	return ret;
}

/*
 * --json: the manifest, the tree, every task, files.json, and for a
 * container its runtime, root, id and rootfs changes ("container").
 */
static int inspect_json(struct ckpt_bundle *b, FILE *out, struct json *tree, struct json *tasks,
			struct json *files, ckpt_err_t *err)
{
	cleanup_json struct json *doc = json_obj(), *oci = NULL, *diff = NULL;
	cleanup_free char *text = json_dump(bundle_manifest(b), false, NULL);
	struct json *m = NULL, *c;
	int ret;

	/* doc owns them from here; the manifest takes its place first */
	json_set(doc, "manifest", json_null());
	json_set(doc, "pstree", tree);
	json_set(doc, "tasks", tasks);
	json_set(doc, "files", files);
	/* the manifest stays owned by the bundle: put a copy in the document */
	ret = json_parse(text, strlen(text), &m, err);
	if (ret < 0)
		return ret;
	json_set(doc, "manifest", m);
	json_set(doc, "mac", json_str(bundle_mac_name(bundle_mac_status(b))));
	ret = get_optional(b, "oci.json", &oci, err);
	if (ret == 0)
		ret = get_optional(b, "rootfs-diff.json", &diff, err);
	if (ret == 0 && bundle_has_file(b, CHAIN_DOC)) {
		struct json *chain = NULL;

		ret = bundle_get_json(b, CHAIN_DOC, &chain, err);
		if (ret == 0)
			json_set(doc, "chain", chain);
	}
	if (ret < 0)
		return ret;
	if (oci) {
		c = json_set(doc, "container", json_obj());
		json_set(c, "runtime", json_str(opt_str(oci, "runtime", NULL)));
		json_set(c, "root", json_str(opt_str(oci, "root", NULL)));
		json_set(c, "id", json_str(opt_str(oci, "id", NULL)));
		json_set(c, "rootfs_diff", diff ? steal_pointer(&diff) : json_null());
	}
	free(text);
	text = json_dump(doc, true, NULL);
	fprintf(out, "%s\n", text);
	return 0;
}

static int inspect_bundle(struct ckpt_bundle *b, FILE *out, bool as_json, ckpt_err_t *err)
{
	cleanup_json struct json *tree = NULL, *tasks = json_obj(), *files = NULL;
	int ret;

	if (bundle_has_file(b, "pstree.json")) {
		ret = bundle_get_json(b, "pstree.json", &tree, err);
		if (ret < 0)
			return ret;
		ret = load_tasks(b, tree, tasks, err);
		if (ret < 0)
			return ret;
	}
	ret = get_optional(b, "files.json", &files, err);
	if (ret < 0)
		return ret;
	if (as_json)
		return inspect_json(b, out, steal_pointer(&tree), steal_pointer(&tasks),
				    steal_pointer(&files), err);
	print_manifest(out, b);
	ret = mem_chain_describe(b, out, err);
	if (ret == 0)
		ret = print_container(b, out, err);
	if (ret < 0)
		return ret;
	if (tree)
		print_pstree(out, tree);
	ret = print_namespaces(b, out, err);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < json_len(tasks); i++) {
		ret = print_task(out, json_at(tasks, i), files, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ckpt_inspect(const char *bundle, const char *key_file, const char *decrypt_key, FILE *out,
		 bool json, ckpt_err_t *err)
{
	/* a bundle that does not authenticate is shown, saying so, never restored */
	struct bundle_auth auth = {.key_file = key_file,
				   .insecure = true,
				   .quiet = true,
				   .seal_key_file = decrypt_key};
	struct ckpt_bundle *b = NULL;
	int ret;

	ret = bundle_open(bundle, &auth, &b, err);
	if (ret < 0)
		return ret;
	ret = inspect_bundle(b, out, json, err);
	bundle_close(b);
	if (ret < 0)
		return ckpt_error_wrap(err, "bundle `%s`", bundle);
	if (fflush(out) == EOF || ferror(out))
		return ckpt_error(err, errno, "write output");
	return 0;
}
