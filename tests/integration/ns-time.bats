#!/usr/bin/env bats
# ns-time.bats - the time namespace: a workload in its own pid and time
# namespaces, with large monotonic and boottime offsets, restored into
# fresh namespaces; its clocks never go backwards.

load helpers

setup()
{
	require_root
	ckpt_setup
}

# 1e6 and 2e6 seconds ahead of the host: far above any uptime here.
TIME_FLAGS="--time --monotonic 1000000 --boottime 2000000"

@test "ns_time: native" { wl_native_ns "$TIME_FLAGS" ns_time 1000000; }
@test "ns_time: roundtrip (dynamic)" { wl_roundtrip_ns "$TIME_FLAGS" ns_time 1000000; }
@test "ns_time: roundtrip (static)" { wl_roundtrip_ns "$TIME_FLAGS" ns_time.static 1000000; }

@test "ns_time: the restored tree has a time namespace of its own" {
	wl_start_ns "$TIME_FLAGS" ns_time 1000000
	ckpt_checkpoint
	run jq -r '.owned | index("time") != null' "$T/bundle/ns.json"
	assert_output true
	ckpt_restore_bg
	# the restored root: pid 1 of its namespace, the restore's child
	wait_until 30 _root_of_restore
	[[ $(readlink /proc/"$ROOT"/ns/time) != $(readlink /proc/self/ns/time) ]]
	wl_go
	wl_finish
}

_root_of_restore()
{
	ROOT=$(cat /proc/"$RESTORE_PID"/task/*/children 2>/dev/null)
	ROOT=${ROOT// /}
	[[ -n $ROOT ]]
}

@test "ns_time: a tree without a time namespace stays in the caller's" {
	wl_start_ns "" ns_time
	ckpt_checkpoint
	run jq -r '.owned | index("time") != null' "$T/bundle/ns.json"
	assert_output false
	ckpt_restore_bg
	wl_go
	wl_finish
}
