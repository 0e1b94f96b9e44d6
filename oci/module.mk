# Runtime state, config.json, the OCI hook.
LIB_SRCS += $(wildcard oci/*.c)
