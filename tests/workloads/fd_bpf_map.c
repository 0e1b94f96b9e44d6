/*
 * fd_bpf_map - an array map and a hash map, each with content, held as
 * fds. ckpt-oci does not save BPF maps: the checkpoint must fail in one
 * line naming the fd, and the tree runs on; after the go the content of
 * both maps is still there.
 */
#include <linux/bpf.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "wl.h"
#include "wl_sys.h"

static int bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

static int map_create(int type)
{
	union bpf_attr a = {.map_type = type, .key_size = 4, .value_size = 8, .max_entries = 8};

	return bpf(BPF_MAP_CREATE, &a);
}

static int map_op(int cmd, int fd, uint32_t key, uint64_t *val)
{
	union bpf_attr a = {.map_fd = fd,
			    .key = (uintptr_t)&key,
			    .value = (uintptr_t)val,
			    .flags = cmd == BPF_MAP_UPDATE_ELEM ? BPF_ANY : 0};

	return bpf(cmd, &a);
}

int main(int argc, char **argv)
{
	int arr, hash;
	uint64_t v;

	wl_init(argc, argv);
	arr = map_create(BPF_MAP_TYPE_ARRAY);
	hash = map_create(BPF_MAP_TYPE_HASH);
	if (arr < 0 || hash < 0)
		return wl_fail("BPF_MAP_CREATE: %m");
	for (uint32_t k = 0; k < 8; k++) {
		v = 1000 + k;
		if (map_op(BPF_MAP_UPDATE_ELEM, arr, k, &v) < 0)
			return wl_fail("array update: %m");
		v = 7 * k;
		if (k % 2 && map_op(BPF_MAP_UPDATE_ELEM, hash, 100 + k, &v) < 0)
			return wl_fail("hash update: %m");
	}
	wl_ready();
	wl_wait_restored();
	for (uint32_t k = 0; k < 8; k++) {
		if (map_op(BPF_MAP_LOOKUP_ELEM, arr, k, &v) < 0 || v != 1000 + k)
			return wl_fail("array element %u lost", k);
		if ((map_op(BPF_MAP_LOOKUP_ELEM, hash, 100 + k, &v) == 0) != (k % 2) ||
		    (k % 2 && v != 7 * k))
			return wl_fail("hash element %u wrong", 100 + k);
	}
	return wl_pass();
}
