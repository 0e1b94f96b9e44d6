#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/inspect.bats - what `ckpt-oci inspect` shows of a
# bundle, text and --json: for a container its runtime, root and id and
# its root filesystem changes; for fds the key state of the newer kinds
# (mqueue name, fanotify marks, unix names and fds in flight, UDP datagrams
# queued).
# Each workload is restored afterwards and must PASS: the bundle inspect
# read is the one that works.

load helpers
load container

setup()
{
	ckpt_setup
}

teardown()
{
	[[ -z ${RUNC_ROOT:-} ]] || ctr_teardown
	ckpt_teardown
	[[ -z ${DATA:-} ]] || rm -rf "$DATA"
}

# inspect_ok [ARGS...]: `ckpt-oci inspect ARGS $T/bundle` succeeds.
inspect_ok()
{
	run "$CKPT_OCI" inspect "$@" "$T/bundle"
	assert_success
}

# fd_line KIND: the line of the one fd of KIND in inspect's text output.
fd_line()
{
	grep -E "^ +[0-9]+ $1 " <<<"$output"
}

# Restore the checkpointed workload and see it PASS.
restore_pass()
{
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# ---- containers ---------------------------------------------------------------

@test "inspect: a container bundle shows runtime, root, id and the rootfs changes" {
	ctr_setup
	ctr_run_counter ic1
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --root "$RUNC_ROOT" -o "$T/bundle" ic1
	assert_success
	inspect_ok
	assert_line "container: ic1, runtime runc, root $RUNC_ROOT"
	# the counter writes /tmp/count in the root directory: changed entries
	assert_line --regexp "^rootfs:    $T/ic1/rootfs: [1-9][0-9]* entries changed since [0-9T:.Z-]+, [1-9][0-9]* bytes$"
	# runc gives the container cgroups but no cgroup namespace
	assert_line --regexp "^namespaces joined, the tree's part saved:.* cgroup"
	assert_line "hostname:  ic1 (domain (none))"
	assert_line --regexp '^mounts:    [1-9][0-9]*$'
	assert_line --regexp '^    /proc +proc +fresh '
	assert_line --regexp '^cgroups:   [1-9][0-9]*$'
	assert_line --regexp "^    (v2|[a-z_,=]+) +/.*ic1"
	inspect_ok --json
	[[ $(jq -r .container.id <<<"$output") == ic1 ]]
	[[ $(jq -r .container.runtime <<<"$output") == runc ]]
	[[ $(jq -r .container.root <<<"$output") == "$RUNC_ROOT" ]]
	(($(jq -r .container.rootfs_diff.entries <<<"$output") >= 1))
	[[ $(jq -r .container.rootfs_diff.bytes <<<"$output") == \
		$(stat -c %s "$T/bundle/rootfs-diff.tar") ]]
}

@test "inspect: a container checkpointed with --no-rootfs says its changes are not saved" {
	ctr_setup
	ctr_run_counter ic2
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --root "$RUNC_ROOT" --no-rootfs \
		-o "$T/bundle" ic2
	assert_success
	inspect_ok
	assert_line "container: ic2, runtime runc, root $RUNC_ROOT"
	assert_line "rootfs:    changes not saved (read-only root or --no-rootfs)"
	inspect_ok --json
	[[ $(jq -r .container.rootfs_diff <<<"$output") == null ]]
}

@test "inspect: a bundle of a plain process tree has no container lines, and a vdso" {
	wl_start counter || return
	ckpt_checkpoint || return
	inspect_ok
	refute_line --regexp '^(container|rootfs):'
	assert_line --regexp '^  vdso:    text [1-9][0-9]* bytes, vvar [1-9][0-9]* bytes, hash 0x[0-9a-f]+, [1-9][0-9]* symbols$'
	inspect_ok --json
	[[ $(jq -r 'has("container")' <<<"$output") == false ]]
	restore_pass
}

@test "inspect: mounts show their kind, and shared ones their peer group" {
	mkdir "$T/root"
	# a host directory on another filesystem than /, so it is an external mount
	DATA=$(mktemp -d /dev/shm/ckpt-inspect.XXXXXX)
	echo "from the host" >"$DATA/hello"
	wl_start_ns "--mount" ns_mnt_tree "$T/root" "$DATA" || return
	ckpt_checkpoint || return
	inspect_ok
	assert_line --regexp '^namespaces of its own:.* mnt'
	assert_line --regexp '^    /media +[a-z0-9]+ +external '
	# ns_mnt_tree mounts a shared tmpfs on /mnt and binds a directory of it
	assert_line --regexp '^    /mnt +tmpfs +fresh +[^ ]+ shared:[1-9][0-9]*$'
	assert_line --regexp '^    /mnt/y +tmpfs +bind '
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# ---- fds -------------------------------------------------------------------------

@test "inspect: a seccomp filter names the syscalls it tests" {
	wl_start seccomp || return
	ckpt_checkpoint || return
	inspect_ok
	# oldest filter first: uname and personality, then mincore
	assert_line --regexp "^  seccomp: thread $WL_PID filter 0: 11 insns; arch x86_64; 2 syscalls tested: uname personality$"
	assert_line --regexp "^  seccomp: thread $WL_PID filter 1: 6 insns; 2 syscalls tested: mincore uname$"
	assert_line --regexp "^  creds:   uids 0,0,0,0  gids 0,0,0,0  groups .*  cap_eff 0x[0-9a-f]+$"
	restore_pass
}

@test "inspect: mqueue fds show the queue's name" {
	wl_start fd_mqueue || return
	ckpt_checkpoint || return
	inspect_ok
	fd_line mqueue | grep -q " queue /ckpt-wl-fdmq-$WL_PID " ||
		fail "no mqueue fd naming its queue in: $output"
	restore_pass
}

@test "inspect: fanotify fds show how many marks they hold" {
	wl_start fd_fanotify || return
	ckpt_checkpoint || return
	inspect_ok
	fd_line fanotify | grep -qE ' [1-9][0-9]* marks ' ||
		fail "no fanotify fd with its marks in: $output"
	inspect_ok --json
	(($(jq '[.tasks[].fds[] | select(.kind == "fanotify") | .marks | length] | add' \
		<<<"$output") >= 1))
	restore_pass
}

@test "inspect: a unix socket shows the fds in flight in its queue" {
	wl_start fd_unix_refused inflight || return
	ckpt_checkpoint || return
	inspect_ok
	fd_line unix | grep -qE ' socket [0-9]+ 1 bytes queued 1 fds in flight ' ||
		fail "no unix socket with 1 fd in flight in: $output"
	inspect_ok --json
	[[ $(jq '.files.inflight | length' <<<"$output") == 1 ]]
	restore_pass
}

@test "inspect: UDP sockets show their queued datagrams" {
	wl_start net_udp_queued || return
	ckpt_checkpoint || return
	inspect_ok
	fd_line inet | grep -qE ' socket [0-9]+ udp 3 datagrams queued ' ||
		fail "no UDP socket with its 3 datagrams in: $output"
	restore_pass
}

@test "inspect: a unix socket bound to a relative path shows its name and directory" {
	wl_start fd_unix_refused relative || return
	ckpt_checkpoint || return
	inspect_ok
	fd_line unix | grep -qF " name rel.sock in $T " ||
		fail "no unix listener named rel.sock in $T in: $output"
	restore_pass
}

@test "inspect: a pipe at stdout whose reader is outside the tree says so" {
	local reader

	clean_exec sleep 1000 </dev/null 2>/dev/null | cat >/dev/null &
	reader=$!
	ckpt_track_pid "$reader"
	wait_until 10 pgrep -x -P $$ sleep >/dev/null || fail "sleep did not start"
	WL_PID=$(pgrep -x -P $$ sleep)
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	ckpt_checkpoint || return
	inspect_ok
	fd_line pipe | grep -qE '^ +1 pipe +w desc [0-9]+ pipe [0-9]+ write end \(other end outside\) ' ||
		fail "no pipe at fd 1 leading outside in: $output"
}
