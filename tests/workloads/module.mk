# Workloads: every tests/workloads/*.c but wl.c is one program, linked with
# wl.c, built twice: dynamic ($(WL_OUT)/NAME) and static ($(WL_OUT)/NAME.static).
#
# Extra libraries for one workload, either here (above the rules, see below):
#     WL_LDLIBS_seccomp_filter := -lseccomp
# or, better, in the workload's own source, on a line of its own:
#     /* wl-ldlibs: -lseccomp */
# The static variant is built only when every extra -lX has a libX.a.
#
# -D_GNU_SOURCE= (empty) is identical to a source's own `#define _GNU_SOURCE`,
# so a workload may define it or not without a redefinition warning.

WL_DIR := tests/workloads
WL_OUT := $(BUILD)/tests/workloads
WL_SRCS := $(filter-out $(WL_DIR)/wl.c,$(wildcard $(WL_DIR)/*.c))
WL_NAMES := $(notdir $(WL_SRCS:.c=))
WL_HDRS := $(wildcard $(WL_DIR)/*.h)
WL_CFLAGS := -O1 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE= -I$(WL_DIR)
WL_LDLIBS := -lrt
# Per-workload libraries: WL_LDLIBS_<name> := ... goes here.

# "name:-la,-lb" for each source that declares wl-ldlibs (one grep in all).
wl_comma := ,
wl_space := $(subst ,, )
WL_DECLS := $(shell grep -H '^/\* *wl-ldlibs:' $(WL_SRCS) /dev/null 2>/dev/null | \
		sed 's|^$(WL_DIR)/\(.*\)\.c:/\* *wl-ldlibs: *\(.*[^ ]\) *\*/$$|\1:\2|;s| \+|,|g')
wl_decl = $(subst $(wl_comma),$(wl_space),$(patsubst $(1):%,%,$(filter $(1):%,$(WL_DECLS))))
wl_libs = $(strip $(WL_LDLIBS_$(1)) $(call wl_decl,$(1)))
# A static link needs libX.a for every -lX; gcc prints a bare name if absent.
wl_has_static = $(findstring /,$(shell $(CC) -print-file-name=lib$(1:-l%=%).a))
wl_static_ok = $(if $(strip $(foreach l,$(filter -l%,$(call wl_libs,$(1))),\
		 $(if $(call wl_has_static,$(l)),,x))),,yes)

WL_DYN := $(WL_NAMES:%=$(WL_OUT)/%)
WL_STATIC := $(foreach n,$(WL_NAMES),$(if $(call wl_static_ok,$(n)),$(WL_OUT)/$(n).static))
WL_BINS := $(WL_DYN) $(WL_STATIC)

$(foreach n,$(WL_NAMES),$(eval $(WL_OUT)/$(n) $(WL_OUT)/$(n).static: \
	WL_EXTRA := $(call wl_libs,$(n))))

$(WL_DYN): $(WL_OUT)/%: $(WL_DIR)/%.c $(WL_DIR)/wl.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -o $@ $< $(WL_DIR)/wl.c $(WL_EXTRA) $(WL_LDLIBS)

$(WL_STATIC): $(WL_OUT)/%.static: $(WL_DIR)/%.c $(WL_DIR)/wl.c $(WL_HDRS)
	@mkdir -p $(@D)
	$(CC) $(WL_CFLAGS) -static -o $@ $< $(WL_DIR)/wl.c $(WL_EXTRA) $(WL_LDLIBS)

.PHONY: workloads
workloads: $(WL_BINS)
