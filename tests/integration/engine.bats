#!/usr/bin/env bats
# tests/integration/engine.bats - checkpoint/restore of a process tree
# (ckpt-oci checkpoint --pid): every workload round-trips (dynamic and
# static), outside views (/proc maps, status, cmdline) are equal before
# checkpoint and after restore, --leave-running, failed checkpoints leave
# the tree untouched, a taken pid is refused, a call of a task's queue
# that fails is named, and real programs continue.

load helpers

# Keys of /proc/PID/status that a restore must reproduce exactly.
STATUS_KEYS='^(Name|Umask|Uid|Gid|Groups|NStgid|NSpid|NSpgid|NSsid|SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp|Seccomp_filters):'

# snapshot FILE: what must not change across checkpoint/restore, from outside.
# Maps lose dev and inode (a memfd or shmem object is a new inode after
# restore); addresses, permissions, offsets and names stay.
snapshot()
{
	local pid=$WL_PID task

	{
		echo "== cmdline"
		tr '\0' ' ' <"/proc/$pid/cmdline"
		echo
		echo "== maps"
		awk '{ print $1, $2, $3, $6, $7 }' "/proc/$pid/maps"
		echo "== status"
		grep -E "$STATUS_KEYS" "/proc/$pid/status"
		for task in /proc/"$pid"/task/*; do
			echo "== task ${task##*/}"
			grep -E '^(Name|SigPnd|SigBlk):' "$task/status"
		done
	} >"$1"
}

# The restored workload is running on its own again: no tracer, and back in
# openat() of $T/go (syscall 257), where it was checkpointed.
restored_and_waiting()
{
	restored_in_syscall 257
}

# outside_roundtrip NAME [ARGS]: roundtrip with /proc views compared.
outside_roundtrip()
{
	wl_start "$@" || return
	snapshot "$T/before"
	ckpt_checkpoint || return
	ckpt_restore_bg --pid-file "$T/restored.pid" || return
	wait_until 60 restored_and_waiting || fail "restored $1 not back in open($T/go)"
	snapshot "$T/after"
	diff -u "$T/before" "$T/after" || fail "/proc views of $1 differ after restore"
	wl_go || return
	wl_finish
}

# ---- every workload, both builds ---------------------------------------------

@test "engine: counter (dynamic)" {
	wl_roundtrip counter
}

@test "engine: counter (static)" {
	wl_roundtrip counter.static
}

@test "engine: mem_patterns (dynamic)" {
	wl_roundtrip mem_patterns
}

@test "engine: mem_patterns (static)" {
	wl_roundtrip mem_patterns.static
}

@test "engine: shared_anon (dynamic)" {
	wl_roundtrip shared_anon
}

@test "engine: shared_anon (static)" {
	wl_roundtrip shared_anon.static
}

@test "engine: file_mappings (dynamic)" {
	wl_roundtrip file_mappings "$T"
}

@test "engine: file_mappings (static)" {
	wl_roundtrip file_mappings.static "$T"
}

@test "engine: memfd_map (dynamic)" {
	wl_roundtrip memfd_map
}

@test "engine: memfd_map (static)" {
	wl_roundtrip memfd_map.static
}

@test "engine: bigmem (dynamic)" {
	wl_roundtrip bigmem
}

@test "engine: bigmem (static)" {
	wl_roundtrip bigmem.static
}

@test "engine: threads64 (dynamic)" {
	wl_roundtrip threads64
}

@test "engine: threads64 (static)" {
	wl_roundtrip threads64.static
}

@test "engine: syscall_read (dynamic)" {
	wl_roundtrip syscall_read
}

@test "engine: syscall_read (static)" {
	wl_roundtrip syscall_read.static
}

@test "engine: syscall_nanosleep (dynamic)" {
	wl_roundtrip syscall_nanosleep
}

@test "engine: syscall_nanosleep (static)" {
	wl_roundtrip syscall_nanosleep.static
}

@test "engine: syscall_futex (dynamic)" {
	wl_roundtrip syscall_futex
}

@test "engine: syscall_futex (static)" {
	wl_roundtrip syscall_futex.static
}

@test "engine: syscall_pause (dynamic)" {
	wl_roundtrip syscall_pause
}

@test "engine: syscall_pause (static)" {
	wl_roundtrip syscall_pause.static
}

@test "engine: sig_handlers (dynamic)" {
	wl_roundtrip sig_handlers
}

@test "engine: sig_handlers (static)" {
	wl_roundtrip sig_handlers.static
}

@test "engine: sig_pending (dynamic)" {
	wl_roundtrip sig_pending
}

@test "engine: sig_pending (static)" {
	wl_roundtrip sig_pending.static
}

@test "engine: sigtrap (dynamic)" {
	wl_roundtrip sigtrap
}

@test "engine: sigtrap (static)" {
	wl_roundtrip sigtrap.static
}

@test "engine: sigaltstack (dynamic)" {
	wl_roundtrip sigaltstack
}

@test "engine: sigaltstack (static)" {
	wl_roundtrip sigaltstack.static
}

@test "engine: creds (dynamic)" {
	require_root
	wl_roundtrip creds
}

@test "engine: creds (static)" {
	require_root
	wl_roundtrip creds.static
}

@test "engine: seccomp (dynamic)" {
	wl_roundtrip seccomp
}

@test "engine: seccomp (static)" {
	wl_roundtrip seccomp.static
}

@test "engine: rlimits (dynamic)" {
	wl_roundtrip rlimits
}

@test "engine: rlimits (static)" {
	wl_roundtrip rlimits.static
}

@test "engine: itimers (dynamic)" {
	wl_roundtrip itimers
}

@test "engine: itimers (static)" {
	wl_roundtrip itimers.static
}

@test "engine: posix_timers (dynamic)" {
	wl_roundtrip posix_timers
}

@test "engine: posix_timers (static)" {
	wl_roundtrip posix_timers.static
}

@test "engine: tree (dynamic)" {
	wl_roundtrip tree
}

@test "engine: tree (static)" {
	wl_roundtrip tree.static
}

@test "engine: zombie (dynamic)" {
	wl_roundtrip zombie
}

@test "engine: zombie (static)" {
	wl_roundtrip zombie.static
}

@test "engine: rseq (dynamic)" {
	wl_roundtrip rseq
}

@test "engine: rseq (static)" {
	wl_roundtrip rseq.static
}

@test "engine: misc_state (dynamic)" {
	wl_roundtrip misc_state "$T"
}

@test "engine: misc_state (static)" {
	wl_roundtrip misc_state.static "$T"
}

# ---- seen from outside: /proc views equal before and after -------------------

@test "engine: mem_patterns /proc maps, status, cmdline unchanged" {
	outside_roundtrip mem_patterns
}

@test "engine: memfd_map /proc maps, status, cmdline unchanged" {
	outside_roundtrip memfd_map
}

@test "engine: file_mappings /proc maps, status, cmdline unchanged" {
	outside_roundtrip file_mappings "$T"
}

@test "engine: threads64 /proc maps, status, cmdline unchanged" {
	outside_roundtrip threads64
}

@test "engine: sig_handlers /proc maps, status, cmdline unchanged" {
	outside_roundtrip sig_handlers
}

@test "engine: sig_pending /proc maps, status, cmdline unchanged" {
	outside_roundtrip sig_pending
}

@test "engine: creds /proc maps, status, cmdline unchanged" {
	require_root
	outside_roundtrip creds
}

@test "engine: seccomp /proc maps, status, cmdline unchanged" {
	outside_roundtrip seccomp
}

@test "engine: misc_state /proc maps, status, cmdline unchanged" {
	outside_roundtrip misc_state "$T"
}

# ---- --leave-running ---------------------------------------------------------

@test "engine: --leave-running twice on one tree, both bundles restorable" {
	wl_start counter
	ckpt_checkpoint --leave-running
	run "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle2" --leave-running
	assert_success
	# The original kept running and is still right.
	pid_running "$WL_MARK"
	wl_go
	_wl_wait_pass "$WL_PID" "original counter after two checkpoints"
	# Its pid is free now: restore each bundle in turn.
	: >"$T/out"
	ckpt_restore_bg
	wl_go
	wl_finish
	rm -rf "$T/bundle"
	mv "$T/bundle2" "$T/bundle"
	: >"$T/out"
	ckpt_restore_bg
	wl_go
	wl_finish
}

# ---- failed checkpoints leave the tree running and unchanged -----------------

# failed_checkpoint OUT: checkpoint into OUT must fail and change nothing.
failed_checkpoint()
{
	wl_start counter
	snapshot "$T/before"
	run "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$1"
	assert_failure
	pid_running "$WL_MARK"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	# stopped (T) or traced (t); a moment in D is the counter's own writing
	! grep -q '^State:[[:space:]]*[tT]' "/proc/$WL_PID/status" || fail "left stopped"
	snapshot "$T/after"
	diff -u "$T/before" "$T/after"
	[[ ! -e $1 && ! -e $1.tmp ]] || fail "a bundle or $1.tmp remains"
	run find "$T" -name '*.tmp'
	assert_output ""
	wl_go
	_wl_wait_pass "$WL_PID" "counter after a failed checkpoint"
}

@test "engine: failed checkpoint (parent dir missing) leaves the tree running" {
	failed_checkpoint "$T/missing/dir/bundle"
}

@test "engine: failed checkpoint (parent is not a writable dir) leaves the tree running" {
	: >"$T/file"
	failed_checkpoint "$T/file/bundle"
}

@test "engine: failed checkpoint (disk full) leaves the tree running and no bundle" {
	mkdir "$T/small"
	mount -t tmpfs -o size=32k ckpt-test-full "$T/small"
	failed_checkpoint "$T/small/bundle" || { umount "$T/small"; return 1; }
	umount "$T/small"
}

# ---- restore refuses a taken pid ---------------------------------------------

@test "engine: restore while the pid is taken fails naming the pid" {
	wl_start counter
	ckpt_checkpoint --leave-running
	run "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --partial "$WL_PID"
	# The original is untouched.
	wl_go
	_wl_wait_pass "$WL_PID" "counter after the refused restore"
}

# ---- a failed call of a task's queue -----------------------------------------

# A restored task's state calls are queued and run by the task itself in
# one stop, long after the room that made them (arch/rsys.h rsys_queue);
# the fault point remote-fail:LABEL makes the call so labelled fail
# (ENOSYS). The restore must name it as a call of its own would have, and
# leave no task behind: the next restore gets every pid back.
@test "engine: a queued call that fails is named, and the failed restore leaves nothing" {
	local p i
	local -a labels want

	wl_start threads64
	p=$WL_PID
	labels=("credentials: setresuid" "clone3 thread" "parent-death signal" "dumpable"
		"set_tid_address")
	want=("thread $p: credentials: setresuid" "thread [0-9]+: clone3 thread"
		"thread $p: parent-death signal: prctl" "dumpable: prctl" "thread $p: set_tid_address")
	ckpt_checkpoint
	for i in "${!labels[@]}"; do
		run clean_exec env CKPT_OCI_FAULT="remote-fail:${labels[i]}" \
			timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore "$T/bundle"
		assert_failure
		assert_output --regexp "^ckpt-oci: restore: task $p: ${want[i]}: Function not implemented\$"
		[[ ! -e /proc/$p ]] || fail "task $p left behind by a restore failed at \`${labels[i]}\`"
	done
	ckpt_restore_bg
	wl_go
	wl_finish
}

# ---- real programs -----------------------------------------------------------

# Lines of $T/py.out, when at least $1 of them are there.
py_lines_atleast()
{
	[[ $(wc -l <"$T/py.out") -ge $1 ]]
}

@test "engine: python3 loop continues from its saved state" {
	require_cmd python3
	clean_exec python3 -u -c '
import time
state = {"n": 0}
while True:
    state["n"] += 1
    print(state["n"])
    time.sleep(0.005)
' </dev/null >>"$T/py.out" 2>&1 &
	WL_PID=$!
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	wait_until 30 py_lines_atleast 50 || fail "python did not start counting"
	ckpt_checkpoint
	local n
	n=$(wc -l <"$T/py.out")
	ckpt_restore_bg
	wait_until 60 py_lines_atleast $((n + 100)) || {
		ckpt_show_logs
		fail "restored python does not progress past $n"
	}
	kill -KILL "$WL_PID"
	# Every number once, in order: it went on from n, not from 1.
	local m
	m=$(wc -l <"$T/py.out")
	run diff <(seq 1 "$m") "$T/py.out"
	assert_success
}

@test "engine: sleep 1000 restored is still sleeping and killable" {
	clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &
	WL_PID=$!
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	wait_until 10 in_syscall "$WL_PID" 230 || fail "sleep is not in clock_nanosleep"
	ckpt_checkpoint
	ckpt_restore_bg --pid-file "$T/restored.pid"
	wait_until 60 restored_sleeping || {
		ckpt_show_logs
		fail "restored sleep is not sleeping"
	}
	[[ $(tr '\0' ' ' <"/proc/$WL_PID/cmdline") == "sleep 1000 " ]]
	WL_MARK=$(pid_mark "$WL_PID")
	kill -TERM "$WL_PID"
	wait_until 30 pid_gone "$WL_MARK" || fail "restored sleep survived SIGTERM"
	wait "$RESTORE_PID" || true
}

restored_sleeping()
{
	restored_in_syscall 230
}

@test "engine: guard_pages (dynamic)" {
	wl_roundtrip guard_pages
}

@test "engine: guard_pages (static)" {
	wl_roundtrip guard_pages.static
}

@test "engine: syscall_epoll_wait (dynamic)" {
	wl_roundtrip syscall_epoll_wait
}

@test "engine: syscall_epoll_wait (static)" {
	wl_roundtrip syscall_epoll_wait.static
}

@test "engine: seccomp_strict (dynamic)" {
	wl_roundtrip seccomp_strict
}

@test "engine: seccomp_strict (static)" {
	wl_roundtrip seccomp_strict.static
}

@test "engine: orphan (dynamic)" {
	wl_roundtrip orphan
}

@test "engine: orphan (static)" {
	wl_roundtrip orphan.static
}

@test "engine: a bundle needing a kernel feature this host lacks is refused before anything starts" {
	local before
	wl_start posix_timers
	ckpt_checkpoint
	before=$(pid_mark "$WL_PID")
	CKPT_OCI_PROBE_FAIL=timer-restore-ids run "$CKPT_OCI" restore -d "$T/bundle"
	assert_failure
	assert_output "ckpt-oci: restore: this host lacks timer-restore-ids, which the bundle needs: made to fail by CKPT_OCI_PROBE_FAIL"
	! pid_taken_since "$before" || fail "pid $WL_PID taken by the refused restore"
	# where the feature is there, the same bundle restores
	ckpt_restore_bg
	wl_go
	wl_finish
}

# ---- vdso: the same one back in place, or moved behind a proxy -------------------
# CKPT_OCI_VDSO_PROXY=1 makes restore treat this host's vdso as different
# (libckpt/mem/vdso.c): the only way to take that path on a host with one kernel.

@test "engine: vdso_proxy, vdso back in place (dynamic)" {
	wl_roundtrip vdso_proxy same
}

@test "engine: vdso_proxy, vdso back in place (static)" {
	wl_roundtrip vdso_proxy.static same
}

vdso_proxy_roundtrip()
{
	wl_start "$1" proxy || return
	ckpt_checkpoint || return
	CKPT_OCI_VDSO_PROXY=1 ckpt_restore_bg || return
	wl_go || return
	wl_finish || return
	grep -q 'proxy at' "$T/restore.log" || fail "restore.log does not say the vdso was proxied"
}

@test "engine: vdso_proxy, vdso moved behind a proxy (dynamic)" {
	vdso_proxy_roundtrip vdso_proxy
}

@test "engine: vdso_proxy, vdso moved behind a proxy (static)" {
	vdso_proxy_roundtrip vdso_proxy.static
}

# Behind a proxy, the task is checkpointed again: its vdso is the moved one
# now, the proxy plain anonymous memory; restored as it is, the old
# addresses still jump into the vdso.
@test "engine: vdso_proxy, checkpointed again behind its proxy, restores" {
	wl_start vdso_proxy proxy
	ckpt_checkpoint
	CKPT_OCI_VDSO_PROXY=1 ckpt_restore_bg --pid-file "$T/restored.pid"
	wait_until 60 restored_and_waiting || fail "restored vdso_proxy not back in open($T/go)"
	grep -q 'proxy at' "$T/restore.log" || fail "restore.log does not say the vdso was proxied"
	rm -rf "$T/bundle"
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_checkpoint
	wait "$RESTORE_PID" || true
	ckpt_restore_bg
	wl_go
	wl_finish
	run grep -c 'proxy at' "$T/restore.log"
	assert_output 0
}

@test "engine: signal actions (a SIGTRAP handler too) are unchanged after --leave-running" {
	wl_start sig_handlers
	ckpt_checkpoint --leave-running
	pid_running "$WL_MARK"
	wl_go
	_wl_wait_pass "$WL_PID" "sig_handlers after a checkpoint with --leave-running"
}

# Once pids wrap, a thread made after its leader can have a smaller id: the
# checkpoint must still find the leader (it waited forever for the leader's
# exit before the other thread's when killing the tree).
_thread_below_leader()
{
	local tids

	tids=$(ls "/proc/$WL_PID/task" | sort -n | tr '\n' ' ')
	[[ $tids == [0-9]*" $WL_PID " ]]
}

@test "engine: a thread whose id is below its leader's (pids wrapped)" {
	local max i

	require_root
	max=$(cat /proc/sys/kernel/pid_max)
	# Place the workload's pid just below pid_max, so that its worker
	# thread's id wraps; other programs may take pids meanwhile: try again.
	for ((i = 0; i < 20; i++)); do
		echo $((max - 8 + i % 6)) >/proc/sys/kernel/ns_last_pid
		wl_start posix_timers || return
		_thread_below_leader && break
		ckpt_kill_started
		rm -f "$T/ready" "$T/go"
	done
	_thread_below_leader || fail "no run gave a thread below its leader"
	ckpt_checkpoint
	ckpt_restore_bg
	wl_go
	wl_finish
}
