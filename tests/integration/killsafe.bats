#!/usr/bin/env bats
# exclusive: fixed container names, /run/ckpt-oci; runs alone on a machine
#
# Kill-safety: the ckpt-oci the user started is killed (SIGKILL, SIGTERM,
# SIGINT) at the Nth ptrace call of a checkpoint, through the fault point
# CKPT_OCI_FAULT=kill-parent:SIG:N (libckpt/util/fault.h); its worker rolls
# the checkpoint back. After each kill the tree checks itself (every thread
# still beats, signal masks, memory checksums, the pipe's counter) and a
# container runs on: not frozen, no lock table in its network namespace,
# its loopback answering, its counter counting. No NAME.tmp is left.
#
# make check tries a spread of N; KILLSAFE_SWEEP=1 (make killsafe-sweep)
# every N from 1 to the count a full checkpoint makes.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
}

teardown()
{
	! mountpoint -q "$T/small" 2>/dev/null || umount "$T/small"
	ctr_teardown
	ckpt_teardown
}

# The call numbers to try, out of COUNT: every one when sweeping, else
# the first three, the last two and about eight between.
ks_points()
{
	local count=$1 step n

	if [[ ${KILLSAFE_SWEEP:-} == 1 ]]; then
		seq 1 "$count"
		return
	fi
	step=$((count / 8 + 1))
	{
		seq 1 3
		seq 4 "$step" "$count"
		echo $((count - 1)) "$count"
	} | tr ' ' '\n' | sort -nu
}

# The signals to try at each point: every one for a checkpoint; a restore
# dies of SIGTERM as of SIGKILL (SIGINT is ignored in a test's background
# jobs), both tried.
ks_signals()
{
	if [[ $1 == restore ]]; then
		echo KILL TERM
	else
		echo KILL TERM INT
	fi
}

# ks_count ARGS...: the ptrace calls of a full checkpoint with these arguments.
ks_count()
{
	run clean_exec env CKPT_OCI_FAULT=count timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint "$@"
	assert_success
	[[ $output =~ ptrace\ calls:\ ([0-9]+) ]] || fail "no count in: $output"
	KS_COUNT=${BASH_REMATCH[1]}
	echo "# ptrace calls of a full checkpoint: $KS_COUNT" >&3
}

# ks_kill SIG N BUNDLE ARGS...: a checkpoint whose caller gets SIG at the
# Nth ptrace call. `run` reads until EOF: until the worker, which holds
# stderr too, has finished. Either it was interrupted (128+SIG, or killed)
# and nothing is left, or it had committed (a bundle, removed here).
ks_kill()
{
	local sig=$1 n=$2 bundle=$3 num
	shift 3

	num=$(kill -l "$sig")
	run clean_exec env CKPT_OCI_FAULT="kill-parent:$sig:$n" timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint -o "$bundle" --leave-running "$@"
	if [[ $sig != KILL && $status -eq $((128 + num)) ]]; then
		[[ $output == *"interrupted by SIG$sig: rolled back, the tree runs on as before"* ]] ||
			fail "SIG$sig at call $n: $output"
	elif [[ $status -ne 0 && $status -ne 137 ]]; then
		fail "SIG$sig at call $n: status $status: $output"
	fi
	[[ ! -e $bundle.tmp ]] || fail "SIG$sig at call $n: $bundle.tmp left"
	rm -rf "$bundle"
}

# The tree's own check: "ok" on its answer FIFO.
ks_tree_ok()
{
	local a q line

	exec {a}<>"$T/answer" {q}<>"$T/ask"
	echo check >&"$q"
	read -r -t 30 -u "$a" line || line="no answer (the root is gone or stopped)"
	exec {a}<&- {q}>&-
	[[ $line == ok ]] || fail "$1: the tree: $line"
}

@test "killsafe: caller killed at every ptrace call of a 3-process tree with threads" {
	mkfifo "$T/ask" "$T/answer"
	wl_start killsafe_tree "$T/ask" "$T/answer"
	ks_tree_ok "before"
	ks_count --pid "$WL_PID" -o "$T/full" --leave-running
	rm -rf "$T/full"
	for n in $(ks_points "$KS_COUNT"); do
		for sig in $(ks_signals tree); do
			ks_kill "$sig" "$n" "$T/b" --pid "$WL_PID"
			ks_tree_ok "SIG$sig at call $n"
		done
	done
	# the next ckpt-oci command finds nothing to clean up either
	run "$CKPT_OCI" recover
	assert_success
	[[ ! -e $T/b.tmp ]]
	wl_go
	_wl_wait_pass "$WL_PID" "killsafe_tree"
}

# ks_copy_points FIRST LAST: calls inside the page copy, the first and last
# of it and about eight between (every one when sweeping).
ks_copy_points()
{
	local first=$1 last=$2 step

	if [[ ${KILLSAFE_SWEEP:-} == 1 ]]; then
		seq "$first" "$last"
		return
	fi
	step=$(((last - first) / 8 + 1))
	{
		seq "$first" "$step" "$last"
		echo "$((first + 1))" "$last"
	} | tr ' ' '\n' | sort -nu
}

@test "killsafe: caller killed inside the page copy, or the disk full, leaves the tree as it was" {
	local first last n sig left

	mkfifo "$T/ask" "$T/answer"
	# 64 MiB per process: each one's pages go through the pipe (mem-splice.c)
	wl_start killsafe_tree "$T/ask" "$T/answer" 64
	ks_tree_ok "before"
	ks_count --pid "$WL_PID" -o "$T/full" --leave-running
	rm -rf "$T/full"
	[[ $output =~ page\ copy:\ ([0-9]+)-([0-9]+) ]] || fail "no page copy in: $output"
	first=${BASH_REMATCH[1]} last=${BASH_REMATCH[2]}
	echo "# page copy: ptrace calls $first-$last" >&3
	# inside a remote vmsplice, pages of the task in our pipe, its fd open
	for n in $(ks_copy_points "$first" "$last"); do
		for sig in $(ks_signals tree); do
			ks_kill "$sig" "$n" "$T/b" --pid "$WL_PID"
			ks_tree_ok "SIG$sig at call $n"
		done
	done
	# the disk full in the middle of the first task's pages
	mkdir "$T/small"
	mount -t tmpfs -o size=40m tmpfs "$T/small"
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --pid "$WL_PID" \
		-o "$T/small/b" -w "$T" --leave-running
	left=$(ls -A "$T/small")
	umount "$T/small"
	[[ $status -ne 0 && $output == *"No space left on device"* ]] ||
		fail "disk full: status $status: $output"
	[[ -z $left ]] || fail "disk full: left behind: $left"
	ks_tree_ok "disk full"
	wl_go
	_wl_wait_pass "$WL_PID" "killsafe_tree"
}

# ---- a runc container ----------------------------------------------------

ks_no_lock()
{
	run nsenter -t "$1" -n nft list tables
	[[ $status -eq 0 && $output != *ckpt_oci* ]] || fail "$2: lock table left: $output"
}

# Running, not frozen, no lock table, loopback answering, still counting.
ks_ctr_ok()
{
	local id=$1 what=$2 pid n

	pid=$(ctr_pid "$id")
	[[ $(ctr_status "$id") == running ]] || fail "$what: runc says $(ctr_status "$id")"
	! ctr_frozen "$id" || fail "$what: the container's cgroup is frozen"
	ks_no_lock "$pid" "$what"
	nsenter -t "$pid" -n busybox ping -c 1 -W 5 127.0.0.1 >/dev/null ||
		fail "$what: no answer on the container's loopback"
	n=$(ctr_count "$id")
	ctr_wait_count_above "$id" "$n" || fail "$what: the container stopped counting"
}

@test "killsafe: caller killed at every ptrace call of a runc container checkpoint" {
	require_cmd nft nsenter
	ctr_run_counter ks1
	ks_ctr_ok ks1 "before"
	ks_count --root "$RUNC_ROOT" -o "$T/full" --leave-running ks1
	rm -rf "$T/full"
	for n in $(ks_points "$KS_COUNT"); do
		for sig in $(ks_signals container); do
			ks_kill "$sig" "$n" "$T/b" --root "$RUNC_ROOT" ks1
			ks_ctr_ok ks1 "SIG$sig at call $n"
		done
	done
}

# ---- one checkpoint of a tree at a time ------------------------------------

# ks_paused_checkpoint N ARGS...: a checkpoint in the background, held at
# its Nth ptrace call (tree seized, locks taken) until ks_resume.
ks_paused_checkpoint()
{
	local n=$1
	shift
	mkfifo "$T/resume"
	rm -f "$T/paused"
	(
		_close_fds
		CKPT_OCI_FAULT="pause:$n:$T" exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" \
			checkpoint --leave-running "$@"
	) </dev/null >"$T/first.out" 2>&1 &
	KS_FIRST=$!
	wait_until 30 test -e "$T/paused" || fail "the first checkpoint did not get to call $n"
}

ks_resume()
{
	local fd

	exec {fd}<>"$T/resume"
	exec {fd}>&-
	wait "$KS_FIRST" || fail "the first checkpoint failed: $(cat "$T/first.out")"
	rm -f "$T/resume"
}

@test "killsafe: two checkpoints of one container, by name and by --pid, never run at once" {
	local pid

	ctr_run_counter ks1
	pid=$(ctr_pid ks1)
	# by name first, then by the pid of its init
	ks_paused_checkpoint 20 --root "$RUNC_ROOT" -o "$T/a" ks1
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --pid "$pid" \
		-o "$T/b" --leave-running
	assert_failure
	assert_output "ckpt-oci: checkpoint $pid: the tree of $pid is busy: another checkpoint of it is running"
	ks_resume
	[[ -d $T/a && ! -e $T/b && ! -e $T/b.tmp ]]
	ks_ctr_ok ks1 "after the by-name checkpoint"
	# by pid first, then by name
	ks_paused_checkpoint 20 --pid "$pid" -o "$T/c"
	checkpoint -o "$T/d" --leave-running ks1
	assert_failure
	assert_output "ckpt-oci: checkpoint ks1: the tree of $pid is busy: another checkpoint of it is running"
	ks_resume
	[[ -d $T/c && ! -e $T/d && ! -e $T/d.tmp ]]
	ks_ctr_ok ks1 "after the --pid checkpoint"
	# released locks leave no file behind (other checkpoints on the
	# machine may hold their own meanwhile: only this tree's are looked for)
	! compgen -G "/run/ckpt-oci/tree-$pid-*.lock" >/dev/null &&
		[[ ! -e /run/ckpt-oci/runc:${RUNC_ROOT//\//%}:ks1.lock ]] ||
		fail "lock files left: $(ls /run/ckpt-oci)"
}

# ---- killed runs, cleaned up from their journal ------------------------------

# Nothing of container ks2 is left: no runtime state, no cgroup, no process.
ks_restore_gone()
{
	local d

	[[ ! -e $RUNC_ROOT/ks2 ]] || fail "$1: runtime state dir left"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]] || fail "$1: runc lists a container"
	for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/*/; do
		[[ ! -e ${d}ks2 ]] || fail "$1: cgroup ${d}ks2 left behind"
	done
	ks_no_restored_process || fail "$1: a restored process is left: $KS_LEFT"
}

# No process of ours: rooted in the container's directory (restored), or
# still a fork of that restore (its command line names the bundle).
ks_no_restored_process()
{
	local p

	KS_LEFT=
	for p in /proc/[0-9]*; do
		if [[ $(readlink "$p/root" 2>/dev/null) == "$T"/* ]] ||
			tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF "$T/ckpt"; then
			KS_LEFT+=" ${p#/proc/}"
		fi
	done
	[[ -z $KS_LEFT ]]
}

@test "killsafe: a killed restore leaves no cgroup, runtime state or process after the next command" {
	local n pid mark

	ctr_run_counter ks2
	checkpoint -o "$T/ckpt" ks2
	assert_success
	run clean_exec env CKPT_OCI_FAULT=count timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" restore -d --root "$RUNC_ROOT" "$T/ckpt"
	assert_success
	[[ $output =~ ptrace\ calls:\ ([0-9]+) ]] || fail "no count in: $output"
	KS_COUNT=${BASH_REMATCH[1]}
	echo "# ptrace calls of a container restore: $KS_COUNT" >&3
	mark=$(pid_mark "${lines[-1]}")
	"$RUNC" --root "$RUNC_ROOT" kill ks2 KILL
	wait_until 10 pid_gone "$mark"
	"$RUNC" --root "$RUNC_ROOT" delete ks2
	for n in $(ks_points "$KS_COUNT"); do
		for sig in $(ks_signals restore); do
			run clean_exec env CKPT_OCI_FAULT="kill-self:$sig:$n" \
				timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" \
				"$T/ckpt"
			if [[ $status -eq 0 ]]; then
				# past its last call: restored; take it away again
				mark=$(pid_mark "${lines[-1]}")
				"$RUNC" --root "$RUNC_ROOT" kill ks2 KILL
				wait_until 10 pid_gone "$mark"
				"$RUNC" --root "$RUNC_ROOT" delete ks2
				continue
			fi
			run "$CKPT_OCI" recover
			assert_success
			ks_restore_gone "SIG$sig at call $n"
		done
	done
}

# ---- a tree's restore, killed: nothing of the tree left, its pids free -----

# Mark the pids of $T/bundle's tree (KS_PIDS) before a restore: KS_MARKS.
ks_tree_mark()
{
	local p

	KS_MARKS=
	for p in $KS_PIDS; do
		KS_MARKS+=" $(pid_mark "$p")"
	done
}

# No pid of $T/bundle's tree is in use by a process born since ks_tree_mark
# (alive, or a zombie nobody reaped). A program that held one before the
# restore is not the restore's: the pids were free after the checkpoint.
ks_tree_gone()
{
	local m

	KS_LEFT=
	for m in $KS_MARKS; do
		pid_taken_since "$m" && KS_LEFT+=" ${m%%:*}"
	done
	[[ -z $KS_LEFT ]]
}

# Take a restored tree (-d) away again: every task of it, by pid.
ks_tree_kill()
{
	local m

	for m in $KS_MARKS; do
		! pid_taken_since "$m" || kill -KILL "${m%%:*}" 2>/dev/null || true
	done
	wait_until 10 ks_tree_gone || fail "$1: the restored tree did not go: $KS_LEFT"
}

@test "killsafe: a restore killed at any ptrace call leaves no task of the tree; its pids restore at once" {
	local n sig nthreads

	wl_start fd_pipeline || return
	ckpt_checkpoint || return
	KS_PIDS=$(jq '.tasks[].pid' "$T/bundle/pstree.json")
	nthreads=$(jq '[.tasks[].threads[]] | length' "$T/bundle/pstree.json")
	ks_tree_mark
	run clean_exec env CKPT_OCI_FAULT=count timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" restore -d "$T/bundle"
	assert_success
	[[ $output =~ ptrace\ calls:\ ([0-9]+) ]] || fail "no count in: $output"
	KS_COUNT=${BASH_REMATCH[1]}
	ks_tree_kill "counting run"
	for n in $(ks_points "$KS_COUNT"); do
		for sig in TERM KILL; do
			# the last calls detach the tree: killed there, what was
			# released runs (SIGTERM there is too late and ignored)
			[[ $sig == KILL ]] && ((n > KS_COUNT - nthreads)) && continue
			ks_tree_mark
			run clean_exec env CKPT_OCI_FAULT="kill-self:$sig:$n" \
				timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d "$T/bundle"
			if [[ $status -eq 0 ]]; then
				ks_tree_kill "SIG$sig at call $n (restored)"
				continue
			fi
			if [[ $sig == TERM ]]; then
				# rolled back: every task reaped before ckpt-oci returned
				[[ $status -eq 143 ]] || fail "SIG$sig at call $n: status $status: $output"
				assert_output --partial "interrupted by SIGTERM"
				ks_tree_gone || fail "SIG$sig at call $n: pids left: $KS_LEFT"
			else
				# no rollback: the tasks die with their tracer, init reaps them
				wait_until 10 ks_tree_gone || fail "SIG$sig at call $n: pids left: $KS_LEFT"
			fi
		done
	done
	# the same pids, restored at once, and the workload passes
	ckpt_restore_bg
	wl_go
	wl_finish
}

@test "killsafe: a killed checkpoint worker's changes are undone by ckpt-oci recover" {
	local n pid mark

	ctr_run_counter ks1
	pid=$(ctr_pid ks1)
	mark=$(pid_mark "$pid")
	ks_count --root "$RUNC_ROOT" -o "$T/full" --leave-running ks1
	rm -rf "$T/full"
	for n in $(ks_points "$KS_COUNT"); do
		# the worker itself dies: nothing rolls back but the journal
		run clean_exec env CKPT_OCI_FAULT="kill-self:KILL:$n" timeout -k 5 \
			"$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --root "$RUNC_ROOT" -o "$T/b" \
			--leave-running ks1
		[[ $status -eq 0 ]] && { rm -rf "$T/b"; continue; }
		assert_output --partial "killed by SIGKILL"
		run "$CKPT_OCI" recover
		assert_success
		[[ ! -e $T/b.tmp ]] || fail "call $n: $T/b.tmp left"
		! ctr_frozen ks1 || fail "call $n: the container's cgroup is frozen"
		# the dead worker's lock files are gone too
		[[ ! -e /run/ckpt-oci/runc:${RUNC_ROOT//\//%}:ks1.lock ]] ||
			fail "call $n: the container's lock file is left"
		! compgen -G "/run/ckpt-oci/tree-$pid-*.lock" >/dev/null ||
			fail "call $n: the tree's lock file is left"
		# the tree itself may be harmed (its tracer died inside a remote call)
		pid_running "$mark" || break
		ks_no_lock "$pid" "call $n"
	done
}
