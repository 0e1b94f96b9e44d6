# The engine: knows nothing of OCI.
LIB_SRCS += $(wildcard libckpt/*.c libckpt/util/*.c libckpt/files/*.c)
