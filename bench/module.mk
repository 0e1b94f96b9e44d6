# Benchmark harness (bench/run): its workloads and helpers, one program per
# bench/*.c, built into $(BUILD)/bench/. `make bench` builds them and the
# engine; bench/run calls that itself.
BENCH_OUT := $(BUILD)/bench
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BENCH_OUT)/%,$(BENCH_SRCS))
BENCH_CFLAGS := -O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE

$(BENCH_BINS): $(BENCH_OUT)/%: bench/%.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

.PHONY: bench
bench: $(BUILD)/ckpt-oci $(BENCH_BINS)
