/*
 * util/cpu.h - CPUID instruction set extensions: recorded, and checked
 * against this CPU at restore.
 */
#ifndef CKPT_UTIL_CPU_H
#define CKPT_UTIL_CPU_H

#include "ckpt/error.h"

struct json;

/* This CPU's feature words, {"1.ecx": "0x...", ...}, for the manifest. */
struct json *cpu_features_probe(void);
/* Refuse (ENOTSUP, naming them) when saved lists extensions this CPU lacks. */
int cpu_features_check(const struct json *saved, ckpt_err_t *err);

#endif
