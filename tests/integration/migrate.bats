#!/usr/bin/env bats
# tests/integration/migrate.bats - ckpt-oci migrate between two nodes
# simulated on one machine: two network namespaces of the test's own,
# joined by a veth pair
# (nothing else is reached), separate work directories. The workload
# (migrate_ts, in a pid namespace of its own) stamps the time every
# millisecond and checks all its memory after the move.

load helpers
bats_require_minimum_version 1.5.0

ADDR_A=10.231.7.1
ADDR_B=10.231.7.2

# Names of this test's own (the pid of its shell): runs beside other tests.
setup()
{
	ckpt_setup
	require_root
	require_cmd ip
	NS_A=ckpt-mig-$$-a
	NS_B=ckpt-mig-$$-b
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	# the veth ends live only in the two namespaces, named there alike
	ip link add "ckm$$a" netns "$NS_A" type veth peer name "ckm$$b" netns "$NS_B"
	ip -n "$NS_A" link set "ckm$$a" name veth0
	ip -n "$NS_B" link set "ckm$$b" name veth0
	ip -n "$NS_A" addr add "$ADDR_A/24" dev veth0
	ip -n "$NS_B" addr add "$ADDR_B/24" dev veth0
	ip -n "$NS_A" link set veth0 up
	ip -n "$NS_B" link set veth0 up
	ip -n "$NS_A" link set lo up
	ip -n "$NS_B" link set lo up
	mkdir -p "$T/nodeA"
}

teardown()
{
	ckpt_teardown
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
}

# receiver_start: `ckpt-oci receive` on node B; RECV_ADDR is where it listens.
receiver_start()
{
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_B" "$CKPT_OCI" receive --listen "$ADDR_B:0" -o "$T/nodeB"
	) </dev/null >"$T/recv.out" 2>"$T/recv.err" &
	RECV_PID=$!
	ckpt_track_pid "$RECV_PID"
	wait_until 10 grep -q "^listening on " "$T/recv.out" || {
		cat "$T/recv.err"
		fail "receiver did not listen"
	}
	RECV_ADDR=$(awk '/^listening on /{print $3}' "$T/recv.out")
}

out_pass()
{
	[[ $(tail -n 1 "$T/out" 2>/dev/null) == PASS ]]
}

# The workload runs on node A: its network namespace, a pid namespace of its
# own. (nsenter --net, not ip netns exec: that one mounts a /sys without
# the cgroup hierarchies a checkpoint reads.)
wl_start_node_a()
{
	local fd line
	mkfifo "$T/ready" "$T/go" || return
	(
		_close_fds
		WL_READY=$T/ready WL_GO=$T/go exec nsenter --net="/run/netns/$NS_A" \
			unshare --fork --pid --mount-proc "$WL_BIN/migrate_ts" 64
	) </dev/null >>"$T/out" 2>&1 &
	WL_NS_PARENT=$!
	ckpt_track_pid "$WL_NS_PARENT"
	exec {fd}<>"$T/ready"
	line=$(_read_ready "$fd" "$WL_NS_PARENT")
	exec {fd}<&-
	[[ ${line:-} == ready ]] || { cat "$T/out"; fail "migrate_ts did not say ready"; return; }
	WL_PID=$(cat /proc/"$WL_NS_PARENT"/task/*/children 2>/dev/null)
	WL_PID=${WL_PID// /}
	[[ -n $WL_PID ]] || { fail "no workload under unshare"; return; }
	ckpt_track_pid "$WL_PID"
}

# migrate_roundtrip [MIGRATE-ARGS...]: the workload moves to node B and passes there.
migrate_roundtrip()
{
	local root
	wl_start_node_a || return
	receiver_start || return
	run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" --to "$RECV_ADDR" \
		-w "$T/nodeA" --json "$@"
	if [[ $status -ne 0 ]]; then
		cat "$T/recv.err" "$T"/nodeA/*/dump.log 2>/dev/null | tail -40
		fail "migrate failed: $output"
		return
	fi
	assert_output --partial '"frozen_ms"'
	wait "$RECV_PID" || { cat "$T/recv.err"; fail "receiver failed"; return; }
	root=$(tail -n 1 "$T/recv.out")
	[[ $root -gt 0 ]] || fail "receiver printed no root pid: $root"
	ckpt_track_pid "$root"
	# the old tree is gone: only the new one runs
	wait_until 10 pid_exited "$WL_PID"
	WL_GO_PID=$root wl_go || return
	wait_until 60 out_pass || { tail "$T/out" "$T"/nodeB/*.log; fail "no PASS from node B"; }
	grep -q "max gap" "$T/out"
}

@test "migrate: a tree moves to node B, memory intact, the old one gone" {
	migrate_roundtrip
}

@test "migrate --lazy: it runs on node B while its pages come from node A" {
	migrate_roundtrip --lazy
	grep -q "every page back" "$T/nodeB/lazy-pages.log"
	# node A's work directory is cleaned once the pages are all served
	[[ -z $(ls "$T/nodeA") ]]
}

@test "migrate --pre-copy: pre-dumps go first, the tree stops for what was written since" {
	migrate_roundtrip --pre-copy 3
	[[ $output =~ \"pre_rounds\":\ ([1-3]) ]] || fail "no pre_rounds in: $output"
	local n=${BASH_REMATCH[1]} b i
	# node B: pre-1..pre-N beside the bundle, each the parent of the next
	b=$(ls -d "$T"/nodeB/bundle-*/)
	b=${b%/}
	[[ $(jq -r .parent "$b/chain.json") == "pre-$n" ]] || fail "bundle's parent: $(cat "$b/chain.json")"
	[[ $(jq -r '.parent // "none"' "$T/nodeB/pre-1/chain.json") == none ]]
	for ((i = 2; i <= n; i++)); do
		[[ $(jq -r .parent "$T/nodeB/pre-$i/chain.json") == "pre-$((i - 1))" ]] ||
			fail "pre-$i's parent: $(cat "$T/nodeB/pre-$i/chain.json")"
	done
	run -0 "$CKPT_OCI" inspect "$b"
	assert_line "parent:    $(realpath "$T/nodeB")/pre-$n (manifest as recorded)"
	# the final checkpoint wrote only the pages written since: most are referenced
	(($(jq '[.[][1]] | add // 0' "$b"/parentmap-*.json) > 0)) || fail "nothing referenced"
	# node A keeps nothing, and no tracking is left of the old tree
	[[ -z $(ls "$T/nodeA") ]]
	! ls /run/ckpt-oci/track-"$WL_PID"-*.json 2>/dev/null
}

@test "migrate --lazy --pre-copy: node B runs before reading the pre-dumps; every page comes from its bundle" {
	migrate_roundtrip --lazy --pre-copy 3
	[[ $output =~ \"pre_rounds\":\ ([1-3]) ]] || fail "no pre_rounds in: $output"
	local n=${BASH_REMATCH[1]}
	wait_until 30 grep -q "every page back" "$T/nodeB/lazy-pages.log"
	# the pre-dumps' pages too came through the lazy-pages process, not before the release
	grep -q "pages to come from [2-4] bundles" "$T/nodeB/lazy-pages.log" ||
		fail "$(grep "pages to come" "$T/nodeB/lazy-pages.log")"
	! grep -q "pages from [0-9]* parent bundles" "$T/nodeB/restore.log"
	[[ -d $T/nodeB/pre-$n ]]
	[[ -z $(ls "$T/nodeA") ]]
}

# dying_receiver_start: a receiver on node B that takes the handshake and
# 1 MiB of the stream, then dies.
dying_receiver_start()
{
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_B" python3 -c '
import os, socket, sys
s = socket.socket(); s.bind(("'"$ADDR_B"'", 0)); s.listen(1)
print("listening on %s:%d" % s.getsockname(), flush=True)
c, _ = s.accept()
c.sendall(b"CKPTPS01" + os.urandom(32)); c.recv(32, socket.MSG_WAITALL)
c.sendall(b"\0\0\0\0")
got = 0
while got < (1 << 20):
    got += len(c.recv(65536))
os._exit(1)'
	) </dev/null >"$T/recv.out" 2>"$T/recv.err" &
	RECV_PID=$!
	ckpt_track_pid "$RECV_PID"
	wait_until 10 grep -q "^listening on " "$T/recv.out" || { fail "receiver did not listen"; return; }
	RECV_ADDR=$(awk '/^listening on /{print $3}' "$T/recv.out")
}

@test "migrate: a receiver that dies mid-way leaves the tree running here, intact" {
	wl_start_node_a || return
	dying_receiver_start || return
	run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" --to "$RECV_ADDR" \
		-w "$T/nodeA"
	assert_failure
	assert_output --regexp "migrate: .*(Broken pipe|Connection reset|went away)"
	# the tree ran on: still here, and it sees all its memory
	pid_alive "$WL_PID"
	[[ -z $(ls "$T"/nodeA/*/bundle 2>/dev/null) ]]
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "the original tree did not pass"; }
}

@test "migrate --pre-copy: a receiver that dies during the rounds leaves the tree running" {
	wl_start_node_a || return
	dying_receiver_start || return
	run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" --to "$RECV_ADDR" \
		-w "$T/nodeA" --pre-copy 3
	assert_failure
	assert_output --regexp "migrate: pre-copy to .*(Broken pipe|Connection reset|went away)"
	pid_alive "$WL_PID"
	# no bundle, no pre-dump left on node A
	[[ -z $(ls -d "$T"/nodeA/*/bundle "$T"/nodeA/*/pre-* 2>/dev/null) ]]
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "the original tree did not pass"; }
}

@test "receive: a pre-dump it already holds is refused, nothing of the stream kept, the tree runs on" {
	wl_start_node_a || return
	# left by an earlier migration: pre-1 is taken, then pre-2 refused
	mkdir -p "$T/nodeB/pre-2"
	echo earlier >"$T/nodeB/pre-2/mark"
	receiver_start || return
	run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" --to "$RECV_ADDR" \
		-w "$T/nodeA" --pre-copy 3
	assert_failure
	assert_output --regexp "migrate: .*(Broken pipe|Connection reset|went away)"
	if wait "$RECV_PID"; then
		fail "the receiver succeeded"
	fi
	grep -q "pre-2.*Directory not empty" "$T/recv.err" || { cat "$T/recv.err"; fail "no refusal"; }
	# pre-1 it took is removed again, the earlier pre-2 untouched
	[[ $(ls "$T/nodeB") == pre-2 ]] || fail "left on node B: $(ls "$T/nodeB")"
	[[ $(cat "$T/nodeB/pre-2/mark") == earlier ]]
	pid_alive "$WL_PID"
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "the original tree did not pass"; }
}
