#!/usr/bin/env bats
# tests/integration/net-tcp.bats - TCP connections in every state a program
# can hold with an fd, restored with TCP_REPAIR (--tcp-established): both
# ends in the tree over loopback, in a network namespace the test makes
# (unshare --net), with bytes in flight both ways. Each workload checks
# from inside, after restore, that every byte arrives once and in order,
# each end's state (TCP_INFO), and that the connection goes on to its end.

load helpers

# tcp_roundtrip NAME [ARGS...]: wl_roundtrip_ns in a new network
# namespace, checkpointed with --tcp-established.
tcp_roundtrip()
{
	wl_start_ns "--net" "$@" || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "tcp: loopback pair, send queues larger than the peer's window (dynamic)" {
	tcp_roundtrip net_tcp_pair flight
}
@test "tcp: loopback pair, send queues larger than the peer's window (static)" {
	tcp_roundtrip net_tcp_pair.static flight
}
@test "tcp: loopback pair over IPv6, send queues larger than the peer's window" {
	tcp_roundtrip net_tcp_pair flight 6
}
@test "tcp: loopback pair of IPv6 sockets on IPv4-mapped addresses, send queues larger than the peer's window" {
	tcp_roundtrip net_tcp_pair flight m
}
@test "tcp: IPv4-mapped pair half closed, bytes unread both ways (static)" {
	tcp_roundtrip net_tcp_pair.static shut_wr m
}

# Shut down one way or both: restored as established, then the FINs.
@test "tcp: loopback pair half closed (FIN_WAIT2 / CLOSE_WAIT), bytes unread both ways (dynamic)" {
	tcp_roundtrip net_tcp_pair shut_wr
}
@test "tcp: loopback pair half closed (FIN_WAIT2 / CLOSE_WAIT), bytes unread both ways (static)" {
	tcp_roundtrip net_tcp_pair.static shut_wr
}
@test "tcp: loopback pair half closed over IPv6" {
	tcp_roundtrip net_tcp_pair shut_wr 6
}
@test "tcp: FIN_WAIT1, the FIN behind bytes the peer's window holds back" {
	tcp_roundtrip net_tcp_pair fin_wait1
}
@test "tcp: CLOSING (both shut down, one FIN unacknowledged) and FIN_WAIT2" {
	tcp_roundtrip net_tcp_pair closing
}
@test "tcp: LAST_ACK behind a full window, the peer in FIN_WAIT2" {
	tcp_roundtrip net_tcp_pair last_ack
}
@test "tcp: LAST_ACK over IPv6" {
	tcp_roundtrip net_tcp_pair last_ack 6
}

# A tree in the host's namespace: its connections locked by their
# 4-tuples; the FIN restore sends to the socket passes the lock by its mark.
@test "tcp: host namespace: loopback pair half closed, bytes unread both ways" {
	wl_start net_tcp_pair shut_wr 4 $((20000 + RANDOM % 20000)) || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
@test "tcp: host namespace: CLOSING and FIN_WAIT2 over loopback" {
	wl_start net_tcp_pair closing 4 $((20000 + RANDOM % 20000)) || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# --tcp-close: each connection comes back reset, as its peer would reset it.
@test "tcp: restore --tcp-close: both ends closed, ECONNRESET then the end, no write" {
	wl_start_ns "--net" net_tcp_pair closed || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg --tcp-close || return
	wl_go || return
	wl_finish
}

# A connection in a listener's accept queue cannot be made again there:
# refused at checkpoint with one line, the program goes on untouched.
@test "tcp: a listener with a connection not yet accepted is refused, the tree runs on" {
	wl_start_ns "--net" net_tcp_pair pending || return
	run clean_exec "$CKPT_OCI" checkpoint --tcp-established --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(inet socket\) in pid $WL_PID: listener with connections not yet accepted \(use --skip-in-flight to leave them out\)"
	[[ ${#lines[@]} -eq 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	wl_go || return
	_wl_wait_pass "$WL_NS_PARENT" "net_tcp_pair after the refused checkpoint"
}

# --skip-in-flight: the listener comes back without the connection its
# client left in the accept queue (the log says one), and serves a new one.
skip_roundtrip()
{
	wl_start_ns "--net" "$1" skipped || return
	ckpt_checkpoint --skip-in-flight || return
	assert_output --partial "connections not yet accepted left out: 1 (--skip-in-flight)"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
@test "tcp: checkpoint --skip-in-flight leaves a listener's unaccepted connection out (dynamic)" {
	skip_roundtrip net_tcp_pair
}
@test "tcp: checkpoint --skip-in-flight leaves a listener's unaccepted connection out (static)" {
	skip_roundtrip net_tcp_pair.static
}

# rpc_roundtrip MODE "DUMP-OPTS" "RESTORE-OPTS": net_tcp_pair MODE dumped and
# restored through CRIU's RPC service (criu-rpc.py), with these options.
rpc_roundtrip()
{
	local pid dump_opts restore_opts

	read -ra dump_opts <<<"$2"
	read -ra restore_opts <<<"$3"
	require_cmd python3
	wl_start_ns "--net" net_tcp_pair "$1" || return
	mkdir "$T/img" || return
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" python3 "$BATS_TEST_DIRNAME/criu-rpc.py" \
		"$CKPT_OCI" dump "$T/img" pid="$WL_PID" "${dump_opts[@]}"
	[[ $status -eq 0 ]] || cat "$T/img/swrk.err"
	assert_success
	wait_until 10 pid_gone "$WL_MARK" || fail "the dump left the workload running"
	wait "$WL_NS_PARENT" 2>/dev/null || true
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" python3 "$BATS_TEST_DIRNAME/criu-rpc.py" \
		"$CKPT_OCI" restore "$T/img" "${restore_opts[@]}"
	[[ $status -eq 0 ]] || cat "$T/img/swrk.err"
	assert_success
	pid=${output#pid }
	ckpt_track_pid "$pid"
	RESTORE_MARK=$(pid_mark "$pid")
	wl_go || return
	wait_until "$WL_TIMEOUT" pid_gone "$RESTORE_MARK" || fail "the restored workload did not end"
	[[ $(tail -n 1 "$T/out") == PASS ]] || {
		cat "$T/out"
		fail "the restored workload did not pass"
	}
}
@test "tcp: CRIU's RPC: tcp_skip_in_flight at dump leaves the unaccepted connection out" {
	rpc_roundtrip skipped "tcp_skip_in_flight=1" ""
	grep -q "connections not yet accepted left out: 1" "$T/img/swrk.err" "$T/img"/*.log ||
		fail "no warning with the number left out"
}
@test "tcp: CRIU's RPC: tcp_close at restore brings both ends back closed" {
	rpc_roundtrip closed "tcp_established=1" "tcp_close=1"
}
