#!/usr/bin/env bats
# tests/integration/task.bats - task state that must come back as it was,
# each property a workload checking itself from inside after restore:
# stopped jobs (SIGSTOP, SIGTSTP, a group stop of two threads, a stopped
# task with SIGTERM pending, pending SIGCONT and SIGTSTP).

load helpers

@test "task: stopped children come back stopped and go on at SIGCONT (dynamic)" {
	wl_roundtrip stopped
}

@test "task: stopped children come back stopped and go on at SIGCONT (static)" {
	wl_roundtrip stopped.static
}

@test "task: stopped children stay stopped after a checkpoint with --leave-running" {
	wl_start stopped
	ckpt_checkpoint --leave-running
	pid_alive "$WL_PID"
	wl_go
	_wl_wait_pass "$WL_PID" "stopped after a checkpoint with --leave-running"
}
