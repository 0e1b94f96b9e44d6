# ckpt-oci - one non-recursive Makefile; each folder adds its sources in module.mk.
VERSION := 0.1.0
CC ?= gcc
PREFIX ?= /usr/local
BUILD ?= build
PKGS := libseccomp libmnl yajl

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 -Werror \
	  -Wno-unused-parameter -Wno-missing-field-initializers \
	  -fno-strict-aliasing -pthread \
	  -Iinclude -Ilibckpt -I. -DCKPT_VERSION='"$(VERSION)"' \
	  $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread
DEPFLAGS = -MMD -MP

LIB_SRCS :=
CMD_SRCS :=
include libckpt/module.mk namespaces/module.mk oci/module.mk cmd/module.mk
include tests/module.mk bench/module.mk man/module.mk

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CMD_OBJS := $(CMD_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libckpt.a
BIN := $(BUILD)/ckpt-oci

.PHONY: all clean deps check unit integration demo install format format-check asan fuzz
all: $(BIN) $(ALL_EXTRA)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJS) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CMD_OBJS) $(LIB) $(LDLIBS)

deps:
	scripts/deps.sh

clean:
	rm -rf build build-*

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
