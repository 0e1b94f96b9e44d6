#!/usr/bin/env bats
# tests/integration/predump.bats - incremental checkpoints: a pre-dump
# copies memory while the tree runs and tracks what it writes; a final
# checkpoint with --parent writes only those pages and refers to the rest.
# The dirty_mem workload rewrites pages of a buffer all along and checks
# every one after restore; a broken chain is refused in one line.

load helpers
bats_require_minimum_version 1.5.0
MKBUNDLE=${MKBUNDLE:-$(dirname "$CKPT_OCI")/tests/unit/mkbundle}

# predump OUT [ARGS...]: checkpoint --pre-dump of the workload into OUT.
predump()
{
	local out=$1
	shift
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" --pre-dump -o "$out" "$@"
	[[ $status -eq 0 ]] || ckpt_show_logs
	assert_success || return
	pid_running "$WL_MARK" || fail "the pre-dump stopped the workload"
	tracker_slots_ok
}

# tracker_slots_ok: the tracker the state file names holds, the moment the
# pre-dump has returned, a userfaultfd in each task's slot and the root's
# pidfd after them (the next pre-dump takes its uffds from those slots).
tracker_slots_ok()
{
	local st tracker fd n=0 link
	st=$(ls /run/ckpt-oci/track-"$WL_PID"-*.json) || { fail "no tracking state"; return; }
	tracker=$(jq -r .tracker "$st")
	for fd in $(jq -r '.tasks[].fd' "$st"); do
		link=$(readlink "/proc/$tracker/fd/$fd") || true
		[[ $link == "anon_inode:[userfaultfd]" ]] ||
			{ fail "tracker $tracker slot $fd: ${link:-nothing}, not a userfaultfd"; return; }
		n=$((n + 1))
	done
	link=$(readlink "/proc/$tracker/fd/$((3 + n))") || true
	[[ $link == "anon_inode:[pidfd]" ]] || fail "tracker $tracker slot $((3 + n)): ${link:-nothing}"
}

_no_track_state() { ! ls /run/ckpt-oci/track-"$WL_PID"-*.json >/dev/null 2>&1; }

# refs BUNDLE: pages BUNDLE takes from its parent.
refs()
{
	jq '[.[][1]] | add // 0' "$1/parentmap-$WL_PID.json"
}

@test "predump: pre-dump, final dump with --parent, the restored program verifies every page" {
	require_root
	wl_start dirty_mem 32 || return
	predump "$T/b1" || return
	[ -f "$T/b1/chain.json" ]
	ckpt_checkpoint --parent "$T/b1" || return
	# pages written since are in the bundle, the others only referenced
	(($(refs "$T/bundle") > 0)) || fail "nothing referenced in the parent"
	(($(jq length "$T/bundle/pagemap-$WL_PID.json") > 0)) || fail "nothing written"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: the program does not notice a pre-dump: same fds, same maps" {
	require_root
	wl_start dirty_mem 16 || return
	ls -l "/proc/$WL_PID/fd" >"$T/fd.before"
	cat "/proc/$WL_PID/maps" >"$T/maps.before"
	predump "$T/b1" || return
	ls -l "/proc/$WL_PID/fd" >"$T/fd.after"
	cat "/proc/$WL_PID/maps" >"$T/maps.after"
	diff "$T/fd.before" "$T/fd.after"
	diff "$T/maps.before" "$T/maps.after"
	# a second one takes the tracking over: nothing shows either
	predump "$T/b2" --parent "$T/b1" || return
	ls -l "/proc/$WL_PID/fd" >"$T/fd.after"
	diff "$T/fd.before" "$T/fd.after"
	ls /run/ckpt-oci/track-"$WL_PID"-*.json
	ckpt_checkpoint --parent "$T/b2" || return
	# the final checkpoint ends the tracking: no state is left
	! ls /run/ckpt-oci/track-"$WL_PID"-*.json 2>/dev/null
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: pre-dumps back to back each take the tracking over from the last" {
	require_root
	wl_start dirty_mem 32 || return
	predump "$T/b1" || return
	for i in 2 3 4 5 6 7 8; do
		predump "$T/b$i" --parent "$T/b$((i - 1))" || return
		(($(refs "$T/b$i") > 0)) || fail "pre-dump $i copied everything again"
	done
	ckpt_checkpoint --parent "$T/b8" || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: a pre-dump after another copies only the pages written, and maps in none" {
	require_root
	# 64 MiB written once, then only a timestamp a millisecond
	wl_start migrate_ts 64 || return
	predump "$T/b1" || return
	predump "$T/b2" --parent "$T/b1" || return
	local rss n b
	rss=$(awk '/^VmRSS/{print $2}' "/proc/$WL_PID/status")
	predump "$T/b3" --parent "$T/b2" || return
	# the unpopulated rest of a page table it armed is no page to copy
	for b in b2 b3; do
		n=$(jq '[.[][1]] | add // 0' "$T/$b/pagemap-$WL_PID.json")
		((n < 256)) || fail "$b copied $n pages"
	done
	# its timestamps take a page every 512 ms; libc's unread text was ~500 kB
	(($(awk '/^VmRSS/{print $2}' "/proc/$WL_PID/status") - rss < 128)) ||
		fail "VmRSS $rss kB before the pre-dump, then $(grep VmRSS "/proc/$WL_PID/status")"
	ckpt_checkpoint --parent "$T/b3" || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: a chain of 3 is restored; inspect shows it" {
	require_root
	wl_start dirty_mem 32 || return
	predump "$T/b1" || return
	predump "$T/b2" --parent "$T/b1" || return
	(($(refs "$T/b2") > 0)) || fail "the second pre-dump copied everything again"
	ckpt_checkpoint --parent "$T/b2" || return
	run -0 "$CKPT_OCI" inspect "$T/bundle"
	assert_line "chain:     incremental checkpoint of the tree of pid $WL_PID"
	assert_line "parent:    $T/b2 (manifest as recorded)"
	assert_line "  parent:    $T/b1 (manifest as recorded)"
	run -0 "$CKPT_OCI" inspect "$T/b1"
	assert_line --partial "chain:     pre-dump"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# dirty_mem_chain_roundtrip MODE: dirty_mem in MODE, two pre-dumps and a
# final checkpoint, restored; it checks every page.
dirty_mem_chain_roundtrip()
{
	require_root
	wl_start dirty_mem 16 4 "$1" || return
	predump "$T/b1" || return
	predump "$T/b2" --parent "$T/b1" || return
	ckpt_checkpoint --parent "$T/b2" || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: VMAs unmapped, mapped again and grown between the dumps are saved whole" {
	dirty_mem_chain_roundtrip churn
}

@test "predump: pages dropped with MADV_DONTNEED between the dumps come back as zeros" {
	dirty_mem_chain_roundtrip dontneed
}

@test "predump: a child exiting while the pre-dump copies it is left out, the chain restores" {
	require_root
	wl_start dirty_mem 16 4 forks || return
	CKPT_OCI_FAULT=predump-exit predump "$T/b1" || return
	grep -q "exited during its copy" "$T/dump.log" ||
		fail "no child of the tree was copied, or its exit was not noticed"
	predump "$T/b2" --parent "$T/b1" || return
	ckpt_checkpoint --parent "$T/b2" || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "predump: a pre-dump is not restorable by itself" {
	require_root
	wl_start dirty_mem 8 || return
	predump "$T/b1" || return
	run -1 clean_exec "$CKPT_OCI" restore "$T/b1"
	assert_output "ckpt-oci: restore: \`$T/b1\` is a pre-dump: restore the checkpoint taken with --parent after it"
	# the tree exits: its tracker removes its state and exits too
	kill -9 "$WL_PID"
	wait_until 10 _no_track_state || fail "the tracker's state outlived the tree"
}

@test "predump: a parent that is missing, of another tree or not the last pre-dump is refused, the tree runs on" {
	require_root
	local other

	wl_start dirty_mem 8 || return
	run -1 clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" --parent "$T/none" -o "$T/bundle"
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "parent \`$T/none\`"
	# a pre-dump of another process
	sleep 1000 </dev/null >/dev/null 2>&1 &
	other=$!
	ckpt_track_pid "$other"
	run -0 clean_exec "$CKPT_OCI" checkpoint --pid "$other" --pre-dump -o "$T/other"
	run -1 clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" --parent "$T/other" -o "$T/bundle"
	assert_output "ckpt-oci: checkpoint $WL_PID: parent \`$T/other\` is a pre-dump of another tree (pid $other), not of $WL_PID"
	# b2 re-armed the tracking: b1 no longer says which pages are unchanged
	predump "$T/b1" || return
	predump "$T/b2" --parent "$T/b1" || return
	run -1 clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" --parent "$T/b1" -o "$T/bundle"
	assert_output "ckpt-oci: checkpoint $WL_PID: parent \`$T/b1\` is not the last pre-dump of this tree: dirty-page tracking restarted since"
	[ ! -e "$T/bundle" ]
	pid_running "$WL_MARK"
}

@test "predump: restore refuses a chain whose parent is gone or altered, in one line" {
	require_root
	[ -x "$MKBUNDLE" ] || fail "mkbundle not built ($MKBUNDLE)"
	wl_start dirty_mem 8 || return
	predump "$T/b1" || return
	local before
	ckpt_checkpoint --parent "$T/b1" || return
	before=$(pid_mark "$WL_PID")
	mv "$T/b1" "$T/b1.saved"
	run -1 clean_exec "$CKPT_OCI" restore "$T/bundle"
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "parent \`$T/b1\` of \`$T/bundle\`"
	# altered and sealed again with the key: a valid bundle, not the parent
	mv "$T/b1.saved" "$T/b1"
	jq '.' "$T/b1/chain.json" >"$T/c.json" && mv "$T/c.json" "$T/b1/chain.json"
	"$MKBUNDLE" --reseal "$T/b1"
	run -1 clean_exec "$CKPT_OCI" restore "$T/bundle"
	assert_output "ckpt-oci: restore: parent \`$T/b1\` of \`$T/bundle\` is not the bundle it was made from (its manifest differs)"
	# a bundle whose MAC does not verify names no parent to follow
	head -c 32 /dev/urandom >"$T/other.key" && chmod 600 "$T/other.key"
	run -1 clean_exec "$CKPT_OCI" restore --insecure-unauthenticated --key "$T/other.key" \
		"$T/bundle"
	assert_output --partial "\`$T/bundle\` is not authenticated: its parent \`b1\` is not followed"
	! pid_taken_since "$before"
}

@test "predump: a tree whose children share pages with their parent since the fork" {
	require_root
	wl_start cow_fork || return
	predump "$T/b1" || return
	ckpt_checkpoint --parent "$T/b1" || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
