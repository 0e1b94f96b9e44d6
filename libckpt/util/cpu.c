/*
 * util/cpu.c - the CPU's instruction set extensions, recorded in the
 * manifest and checked at restore.
 *
 * A program picks its code paths once: glibc resolves memcpy, strlen and
 * friends to AVX2 or AVX-512 variants at start-up, a JIT emits what the
 * CPU offered. Restored on a CPU without one of those extensions, it dies
 * of SIGILL some time later. The manifest records the CPUID feature words
 * of the checkpointing CPU ("cpu_features"); restore refuses a CPU lacking
 * an extension user code can execute, naming it. Kernel-only bits
 * (hypervisor, x2apic, tsc-deadline...) are not compared. The XSAVE state
 * (xcr0) is checked on its own in bundle.c.
 */
#include <cpuid.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/doc.h"
#include "util/json.h"
#include "util/cpu.h"
#include "util/util.h"

struct cpu_word {
	const char *key;
	unsigned int leaf, sub;
	int reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
};

static const struct cpu_word words[] = {
	{"1.ecx", 1, 0, 2},
	{"1.edx", 1, 0, 3},
	{"7.ebx", 7, 0, 1},
	{"7.ecx", 7, 0, 2},
	{"7.edx", 7, 0, 3},
	{"7.1.eax", 7, 1, 0},
	{"d.1.eax", 0xd, 1, 0},
	{"80000001.ecx", 0x80000001, 0, 2},
	{"80000001.edx", 0x80000001, 0, 3},
};

/* Extensions user code can execute, by word index and bit. */
static const struct {
	int word, bit;
	const char *name;
} exts[] = {
	{0, 0, "sse3"},
	{0, 1, "pclmulqdq"},
	{0, 9, "ssse3"},
	{0, 12, "fma"},
	{0, 13, "cx16"},
	{0, 19, "sse4_1"},
	{0, 20, "sse4_2"},
	{0, 22, "movbe"},
	{0, 23, "popcnt"},
	{0, 25, "aes"},
	{0, 26, "xsave"},
	{0, 28, "avx"},
	{0, 29, "f16c"},
	{0, 30, "rdrand"},
	{1, 15, "cmov"},
	{1, 23, "mmx"},
	{1, 25, "sse"},
	{1, 26, "sse2"},
	{2, 3, "bmi1"},
	{2, 5, "avx2"},
	{2, 8, "bmi2"},
	{2, 9, "erms"},
	{2, 16, "avx512f"},
	{2, 17, "avx512dq"},
	{2, 18, "rdseed"},
	{2, 19, "adx"},
	{2, 21, "avx512ifma"},
	{2, 23, "clflushopt"},
	{2, 24, "clwb"},
	{2, 28, "avx512cd"},
	{2, 29, "sha_ni"},
	{2, 30, "avx512bw"},
	{2, 31, "avx512vl"},
	{3, 1, "avx512vbmi"},
	{3, 5, "waitpkg"},
	{3, 6, "avx512_vbmi2"},
	{3, 8, "gfni"},
	{3, 9, "vaes"},
	{3, 10, "vpclmulqdq"},
	{3, 11, "avx512_vnni"},
	{3, 12, "avx512_bitalg"},
	{3, 14, "avx512_vpopcntdq"},
	{3, 22, "rdpid"},
	{3, 27, "movdiri"},
	{3, 28, "movdir64b"},
	{4, 4, "fsrm"},
	{4, 8, "avx512_vp2intersect"},
	{4, 14, "serialize"},
	{4, 22, "amx_bf16"},
	{4, 23, "avx512_fp16"},
	{4, 24, "amx_tile"},
	{4, 25, "amx_int8"},
	{5, 4, "avx_vnni"},
	{5, 5, "avx512_bf16"},
	{6, 0, "xsaveopt"},
	{6, 1, "xsavec"},
	{7, 0, "lahf_lm"},
	{7, 5, "abm"},
	{7, 6, "sse4a"},
	{7, 8, "3dnowprefetch"},
	{7, 11, "xop"},
	{7, 16, "fma4"},
	{7, 21, "tbm"},
	{8, 27, "rdtscp"},
};

static uint32_t cpu_word(const struct cpu_word *w)
{
	unsigned int r[4] = {0}, max = __get_cpuid_max(w->leaf & 0x80000000, NULL);

	if (max < w->leaf)
		return 0;
	__cpuid_count(w->leaf, w->sub, r[0], r[1], r[2], r[3]);
	return r[w->reg];
}

struct json *cpu_features_probe(void)
{
	struct json *o = json_obj();

	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		json_set(o, words[i].key, json_hex(cpu_word(&words[i])));
	return o;
}

int cpu_features_check(const struct json *saved, ckpt_err_t *err)
{
	struct doc_at top = DOC_TOP("manifest.json"), host = DOC_KEY(&top, "host");
	struct doc_at at = DOC_KEY(&host, "cpu_features");
	uint32_t have[ARRAY_SIZE(words)], had[ARRAY_SIZE(words)];
	char names[512] = "";
	size_t len = 0;
	int n = 0;

	if (!saved)
		return 0; /* a bundle from before the features were recorded */
	for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
		uint64_t v;
		int ret = doc_opt_u64(&at, saved, words[i].key, UINT32_MAX, 0, &v, err);

		if (ret < 0)
			return ret;
		have[i] = cpu_word(&words[i]);
		had[i] = (uint32_t)v;
	}
	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		uint32_t bit = 1u << exts[i].bit;

		if (!(had[exts[i].word] & bit) || (have[exts[i].word] & bit))
			continue;
		if (len < sizeof(names) - 32)
			len += snprintf(names + len, sizeof(names) - len, " %s", exts[i].name);
		n++;
	}
	if (n)
		return ckpt_error_msg(err, ENOTSUP,
				      "bundle made on a CPU with %d instruction set extension%s "
				      "this CPU lacks (the programs may use them):%s",
				      n, n > 1 ? "s" : "", names);
	return 0;
}
