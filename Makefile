# ckpt-oci - one non-recursive Makefile; each folder adds its sources in module.mk.
VERSION := 0.1.0
.DEFAULT_GOAL := all
CC ?= gcc
PREFIX ?= /usr/local
BUILD ?= build
# defined before the module.mk files, whose rules name them as prerequisites
LIB := $(BUILD)/libckpt.a
OCI_LIB := $(BUILD)/liboci.a
PKGS := libseccomp libmnl yajl libsodium libnftables libarchive libzstd

# CFLAGS is the user's (optimisation, sanitizers: `make CFLAGS=-O0`);
# what the code needs to build at all is CKPT_CFLAGS, always added.
CFLAGS ?= -O2 -g
CKPT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Werror \
	  -Wno-unused-parameter -Wno-missing-field-initializers \
	  -fno-strict-aliasing -pthread \
	  -Iinclude -Ilibckpt -I. -DCKPT_VERSION='"$(VERSION)"' \
	  $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(CKPT_CFLAGS) $(CFLAGS)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
DEPFLAGS = -MMD -MP

LIB_SRCS :=
OCI_SRCS :=
CMD_SRCS :=
CMD_EXTRA_OBJS :=
include libckpt/module.mk namespaces/module.mk oci/module.mk cmd/module.mk criu/module.mk
include tests/module.mk bench/module.mk man/module.mk

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
OCI_OBJS := $(OCI_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
BIN := $(BUILD)/ckpt-oci

.PHONY: all clean deps check check-deps asan-run unit integration killsafe-sweep demo install format format-check asan fuzz
all: $(BIN) $(ALL_EXTRA)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(OCI_LIB): $(OCI_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJS) $(CMD_EXTRA_OBJS) $(OCI_LIB) $(LIB)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJS) $(CMD_EXTRA_OBJS) $(OCI_LIB) $(LIB) $(LDLIBS)

# The dependency rule (cmd -> oci -> libckpt <- namespaces): cmd/ and oci/
# include the engine's public headers (include/ckpt), its utilities
# (libckpt/util) and their own, nothing else of the engine; libckpt/ and
# namespaces/ include nothing of oci/ or cmd/.
check-deps:
	@bad=$$(grep -HnE '^#include "' cmd/*.[ch] oci/*.[ch] criu/*.[ch] | \
		grep -vE '#include "(ckpt|util|oci|cmd|criu)/'; \
		grep -rHnE '^#include "(oci|cmd|criu)/' libckpt namespaces); \
	if [ -n "$$bad" ]; then echo "dependency rule broken:"; echo "$$bad"; exit 1; fi

clean:
	rm -rf build build-*

# ---- test, demo and install targets -------------------------------------
# `check` installs the packages first, then builds in a second pass of this
# same Makefile: compiling must not start before pkg-config and the headers
# exist, which prerequisites alone cannot order under -j.
TEST_ENV = BUILD=$(BUILD) CKPT_OCI=$(abspath $(BIN)) WL_BIN=$(abspath $(WL_OUT)) \
	   UNIT_BINS="$(abspath $(UNIT_BINS))"
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	      -fno-omit-frame-pointer

deps:
	scripts/deps.sh

check: deps
	@$(MAKE) --no-print-directory test-build
	$(TEST_ENV) tests/run-tests

test-build: all check-deps $(UNIT_BINS) workloads

# `unit` comes from tests/unit/module.mk; without it there is nothing to run.
ifeq ($(wildcard tests/unit/module.mk),)
unit:
	@echo "no unit tests yet (tests/unit/module.mk is absent)"
endif

integration: all workloads
	$(TEST_ENV) tests/run-tests --integration

# killsafe.bats at every ptrace call, not a spread of them: a test takes up to
# 10 minutes (a 3-process tree: 402 calls, each killed three ways, 8 min).
killsafe-sweep: all workloads
	KILLSAFE_SWEEP=1 BATS_TEST_TIMEOUT=3600 $(TEST_ENV) tests/run-tests tests/integration/killsafe.bats

# The unit tests and a representative set of integration tests (ptrace,
# dump, restore, files, a runc container) with ckpt-oci built with ASan and
# UBSan; a leak or any report fails the test that printed it.
ASAN_INTEGRATION ?= engine.bats files.bats container.bats
asan:
	CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" \
		$(MAKE) --no-print-directory BUILD=build-asan asan-run

asan-run: $(BIN) $(UNIT_BINS) $(MKBUNDLE) workloads
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 $(TEST_ENV) tests/run-tests $(UNIT_BINS) \
		$(addprefix tests/integration/,$(ASAN_INTEGRATION))

demo:
	scripts/demo.sh

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/ckpt-oci
	for p in $(MAN_PAGES); do \
		s=$${p##*.}; \
		install -D -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man$$s/$${p##*/} || exit; \
	done
	# podman's hooks.d entry, naming the binary where it was installed
	install -d $(DESTDIR)$(PREFIX)/share/containers/oci/hooks.d
	sed 's|"/usr/local/bin/ckpt-oci"|"$(PREFIX)/bin/ckpt-oci"|' oci/hooks.d/ckpt-oci.json \
		>$(DESTDIR)$(PREFIX)/share/containers/oci/hooks.d/ckpt-oci.json

# Opt-in: ckpt-oci as `criu`, for runc, podman and containerd (ckpt-oci-criu(1)).
# Never over a criu already there (CRIU itself) unless FORCE=1.
install-criu-compat: install
	@dst=$(DESTDIR)$(PREFIX)/sbin/criu; \
	if { [ -e "$$dst" ] || [ -L "$$dst" ]; } && [ "$(FORCE)" != 1 ] && \
	   [ "$$(readlink "$$dst")" != "$(PREFIX)/bin/ckpt-oci" ]; then \
		echo "$$dst exists: left alone (FORCE=1 replaces it)" >&2; exit 1; \
	fi; \
	install -d $(DESTDIR)$(PREFIX)/sbin && ln -sfn $(PREFIX)/bin/ckpt-oci "$$dst" && \
	echo "$$dst -> $(PREFIX)/bin/ckpt-oci"

.PHONY: test-build workloads install-criu-compat
# ---- end of test, demo and install targets -------------------------------

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
