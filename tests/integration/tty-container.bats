#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tty-container.bats - a runc container with terminal: true (runc run
# --console-socket): its shell is pid 1 on a console of the container's own
# devpts, bound over /dev/console. Checkpointed, it comes back on a console
# made again at the same index, whose master is handed to the console
# socket given at restore: the shell answers through it, with job control
# (its controlling terminal), and `runc exec -t` into it works. Both with
# ckpt-oci's own restore and through runc's CRIU path.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
	require_cmd python3 script
	# container ids name cgroups (/ID) shared by every runc on the host
	ID=tty$$-$BATS_TEST_NUMBER
	CONSOLE=$BATS_TEST_DIRNAME/console-socket.py
}

teardown()
{
	ctr_teardown
	ckpt_teardown
}

# console N: the far end of console socket $T/sN, its output in $T/outN,
# what is written to $T/inN typed into it.
console()
{
	mkfifo "$T/in$1" || return
	(
		_close_fds
		exec python3 "$CONSOLE" "$T/s$1" "$T/out$1" "$T/in$1"
	) </dev/null >"$T/console$1.log" 2>&1 &
	ckpt_track_pid $!
	wait_until 10 test -S "$T/s$1" || fail "console socket $T/s$1 not made"
}

_said() { grep -q -- "$2" "$T/out$1" 2>/dev/null; }

# type N LINE EXPECT: LINE typed on console N, EXPECT appears on it.
type_on()
{
	echo "$2" >"$T/in$1" || return
	wait_until 20 _said "$1" "$3" || {
		cat "$T/out$1" "$T/console$1.log"
		fail "console $1 did not answer \`$3\` to \`$2\`"
	}
}

# An interactive shell on its console, answering.
start_shell()
{
	ctr_create "$ID" '.process.terminal = true | .process.args = ["sh"]' || return
	console 1 || return
	CTRS+=("$ID")
	"$RUNC" --root "$RUNC_ROOT" run -d --console-socket "$T/s1" --bundle "$T/$ID" "$ID" \
		</dev/null >"$T/run.out" 2>&1 || { cat "$T/run.out"; return 1; }
	type_on 1 'echo before-$((6*7))' before-42
}

# The restored shell: console 2 answers, job control works, the pty is the same.
assert_shell_back()
{
	type_on 2 'tty; echo after-$((6*7)) | cat' after-42
	grep -q "^/dev/pts/0" "$T/out2" || fail "the console is not /dev/pts/0: $(cat "$T/out2")"
	! grep -q "can't set tty process group\|job control turned off" "$T/out2" ||
		fail "no job control: $(cat "$T/out2")"
	run timeout 20 script -qec "$RUNC --root $RUNC_ROOT exec -t $ID sh -c 'echo exec-\$((6*7)); tty'" \
		/dev/null </dev/null
	assert_success
	assert_output --partial exec-42
	assert_output --regexp "/dev/pts/[1-9]"
}

@test "tty-container: terminal: true, ckpt-oci checkpoint and restore --console-socket" {
	start_shell || return
	checkpoint -o "$T/ckpt" "$ID"
	assert_success
	[[ $(ctr_status "$ID") == "" ]] || fail "runc still has $ID"
	run "$CKPT_OCI" inspect "$T/ckpt"
	assert_success
	assert_output --regexp "pty +rw desc [0-9]+ pty 0 slave .* ctty of session 1 foreground 1"
	console 2 || return
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" \
		--console-socket "$T/s2" --pid-file "$T/r.pid" "$T/ckpt"
	assert_success
	ckpt_track_pid "$(cat "$T/r.pid")"
	[[ $(ctr_status "$ID") == running ]] || fail "runc says $(ctr_status "$ID")"
	assert_shell_back
}

@test "tty-container: terminal: true through runc's CRIU path (orphan-pts-master)" {
	mkdir -p "$T/bin"
	ln -s "$CKPT_OCI" "$T/bin/criu"
	start_shell || return
	run timeout -k 5 "$CKPT_TIMEOUT" "$RUNC" --root "$RUNC_ROOT" --criu "$T/bin/criu" \
		checkpoint --image-path "$T/img" "$ID" </dev/null
	assert_success
	console 2 || return
	run timeout -k 5 "$CKPT_TIMEOUT" "$RUNC" --root "$RUNC_ROOT" --criu "$T/bin/criu" \
		restore -d --console-socket "$T/s2" --image-path "$T/img" --bundle "$T/$ID" "$ID" \
		</dev/null
	assert_success
	grep -q "notify: orphan-pts-master" "$T/img/restore.log" ||
		fail "no orphan-pts-master notification"
	[[ $(ctr_status "$ID") == running ]] || fail "runc says $(ctr_status "$ID")"
	assert_shell_back
}

@test "tty-container: a restore without --console-socket is refused before anything is made" {
	start_shell || return
	checkpoint -o "$T/ckpt" "$ID"
	assert_success
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" \
		--pid-file "$T/r.pid" "$T/ckpt"
	assert_failure
	assert_output --partial "the tree has a console (terminal: true) whose master was outside it: restore needs --console-socket to hand the new one to"
	[[ ! -e $T/r.pid ]] || fail "a tree was made: $(cat "$T/r.pid")"
	[[ $(ctr_status "$ID") == "" ]] || fail "runc has $ID: $(ctr_status "$ID")"
	# the bundle is untouched: restored with the option, the shell answers
	console 2 || return
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" \
		--console-socket "$T/s2" --pid-file "$T/r.pid" "$T/ckpt"
	assert_success
	ckpt_track_pid "$(cat "$T/r.pid")"
	assert_shell_back
}
