#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# container-crun.bats - `ckpt-oci checkpoint --runtime crun CONTAINER`:
# the same container as in container.bats, run by crun, whose state
# (ROOT/ID/status) differs from runc's.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
	ctr_crun_setup
}

teardown()
{
	ctr_crun_teardown
	ckpt_teardown
}

@test "crun: checkpoint by name stops it and removes it from crun" {
	local mark

	ctr_run_counter c1
	mark=$(pid_mark "$(jq -r .pid "$RUNC_ROOT/c1/status")")
	checkpoint -o "$T/ckpt" c1
	assert_success
	cmp <(jq -S . "$T/c1/config.json") <(jq -S . "$T/ckpt/config.json")
	run crun --root "$RUNC_ROOT" state c1
	assert_failure
	wait_until 10 pid_gone "$mark"
}

@test "crun: --leave-running keeps it counting; a paused one stays paused" {
	local n

	ctr_run_counter c1
	checkpoint -R -o "$T/ckpt" c1
	assert_success
	n=$(ctr_count c1)
	ctr_wait_count_above c1 "$n"
	# without --runtime: the status file under --root says crun
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --root "$RUNC_ROOT" -R \
		-o "$T/ckpt1" c1
	assert_success
	crun --root "$RUNC_ROOT" pause c1
	n=$(ctr_count c1)
	checkpoint -R -o "$T/ckpt2" c1
	assert_success
	[[ $(ctr_status c1) == paused ]]
	assert_equal "$(ctr_count c1)" "$n"
	crun --root "$RUNC_ROOT" resume c1
	ctr_wait_count_above c1 "$n"
}

@test "crun: unknown and stopped containers are refused in one line" {
	checkpoint nope
	assert_failure
	assert_output "ckpt-oci: checkpoint nope: no container \`nope\` in $RUNC_ROOT"
	ctr_create c2 '.process.args = ["true"]'
	ctr_start c2
	wait_until 20 eval '[[ $(ctr_status c2) == stopped ]]'
	checkpoint -o "$T/ckpt" c2
	assert_failure
	assert_output "ckpt-oci: checkpoint c2: container \`c2\` is not running (stopped)"
}

@test "crun: restored under crun as a new name: listed, counting, crun kill/delete end it" {
	local n pid mark

	ctr_run_counter c1
	checkpoint -o "$T/ckpt" c1
	assert_success
	n=$(ctr_count c1)
	CTRS+=(c2)
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --name c2 "$T/ckpt"
	assert_success
	pid=$(out_pid)
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	[[ $(crun --root "$RUNC_ROOT" list -q) == c2 ]]
	[[ $(crun --root "$RUNC_ROOT" state c2 | jq -r .status) == running ]]
	[[ $(crun --root "$RUNC_ROOT" state c2 | jq -r .pid) == "$pid" ]]
	ctr_wait_count_above c1 "$n"
	crun --root "$RUNC_ROOT" kill c2 KILL
	wait_until 10 pid_gone "$mark"
	run crun --root "$RUNC_ROOT" delete c2
	assert_success
	[[ -z $(crun --root "$RUNC_ROOT" list -q) ]]
}

@test "crun: migrate CONTAINER moves it to another state root through receive; it counts on there" {
	local pid mark n b0 rootfs_b=$T/rootfs-b root_b=$T/crun-b

	ctr_run_counter c1
	ctr_wait_count_above c1 2
	cp -a "$(ctr_rootfs)" "$rootfs_b"
	mkdir "$T/nodeA"
	"$CKPT_OCI" receive --listen 127.0.0.1:0 -o "$T/nodeB" --root "$root_b" \
		--rootfs "$rootfs_b" --name c1b </dev/null >"$T/recv.out" 2>"$T/recv.err" &
	ckpt_track_pid $!
	wait_until 10 grep -q "^listening on " "$T/recv.out" || fail "receiver did not listen"
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" migrate --runtime crun --root "$RUNC_ROOT" c1 \
		--to "$(awk '/^listening on /{print $3}' "$T/recv.out")" -w "$T/nodeA"
	[[ $status -eq 0 ]] || fail "migrate: $output; receive: $(cat "$T/recv.err" "$T"/nodeB/*.log 2>/dev/null)"
	wait_until 10 grep -qx "[0-9]*" "$T/recv.out" || fail "receiver printed no pid"
	pid=$(tail -n 1 "$T/recv.out")
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	run crun --root "$RUNC_ROOT" state c1
	assert_failure
	[[ $(crun --root "$root_b" state c1b | jq -r .status) == running ]]
	n=$(ctr_count c1)
	{ read -r b0 <"$rootfs_b/tmp/count"; } 2>/dev/null
	((n >= 3 && b0 >= n)) || fail "crun-b's counter at ${b0:-none}, the old one stopped at $n"
	wait_until 20 eval '(($(cat "$rootfs_b/tmp/count") > b0 + 2))' || fail "it does not count"
	crun --root "$root_b" delete -f c1b
	wait_until 10 pid_gone "$mark"
}
