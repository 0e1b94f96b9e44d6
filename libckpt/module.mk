# The engine: knows nothing of OCI. One folder per stage or kind of state;
# each folder's README comment sits at the top of its main file.
LIB_SRCS += $(wildcard libckpt/*/*.c)
