#!/usr/bin/env bats
# exclusive: fixed container and cgroup name (vfy1)
# tests/integration/verify.bats - a restore hashes the page images while it
# makes the tree from them (threads of the bundle, started once the
# documents verified) and lets the tree run only once every image verified.
# A byte altered in a page image, of a bundle whose MAC verifies or of one
# restored with --insecure-unauthenticated, is refused after the tree was
# made and before it ran a single instruction: the workload never takes its
# go, no process of it is left, and a container leaves no runtime state and
# no cgroup.

load helpers
load container
bats_require_minimum_version 1.5.0

setup()
{
	ckpt_setup
	require_root
}

teardown()
{
	[[ -n ${RUNC_ROOT:-} ]] && ctr_teardown
	ckpt_teardown
}

# flip FILE: one byte near the end of FILE changed, its size kept; the
# images are hashed in order, so the tree is made before that byte is.
flip()
{
	local f=$1 off byte

	off=$(($(stat -c %s "$f") - 4096 - 7))
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte ^ 32)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# The restore of $T/bundle (ARGS first) refused for the altered image of
# WL_PID, after the tree was made, before it ran.
refused_after_made()
{
	local before

	before=$(pid_mark "$WL_PID")
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore "$@" "$T/bundle"
	assert_failure
	assert_output --partial "pages-$WL_PID.img: checksum mismatch: corrupt bundle"
	# made: the hashing ran beside it, and the task ran our remote calls
	grep -q "threads verify .* MiB of page images meanwhile" "$T/restore.log"
	grep -q "rsys: $WL_PID: " "$T/restore.log" || fail "the tree was not made"
	# never released, nothing left
	if grep -q "restored 1 tasks" "$T/restore.log"; then
		fail "the tree was released"
	fi
	wait_until 10 eval '! pid_taken_since "$before"' || fail "task $WL_PID is left"
	! echo go | dd of="$T/go" oflag=nonblock status=none 2>/dev/null ||
		fail "the workload ran: it opened its go"
	[[ $(tail -n 1 "$T/out") != PASS ]]
}

@test "verify: 64 MiB of page images hashed while the tree is made; the workload passes" {
	wl_roundtrip bigmem 64
	grep -q "threads verify 64.* MiB of page images meanwhile" "$T/restore.log"
	grep -q "page images verified (64" "$T/restore.log"
}

@test "verify: a page image byte altered in a bundle whose MAC verifies: refused before the tree runs" {
	wl_start bigmem 64 || return
	ckpt_checkpoint || return
	flip "$T/bundle/pages-$WL_PID.img"
	refused_after_made
	# the same bundle restores once the byte is back
	flip "$T/bundle/pages-$WL_PID.img"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "verify: a page image byte altered in an unauthenticated bundle: refused before the tree runs" {
	local fd line bin

	# as nobody: an unauthenticated bundle restores no task as root outside a container
	require_cmd setpriv
	bin=$(wl_bin_unprivileged bigmem) || return
	touch "$T/out" && mkfifo "$T/ready" "$T/go" &&
		chown 65534:65534 "$T" "$T/out" "$T/ready" "$T/go" || return
	(
		_close_fds
		cd "$T" || exit 1
		WL_READY=$T/ready WL_GO=$T/go exec setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$bin" 64
	) </dev/null >>"$T/out" 2>&1 &
	WL_PID=$!
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	exec {fd}<>"$T/ready"
	line=$(_read_ready "$fd" "$WL_MARK")
	exec {fd}<&-
	[[ ${line:-} == ready ]] || fail "bigmem as nobody did not say ready"
	ckpt_checkpoint || return
	rm "$T/bundle/manifest.mac"
	flip "$T/bundle/pages-$WL_PID.img"
	refused_after_made --insecure-unauthenticated
	grep -q "opened anyway, unauthenticated" <<<"$output"
}

@test "verify: a container whose page image was altered is refused; no state, cgroup or process left" {
	local img p n

	ctr_setup
	# the shell holds its 20 MiB of digits while it counts: a page image above 16 MiB
	ctr_run_counter vfy1 ".process.args[2] = \"x=\$(seq 3000000); \" + .process.args[2]"
	checkpoint -o "$T/ckpt" vfy1
	assert_success
	img=$(ls -S "$T"/ckpt/pages-*.img | head -n 1)
	[[ $(stat -c %s "$img") -gt $((16 << 20)) ]] || fail "$img: smaller than 16 MiB"
	flip "$img"
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" "$T/ckpt"
	assert_failure
	assert_output --partial "${img##*/}: checksum mismatch: corrupt bundle"
	grep -q "threads verify" "$T/restore.log"
	[[ ! -e $RUNC_ROOT/vfy1 ]] || fail "runtime state dir left"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]] || fail "runc lists a container"
	for p in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/*/; do
		[[ ! -e ${p}vfy1 ]] || fail "cgroup ${p}vfy1 left behind"
	done
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) != "$T"/* ]] ||
			fail "process ${p#/proc/} of the container left"
	done
	# and restores once the byte is back
	flip "$img"
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" "$T/ckpt"
	assert_success
	n=$(ctr_count vfy1)
	ctr_wait_count_above vfy1 "$n"
}
