# One file per namespace, wired in through namespaces/ns.c.
LIB_SRCS += $(wildcard namespaces/*.c)
