# Unit tests: no root, no live process; each test_*.c is one TAP binary.
# They link only the objects they test, so a half-edited engine file
# elsewhere does not stop them from building.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_LIBOBJS := $(addprefix $(BUILD)/libckpt/,util/json.o util/json-get.o bundle/bundle.o \
		bundle/bundle-read.o bundle/bundle-verify.o bundle/bundle-auth.o bundle/bundle-image.o bundle/blake2b-x4.o bundle/seal.o \
		util/doc.o util/cpu.o util/hash.o util/proc.o util/proc-mount.o util/proc-fdinfo.o \
		util/proc-task.o util/proc-host.o \
		util/spawn.o util/util.o util/error.o util/log.o util/confine.o)
# mkbundle: writes a small valid bundle through the bundle API (bats tests).
MKBUNDLE := $(BUILD)/tests/unit/mkbundle
ALL_EXTRA += $(MKBUNDLE)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/tap.h $(UNIT_LIBOBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(UNIT_LIBOBJS) $(LDLIBS)

# Run every unit test; TAP on stdout; 77 means skipped, not failed.
unit: $(UNIT_BINS) $(MKBUNDLE)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "# $${t##*/}"; $$t; rc=$$?; \
		if [ $$rc -ne 0 ] && [ $$rc -ne 77 ]; then fail=$$((fail + 1)); fi; \
	done; \
	if [ $$fail -ne 0 ]; then echo "# $$fail unit test binaries failed"; exit 1; fi

.PHONY: unit

# test_task reads documents through the task state rooms, which reach the
# rest of the engine (remote calls, registers): it links the engine archive.
$(BUILD)/tests/unit/test_task: tests/unit/test_task.c tests/unit/tap.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# test_incr: the range arithmetic of incremental checkpoints (mem-incr.c).
$(BUILD)/tests/unit/test_incr: tests/unit/test_incr.c tests/unit/tap.h $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)
