#!/usr/bin/env bats
# ns-ipc.bats - the IPC namespace: SysV shared memory, semaphores, message
# queues and POSIX message queues, each in a workload that is pid 1 of its
# own pid and IPC namespaces. The checkpoint kills the tree (its
# namespaces go with it); the restore makes fresh ones.

load helpers

setup()
{
	require_root
	ckpt_setup
}

ipc_roundtrip()
{
	wl_roundtrip_ns "--ipc" "$@"
}

@test "ns_ipc_shm: native" { wl_native_ns "--ipc" ns_ipc_shm; }
@test "ns_ipc_shm: roundtrip (dynamic)" { ipc_roundtrip ns_ipc_shm; }
@test "ns_ipc_shm: roundtrip (static)" { ipc_roundtrip ns_ipc_shm.static; }
@test "ns_ipc_sem: roundtrip (dynamic)" { ipc_roundtrip ns_ipc_sem; }
@test "ns_ipc_sem: roundtrip (static)" { ipc_roundtrip ns_ipc_sem.static; }
@test "ns_ipc_msg: roundtrip (dynamic)" { ipc_roundtrip ns_ipc_msg; }
@test "ns_ipc_msg: roundtrip (static)" { ipc_roundtrip ns_ipc_msg.static; }
@test "ns_mqueue: roundtrip (dynamic)" { ipc_roundtrip ns_mqueue; }
@test "ns_mqueue: roundtrip (static)" { ipc_roundtrip ns_mqueue.static; }

@test "ipc: changed sysctls come back in the new namespace" {
	# msgmnb is per IPC namespace: change it inside before the workload starts
	wl_start_ns "--ipc" ns_ipc_msg
	# (ipc sysctls belong to the writer's IPC namespace: never the host's here)
	require_cmd nsenter
	nsenter -t "$WL_PID" --ipc sh -c 'echo 12345 >/proc/sys/kernel/msgmnb'
	run cat /proc/sys/kernel/msgmnb
	refute_output 12345
	ckpt_checkpoint
	run jq -r '.sysctls["kernel/msgmnb"]' "$T/bundle/ipc.json"
	assert_output 12345
	ckpt_restore_bg
	wl_go
	wl_finish
}
