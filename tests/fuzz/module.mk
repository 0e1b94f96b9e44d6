# libFuzzer on the bundle reader and on the typed document readers:
# `make fuzz [FUZZ_SECONDS=60]` runs each target that long.
# Built with clang and its own sanitizers, from sources, into FUZZ_DIR; the
# bundle seeds are packed from bundles written by mkbundle, the document
# seeds are tests/fuzz/doc-seeds.
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(BUILD)-fuzz
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude -Ilibckpt -I. \
	      -DCKPT_VERSION='"$(VERSION)"' $(shell pkg-config --cflags yajl libsodium 2>/dev/null)
# Both targets link the engine as ckpt-oci does, from an archive of every
# source compiled once with the fuzz flags (only what a target needs is
# pulled in). doc_fuzz.c compiles restore-load.c into itself for its
# static readers, so the archive's copy is never pulled into doc_fuzz.
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -MMD -MP -c -o $@ $<

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_DIR)/obj/tests/fuzz/bundle_fuzz.d \
	$(FUZZ_DIR)/obj/tests/fuzz/doc_fuzz.d

$(FUZZ_DIR)/libckpt.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/bundle_fuzz $(FUZZ_DIR)/doc_fuzz: $(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o \
		$(FUZZ_DIR)/libckpt.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_DIR)/seeds: $(MKBUNDLE) tests/fuzz/pack-seed.sh
	rm -rf $@ $@.b && mkdir -p $@
	$(MKBUNDLE) $@.b
	for m in 0 1 2 3; do tests/fuzz/pack-seed.sh $$m $@.b >$@/bundle-$$m; done
	rm -rf $@.b

fuzz: $(FUZZ_DIR)/bundle_fuzz $(FUZZ_DIR)/seeds $(FUZZ_DIR)/doc_fuzz
	@mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/doc-corpus
	$(FUZZ_DIR)/bundle_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds
	$(FUZZ_DIR)/doc_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(FUZZ_DIR)/doc- $(FUZZ_DIR)/doc-corpus tests/fuzz/doc-seeds

.PHONY: fuzz
