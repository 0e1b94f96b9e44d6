# Runtime state, config.json, the OCI hook. Built into its own archive: the
# engine (libckpt.a) holds nothing of OCI. oci/ sees include/ckpt (the
# engine's public API) and libckpt/util (log, JSON, /proc, spawn) only;
# `make check-deps` enforces that.
OCI_SRCS += $(wildcard oci/*.c)
