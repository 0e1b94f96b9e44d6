# libFuzzer on the bundle reader: `make fuzz [FUZZ_SECONDS=60]`.
# Built with clang and its own sanitizers, from sources, into FUZZ_DIR; the
# seed corpus is packed from bundles written by mkbundle.
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(BUILD)-fuzz
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	      -std=gnu11 -D_GNU_SOURCE -pthread -Iinclude -Ilibckpt -I. \
	      -DCKPT_VERSION='"$(VERSION)"' $(shell pkg-config --cflags yajl libsodium 2>/dev/null)
FUZZ_SRCS := tests/fuzz/bundle_fuzz.c libckpt/util/json.c libckpt/bundle/bundle.c libckpt/bundle/bundle-read.c \
	     libckpt/bundle/bundle-auth.c libckpt/bundle/bundle-image.c libckpt/util/doc.c libckpt/util/cpu.c \
	     libckpt/bundle/inspect.c libckpt/util/hash.c libckpt/util/util.c libckpt/util/error.c \
	     libckpt/util/log.c

$(FUZZ_DIR)/bundle_fuzz: $(FUZZ_SRCS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $(FUZZ_SRCS) $(shell pkg-config --libs yajl libsodium 2>/dev/null)

$(FUZZ_DIR)/seeds: $(MKBUNDLE) tests/fuzz/pack-seed.sh
	rm -rf $@ $@.b && mkdir -p $@
	$(MKBUNDLE) $@.b
	for m in 0 1 2 3; do tests/fuzz/pack-seed.sh $$m $@.b >$@/bundle-$$m; done
	rm -rf $@.b

fuzz: $(FUZZ_DIR)/bundle_fuzz $(FUZZ_DIR)/seeds
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_DIR)/bundle_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds

.PHONY: fuzz
