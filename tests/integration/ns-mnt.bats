#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/ns-mnt.bats - the mount namespace: a container-like
# tree (host / bound read-only, proc, sysfs, tmpfs /dev with nodes, devpts,
# mqueue, cgroup2, a bind of a host directory, tmpfs mounts made at run
# time with their content, a read-only remount, shared propagation) is
# restored into fresh mount and pid namespaces; the workload checks it
# from inside, mountinfo included. ns_mnt_runc: runc's masked and
# read-only paths, a cgroup mount in a cgroup namespace, a read-only
# superblock, peer groups and a slave inside the tree.

load helpers

setup()
{
	ckpt_setup
	require_root
	mkdir "$T/root"
	# a host directory on another filesystem than /, so it is an external mount
	DATA=$(mktemp -d /dev/shm/ckpt-mnt.XXXXXX)
	echo "from the host" >"$DATA/hello"
}

teardown()
{
	ckpt_teardown
	rm -rf "$DATA" "$DATA.moved"
	# the restored cgroup (NAME-rPID), then the workload's own
	local d
	for d in "${CG_PIDS:-}" "${CG_V2:-}"; do
		[[ -z $d ]] || rmdir "$d"-r*/sub "$d"/sub "$d"-r* "$d" 2>/dev/null || true
	done
}

# ns_mnt_runc starts in a pids cgroup of its own (v1), and in one of the
# unified hierarchy where it is mounted (RUNC_ARGS gets `v2`), in a cgroup
# namespace.
runc_setup()
{
	[[ -d /sys/fs/cgroup/pids ]] || skip "no v1 pids hierarchy on this host"
	CG_PIDS=/sys/fs/cgroup/pids/ckpt-mnt-${T##*.}
	mkdir "$CG_PIDS"
	WL_NS_CGROUPS=$CG_PIDS
	RUNC_ARGS=()
	if [[ -f /sys/fs/cgroup/unified/cgroup.procs ]]; then
		CG_V2=/sys/fs/cgroup/unified/ckpt-mnt-${T##*.}
		mkdir "$CG_V2"
		WL_NS_CGROUPS+=" $CG_V2"
		RUNC_ARGS=(v2)
	fi
}

@test "ns_mnt_tree: native" {
	wl_native_ns "--mount" ns_mnt_tree "$T/root" "$DATA"
}

@test "ns_mnt_tree: roundtrip (dynamic)" {
	wl_roundtrip_ns "--mount" ns_mnt_tree "$T/root" "$DATA"
}

@test "ns_mnt_tree: roundtrip (static)" {
	wl_roundtrip_ns "--mount" ns_mnt_tree.static "$T/root" "$DATA"
}

@test "ns_mnt_tree: the bundle lists every mount with its kind" {
	wl_start_ns "--mount" ns_mnt_tree "$T/root" "$DATA" || return
	ckpt_checkpoint || return
	run jq -r '.mounts[] | "\(.mountpoint) \(.kind)"' "$T/bundle/mounts.json"
	assert_line "/ external"
	assert_line "/proc fresh"
	assert_line "/dev fresh"
	assert_line "/dev/pts fresh"
	assert_line "/media external"
	assert_line "/mnt/y bind"
	run jq -r '.owned[]' "$T/bundle/ns.json"
	assert_line mnt
}

@test "ns_mnt_tree: a missing host source is refused; --mount-map gives another" {
	wl_start_ns "--mount" ns_mnt_tree "$T/root" "$DATA" any-root || return
	ckpt_checkpoint || return
	mv "$DATA" "$DATA.moved"
	run clean_exec "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --partial "host source \`$DATA\`"
	assert_output --partial "--mount-map"
	ckpt_restore_bg --mount-map "$DATA=$DATA.moved" || return
	wl_go || return
	wl_finish
}

@test "ns_mnt_runc: native" {
	runc_setup
	wl_native_ns "--mount --cgroup" ns_mnt_runc "$T/root" "${RUNC_ARGS[@]}"
}

@test "ns_mnt_runc: roundtrip" {
	runc_setup
	wl_start_ns "--mount --cgroup" ns_mnt_runc "$T/root" "${RUNC_ARGS[@]}" || return
	ckpt_checkpoint || return
	run jq -r '.mounts[] | "\(.mountpoint) \(.kind)"' "$T/bundle/mounts.json"
	assert_line "/proc/keys bind"
	assert_line "/proc/kallsyms external"
	assert_line "/proc/kmsg bind"
	assert_line "/proc/acpi fresh"
	assert_line "/proc/sys bind"
	assert_line "/sys/pids cgroup"
	if [[ -n ${RUNC_ARGS[*]} ]]; then
		assert_line "/sys/unified cgroup"
		assert_line "/sys/sub cgroup"
	fi
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "ns_mnt_runc: roundtrip (static)" {
	runc_setup
	wl_roundtrip_ns "--mount --cgroup" ns_mnt_runc.static "$T/root" "${RUNC_ARGS[@]}"
}

_deleted_bind_ready()
{
	WL_PID=$(cat "/proc/$WL_NS_PARENT/task/$WL_NS_PARENT/children" 2>/dev/null) &&
		[[ -n $WL_PID ]] && grep -q '//deleted' "/proc/${WL_PID// /}/mountinfo"
}

@test "mnt: a bind of a deleted file is refused in one line, the tree left running" {
	clean_exec unshare --mount --pid --fork sh -c '
		mount --make-rprivate / && mount -t tmpfs tmp "$1" && touch "$1/f" "$1/g" &&
		mount --bind "$1/f" "$1/g" && rm "$1/f" && exec sleep 1000' sh "$T/root" \
		</dev/null >/dev/null 2>&1 &
	WL_NS_PARENT=$!
	ckpt_track_pid "$WL_NS_PARENT"
	wait_until 20 _deleted_bind_ready
	WL_PID=${WL_PID// /}
	WL_MARK=$(pid_mark "$WL_PID")
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_output --partial "mount \`$T/root/g\`: its source \`/f//deleted\` (tmpfs) was deleted"
	[[ ! -e $T/bundle ]]
	pid_running "$WL_MARK"
}

# fd_shared_mntns: a file shared by two fds and two processes exists only on
# a tmpfs of the tree's mount namespace, over a host directory that holds
# another file at the same path: restore opens the shared description inside
# the tree's namespace (not ckpt-oci's, where the path is the host's file).
@test "mnt: a shared file description on a path that exists only inside the tree" {
	mkdir "$T/inside"
	echo "the host's file" >"$T/inside/f"
	wl_roundtrip_ns "--mount" fd_shared_mntns "$T/inside"
	[[ $(cat "$T/inside/f") == "the host's file" ]]
}

# fd_unix_ctr: unix sockets bound to a path on a tmpfs of the tree's mount
# namespace and to abstract names of its network namespace, clients in a
# child with queued bytes, an fd in flight, a pending connection, a FIFO
# with queued bytes where the host has a regular file: restore makes the
# sockets and the FIFO inside the tree's namespaces, where new clients
# connect by path and by abstract name; the host's file is untouched.
@test "mnt+net: unix sockets by path and abstract name, and a FIFO, inside the tree" {
	mkdir "$T/ctr"
	echo "the host's file" >"$T/ctr/fifo"
	wl_roundtrip_ns "--mount --net" fd_unix_ctr "$T/ctr"
	[[ $(cat "$T/ctr/fifo") == "the host's file" ]]
	[[ ! -e $T/ctr/l.sock ]]
}

# The same in a tree with its own network namespace but the host's mounts:
# the abstract names are bound in the tree's network namespace (the paths
# are the host's, shared with ckpt-oci).
@test "net: unix sockets bound to abstract names in the tree's own network namespace" {
	mkdir "$T/ctr"
	wl_roundtrip_ns "--net" fd_unix_ctr "$T/ctr" --no-mount
}
