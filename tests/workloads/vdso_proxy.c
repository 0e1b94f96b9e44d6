/*
 * vdso_proxy - the time functions libc takes from the vdso keep working
 * after restore, whether the vdso came back at its old place ("same") or
 * moved with a proxy left at the old one ("proxy": ckpt-oci restore with
 * CKPT_OCI_VDSO_PROXY=1).
 *
 * Before the checkpoint: clock_gettime (MONOTONIC, REALTIME, BOOTTIME),
 * gettimeofday, time and sched_getcpu through libc, which cached the vdso's
 * function pointers at start-up; the vdso's own functions are looked up in
 * its ELF image (getauxval(AT_SYSINFO_EHDR)). After restore: the same calls
 * give sane values (monotonic clocks not backwards, realtime close to
 * time(), cpu below the number of CPUs), the old vdso addresses called
 * directly work too, and [vdso] in /proc/self/maps is where it was (same)
 * or elsewhere, the old text now a proxy of jumps and the old vvar an
 * inaccessible placeholder (proxy).
 *
 * Usage: vdso_proxy same|proxy
 */
#include <elf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);
typedef int (*gettimeofday_fn)(struct timeval *, void *);
typedef time_t (*time_fn)(time_t *);
typedef int (*getcpu_fn)(unsigned *, unsigned *, void *);

struct vdso_fns {
	clock_gettime_fn clock_gettime;
	gettimeofday_fn gettimeofday;
	time_fn time;
	getcpu_fn getcpu;
};

/* A function of our own vdso by name, through its section headers. */
static void *vdso_sym(const char *name)
{
	const unsigned char *base = (const void *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)base;
	const Elf64_Shdr *sh;

	if (!base)
		return NULL;
	sh = (const void *)(base + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *s = (const void *)(base + sh[i].sh_offset);
		const char *str = (const char *)base + sh[sh[i].sh_link].sh_offset;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		for (size_t k = 0; k < sh[i].sh_size / sizeof(*s); k++)
			if (ELF64_ST_TYPE(s[k].st_info) == STT_FUNC &&
			    !strcmp(str + s[k].st_name, name))
				return (void *)(base + s[k].st_value);
	}
	return NULL;
}

/*
 * The mapping named name (or, with name NULL, the one starting at *start)
 * in /proc/self/maps: its start and permissions. 0 when found.
 */
static int map_find(const char *name, unsigned long *start, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int ret = -1;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long s;

		if (sscanf(line, "%lx-%*x %4s", &s, perms) != 2)
			continue;
		if (name ? strstr(line, name) != NULL : s == *start) {
			*start = s;
			ret = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

static unsigned long vdso_start(void)
{
	unsigned long s = 0;
	char perms[5];

	return map_find("[vdso]", &s, perms) ? 0 : s;
}

static double ts_sec(const struct timespec *ts)
{
	return ts->tv_sec + ts->tv_nsec / 1e9;
}

struct sample {
	struct timespec mono, real, boot;
	struct timeval tv;
	time_t t;
	int cpu;
};

static int sample_libc(struct sample *s)
{
	if (clock_gettime(CLOCK_MONOTONIC, &s->mono) || clock_gettime(CLOCK_REALTIME, &s->real) ||
	    clock_gettime(CLOCK_BOOTTIME, &s->boot) || gettimeofday(&s->tv, NULL))
		return -1;
	s->t = time(NULL);
	s->cpu = sched_getcpu();
	return 0;
}

/* What a sane clock set reads now, against a sample taken before. */
static const char *check_sample(const char *who, const struct sample *a, const struct sample *b,
				long ncpu)
{
	static char why[256];

	if (ts_sec(&b->mono) < ts_sec(&a->mono) || ts_sec(&b->boot) < ts_sec(&a->boot))
		snprintf(why, sizeof(why), "%s: a monotonic clock went backwards", who);
	else if (llabs((long long)b->real.tv_sec - (long long)b->t) > 1 ||
		 llabs((long long)b->tv.tv_sec - (long long)b->t) > 1)
		snprintf(why, sizeof(why), "%s: realtime %ld, gettimeofday %ld, time %ld disagree",
			 who, (long)b->real.tv_sec, (long)b->tv.tv_sec, (long)b->t);
	else if (b->cpu < 0 || b->cpu >= ncpu)
		snprintf(why, sizeof(why), "%s: cpu %d of %ld", who, b->cpu, ncpu);
	else
		return NULL;
	return why;
}

/* The same through the vdso addresses saved before the checkpoint. */
static int sample_direct(const struct vdso_fns *f, struct sample *s)
{
	unsigned cpu = ~0U;

	if (f->clock_gettime(CLOCK_MONOTONIC, &s->mono) ||
	    f->clock_gettime(CLOCK_REALTIME, &s->real) ||
	    f->clock_gettime(CLOCK_BOOTTIME, &s->boot) || f->gettimeofday(&s->tv, NULL) ||
	    f->getcpu(&cpu, NULL, NULL))
		return -1;
	s->t = f->time(NULL);
	s->cpu = (int)cpu;
	return 0;
}

/* In the proxy: at each old entry, movabs $target, %rax; jmp *%rax. */
static int is_jump_into(const void *entry, unsigned long lo, unsigned long hi)
{
	const unsigned char *p = entry;
	unsigned long to;

	memcpy(&to, p + 2, sizeof(to));
	return p[0] == 0x48 && p[1] == 0xb8 && p[10] == 0xff && p[11] == 0xe0 && to >= lo &&
	       to < hi;
}

int main(int argc, char **argv)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	struct sample before, after, direct;
	struct vdso_fns f;
	unsigned long old_vdso, new_vdso, old_vvar = 0;
	char perms[5];
	const char *why;
	int proxy;

	wl_init(argc, argv);
	if (argc < 2 || (strcmp(argv[1], "same") && strcmp(argv[1], "proxy")))
		return wl_fail("usage: vdso_proxy same|proxy");
	proxy = !strcmp(argv[1], "proxy");
	f.clock_gettime = (clock_gettime_fn)vdso_sym("__vdso_clock_gettime");
	f.gettimeofday = (gettimeofday_fn)vdso_sym("__vdso_gettimeofday");
	f.time = (time_fn)vdso_sym("__vdso_time");
	f.getcpu = (getcpu_fn)vdso_sym("__vdso_getcpu");
	if (!f.clock_gettime || !f.gettimeofday || !f.time || !f.getcpu)
		return wl_fail("vdso functions not found");
	old_vdso = vdso_start();
	if (!old_vdso || old_vdso != getauxval(AT_SYSINFO_EHDR))
		return wl_fail("[vdso] at %#lx, AT_SYSINFO_EHDR %#lx", old_vdso,
			       getauxval(AT_SYSINFO_EHDR));
	if (map_find("[vvar]", &old_vvar, perms))
		return wl_fail("no [vvar] in /proc/self/maps");
	if (sample_libc(&before) || sample_direct(&f, &direct))
		return wl_fail("time functions before checkpoint: %m");
	if ((why = check_sample("before", &before, &direct, ncpu)))
		return wl_fail("%s", why);

	wl_ready();
	wl_wait_restored();

	if (sample_libc(&after))
		return wl_fail("libc time functions after restore: %m");
	if ((why = check_sample("libc after restore", &before, &after, ncpu)))
		return wl_fail("%s", why);
	if (sample_direct(&f, &direct))
		return wl_fail("old vdso functions after restore: %m");
	if ((why = check_sample("old vdso addresses after restore", &after, &direct, ncpu)))
		return wl_fail("%s", why);
	new_vdso = vdso_start();
	if (!proxy && new_vdso != old_vdso)
		return wl_fail("[vdso] moved from %#lx to %#lx", old_vdso, new_vdso);
	if (proxy && (!new_vdso || new_vdso == old_vdso))
		return wl_fail("[vdso] did not move (%#lx)", new_vdso);
	/* the new vdso's text is at most a few pages: 64 KiB bounds it */
	if (proxy && !is_jump_into((void *)f.clock_gettime, new_vdso, new_vdso + 65536))
		return wl_fail("old clock_gettime at %p is no jump into the new vdso at %#lx",
			       (void *)f.clock_gettime, new_vdso);
	/* the old vvar stays reserved, inaccessible */
	if (proxy && (map_find(NULL, &old_vvar, perms) || strcmp(perms, "---p")))
		return wl_fail("old [vvar] at %#lx is not an inaccessible placeholder", old_vvar);
	wl_log("vdso %#lx -> %#lx, monotonic %.3f -> %.3f", old_vdso, new_vdso,
	       ts_sec(&before.mono), ts_sec(&after.mono));
	return wl_pass();
}
