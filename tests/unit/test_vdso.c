/*
 * tests/unit/test_vdso.c - the vdso image parser and the proxy builder
 * (libckpt/mem/vdso.c) on this host's own vdso: symbols found, hash stable,
 * damaged images refused without a crash, the "vdso" JSON read back and
 * checked, and proxies built for a host whose vdso differs -- a jump that
 * really lands in the vdso, a syscall stub for a missing symbol, and the
 * clear refusals (unknown symbol missing, symbols too close, no symbols).
 *
 * vdso.c is included, not linked: the unit tests link a fixed list of
 * engine objects (tests/unit/module.mk), and vdso.c needs nothing more
 * than that list holds.
 */
#include "../../libckpt/mem/vdso.c"

#include <sched.h>
#include <sys/mman.h>
#include <time.h>

#include "tap.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);

static uint64_t sym_off(const struct vdso_info *v, const char *name)
{
	const struct vdso_sym *s = sym_find(v, name);

	return s ? s->off : UINT64_MAX;
}

/* A copy of v without the symbols named name and __vdso_name. */
static void drop_sym(struct vdso_info *v, const char *name)
{
	char alias[VDSO_NAME_MAX];
	int k = 0;

	snprintf(alias, sizeof(alias), "__vdso_%s", name);
	for (int i = 0; i < v->nsyms; i++)
		if (strcmp(v->syms[i].name, name) && strcmp(v->syms[i].name, alias))
			v->syms[k++] = v->syms[i];
	v->nsyms = k;
}

static void test_parse(const struct vdso_info *host)
{
	const uint8_t *text = (const uint8_t *)getauxval(AT_SYSINFO_EHDR);
	struct vdso_info *v = xzalloc(sizeof(*v));
	uint8_t *copy = xzalloc(host->text_size);
	ckpt_err_t err = {0};
	int crashes = 0;

	ok(host->nsyms >= 4, "this host's vdso: %d symbols", host->nsyms);
	ok(sym_off(host, "__vdso_clock_gettime") < host->text_size, "__vdso_clock_gettime found");
	is_int(sym_off(host, "clock_gettime"), sym_off(host, "__vdso_clock_gettime"),
	       "clock_gettime and __vdso_clock_gettime are one function");
	ok(!sym_find(host, "LINUX_2.6"), "the version definition is no function");
	ok(host->vvar_size > 0 && !(host->vvar_size % PAGE_SIZE), "vvar %lu bytes",
	   (unsigned long)host->vvar_size);

	memcpy(copy, text, host->text_size);
	is_int(vdso_parse(copy, host->text_size, v, &err), 0, "a copy parses");
	is_int(v->hash, host->hash, "same hash");
	is_int(v->nsyms, host->nsyms, "same symbols");

	/* without DT_HASH the symbols are counted through DT_GNU_HASH */
	{
		const Elf64_Ehdr *eh = (const void *)copy;
		const Elf64_Phdr *ph = (const void *)(copy + eh->e_phoff);
		int hid = 0;

		for (int i = 0; i < eh->e_phnum; i++)
			for (Elf64_Dyn *d = (void *)(copy + ph[i].p_offset);
			     ph[i].p_type == PT_DYNAMIC && d->d_tag != DT_NULL; d++)
				if (d->d_tag == DT_HASH) {
					d->d_tag = DT_DEBUG;
					hid = 1;
				}
		if (hid) {
			ok(vdso_parse(copy, host->text_size, v, &err) == 0 &&
				   v->nsyms == host->nsyms,
			   "DT_GNU_HASH alone: %d symbols (%s)", v->nsyms, err.msg);
		} else {
			skip(1, "this vdso has no DT_HASH to hide");
		}
	}
	memset(copy, 0, host->text_size);
	is_int(vdso_parse(copy, host->text_size, v, &err), -ENOEXEC, "zeros: not ELF");
	memcpy(copy, text, host->text_size);
	ok(vdso_parse(copy, 256, v, &err) < 0, "truncated to 256 bytes: refused (%s)", err.msg);
	/* flipped bytes anywhere: refused or parsed, never read out of bounds */
	srand(11);
	for (int i = 0; i < 3000; i++) {
		memcpy(copy, text, host->text_size);
		for (int k = 0; k < 4; k++)
			copy[rand() % 0x700] = rand();
		if (vdso_parse(copy, host->text_size, v, &err) == 0 && v->nsyms > VDSO_MAX_SYMS)
			crashes++;
	}
	is_int(crashes, 0, "3000 damaged images: no overrun");
	free(copy);
	free(v);
}

static const struct doc_at top = DOC_TOP("task-1.json");

static void test_json(const struct vdso_info *host)
{
	struct vdso_info *v = xzalloc(sizeof(*v));
	struct json *j = vdso_to_json(host, true);
	struct doc_at at = DOC_KEY(&top, "vdso");
	ckpt_err_t err = {0};

	is_int(vdso_from_json(&at, j, v, &err), 0, "JSON read back");
	ok(vdso_same(v, host) && v->nsyms == host->nsyms &&
		   sym_off(v, "__vdso_time") == sym_off(host, "__vdso_time"),
	   "JSON keeps layout, hash and symbols");
	json_set(json_get(j, "symbols"), "evil", json_int(host->text_size));
	is_int(vdso_from_json(&at, j, v, &err), -EPROTO, "a symbol past the text: refused");
	json_free(j);

	j = vdso_to_json(host, false);
	is_int(vdso_from_json(&at, j, v, &err), 0, "no symbols recorded: read");
	is_int(v->nsyms, -1, "... and marked unknown");
	json_set(j, "text_size", json_int(100));
	is_int(vdso_from_json(&at, j, v, &err), -EPROTO, "text size not in pages: refused");
	json_free(j);
	free(v);
}

/* The proxy built in an executable page of our own, its entries called. */
static void test_proxy_runs(const struct vdso_info *host)
{
	uint64_t text = getauxval(AT_SYSINFO_EHDR);
	struct vdso_info *cur = xzalloc(sizeof(*cur));
	uint8_t *page = mmap(NULL, host->text_size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t off_gt = sym_off(host, "__vdso_clock_gettime"), off_cpu = sym_off(host, "getcpu");
	static const uint8_t stub[] = {0xb8, SYS_getcpu & 0xff, SYS_getcpu >> 8, 0, 0, 0x0f, 0x05,
				       0xc3};
	ckpt_err_t err = {0};
	struct timespec a, b;
	unsigned cpu = ~0U;

	*cur = *host;
	drop_sym(cur, "getcpu"); /* a host whose vdso has no getcpu */
	is_int(vdso_proxy_build(host, cur, text, page, &err), 0, "proxy built");
	ok(page[off_gt] == 0x48 && page[off_gt + 1] == 0xb8, "clock_gettime: movabs");
	ok(!memcmp(page + off_cpu, stub, sizeof(stub)), "getcpu: syscall stub");
	is_int(page[0], 0xcc, "the rest is int3");
	ok(mprotect(page, host->text_size, PROT_READ | PROT_EXEC) == 0, "proxy executable");
	clock_gettime(CLOCK_MONOTONIC, &a);
	is_int(((clock_gettime_fn)(page + off_gt))(CLOCK_MONOTONIC, &b), 0,
	       "clock_gettime through the proxy");
	ok(b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec),
	   "... reads the monotonic clock");
	is_int(((getcpu_fn)(page + off_cpu))(&cpu, NULL, NULL), 0, "getcpu stub");
	ok(cpu < (unsigned)sysconf(_SC_NPROCESSORS_CONF), "... cpu %u", cpu);
	munmap(page, host->text_size);
	free(cur);
}

static void test_proxy_refusals(const struct vdso_info *host)
{
	struct vdso_info *old = xzalloc(sizeof(*old));
	uint8_t *buf = xzalloc(host->text_size);
	ckpt_err_t err = {0};

	*old = *host;
	/* offset 0 is the ELF header: no function there on any kernel */
	snprintf(old->syms[old->nsyms].name, VDSO_NAME_MAX, "__vdso_frobnicate");
	old->syms[old->nsyms++].off = 0;
	is_int(vdso_proxy_build(old, host, 0x1000, buf, &err), -ENOTSUP, "unknown symbol missing");
	like(err.msg, "`__vdso_frobnicate` is not in this host's vdso", "... named: %s", err.msg);

	old->syms[old->nsyms - 1].off = sym_off(host, "__vdso_time") + 4;
	is_int(vdso_proxy_build(old, host, 0x1000, buf, &err), -ENOSPC, "symbols 4 bytes apart");
	like(err.msg, "closer than a 12-byte jump", "... said: %s", err.msg);

	old->syms[old->nsyms - 1].off = host->text_size - 8;
	is_int(vdso_proxy_build(old, host, 0x1000, buf, &err), -ENOSPC, "symbol at the end");

	old->nsyms = -1;
	is_int(vdso_proxy_build(old, host, 0x1000, buf, &err), -ENOTSUP, "symbols unknown");
	free(buf);
	free(old);
}

int main(void)
{
	struct vdso_info *host = xzalloc(sizeof(*host));
	ckpt_err_t err = {0};

	if (!getauxval(AT_SYSINFO_EHDR)) {
		skip(1, "no vdso in this process");
		return done_testing();
	}
	if (!ok(vdso_host(host, &err) == 0, "this host's vdso read (%s)", err.msg))
		return done_testing();
	test_parse(host);
	test_json(host);
	test_proxy_runs(host);
	test_proxy_refusals(host);
	unsetenv("CKPT_OCI_VDSO_PROXY");
	ok(!vdso_proxy_forced(), "proxy not forced by default");
	setenv("CKPT_OCI_VDSO_PROXY", "1", 1);
	ok(vdso_proxy_forced(), "CKPT_OCI_VDSO_PROXY=1 forces it");
	free(host);
	return done_testing();
}
