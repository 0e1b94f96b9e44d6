#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/ns-net.bats - the network namespace and inet sockets:
# links, addresses, routes, sysctls and the nftables ruleset restored into
# a fresh namespace; TCP listeners, UDP sockets and an established TCP
# connection (--tcp-established) to a peer outside the tree.
#
# Only namespaces the test makes (ip netns NAME, removed in teardown), a
# veth pair between them, their loopbacks; addresses are 10.201.0.0/24 and
# fd01::/64 inside those namespaces only.

load helpers

setup()
{
	ckpt_setup
	require_root
	require_cmd ip nsenter unshare nft
	NS_SRV=ckpt-srv-$$-$BATS_TEST_NUMBER
	NS_CLI=ckpt-cli-$$-$BATS_TEST_NUMBER
}

teardown()
{
	ckpt_teardown
	ip netns del "$NS_SRV" 2>/dev/null || true
	ip netns del "$NS_CLI" 2>/dev/null || true
}

# Two namespaces joined by a veth pair: eth0 (server side) and vc0 (client).
net_pair()
{
	ip netns add "$NS_SRV" && ip netns add "$NS_CLI" || return
	ip -n "$NS_CLI" link add vc0 type veth peer name eth0 netns "$NS_SRV" || return
	ip -n "$NS_SRV" link set lo up
	ip -n "$NS_CLI" link set lo up
	ip -n "$NS_SRV" link set eth0 mtu 1400 address 02:00:00:00:01:01
	ip -n "$NS_SRV" addr add 10.201.0.1/24 dev eth0
	ip -n "$NS_SRV" addr add fd01::1/64 dev eth0 nodad
	ip -n "$NS_CLI" addr add 10.201.0.2/24 dev vc0
	ip -n "$NS_CLI" addr add fd01::2/64 dev vc0 nodad
	ip -n "$NS_SRV" link set eth0 up
	ip -n "$NS_CLI" link set vc0 up
	ip -n "$NS_SRV" route add 10.202.0.0/24 via 10.201.0.2
}

# wl_start_netns NETNS NAME [ARGS...]: wl_start_ns in the named network
# namespace (joined with nsenter) and a new pid namespace.
wl_start_netns()
{
	local netns=$1 name=$2 fd line i
	shift 2
	mkfifo "$T/ready" "$T/go" || return
	(
		_close_fds
		WL_READY=$T/ready WL_GO=$T/go exec nsenter --net=/run/netns/"$netns" \
			unshare --fork --pid "$WL_BIN/$name" "$@"
	) </dev/null >>"$T/out" 2>&1 &
	WL_NS_PARENT=$!
	WL_NS_PARENT_MARK=$(pid_mark "$WL_NS_PARENT")
	ckpt_track_pid "$WL_NS_PARENT"
	exec {fd}<>"$T/ready"
	for ((i = 0; i < WL_TIMEOUT * 10; i++)); do
		read -t 0.1 -u "$fd" line && break
		pid_running "$WL_NS_PARENT_MARK" || break
	done
	exec {fd}<&-
	if [[ ${line:-} != ready ]]; then
		ckpt_show_logs
		fail "workload $name (in netns $netns) did not say ready"
		return
	fi
	WL_PID=$(cat /proc/"$WL_NS_PARENT"/task/*/children 2>/dev/null)
	WL_PID=${WL_PID// /}
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
}

# The client end: same protocol on $T/cready and $T/cgo, output in $T/client.out.
client_start()
{
	local fd line i
	mkfifo "$T/cready" "$T/cgo" || return
	(
		_close_fds
		WL_READY=$T/cready WL_GO=$T/cgo exec nsenter --net=/run/netns/"$NS_CLI" \
			"$WL_BIN/ns_net_tcp_echo" client "$@"
	) </dev/null >"$T/client.out" 2>&1 &
	CLIENT_PID=$!
	CLIENT_MARK=$(pid_mark "$CLIENT_PID")
	ckpt_track_pid "$CLIENT_PID"
}

client_wait_ready()
{
	local fd line i
	exec {fd}<>"$T/cready"
	for ((i = 0; i < WL_TIMEOUT * 10; i++)); do
		read -t 0.1 -u "$fd" line && break
		pid_running "$CLIENT_MARK" || break
	done
	exec {fd}<&-
	[[ ${line:-} == ready ]] || fail "client did not say ready: $(cat "$T/client.out")"
}

_client_try_go()
{
	echo go | dd of="$T/cgo" oflag=nonblock status=none 2>/dev/null || ! pid_running "$CLIENT_MARK"
}

client_finish()
{
	local rc=0
	wait_until "$WL_TIMEOUT" _client_try_go || return
	wait "$CLIENT_PID" || rc=$?
	[[ $rc -eq 0 && $(tail -n 1 "$T/client.out") == PASS ]] ||
		fail "client: exit $rc: $(cat "$T/client.out")"
}

_link_gone()
{
	! ip -n "$NS_CLI" link show "$1" >/dev/null 2>&1
}

# The checkpoint killed the tree; drop its named namespace too, and wait
# until the kernel has removed the old veth pair with it.
srv_netns_gone()
{
	ip netns del "$NS_SRV" || return
	wait_until 10 _link_gone vc0 || fail "old veth pair still there"
}

# No network lock table of ckpt-oci's in the namespace behind path $1.
no_net_lock()
{
	run nsenter --net="$1" nft list tables
	assert_success || return
	refute_output --partial ckpt_oci_lock
}

# The checkpoint's dump.log (in $1, default $T) says the network was locked
# and, if $2 is "unlocked", unlocked again.
dump_log_lock()
{
	local log=${1:-$T}/dump.log
	grep -q "net: network locked" "$log" || fail "no network lock in $log"
	if [[ ${2:-} == unlocked ]]; then
		grep -q "net: network unlocked" "$log" || fail "no network unlock in $log"
	fi
}

@test "net: TCP connection to a peer in another namespace survives, no byte lost or doubled" {
	net_pair || return
	client_start 10.201.0.1 7000 || return
	wl_start_netns "$NS_SRV" ns_net_tcp_echo server 7000 || return
	client_wait_ready || return
	ckpt_checkpoint --tcp-established || return
	dump_log_lock || return
	srv_netns_gone || return
	ckpt_restore_bg --pid-file "$T/pid" || return
	# locked while the sockets were made, unlocked before the tree ran
	wait_until 20 test -s "$T/pid" || { ckpt_show_logs; fail "restore wrote no pid"; return; }
	grep -q "net: network locked" "$T/restore.log" || fail "restore set no network lock"
	grep -q "net: network unlocked" "$T/restore.log" || fail "restore left the lock"
	no_net_lock /proc/"$(cat "$T/pid")"/ns/net || return
	wl_go || return
	client_finish || { ckpt_show_logs; return 1; }
	wl_finish
}

# The FIN states with the peer outside the tree, in another namespace.
_tcp_fin_outside()
{
	net_pair || return
	client_start 10.201.0.1 7000 "$1" || return
	wl_start_netns "$NS_SRV" ns_net_tcp_echo server 7000 "$1" || return
	client_wait_ready || return
	ckpt_checkpoint --tcp-established || return
	srv_netns_gone || return
	ckpt_restore_bg || return
	wl_go || return
	client_finish || { ckpt_show_logs; return 1; }
	wl_finish
}

@test "net: TCP peer outside the tree shut down first: restored in CLOSE_WAIT, every byte both ways" {
	_tcp_fin_outside peer_fin
}

@test "net: TCP shut down with bytes not sent to a peer outside the tree: restored in FIN_WAIT1" {
	_tcp_fin_outside our_fin
}

@test "net: --leave-running with a TCP connection: locked during the dump, the peer goes on" {
	net_pair || return
	ip netns exec "$NS_SRV" nft add table inet ckpt_t
	client_start 10.201.0.1 7000 || return
	wl_start_netns "$NS_SRV" ns_net_tcp_echo server 7000 || return
	client_wait_ready || return
	ckpt_checkpoint --leave-running --tcp-established || return
	dump_log_lock "$T" unlocked || return
	no_net_lock /run/netns/"$NS_SRV" || return
	# the saved ruleset is the tree's own, taken before the lock
	grep -q '"nft": "table inet ckpt_t' "$T/bundle/net.json" || fail "ruleset not saved"
	! grep -q ckpt_oci_lock "$T/bundle/net.json" || fail "the lock was saved"
	run nsenter --net=/run/netns/"$NS_SRV" nft list tables
	assert_output "table inet ckpt_t"
	# no reset, nothing lost or doubled: both ends check every byte
	wl_go || return
	client_finish || { ckpt_show_logs; return 1; }
	_wl_wait_pass "$WL_NS_PARENT" "server after the checkpoint"
}

@test "net: a checkpoint failing after the lock (disk full) unlocks, the connection goes on" {
	net_pair || return
	client_start 10.201.0.1 7000 || return
	wl_start_netns "$NS_SRV" ns_net_tcp_echo server 7000 || return
	client_wait_ready || return
	mkdir "$T/small" "$T/log"
	mount -t tmpfs -o size=32k ckpt-test-full "$T/small" || return
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint --pid "$WL_PID" \
		--tcp-established -w "$T/log" -o "$T/small/bundle"
	umount "$T/small"
	assert_failure
	dump_log_lock "$T/log" unlocked || return
	no_net_lock /run/netns/"$NS_SRV" || return
	wl_go || return
	client_finish || { ckpt_show_logs; return 1; }
	_wl_wait_pass "$WL_NS_PARENT" "server after the failed checkpoint"
}

@test "net: an established TCP connection without --tcp-established is refused" {
	net_pair || return
	client_start 10.201.0.1 7000 || return
	wl_start_netns "$NS_SRV" ns_net_tcp_echo server 7000 || return
	client_wait_ready || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(inet socket\) in pid $WL_PID: established TCP connection \(use --tcp-established\)"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	wl_go || return
	client_finish || return
	_wl_wait_pass "$WL_NS_PARENT" "server after the refused checkpoint"
}

@test "net: addresses, MTU, MAC, routes and sysctls seen from inside after restore" {
	net_pair || return
	ip netns exec "$NS_SRV" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.tcp_keepalive_time=600
	ip netns exec "$NS_SRV" nft add table inet ckpt_t
	ip netns exec "$NS_SRV" nft add chain inet ckpt_t c '{ type filter hook input priority 0; }'
	ip netns exec "$NS_SRV" nft add rule inet ckpt_t c tcp dport 9 drop
	wl_start_netns "$NS_SRV" ns_net_addr || return
	ckpt_checkpoint || return
	srv_netns_gone || return
	ckpt_restore_bg --pid-file "$T/pid" || return
	# the ruleset, from outside, in the restored tree's namespace
	wait_until 20 test -s "$T/pid" || { ckpt_show_logs; fail "restore wrote no pid"; return; }
	run nsenter --net=/proc/"$(cat "$T/pid")"/ns/net nft list ruleset
	assert_output --partial "tcp dport 9 drop"
	wl_go || return
	wl_finish
}

@test "net: the host end of the veth comes back in its namespace with its addresses" {
	net_pair || return
	wl_start_netns "$NS_SRV" ns_net_addr || return
	ckpt_checkpoint || return
	srv_netns_gone || return
	ckpt_restore_bg || return
	wait_until 10 ip -n "$NS_CLI" link show vc0 >/dev/null 2>&1 || return
	run ip -n "$NS_CLI" -br addr show vc0
	assert_output --partial "10.201.0.2/24"
	assert_output --partial "fd01::2/64"
	assert_output --regexp "^vc0@[^ ]+ +UP"
	wl_go || return
	wl_finish
}

@test "net: TCP listener with its options accepts after restore" {
	wl_roundtrip_ns "--net" ns_net_tcp_listen
}

@test "net: UDP sockets bound and connected keep talking" {
	wl_roundtrip_ns "--net" ns_net_udp
}

# Ping sockets need the namespace's ping_group_range before they are made.
@test "net: an ICMP echo socket and UDP-Lite sockets bound and connected (dynamic)" {
	wl_roundtrip_ns "--net" ns_net_dgram_kinds
}
@test "net: an ICMP echo socket and UDP-Lite sockets bound and connected (static)" {
	wl_roundtrip_ns "--net" ns_net_dgram_kinds.static
}

@test "net: raw sockets keep protocol, binding, peer, IP_HDRINCL, ICMP_FILTER, filter and lock (dynamic)" {
	wl_roundtrip_ns "--net" ns_net_raw
}
@test "net: raw sockets keep protocol, binding, peer, IP_HDRINCL, ICMP_FILTER, filter and lock (static)" {
	wl_roundtrip_ns "--net" ns_net_raw.static
}

@test "net: netlink route and generic sockets keep port, groups, flags and filter, and answer (dynamic)" {
	wl_roundtrip_ns "--net" ns_net_netlink
}
@test "net: netlink route and generic sockets keep port, groups, flags and filter, and answer (static)" {
	wl_roundtrip_ns "--net" ns_net_netlink.static
}

@test "net: packet sockets bound to lo keep protocol, options, memberships and filter, and see a frame (dynamic)" {
	wl_roundtrip_ns "--net" ns_net_packet
}
@test "net: packet sockets bound to lo keep protocol, options, memberships and filter, and see a frame (static)" {
	wl_roundtrip_ns "--net" ns_net_packet.static
}

# Made once by the tree's root, in the tree's namespace, before it forks;
# each worker holds a connection to the parent with bytes in flight both ways.
@test "net: a TCP listener and a UDP socket shared by 4 forked workers" {
	wl_start_ns "--net" inet_prefork || return
	ckpt_checkpoint --tcp-established || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# Datagrams unread at checkpoint are sent again at restore, each from its
# own source address and port, while the network lock holds.
@test "net: queued UDP datagrams arrive after restore with their sources (dynamic)" {
	wl_roundtrip_ns "--net" net_udp_queued
}
@test "net: queued UDP datagrams arrive after restore with their sources (static)" {
	wl_roundtrip_ns "--net" net_udp_queued.static
}
@test "net: queued UDP datagrams in the host's namespace arrive after restore" {
	wl_roundtrip net_udp_queued
}

# A tree in the host's network namespace: its connections are locked by
# their 4-tuples (the namespace itself cannot be). The peer, on loopback
# outside the tree, sends while the tree is checkpointed and gone: without
# the lock the host answers with a reset; with it the segments wait.
host_client_start()
{
	mkfifo "$T/cready" "$T/cgo" || return
	(
		_close_fds
		WL_READY=$T/cready WL_GO=$T/cgo exec "$WL_BIN/net_tcp_host_lock" client "$@"
	) </dev/null >"$T/client.out" 2>&1 &
	CLIENT_PID=$!
	CLIENT_MARK=$(pid_mark "$CLIENT_PID")
	ckpt_track_pid "$CLIENT_PID"
}

_part_b_sent()
{
	grep -q "part B sent" "$T/client.out"
}

_no_host_lock()
{
	! nft list tables | grep -q "ckpt_oci_lock_"
}

@test "net: host namespace: the tree's connection locked by its 4-tuple, a peer sending meanwhile gets no reset" {
	local port=$((20000 + RANDOM % 20000))
	host_client_start 127.0.0.1 "$port" || return
	wl_start net_tcp_host_lock server 127.0.0.1 "$port" || return
	client_wait_ready || return
	ckpt_checkpoint --tcp-established || return
	grep -q "connections of the tree locked" "$T/dump.log" || fail "no lock in dump.log"
	run jq -r '.tuples | length' "$T/bundle/net-lock.json"
	assert_output 2 # the connection and the listener
	# the tree is gone, its connection still locked: the peer sends now
	run nft list table inet "ckpt_oci_lock_$WL_PID"
	assert_success
	wait_until "$WL_TIMEOUT" _client_try_go || return
	wait_until "$WL_TIMEOUT" _part_b_sent || fail "client: $(cat "$T/client.out")"
	ckpt_restore_bg || return
	wl_go || return
	grep -q "connections of the tree unlocked" "$T/restore.log" || fail "restore left the lock"
	_no_host_lock || fail "a lock table is left: $(nft list tables)"
	client_finish || { ckpt_show_logs; return 1; }
	wl_finish
}

@test "net: host namespace: --leave-running unlocks the tree's connections" {
	local port=$((20000 + RANDOM % 20000))
	host_client_start 127.0.0.1 "$port" || return
	wl_start net_tcp_host_lock server 127.0.0.1 "$port" || return
	client_wait_ready || return
	ckpt_checkpoint --leave-running --tcp-established || return
	grep -q "connections of the tree locked" "$T/dump.log" || fail "no lock in dump.log"
	grep -q "connections of the tree unlocked" "$T/dump.log" || fail "no unlock in dump.log"
	_no_host_lock || fail "a lock table is left: $(nft list tables)"
	wait_until "$WL_TIMEOUT" _client_try_go || return
	wait_until "$WL_TIMEOUT" _part_b_sent || fail "client: $(cat "$T/client.out")"
	wl_go || return
	client_finish || { ckpt_show_logs; return 1; }
	_wl_wait_pass "$WL_PID" "server after the checkpoint"
}
