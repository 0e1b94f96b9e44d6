#!/usr/bin/env bats
# tests/integration/mem.bats - memory comes back exactly as it was: VMA
# flags (madvise, mlock, mseal), special mappings, copy-on-write sharing.
# Each workload verifies itself from inside after restore (dynamic and
# static); workloads-native.bats shows each passes without a checkpoint.

load helpers
bats_require_minimum_version 1.5.0

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

@test "mem: memfd_fd_map, a memfd held by an fd (one through map_files) and mapped is one object (dynamic)" {
	wl_roundtrip memfd_fd_map
}

@test "mem: memfd_fd_map, a memfd held by an fd (one through map_files) and mapped is one object (static)" {
	wl_roundtrip memfd_fd_map.static
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

# refused NAME MSG [ARGS]: the checkpoint of NAME fails in one line with
# MSG, and the workload goes on untouched: it takes its go and passes.
refused()
{
	local name=$1 msg=$2
	shift 2
	wl_start "$name" "$@" || return
	run -1 clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_output --partial "$msg"
	[ "${#lines[@]}" -eq 1 ] || fail "more than one line: $output"
	[ ! -e "$T/bundle" ] || fail "a refused checkpoint left a bundle"
	wl_go || return
	_wl_wait_pass "$WL_PID" "$name after the refused checkpoint"
}

@test "mem: aio_ring, an AIO ring with an event not reaped: refused, left running (dynamic)" {
	refused aio_ring "has an AIO ring (io_setup) at 0x" "$T"
}

@test "mem: aio_ring, an AIO ring with an event not reaped: refused, left running (static)" {
	refused aio_ring.static "has an AIO ring (io_setup) at 0x" "$T"
}

# Two huge pages for hugetlb_map, given back afterwards.
reserve_huge()
{
	require_root
	HUGE_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HUGE_BEFORE + 2)) >/proc/sys/vm/nr_hugepages
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $((HUGE_BEFORE + 2)) ] ||
		fail "cannot reserve 2 huge pages"
}

teardown()
{
	ckpt_teardown
	if [[ -n ${HUGE_BEFORE:-} ]]; then
		echo "$HUGE_BEFORE" >/proc/sys/vm/nr_hugepages
	fi
}

@test "mem: hugetlb_map, anonymous hugetlb and a hugetlbfs memfd: refused, left running (dynamic)" {
	reserve_huge
	refused hugetlb_map "has a hugetlb mapping"
}

@test "mem: hugetlb_map, anonymous hugetlb and a hugetlbfs memfd: refused, left running (static)" {
	reserve_huge
	refused hugetlb_map.static "has a hugetlb mapping"
}

# tree_pss PID: the Pss (kB) of PID and all its descendants.
tree_pss()
{
	local pid=$1 sum child

	sum=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")
	for child in $(cat /proc/"$pid"/task/*/children); do
		sum=$((sum + $(tree_pss "$child")))
	done
	echo "$sum"
}

# The restored root runs on its own again, back in open() of $T/go.
restored_and_waiting()
{
	restored_in_syscall 257
}

# cow_roundtrip NAME: 8 children over 256 MiB shared untouched with their
# parent; the pages are saved once, and after restore the tree's Pss is
# within 5% of what it was.
cow_roundtrip()
{
	local before after images

	wl_start "$1" 256 || return
	before=$(tree_pss "$WL_PID")
	ckpt_checkpoint || return
	images=$(cat "$T"/bundle/pages-*.img | wc -c)
	((images < 300 * 1024 * 1024)) || fail "pages images of $images bytes: shared pages saved again"
	ckpt_restore_bg --pid-file "$T/restored.pid" || return
	wait_until 60 restored_and_waiting || fail "restored $1 not back in open($T/go)"
	after=$(tree_pss "$WL_PID")
	echo "# tree Pss: $before kB before, $after kB after" >&3
	((after * 100 <= before * 105 && after * 100 >= before * 95)) ||
		fail "tree Pss $after kB after restore, $before kB before"
	wl_go || return
	wl_finish
}

@test "mem: cow_fork, copy-on-write sharing of 256 MiB with 8 children (dynamic)" {
	cow_roundtrip cow_fork
}

@test "mem: cow_fork, copy-on-write sharing of 256 MiB with 8 children (static)" {
	cow_roundtrip cow_fork.static
}

@test "mem: cow_fork deep, a grandchild sharing pages its parent inherited (dynamic)" {
	wl_roundtrip cow_fork 16 deep
}

@test "mem: cow_fork deep, a grandchild sharing pages its parent inherited (static)" {
	wl_roundtrip cow_fork.static 16 deep
}
