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

@test "mem: map_devzero, /dev/zero and a shared object in pieces (dynamic)" {
	wl_roundtrip map_devzero
}

@test "mem: map_devzero, /dev/zero and a shared object in pieces (static)" {
	wl_roundtrip map_devzero.static
}

@test "mem: map_file_rights, mprotect PROT_WRITE after restore, mixed protections (dynamic)" {
	wl_roundtrip map_file_rights "$T"
}

@test "mem: map_file_rights, mprotect PROT_WRITE after restore, mixed protections (static)" {
	wl_roundtrip map_file_rights.static "$T"
}

@test "mem: memfd_exec, a memfd executed after restore (dynamic)" {
	wl_roundtrip memfd_exec
}

@test "mem: memfd_exec, a memfd executed after restore (static)" {
	wl_roundtrip memfd_exec.static
}

@test "mem: map_deleted, a file mapped then deleted (dynamic)" {
	wl_roundtrip map_deleted "$T"
}

@test "mem: map_deleted, a file mapped then deleted (static)" {
	wl_roundtrip map_deleted.static "$T"
}
