# CRIU's RPC service (`ckpt-oci criu swrk FD`, or the binary named `criu`):
# runc, podman and containerd drive ckpt-oci through it. criu/ sees what
# cmd/ sees (include/ckpt, libckpt/util, oci/) and its own generated
# protobuf-c code, built from criu/*.proto at make time into $(BUILD)/gen.
CRIU_PROTOS := criu/rpc.proto criu/images.proto
CRIU_GEN_C := $(CRIU_PROTOS:criu/%.proto=$(BUILD)/gen/criu/%.pb-c.c)
CRIU_GEN_H := $(CRIU_GEN_C:.c=.h)
CRIU_GEN_OBJS := $(CRIU_GEN_C:.c=.o)
CMD_SRCS += $(wildcard criu/*.c)
CMD_EXTRA_OBJS += $(CRIU_GEN_OBJS)
CKPT_CFLAGS += -I$(BUILD)/gen $(shell pkg-config --cflags libprotobuf-c 2>/dev/null)
PKGS += libprotobuf-c

$(BUILD)/gen/criu/%.pb-c.c $(BUILD)/gen/criu/%.pb-c.h: criu/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/gen/criu -Icriu $<

# Generated code is not ours to hold to -Werror and -Wextra.
$(BUILD)/gen/criu/%.pb-c.o: $(BUILD)/gen/criu/%.pb-c.c
	$(CC) $(filter-out -Werror -Wextra -Wformat=2,$(ALL_CFLAGS)) $(DEPFLAGS) -c -o $@ $<

# The first build has no .d files yet: the service's sources need the headers.
$(patsubst %.c,$(BUILD)/%.o,$(wildcard criu/*.c)): | $(CRIU_GEN_H)
