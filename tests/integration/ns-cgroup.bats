#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# ns-cgroup.bats - cgroups and the cgroup namespace: a workload in cgroups
# of its own (v1 pids and memory below ours, and the v2 unified hierarchy
# when mounted) with limits, in its own pid namespace, with or without a
# cgroup namespace of its own. With one, the restore makes new cgroups
# (NAME-rPID beside ours) with the same limits; without, each task and
# thread goes back to the very cgroups it left, made again if gone. The
# teardown removes them, the restore does not.

load helpers

CG=/sys/fs/cgroup

setup()
{
	require_root
	ckpt_setup
	[[ -f $CG/pids/pids.max || -d $CG/pids ]] || skip "no v1 pids hierarchy on this host"
	NAME=ckpt-test-${T##*.}
	local mem
	mem=$(sed -n 's/^[0-9]*:memory://p' /proc/self/cgroup)
	[[ $mem == / ]] && mem=
	CG_PIDS=$CG/pids/$NAME
	CG_MEM=$CG/memory$mem/$NAME
	mkdir "$CG_PIDS" "$CG_MEM"
	echo 8 >"$CG_PIDS/pids.max"
	echo $((64 << 20)) >"$CG_MEM/memory.limit_in_bytes"
	WL_NS_CGROUPS="$CG_PIDS $CG_MEM"
	if [[ -d $CG/unified ]]; then
		CG_V2=$CG/unified/$NAME
		mkdir "$CG_V2"
		WL_NS_CGROUPS+=" $CG_V2"
	fi
}

teardown()
{
	local d

	ckpt_teardown
	# the restored cgroups first (children of the same parents), then ours
	for d in "${CG_PIDS:-}" "${CG_MEM:-}" "${CG_V2:-}"; do
		[[ -n $d ]] || continue
		# with what the workloads made below them, deepest first
		find "$d"-r* "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

_root_of_restore()
{
	ROOT=$(cat /proc/"$RESTORE_PID"/task/*/children 2>/dev/null)
	ROOT=${ROOT// /}
	[[ -n $ROOT ]]
}

@test "ns_cgroup: native" { wl_native_ns "--cgroup" ns_cgroup 6; }

@test "ns_cgroup: roundtrip into new cgroups with the same limits" {
	# pids.max 8: the workload and 7 children once the harness' unshare is gone
	wl_start_ns "--cgroup" ns_cgroup 7
	ckpt_checkpoint
	run jq -r '.cgroups[] | select(.controllers == "pids") | .limits["pids.max"]' \
		"$T/bundle/cgroup.json"
	assert_output 8
	ckpt_restore_bg
	wait_until 30 _root_of_restore
	# seen from here: the root sits in NAME-rPID, limits copied
	local pids mem
	pids=$(sed -n 's/^[0-9]*:pids://p' /proc/"$ROOT"/cgroup)
	mem=$(sed -n 's/^[0-9]*:memory://p' /proc/"$ROOT"/cgroup)
	[[ $pids == */$NAME-r$RESTORE_PID ]] || fail "pids cgroup is $pids"
	[[ $mem == */$NAME-r$RESTORE_PID ]] || fail "memory cgroup is $mem"
	[[ $(cat "$CG/pids$pids/pids.max") == 8 ]]
	[[ $(cat "$CG/memory$mem/memory.limit_in_bytes") == $((64 << 20)) ]]
	wl_go
	wl_finish
}

@test "ns_cgroup: roundtrip (static)" {
	wl_roundtrip_ns "--cgroup" ns_cgroup.static 7
}

# Its leader, a thread and a child each in a cgroup of their own below the
# one it started in (v1 pids per thread, v2 threaded when mounted), with
# limits; the checkpoint removes nothing, the test removes them all, the
# restore must make them again with their limits, same paths.
cg_member()
{
	local name=$1 flags=$2 v2= d
	[[ -n ${CG_V2:-} ]] && v2=v2
	wl_start_ns "$flags" "$name" $v2
	ckpt_checkpoint
	run jq -r '.threads | length' "$T/bundle/cgroup.json"
	assert_output 3
	if [[ -z $flags ]]; then
		for d in "$CG_PIDS"/{a,b,c} ${CG_V2:+"$CG_V2"/t/p "$CG_V2"/t/q "$CG_V2"/t}; do
			rmdir "$d" || fail "rmdir $d"
		done
	fi
	ckpt_restore_bg
	wl_go
	wl_finish
}

@test "cgroup: tasks and threads back in their own cgroups, made again with limits" {
	cg_member cgroup_member ""
}
@test "cgroup: tasks and threads back in their own cgroups (static)" {
	cg_member cgroup_member.static ""
}
@test "cgroup: own cgroup namespace: same paths seen, the tree's own cgroups below made again" {
	cg_member cgroup_member --cgroup
}

# A v1 hierarchy a program mounted for a while and took away again (crun
# does it with hugetlb on a hybrid host) stays listed in /proc/PID/cgroup,
# at "/", while mounted nowhere: nothing of it to keep, and no reason to
# refuse the checkpoint.
_v1_hierarchy_unmounted()
{
	grep -q '^[0-9]*:hugetlb:/$' /proc/self/cgroup &&
		! grep -q ' - cgroup cgroup .*hugetlb' /proc/self/mountinfo
}

@test "cgroup: the root of a v1 hierarchy mounted nowhere is left out, not refused" {
	local m=$T/hugetlb

	if ! _v1_hierarchy_unmounted; then
		grep -qw hugetlb $CG/unified/cgroup.controllers 2>/dev/null ||
			skip "no hugetlb controller to mount as v1 here"
		mkdir "$m"
		mount -t cgroup -o hugetlb cgroup "$m"
		mkdir "$m/$NAME" # keeps the hierarchy once unmounted
		umount "$m"
		mount -t cgroup -o hugetlb cgroup "$m"
		rmdir "$m/$NAME"
		umount "$m"
	fi
	_v1_hierarchy_unmounted || fail "hugetlb is not a v1 hierarchy mounted nowhere"
	wl_roundtrip counter
}

# The other way round: mounted while the tree was saved (at its root), gone
# by the restore. Nothing to place; before, restore refused the bundle.
@test "cgroup: a v1 hierarchy mounted at checkpoint, gone at restore, with the tree at its root" {
	local m=$T/hugetlb

	_v1_hierarchy_unmounted || grep -qw hugetlb $CG/unified/cgroup.controllers 2>/dev/null ||
		skip "no hugetlb controller to mount as v1 here"
	mkdir "$m"
	mount -t cgroup -o hugetlb cgroup "$m"
	wl_start counter || { umount "$m"; return 1; }
	ckpt_checkpoint || { umount "$m"; return 1; }
	umount "$m"
	_v1_hierarchy_unmounted || fail "hugetlb still mounted"
	grep -q '"controllers": *"hugetlb"' "$T/bundle/cgroup.json" || fail "hugetlb not saved"
	ckpt_restore_bg
	wl_go
	wl_finish
}
