#!/usr/bin/env bats
# container-apps.bats - applications inside runc containers, checkpointed
# by name and restored under a new name into fresh namespaces (the original
# container stopped and deleted by the checkpoint). Each application checks
# from inside that it continued correctly and reports PASS or FAIL into a
# file of the container's root, which the test reads from the host:
#   - a shell pipeline `producer | filter | consumer` in mid-flight;
#   - a TCP server in the container's own network namespace with a client
#     in another namespace the test makes (veth pair, 10.77.0.0/24 only);
#   - static workloads of the earlier issues, several under one shell.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
	NS_SRV=ckpt-csrv-$$-$BATS_TEST_NUMBER
	NS_CLI=ckpt-ccli-$$-$BATS_TEST_NUMBER
}

teardown()
{
	ctr_teardown
	ckpt_teardown
	ip netns del "$NS_SRV" 2>/dev/null || true
	ip netns del "$NS_CLI" 2>/dev/null || true
}

checkpoint()
{
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --root "$RUNC_ROOT" "$@"
	[[ $status -eq 0 ]] || cat "$T"/*/dump.log "$T"/dump.log 2>/dev/null
}

# restore NEW BUNDLE: restored under runc as NEW; RPID is its init.
restore_as()
{
	CTRS+=("$1")
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --name "$1" "$2"
	if [[ $status -ne 0 ]]; then
		cat "$T"/restore.log 2>/dev/null
		fail "restore: $output"
		return
	fi
	RPID=$output
	ckpt_track_pid "$RPID"
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) == "$1" ]] || fail "runc does not list $1"
	[[ $(ctr_status "$1") == running ]] || fail "$1 is not running"
}

# The checkpoint stopped the container: runc knows it no more and every one
# of its processes (PIDS) is gone, so its namespaces are gone too (their
# inode numbers may be reused by the restored ones: no use comparing them).
assert_ctr_gone()
{
	local id=$1 p
	shift

	run "$RUNC" --root "$RUNC_ROOT" state "$id"
	assert_failure
	for p in "$@"; do
		wait_until 10 pid_exited "$p" || fail "pid $p of $id still runs"
	done
}

# A shell string as a JSON string (for jq filters).
json_str()
{
	jq -n --arg s "$1" '$s'
}

# ---- workload FIFOs inside a container's root ------------------------------

# Read the "ready" the workload NAME writes on ROOT/tmp/NAME.ready.
wl_ctr_ready()
{
	local root=$1 name=$2 pid=$3 fd line

	exec {fd}<>"$root/tmp/$name.ready"
	line=$(_read_ready "$fd" "$pid")
	exec {fd}<&-
	[[ $line == ready ]] ||
		fail "$name did not say ready: $(cat "$root/tmp/$name.out" 2>/dev/null)"
}

_wl_ctr_try_go()
{
	echo go | dd of="$1" oflag=nonblock status=none 2>/dev/null
}

wl_ctr_go()
{
	wait_until "$WL_TIMEOUT" _wl_ctr_try_go "$1/tmp/$2.go" ||
		fail "$2 never opened its go FIFO: $(cat "$1/tmp/$2.out" 2>/dev/null)"
}

_wl_ctr_done()
{
	local last

	last=$(tail -n 1 "$1" 2>/dev/null)
	[[ $last == PASS || $last == FAIL* ]]
}

# The workload's own verdict, the last line of ROOT/tmp/NAME.out.
wl_ctr_pass()
{
	local out=$1/tmp/$2.out

	wait_until "$WL_TIMEOUT" _wl_ctr_done "$out" ||
		fail "$2 gave no verdict: $(cat "$out" 2>/dev/null)"
	[[ $(tail -n 1 "$out") == PASS ]] || fail "$2: $(cat "$out")"
}

# ---- 1. a shell pipeline ---------------------------------------------------

# The producer numbers lines, the filter (sed) rewrites each, the consumer
# (awk) checks every number is the last plus one, writes its progress to
# /tmp/progress, and when /tmp/stop appears writes its verdict to
# /tmp/verdict and ends the pipeline.
PIPE_PRODUCER='i=0; while :; do i=$((i+1)); echo $i; usleep 1000; done'
PIPE_FILTER="sed -e 's/^/seq /'"
PIPE_CONSUMER='awk '\''
	$1 != "seq" || $2 != n + 1 {
		print "FAIL: after " n " got `" $0 "`" >"/tmp/verdict"
		exit 1
	}
	{ n = $2 }
	n % 20 == 0 {
		print n >"/tmp/progress"; close("/tmp/progress")
		if ((getline s <"/tmp/stop") > 0) {
			print "PASS " n >"/tmp/verdict"
			exit 0
		}
		close("/tmp/stop")
	}'\'

_progress_above()
{
	local n

	{ read -r n <"$1/tmp/progress"; } 2>/dev/null && [[ -n $n ]] && ((n > $2))
}

@test "apps: a shell pipeline in mid-flight continues with no line lost or doubled" {
	local root=$T/p1/rootfs pids n script

	script="$PIPE_PRODUCER | $PIPE_FILTER | $PIPE_CONSUMER"
	ctr_create p1 ".process.args = [\"sh\", \"-c\", $(json_str "$script")]"
	ctr_start p1
	wait_until "$WL_TIMEOUT" _progress_above "$root" 200 || fail "the pipeline does not run"
	pids=$(ctr_pids p1)
	(($(wc -w <<<"$pids") >= 4)) || fail "want sh and 3 stages: $pids"
	checkpoint -o "$T/ckpt" p1
	assert_success
	assert_ctr_gone p1 $pids
	read -r n <"$root/tmp/progress"
	restore_as p2 "$T/ckpt"
	(($(ctr_pids p2 | wc -l) >= 4)) || fail "restored: $(ctr_pids p2)"
	wait_until "$WL_TIMEOUT" _progress_above "$root" $((n + 200)) ||
		fail "the pipeline does not go on after restore: $(cat "$root/tmp/progress")"
	[[ ! -e $root/tmp/verdict ]] || fail "early verdict: $(cat "$root/tmp/verdict")"
	echo stop >"$root/tmp/stop"
	wait_until "$WL_TIMEOUT" test -s "$root/tmp/verdict" || fail "no verdict"
	run cat "$root/tmp/verdict"
	assert_output --regexp '^PASS [0-9]+$'
	((${output#PASS } > n + 200))
	# the consumer ended the pipeline, and with it the container
	wait_until 20 pid_exited "$RPID"
}
