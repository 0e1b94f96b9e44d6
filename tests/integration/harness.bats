#!/usr/bin/env bats
# tests/integration/harness.bats - the harness itself, no checkpoint: the
# workload protocol (wl.c + helpers.bash) and the test runner's counting.

load helpers

@test "harness: a workload passes natively (dynamic)" {
	wl_native harness_selftest
}

@test "harness: a workload passes natively (static)" {
	wl_native harness_selftest.static
}

@test "harness: wl_native notices a workload that prints FAIL" {
	run wl_native harness_selftest fail
	assert_failure
	assert_output --partial "FAIL: asked to fail"
}

@test "harness: wl_start notices a workload that exits before ready" {
	run wl_start harness_selftest early
	assert_failure
	assert_output --partial "exited before saying ready"
	assert_output --partial "FAIL: exiting before ready"
}

@test "harness: a workload run by hand needs no FIFOs" {
	run "$WL_BIN/harness_selftest"
	assert_success
	assert_line PASS
}

@test "harness: wl_wait_restored restarts open() interrupted by a signal" {
	wl_start harness_selftest eintr
	# Signal it only once it blocks in openat(WL_GO) (syscall 257), so the
	# signal really interrupts that open.
	wait_until 30 in_syscall "$WL_PID" 257 ||
		fail "workload never blocked in openat: $(cat /proc/$WL_PID/syscall)"
	kill -USR1 "$WL_PID"
	wl_go
	_wl_wait_pass "$WL_PID" "workload harness_selftest eintr"
}

@test "harness: teardown kills a workload still waiting" {
	wl_start harness_selftest
	pid_running "$WL_MARK"
	ckpt_kill_started
	run pid_running "$WL_MARK"
	assert_failure
	pid_gone "$WL_MARK"
}

# A pid another process took reads as the marked one gone; one still there
# makes a wait for it fail; a bare pid is refused, not read as gone.
@test "harness: pid marks tell a process from another with its pid" {
	local mark pid other

	clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &
	pid=$!
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	pid_running "$mark"
	run pid_gone "$mark"
	assert_failure
	run pid_taken_since "$mark"
	assert_failure
	# a process left makes the wait for it fail
	run wait_until 1 pid_gone "$mark"
	assert_failure
	# the same pid, started at another time: another process
	other=$pid:$((${mark#*:} - 1))
	pid_gone "$other"
	run pid_running "$other"
	assert_failure
	pid_taken_since "$other"
	pid_taken_since "$pid:-"
	# a bare pid may be anyone's: refused, not read as gone or alive
	run pid_gone "$pid"
	assert_failure
	assert_output --partial "is not a pid mark"
	run pid_alive "$pid"
	assert_failure
	assert_output --partial "use pid_running MARK"
	ckpt_kill_started
	wait_until 10 pid_gone "$mark"
	run pid_taken_since "$mark"
	assert_failure
}

# The runner's accounting, on fake TAP programs.
fake_tap()
{
	local f=$T/test_$1

	shift
	printf '#!/bin/sh\n%s\n' "$@" >"$f"
	chmod +x "$f"
}

@test "run-tests: counts passes and skips, one summary line" {
	fake_tap good "echo 1..3" "echo 'ok 1 - a'" "echo 'ok 2 - b # SKIP not here'" \
		"echo 'ok 3 - c'"
	run "$REPO_ROOT/tests/run-tests" "$T/test_good"
	assert_success
	assert_line "skipped: test_good/b: not here"
	assert_equal "${lines[-1]}" "2 passed, 0 failed, 1 skipped"
}

@test "run-tests: a crash after passing tests is a failure" {
	fake_tap crash "echo 1..3" "echo 'ok 1 - a'" "kill -SEGV \$\$"
	run "$REPO_ROOT/tests/run-tests" "$T/test_crash"
	assert_failure
	assert_line --partial "killed by signal 11"
	assert_equal "${lines[-1]}" "1 passed, 1 failed"
}

@test "run-tests: a non-zero exit without a failing test is a failure" {
	fake_tap exit "echo 1..1" "echo 'ok 1 - a'" "exit 3"
	run "$REPO_ROOT/tests/run-tests" "$T/test_exit"
	assert_failure
	assert_equal "${lines[-1]}" "1 passed, 1 failed"
}

@test "run-tests: fewer tests than planned is a failure" {
	fake_tap short "echo 1..4" "echo 'ok 1 - a'" "echo 'not ok 2 - b'"
	run "$REPO_ROOT/tests/run-tests" "$T/test_short"
	assert_failure
	assert_line "failed: test_short/b"
	assert_line --partial "planned 4 tests, ran 2"
	assert_equal "${lines[-1]}" "1 passed, 2 failed"
}

@test "run-tests: as root, a skip for something missing is a failure" {
	require_root
	fake_tap need "echo 1..2" "echo 'ok 1 - a # skip needs frobnicate'" \
		"echo 'ok 2 - b # skip no v1 pids hierarchy on this host'"
	run "$REPO_ROOT/tests/run-tests" "$T/test_need"
	assert_failure
	assert_line "failed: test_need/a: skipped as root: needs frobnicate"
	assert_line "skipped: test_need/b: no v1 pids hierarchy on this host"
	assert_equal "${lines[-1]}" "0 passed, 1 failed, 1 skipped"
}

@test "run-tests: exit 77 with every test skipped is a skip" {
	fake_tap allskip "echo 1..1" "echo 'ok 1 # skip no device'" "exit 77"
	run "$REPO_ROOT/tests/run-tests" "$T/test_allskip"
	assert_success
	assert_equal "${lines[-1]}" "0 passed, 0 failed, 1 skipped"
}

@test "harness: a workload starts with only stdin, stdout and stderr" {
	wl_start harness_selftest
	run ls "/proc/$WL_PID/fd"
	assert_success
	assert_output "$(printf '0\n1\n2')"
	wl_go
	_wl_wait_pass "$WL_PID" "workload harness_selftest"
}

@test "harness: clean_exec in the background leaves \$! as the program, fds 0-2" {
	clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &
	local pid=$!
	ckpt_track_pid "$pid"
	wait_until 10 grep -qx sleep "/proc/$pid/comm"
	run ls "/proc/$pid/fd"
	assert_output "$(printf '0\n1\n2')"
	run clean_exec ls /proc/self/fd
	assert_success
	# ls itself opens one more fd to read the directory
	assert_equal "${#lines[@]}" 4
}
