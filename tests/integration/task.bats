#!/usr/bin/env bats
# tests/integration/task.bats - task state that must come back as it was,
# each property a workload checking itself from inside after restore:
# stopped jobs (SIGSTOP, SIGTSTP, a group stop of two threads, a stopped
# task with SIGTERM pending, pending SIGCONT and SIGTSTP), parent-death
# signals (every task, after a change of uid, the root with restore -d),
# the audit loginuid (the session id cannot be set: a new one is given),
# zombies in their process group and session, THP disabled and membarrier
# registrations, mlockall(MCL_FUTURE), a time namespace made for the
# children only (a child inside it is refused), fd tables shared between
# processes or unshared by a thread (refused), seccomp filters
# synchronised across threads (TSYNC); a task under another tracer is
# refused at checkpoint and runs on; a program that unmapped its vdso.

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
	pid_running "$WL_MARK"
	wl_go
	_wl_wait_pass "$WL_PID" "stopped after a checkpoint with --leave-running"
}

@test "task: parent-death signals on every task, one set after a change of uid (dynamic)" {
	wl_roundtrip pdeathsig
}

@test "task: parent-death signals on every task, one set after a change of uid (static)" {
	wl_roundtrip pdeathsig.static
}

@test "task: the root's parent-death signal with restore -d" {
	wl_start pdeathsig
	ckpt_checkpoint
	ckpt_restore_bg -d --pid-file "$T/pid"
	wait "$RESTORE_PID"
	WL_GO_MARK=$(pid_mark "$(cat "$T/pid")")
	wl_go
	wait_until "$WL_TIMEOUT" pid_gone "$WL_GO_MARK"
	run tail -n 1 "$T/out"
	assert_output PASS
}

# The root of restore -d with a parent-death signal is born to ckpt-oci's
# parent: ckpt-oci killed before it seized the tree (its first ptrace
# call) fires no signal in it. It watches ckpt-oci itself and goes, and
# its children with it.
@test "task: restore -d killed before it seizes a root born to its parent leaves no task" {
	local root
	wl_start pdeathsig
	ckpt_checkpoint
	PIDS=$(jq '.tasks[].threads[]' "$T/bundle/pstree.json")
	root=$(jq '.tasks[0].pid' "$T/bundle/pstree.json")
	[[ $root == "$WL_PID" ]] || fail "root of the bundle $root, workload $WL_PID"
	# started by this shell, which lives on: the root's parent stays
	CKPT_OCI_FAULT=kill-self:KILL:1 ckpt_restore_bg -d
	local rc=0
	wait "$RESTORE_PID" || rc=$?
	[[ $rc -eq 137 ]] || fail "not killed at its first ptrace call: status $rc"
	# each a fork of the restore (its command line names $T/bundle), or
	# exited: a pid freed may be another program's at once on a busy machine
	local pid
	for pid in $PIDS; do
		wait_until 10 eval "! _restore_fork_alive $pid" || {
			ps -o pid=,ppid=,stat=,args= -p "$pid" >&2
			kill -KILL "$pid"
			fail "task $pid left"
		}
	done
}

# PID runs and is a fork of the restore: its command line says which
# process it is (no mark could: the restore made it).
_restore_fork_alive()
{
	pid_running "$(pid_mark "$1")" && grep -aqs -- "$T/bundle" "/proc/$1/cmdline"
}

@test "task: audit loginuid of a process, a thread and a child (dynamic)" {
	wl_roundtrip loginuid
}

@test "task: audit loginuid of a process, a thread and a child (static)" {
	wl_roundtrip loginuid.static
}

@test "task: zombies in their own process group and session, or a sibling's (dynamic)" {
	wl_roundtrip zombie_pgrp
}

@test "task: zombies in their own process group and session, or a sibling's (static)" {
	wl_roundtrip zombie_pgrp.static
}

@test "task: THP disabled and membarrier registrations (dynamic)" {
	wl_roundtrip mm_opts
}

@test "task: THP disabled and membarrier registrations (static)" {
	wl_roundtrip mm_opts.static
}

@test "task: mlockall MCL_FUTURE, and MCL_ONFAULT in a child, lock new mappings (dynamic)" {
	wl_roundtrip mlock_future
}

@test "task: mlockall MCL_FUTURE, and MCL_ONFAULT in a child, lock new mappings (static)" {
	wl_roundtrip mlock_future.static
}

@test "task: a seccomp filter synchronised to every thread comes back shared (dynamic)" {
	wl_roundtrip seccomp_tsync
}

@test "task: a seccomp filter synchronised to every thread comes back shared (static)" {
	wl_roundtrip seccomp_tsync.static
}

@test "task: a time namespace made for the children only comes back with its offsets (dynamic)" {
	wl_roundtrip timens_children
}

@test "task: a time namespace made for the children only comes back with its offsets (static)" {
	wl_roundtrip timens_children.static
}

@test "task: a child inside a time namespace its parent made is refused, and runs on" {
	wl_start timens_children inside
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "^ckpt-oci: checkpoint [0-9]+: task [0-9]+ is in another time namespace than the root \\(nested namespaces are not supported\\)$"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	wl_go
	_wl_wait_pass "$WL_PID" "timens_children inside after a refused checkpoint"
}

# A refused checkpoint: one line (regex $1), no bundle, the program runs on.
refused_runs_on()
{
	local want=$1
	shift
	wl_start "$@"
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "$want"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	wl_go
	_wl_wait_pass "$WL_PID" "$* after a refused checkpoint"
}

@test "task: a child sharing its parent's fd table (CLONE_FILES) is refused, and runs on (dynamic)" {
	refused_runs_on "^ckpt-oci: checkpoint [0-9]+: task [0-9]+: its fd table is task [0-9]+'s \\(clone CLONE_FILES without CLONE_THREAD\\): not supported$" fd_table_shared
}

@test "task: a child sharing its parent's fd table (CLONE_FILES) is refused, and runs on (static)" {
	refused_runs_on "^ckpt-oci: checkpoint [0-9]+: task [0-9]+: its fd table is task [0-9]+'s \\(clone CLONE_FILES without CLONE_THREAD\\): not supported$" fd_table_shared.static
}

@test "task: a thread with an fd table of its own is refused, and runs on" {
	refused_runs_on "^ckpt-oci: checkpoint [0-9]+: task [0-9]+: thread [0-9]+ has an fd table of its own \\(unshare or clone without CLONE_FILES\\): not supported$" fd_table_shared thread
}

# A task under another tracer: refused in one line, the tree runs on.
traced_refused()
{
	wl_start "$1"
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "^ckpt-oci: checkpoint [0-9]+: thread [0-9]+ is traced by process $WL_PID: a task under another tracer cannot be checkpointed$"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	wl_go
	_wl_wait_pass "$WL_PID" "traced after a refused checkpoint"
}

@test "task: a task in a SIGTRAP stop under another tracer is refused, and runs on (dynamic)" {
	traced_refused traced
}

@test "task: a task in a SIGTRAP stop under another tracer is refused, and runs on (static)" {
	traced_refused traced.static
}

@test "task: a program that unmapped its vdso (dynamic)" {
	wl_roundtrip vdso_unmapped
}

@test "task: a program that unmapped its vdso (static)" {
	wl_roundtrip vdso_unmapped.static
}

@test "task: inspect shows stopped tasks" {
	wl_start stopped
	ckpt_checkpoint
	run "$CKPT_OCI" inspect "$T/bundle"
	assert_success
	assert_line "  stopped: by SIGSTOP"
	assert_line "  stopped: by SIGTSTP"
	ckpt_restore_bg
	wl_go
	wl_finish
}

@test "task: inspect shows parent-death signals" {
	wl_start pdeathsig
	ckpt_checkpoint
	run "$CKPT_OCI" inspect "$T/bundle"
	assert_success
	assert_line "  prctl:   parent-death signal SIGURG, child subreaper"
	assert_line "  prctl:   parent-death signal SIGUSR2"
	ckpt_restore_bg
	wl_go
	wl_finish
}
