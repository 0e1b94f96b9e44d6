# The thin CLI: main.c holds the subcommand table.
CMD_SRCS += $(wildcard cmd/*.c)
# Every ptrace() call passes the fault-injection point (libckpt/util/fault.h).
$(BUILD)/ckpt-oci: LDFLAGS += -Wl,--wrap=ptrace
