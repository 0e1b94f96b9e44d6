# The thin CLI: main.c holds the subcommand table.
CMD_SRCS += $(wildcard cmd/*.c)
