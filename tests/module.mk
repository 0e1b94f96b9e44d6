# Tests: workloads here; unit tests and the fuzzer bring their own module.mk
# (included when present). The targets that run tests (check, unit runner,
# integration, asan) need $(BIN), so they live in the Makefile's test section.
include tests/workloads/module.mk
include $(wildcard tests/unit/module.mk tests/fuzz/module.mk)
