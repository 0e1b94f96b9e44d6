#!/usr/bin/env bats
# tests/integration/mem.bats - memory comes back exactly as it was: VMA
# flags (madvise, mlock, mseal), special mappings, copy-on-write sharing.
# Each workload verifies itself from inside after restore (dynamic and
# static); workloads-native.bats shows each passes without a checkpoint.

load helpers

@test "mem: vma_flags (dynamic)" {
	wl_roundtrip vma_flags
}

@test "mem: vma_flags (static)" {
	wl_roundtrip vma_flags.static
}

@test "mem: mlock_uid, locked by root, kept after the uid changed (dynamic)" {
	require_root
	wl_roundtrip mlock_uid
}

@test "mem: mlock_uid, locked by root, kept after the uid changed (static)" {
	require_root
	wl_roundtrip mlock_uid.static
}
