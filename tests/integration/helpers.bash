# tests/integration/helpers.bash - shared helpers for the bats tests.
#
# Use:   load helpers        (at the top of every tests/integration/*.bats)
#
# Every test gets a fresh temp dir $T (removed afterwards) through the
# default setup/teardown below. A file that needs its own setup() or
# teardown() must call ckpt_setup / ckpt_teardown from it.
#
# Workloads (tests/workloads/*.c) speak a FIFO protocol (wl.h): started by
# wl_start, they say "ready" on $T/ready, then block in open($T/go) until
# wl_go. The usual test is one line:
#
#     @test "pipe_data: roundtrip (dynamic)" { wl_roundtrip pipe_data; }
#     @test "pipe_data: roundtrip (static)"  { wl_roundtrip pipe_data.static; }
#
# The for_each_build convention: every workload is built twice, NAME
# (dynamic, glibc with rseq) and NAME.static; a property is tested with two
# @test blocks as above, named "...(dynamic)" and "...(static)". A missing
# static build (its libraries have no .a) skips, it does not fail.
# wl_native NAME proves the workload itself passes without checkpointing.
#
# Step by step, for tests that look from outside between the steps:
#     wl_start NAME [ARGS]      # WL_PID is the workload, now waiting
#                               # (WL_MARK its pid_mark: see "processes")
#     wl_start_ns "--ipc ..." NAME   # the same in new namespaces (pid 1 there)
#     ckpt_checkpoint [ARGS]    # bundle in $T/bundle, dump.log in $T
#     ckpt_restore_bg [ARGS]    # RESTORE_PID (RESTORE_MARK); output in
#                               # $T/restore.{out,err}
#     wl_go                     # tell the restored workload to check itself
#                               # (after restore -d, set WL_GO_MARK first)
#     wl_finish                 # restore's (= workload's) exit 0, last line PASS
#
# Processes: every process a helper starts is recorded; teardown stops and
# kills each one with all its descendants, so no test leaves one behind.
# A process a test starts itself in the background must start with fds 0-2
# only (bats holds pipes of its own, which would be checkpointed with it):
#     clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &
#     WL_PID=$!; WL_MARK=$(pid_mark "$WL_PID"); ckpt_track_pid "$WL_PID"
# Tests synchronise on FIFOs and exit statuses, never on sleep;
# bats' BATS_TEST_TIMEOUT (set by tests/run-tests) bounds every test.

REPO_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load

_build=${BUILD:-build}
[[ $_build == /* ]] || _build=$REPO_ROOT/$_build
CKPT_OCI=${CKPT_OCI:-$_build/ckpt-oci}
WL_BIN=${WL_BIN:-$_build/tests/workloads}
unset _build

# How long to wait for a workload to say ready or to take its go.
WL_TIMEOUT=${WL_TIMEOUT:-120}
# How long one `ckpt-oci checkpoint` may take.
CKPT_TIMEOUT=${CKPT_TIMEOUT:-120}

# ---- setup and teardown --------------------------------------------------

ckpt_setup()
{
	T=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-test.XXXXXX")
	WL_PID=
	WL_MARK=
	WL_NS_PARENT=
	WL_NS_PARENT_MARK=
	RESTORE_PID=
	RESTORE_MARK=
	export T
}

# Record a pid with its start time, so teardown never kills a reused pid.
ckpt_track_pid()
{
	local start

	start=$(_proc_starttime "$1") || return 0
	echo "$1 $start" >>"$T/.pids"
}

ckpt_teardown()
{
	[[ -n ${T:-} && -d $T ]] || return 0
	ckpt_kill_started
	rm -rf "$T"
}

setup()
{
	ckpt_setup
}

teardown()
{
	ckpt_teardown
}

# Field 22 of /proc/PID/stat; fails when the process is gone.
_proc_starttime()
{
	local stat rest

	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	echo "${20}"
}

# ---- processes by identity ---------------------------------------------------
# A pid alone does not name a process: pid_max is 32768 on small machines and
# a run forks tens of thousands, so a pid a test waits on may be handed to an
# unrelated program meanwhile (the test then hangs or sees "alive" wrongly).
# A mark, PID:STARTTIME (field 22 of /proc/PID/stat), taken when the pid is
# first learned, names one process: a pid whose start time differs is
# another process, and the marked one has exited. The kernel hands out pids
# in turn, so a pid comes back only after all others were used, never
# within the 10 ms tick of a start time, except by a restore that asks for
# it: wait for the old process to be gone before restoring its pid.
#     mark=$(pid_mark "$pid")      # "PID:-" when PID is already gone
#     wait_until 10 pid_gone "$mark"
#     pid_running "$mark" || fail "..."

pid_mark()
{
	local start

	start=$(_proc_starttime "$1") || start=-
	echo "$1:$start"
}

# pid and start of a mark; a bare pid ends the test: it cannot be checked.
_mark_split()
{
	if [[ ! $1 =~ ^([0-9]+):([0-9]+|-)$ ]]; then
		echo "\`$1\` is not a pid mark: take one with pid_mark when the pid is learned" >&2
		exit 1
	fi
	pid=${BASH_REMATCH[1]}
	start=${BASH_REMATCH[2]}
}

# pid_running MARK: the marked process runs (a zombie does not count).
pid_running()
{
	local pid start stat rest

	_mark_split "$1"
	{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	[[ $1 != Z && ${20} == "$start" ]]
}

# pid_gone MARK: every thread of the marked process has exited: its pid is
# free, or another process's, or a zombie with no thread left (a zombie
# leader whose other threads still run has not exited).
pid_gone()
{
	local pid start stat rest tasks

	_mark_split "$1"
	[[ $start != - ]] || return 0
	{ read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 0
	rest=${stat##*) }
	# shellcheck disable=SC2086
	set -- $rest
	[[ ${20} == "$start" ]] || return 0
	[[ $1 == Z ]] || return 1
	tasks=(/proc/"$pid"/task/*)
	((${#tasks[@]} > 1)) || return 0
	# the threads listed may be of a process that took the pid since
	[[ $(_proc_starttime "$pid") != "$start" ]]
}

# pid_taken_since MARK: the pid of MARK is held (running or a zombie) by a
# process that started after MARK was taken: "PID:-" marks a free pid, so
# any holder counts. Checks that an action left no process behind on pids
# it was meant to leave alone, without blaming whoever held them before.
pid_taken_since()
{
	local pid start now

	_mark_split "$1"
	now=$(_proc_starttime "$pid") || return 1
	[[ $now != "$start" ]]
}

# The bare-pid checks are gone: each would read as false, and under `!` a
# test that must fail would pass.
pid_alive()
{
	echo "pid_alive $*: a bare pid may be another process's: use pid_running MARK" >&2
	exit 1
}

pid_exited()
{
	echo "pid_exited $*: a bare pid may be another process's: use pid_gone MARK" >&2
	exit 1
}

# Stop PID, then its descendants, so nothing forks while the tree is listed.
_collect_tree()
{
	local pid=$1 child

	kill -STOP "$pid" 2>/dev/null || return 0
	_tree+=("$pid")
	for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		_collect_tree "$child"
	done
}

# Kill every recorded process and all its descendants; reap our children.
ckpt_kill_started()
{
	local pid start _tree=()

	[[ -f $T/.pids ]] || return 0
	while read -r pid start; do
		[[ $(_proc_starttime "$pid" 2>/dev/null) == "$start" ]] || continue
		_collect_tree "$pid"
	done <"$T/.pids"
	for pid in "${_tree[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	while read -r pid start; do
		wait "$pid" 2>/dev/null || true
	done <"$T/.pids"
	rm -f "$T/.pids"
}

# wait_until SECONDS CMD [ARGS...]: poll an observable condition (not a
# guess at timing) every 10 ms; fails when it is still false at the end.
# The pause is a timed read on a private FIFO nobody writes.
wait_until()
{
	local secs=$1 fd i
	shift
	[[ -p $T/.tick ]] || mkfifo "$T/.tick"
	exec {fd}<>"$T/.tick"
	for ((i = 0; i < secs * 100; i++)); do
		if "$@"; then
			exec {fd}<&-
			return 0
		fi
		read -t 0.01 -u "$fd" _ || true
	done
	exec {fd}<&-
	"$@"
}

# in_syscall PID NR: the main thread of PID is blocked in syscall NR
# (the x86-64 number, as /proc/PID/syscall shows it).
in_syscall()
{
	local nr

	{ read -r nr _ <"/proc/$1/syscall"; } 2>/dev/null || return 1
	[[ $nr == "$2" ]]
}

# restored_in_syscall NR: the restore started with
# ckpt_restore_bg --pid-file "$T/restored.pid" has released the tree (the
# pid file is written once every task is made, before the detach), and the
# workload runs on its own again, blocked in syscall NR. The pid file comes
# first: before it, TracerPid 0 may be read from the fork of ckpt-oci not
# yet seized and the syscall a moment later from the puppeteer's injected
# openat(), a task whose cmdline and memory are not yet the workload's.
restored_in_syscall()
{
	local pid

	{ read -r pid <"$T/restored.pid"; } 2>/dev/null || return 1
	[[ $pid == "$WL_PID" ]] &&
		grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" 2>/dev/null &&
		in_syscall "$WL_PID" "$1"
}

# Close every fd above 2 in this (sub)shell: bats keeps pipes and files of
# its own open (fd 3, 4, 251...), and a workload, the checkpointer and the
# restored tree must start with nothing but stdin, stdout and stderr.
# Call it in a subshell right before exec.
_close_fds()
{
	local fd

	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		((fd > 2)) || continue
		{ exec {fd}>&-; } 2>/dev/null || true
	done
}

# clean_exec CMD [ARGS...]: exec CMD with only fds 0-2. It replaces the
# shell it runs in, so use it where bats already made a subshell:
#     run clean_exec "$CKPT_OCI" inspect "$T/bundle"
#     clean_exec sleep 1000 </dev/null >/dev/null 2>&1 &   # $! is sleep
clean_exec()
{
	if [[ $BASHPID == "$$" ]]; then
		fail "clean_exec would replace the test shell: use it with run or &"
		return
	fi
	_close_fds
	exec "$@"
}

# ---- requirements ----------------------------------------------------------

require_root()
{
	[[ $EUID -eq 0 ]] || skip "needs root"
}

require_cmd()
{
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null || skip "needs $c"
	done
}

# ---- diagnostics -------------------------------------------------------------

# Print what a failing test needs to be understood (bats shows it on failure).
ckpt_show_logs()
{
	local f

	for f in "$T/out" "$T/restore.out" "$T/restore.err" "$T/dump.log" "$T/restore.log"; do
		[[ -s $f ]] || continue
		echo "---- ${f##*/}"
		cat "$f"
	done
	echo "----"
}

# ---- the workload protocol -------------------------------------------------

# wl_start NAME [ARGS...]: start a workload, return once it said "ready".
# _read_ready FD MARK: print the line the workload wrote on its ready FIFO,
# polling in short reads so that a dead process (pid_mark) is noticed at once. A read that
# times out mid-line keeps what it got (bash reads a FIFO byte by byte):
# collect it, or a line cut in two would never be seen.
_read_ready()
{
	local fd=$1 mark=$2 line= part i

	for ((i = 0; i < WL_TIMEOUT * 10; i++)); do
		part=
		if read -t 0.1 -u "$fd" part; then
			printf '%s' "$line$part"
			return
		fi
		line+=$part
		if ! pid_running "$mark"; then
			# it may have said ready just before exiting
			part=
			read -t 0.1 -u "$fd" part || true
			break
		fi
	done
	printf '%s' "$line$part"
}

# out_pid: the pid a command printed on a line of its own in $output (run
# merges stderr, where a warning, e.g. of a killed run another ckpt-oci
# left and this one cleaned up, may stand before or after it).
out_pid()
{
	grep -xE '[0-9]+' <<<"$output" | tail -n 1
}

# wl_bin_unprivileged NAME: the path of a copy of workload NAME in $T/bin,
# for a workload run as another user: the checkout may sit in a directory
# only root can enter (root's home is 0700).
wl_bin_unprivileged()
{
	mkdir -p -m 755 "$T/bin" && install -m 755 "$WL_BIN/$1" "$T/bin/$1" && printf '%s' "$T/bin/$1"
}

wl_start()
{
	local name=$1 bin fd line
	shift
	bin=$WL_BIN/$name
	if [[ ! -x $bin ]]; then
		if [[ $name == *.static && -x $WL_BIN/${name%.static} ]]; then
			skip "no static build of ${name%.static} (a library has no .a)"
		fi
		fail "workload $bin is not built (make workloads)"
		return
	fi
	mkfifo "$T/ready" "$T/go" || return
	# Only fds 0-2: a background job holding bats' fd 3 would stall bats,
	# and any other inherited fd would be checkpointed with the workload.
	(
		_close_fds
		WL_READY=$T/ready WL_GO=$T/go exec "$bin" "$@"
	) </dev/null >>"$T/out" 2>&1 &
	WL_PID=$!
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	# Read-write: opening never blocks, and no EOF when the writer closes.
	exec {fd}<>"$T/ready"
	# Short reads so a workload that died is reported at once, not after
	# the whole timeout.
	line=$(_read_ready "$fd" "$WL_MARK")
	exec {fd}<&-
	if [[ ${line:-} != ready ]]; then
		ckpt_show_logs
		if pid_running "$WL_MARK"; then
			fail "workload $name did not say ready within ${WL_TIMEOUT}s"
		else
			fail "workload $name exited before saying ready"
		fi
		return
	fi
}

# wl_start_ns "UNSHARE-FLAGS" NAME [ARGS...]: like wl_start, but the
# workload runs as pid 1 of a new pid namespace, under
#     unshare --fork --pid UNSHARE-FLAGS $WL_BIN/NAME ARGS
# (e.g. "--ipc --uts --mount --mount-proc"). WL_PID is the workload itself
# (unshare's child, pid 1 inside), WL_NS_PARENT the unshare process; both
# are tracked for teardown. With WL_NS_CGROUPS set (cgroup directories,
# space separated), the workload starts in those cgroups.
wl_start_ns()
{
	local flags=$1 name=$2 bin fd line i cg
	shift 2
	bin=$WL_BIN/$name
	if [[ ! -x $bin ]]; then
		if [[ $name == *.static && -x $WL_BIN/${name%.static} ]]; then
			skip "no static build of ${name%.static} (a library has no .a)"
		fi
		fail "workload $bin is not built (make workloads)"
		return
	fi
	require_cmd unshare
	mkfifo "$T/ready" "$T/go" || return
	(
		_close_fds
		# WL_NS_CGROUPS: cgroup directories to start in (before --cgroup)
		for cg in ${WL_NS_CGROUPS:-}; do
			echo "$BASHPID" >"$cg/cgroup.procs" || exit 1
		done
		if [[ " $flags " == *" --mount "* ]]; then
			# other tests' mounts are not the tree's (own-mounts.sh)
			# shellcheck disable=SC2086 # the flags are words on purpose
			WL_READY=$T/ready WL_GO=$T/go exec unshare --fork --pid $flags \
				"$BATS_TEST_DIRNAME/own-mounts.sh" "$T" "$bin" "$@"
		fi
		# shellcheck disable=SC2086 # the flags are words on purpose
		WL_READY=$T/ready WL_GO=$T/go exec unshare --fork --pid $flags "$bin" "$@"
	) </dev/null >>"$T/out" 2>&1 &
	WL_NS_PARENT=$!
	WL_NS_PARENT_MARK=$(pid_mark "$WL_NS_PARENT")
	ckpt_track_pid "$WL_NS_PARENT"
	exec {fd}<>"$T/ready"
	line=$(_read_ready "$fd" "$WL_NS_PARENT_MARK")
	exec {fd}<&-
	if [[ ${line:-} != ready ]]; then
		ckpt_show_logs
		fail "workload $name (in new namespaces: $flags) did not say ready"
		return
	fi
	# It said ready after exec, so unshare's only child is the workload.
	WL_PID=$(cat /proc/"$WL_NS_PARENT"/task/*/children 2>/dev/null)
	WL_PID=${WL_PID// /}
	if [[ -z $WL_PID ]]; then
		fail "no workload process under unshare $WL_NS_PARENT"
		return
	fi
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
}

# wl_roundtrip_ns "UNSHARE-FLAGS" NAME [ARGS...]: wl_roundtrip in new
# namespaces; the checkpoint kills them, the restore makes fresh ones.
wl_roundtrip_ns()
{
	wl_start_ns "$@" || return
	ckpt_checkpoint || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# wl_native_ns "UNSHARE-FLAGS" NAME [ARGS...]: passes without a checkpoint.
wl_native_ns()
{
	wl_start_ns "$@" || return
	wl_go || return
	_wl_wait_pass "$WL_NS_PARENT" "workload $2"
}

# wl_go: tell the workload it was restored (it is blocked opening $T/go).
# A non-blocking open for writing succeeds only once a reader waits in
# open(), so poll that; stop early when the process that should take the go
# (the pid_mark WL_GO_MARK, else RESTORE_MARK, else WL_MARK) is gone.
wl_go()
{
	local target=${WL_GO_MARK:-${RESTORE_MARK:-$WL_MARK}}

	_wl_go_sent=0
	wait_until "$WL_TIMEOUT" _wl_try_go "$target" || true
	if ((!_wl_go_sent)); then
		ckpt_show_logs
		if pid_running "$target"; then
			fail "nobody opened $T/go within ${WL_TIMEOUT}s"
		else
			fail "process ${target%%:*} exited before taking its go"
		fi
		return
	fi
}

_wl_try_go()
{
	if echo go | dd of="$T/go" oflag=nonblock status=none 2>/dev/null; then
		_wl_go_sent=1
		return 0
	fi
	! pid_running "$1"
}

# Wait for PID (a child of this shell); 0 when it exited 0 and $T/out ends
# in PASS. On failure prints the outputs and logs and fails the test.
_wl_wait_pass()
{
	local pid=$1 what=$2 rc=0 last

	wait "$pid" || rc=$?
	last=$(tail -n 1 "$T/out" 2>/dev/null)
	if [[ $rc -ne 0 || $last != PASS ]]; then
		ckpt_show_logs
		fail "$what: exit status $rc, last line \`$last\` (want PASS)"
		return
	fi
}

# ckpt_checkpoint [ARGS...]: checkpoint WL_PID into $T/bundle.
ckpt_checkpoint()
{
	local a

	# The mark says which process must die: after a restore of WL_PID, the
	# test takes it again (a mark of the process before would read gone).
	if ! pid_running "$WL_MARK" || [[ ${WL_MARK%%:*} != "$WL_PID" ]]; then
		fail "WL_MARK \`$WL_MARK\` names no running process of pid WL_PID $WL_PID"
		return
	fi
	# Bounded: `run` reads the output until EOF, so a hung checkpoint would
	# hang bats itself, past its own test timeout.
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle" "$@"
	if [[ $status -ne 0 ]]; then
		ckpt_show_logs
	fi
	assert_success || return
	for a in "$@"; do
		[[ $a == -R || $a == --leave-running ]] && return 0
	done
	# The checkpoint killed the workload: be sure it is gone and reaped
	# before the restore wants its pid back.
	if ! wait_until 10 pid_gone "$WL_MARK"; then
		ckpt_show_logs
		fail "checkpoint succeeded but workload $WL_PID did not die:" \
			"$(ls /proc/$WL_PID/task 2>/dev/null | wc -l) threads left"
		return
	fi
	wait "$WL_PID" 2>/dev/null || true
}

# ckpt_restore_bg [ARGS...]: restore $T/bundle in the background.
ckpt_restore_bg()
{
	(
		_close_fds
		exec "$CKPT_OCI" restore "$@" "$T/bundle"
	) </dev/null >"$T/restore.out" 2>"$T/restore.err" &
	RESTORE_PID=$!
	RESTORE_MARK=$(pid_mark "$RESTORE_PID")
	ckpt_track_pid "$RESTORE_PID"
}

# wl_finish: after wl_go, the restore exits with the workload's status.
wl_finish()
{
	_wl_wait_pass "$RESTORE_PID" "restored workload"
}

# wl_roundtrip NAME [ARGS...]: start, checkpoint, restore, go, PASS.
wl_roundtrip()
{
	wl_start "$@" || return
	ckpt_checkpoint || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# wl_roundtrip_tcp NAME [ARGS...]: the same for a tree holding established
# TCP connections (checkpoint --tcp-established).
wl_roundtrip_tcp()
{
	wl_start "$@" || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# wl_native NAME [ARGS...]: the workload passes without any checkpoint.
wl_native()
{
	wl_start "$@" || return
	wl_go || return
	_wl_wait_pass "$WL_PID" "workload $1"
}
