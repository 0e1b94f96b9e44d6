#!/usr/bin/env bats
# tests/integration/tty.bats - terminals across checkpoint/restore: pty pairs
# held inside the tree (queues, termios, window size, packet mode, lock,
# owner and mode, controlling terminal and foreground group), the console
# and virtual terminals, refused cases that leave the tree running.

load helpers

@test "tty: pty pair, queues, termios, session and foreground group (dynamic)" {
	wl_roundtrip fd_pty
}
@test "tty: pty pair, queues, termios, session and foreground group (static)" {
	wl_roundtrip fd_pty.static
}

@test "tty: --leave-running leaves the pty as it was (queues drained and put back)" {
	wl_start fd_pty || return
	ckpt_checkpoint --leave-running || return
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_pty after the checkpoint"
}

@test "tty: inspect shows the pair" {
	wl_start fd_pty || return
	ckpt_checkpoint || return
	run "$CKPT_OCI" inspect "$T/bundle"
	assert_success
	assert_output --regexp "pty +rw,cloexec desc [0-9]+ pty [0-9]+ master 101x33 packet ctty of session [0-9]+ foreground [0-9]+ queued in 18 out 11"
	assert_output --regexp "pty +rw desc [0-9]+ pty [0-9]+ master 0x0 locked"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "tty: a foreground group whose leader is gone fails the checkpoint, tree runs on" {
	wl_start fd_pty orphan-fg || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "pty [0-9]+: its foreground process group [0-9]+ has no leader in the tree"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_pty orphan-fg after the failed checkpoint"
}

@test "tty: output stopped (tcflow TCOOFF) comes back stopped (dynamic)" {
	wl_roundtrip fd_pty stopped
}
@test "tty: output stopped (tcflow TCOOFF) comes back stopped (static)" {
	wl_roundtrip fd_pty.static stopped
}

@test "tty: output stopped by ^S (IXON) comes back stopped (dynamic)" {
	wl_roundtrip fd_pty stopped-ixon
}
@test "tty: output stopped by ^S (IXON) comes back stopped (static)" {
	wl_roundtrip fd_pty.static stopped-ixon
}
@test "tty: --leave-running leaves the output stopped" {
	wl_start fd_pty stopped-ixon || return
	ckpt_checkpoint --leave-running || return
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_pty stopped-ixon after the checkpoint"
}

@test "tty: a packet-mode status byte waiting on the master fails the checkpoint, tree runs on" {
	wl_start fd_pty pkt-status || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "pty [0-9]+: a packet-mode status byte waits to be read on the master"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_pty pkt-status after the failed checkpoint"
}

@test "tty: the console and a virtual terminal, the same devices (dynamic)" {
	wl_roundtrip fd_console
}
@test "tty: the console and a virtual terminal, the same devices (static)" {
	wl_roundtrip fd_console.static
}

@test "tty: a terminal whose node was removed fails the checkpoint, tree runs on" {
	wl_start fd_console removed || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(terminal 4:1 at \`/tmp/ckpt-wl-vt-[0-9]+ \(deleted\)\`, which is not that device in the task's root\) in pid [0-9]+"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_console removed after the failed checkpoint"
}
