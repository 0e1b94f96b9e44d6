#!/usr/bin/env bats
# tests/integration/migrate.bats - ckpt-oci migrate between two nodes
# simulated on one machine: two network namespaces of the test's own,
# joined by a veth pair
# (nothing else is reached), separate work directories. The workload
# (migrate_ts, in a pid namespace of its own) stamps the time every
# millisecond and checks all its memory after the move. A container (runc,
# busybox counter) moves between two runc state roots; its names carry the
# test's pid, so the file runs beside others.

load helpers
load container
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
	local id

	for id in ${CTRS_B[@]+"${CTRS_B[@]}"}; do
		"$RUNC" --root "$RUNC_ROOT_B" delete -f "$id" >/dev/null 2>&1 || true
	done
	[[ -z ${RUNC_ROOT:-} ]] || ctr_teardown
	# the test's own cgroup: thawed (a frozen v1 task takes no SIGKILL), emptied, removed
	if [[ -d ${WL_CGROUP:-} ]]; then
		echo THAWED >"$WL_CGROUP/freezer.state" || true
		local p
		for p in $(cat "$WL_CGROUP/cgroup.procs"); do kill -KILL "$p" || true; done
		wait_until 10 cgroup_empty "$WL_CGROUP" || true
		rmdir "$WL_CGROUP" || true
	fi
	ckpt_teardown
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
}

cgroup_empty()
{
	[[ -z $(cat "$1/cgroup.procs") ]]
}

# receiver_start [RECEIVE-ARGS...]: `ckpt-oci receive` on node B; RECV_ADDR
# is where it listens.
receiver_start()
{
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_B" "$CKPT_OCI" receive --listen "$ADDR_B:0" \
			-o "$T/nodeB" "$@"
	) </dev/null >"$T/recv.out" 2>"$T/recv.err" &
	RECV_PID=$!
	RECV_MARK=$(pid_mark "$RECV_PID")
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
# the cgroup hierarchies a checkpoint reads.) Its mount namespace is a copy
# of the host's: own-mounts.sh drops what other tests had mounted then (their
# named network namespaces), else node B's restore wants their sources.
wl_start_node_a()
{
	local fd line
	mkfifo "$T/ready" "$T/go" || return
	(
		_close_fds
		WL_READY=$T/ready WL_GO=$T/go exec nsenter --net="/run/netns/$NS_A" \
			unshare --fork --pid --mount-proc \
			"$BATS_TEST_DIRNAME/own-mounts.sh" "$T" "$WL_BIN/migrate_ts" 64
	) </dev/null >>"$T/out" 2>&1 &
	WL_NS_PARENT=$!
	WL_NS_PARENT_MARK=$(pid_mark "$WL_NS_PARENT")
	ckpt_track_pid "$WL_NS_PARENT"
	exec {fd}<>"$T/ready"
	line=$(_read_ready "$fd" "$WL_NS_PARENT_MARK")
	exec {fd}<&-
	[[ ${line:-} == ready ]] || { cat "$T/out"; fail "migrate_ts did not say ready"; return; }
	WL_PID=$(cat /proc/"$WL_NS_PARENT"/task/*/children 2>/dev/null)
	WL_PID=${WL_PID// /}
	[[ -n $WL_PID ]] || { fail "no workload under unshare"; return; }
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
}

# migrate_roundtrip [MIGRATE-ARGS...]: the workload moves to node B and passes there.
migrate_roundtrip()
{
	local root
	wl_start_node_a || return
	receiver_start || return
	run --separate-stderr nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" \
		--to "$RECV_ADDR" -w "$T/nodeA" --json "$@"
	if [[ $status -ne 0 ]]; then
		cat "$T/recv.err" "$T"/nodeA/*/dump.log 2>/dev/null | tail -40
		fail "migrate failed: $output $stderr"
		return
	fi
	assert_output --partial '"frozen_ms"'
	# stderr is no terminal: no progress line
	[[ $stderr != *$'\r'* ]] || fail "progress on a pipe: $stderr"
	# migrate_ts: 64 MiB
	json_summary_ok 16384 "$@" || return
	wait "$RECV_PID" || { cat "$T/recv.err"; fail "receiver failed"; return; }
	root=$(tail -n 1 "$T/recv.out")
	[[ $root -gt 0 ]] || fail "receiver printed no root pid: $root"
	WL_GO_MARK=$(pid_mark "$root")
	ckpt_track_pid "$root"
	# the old tree is gone: only the new one runs
	wait_until 10 pid_gone "$WL_MARK"
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out" "$T"/nodeB/*.log; fail "no PASS from node B"; }
	grep -q "max gap" "$T/out"
}

@test "migrate: a tree moves to node B, memory intact, the old one gone" {
	migrate_roundtrip
}

@test "migrate --lazy: it runs on node B while its pages come from node A" {
	migrate_roundtrip --lazy
	grep -q "every page back" "$T/nodeB/lazy-pages.log"
	# the pages filled before the release were asked alone, not as whole 1 MiB chunks
	grep -q "from page server .*: [0-9]* chunks, [1-9][0-9]* parts of live chunks" \
		"$T/nodeB/restore.log" || fail "$(grep "from page server" "$T/nodeB/restore.log")"
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
	# when not, migrate's own words say why (a task saved whole: node A's
	# dump.log is gone with its work directory)
	grep -q "pages to come from [2-4] bundles" "$T/nodeB/lazy-pages.log" ||
		fail "$(grep "pages to come" "$T/nodeB/lazy-pages.log"; echo "$output"; echo "$stderr")"
	! grep -q "pages from [0-9]* parent bundles" "$T/nodeB/restore.log"
	[[ -d $T/nodeB/pre-$n ]]
	[[ -z $(ls "$T/nodeA") ]]
}

@test "migrate --lazy --pre-copy: the final round copies no page; node B reads them from the stopped tree" {
	local a
	migrate_roundtrip --lazy --pre-copy 3 --keep-bundle
	wait_until 30 grep -q "every page back" "$T/nodeB/lazy-pages.log" ||
		fail "$(tail "$T/nodeB/lazy-pages.log")"
	a=$(ls -d "$T"/nodeA/*/bundle)
	# node A wrote no page image for the final checkpoint: each is listed live
	! compgen -G "$a/pages-*.img" >/dev/null || fail "page images written: $(ls "$a")"
	jq -e '[.files[] | select(.name | startswith("pages-")) | .live == true] | length > 0 and all' \
		"$a/manifest.json" >/dev/null || fail "not live: $(jq -c .files "$a/manifest.json")"
	grep -q "private pages (live: read later from the tree)" "$T"/nodeA/*/dump.log
	# killed only once node B had every page (migrate_ts verified each of them)
	grep -q "every live page sent" "$T"/nodeA/*/dump.log || fail "$(tail "$T"/nodeA/*/dump.log)"
	# the final round counts the pages served live
	jq -e '.rounds[-1].pages > 0' <<<"$output" >/dev/null || fail "final round: $output"
	# a restore of node A's bundle from its disk alone is refused: its pages are only live
	run "$CKPT_OCI" restore -d "$a"
	assert_failure
	assert_output --partial "served only from the stopped tree"
}

# slow_lazy_start [ENV=VALUE...]: migrate --lazy to node B (ENV in its
# environment, MIG_ARGS among its options) with the live pages held back;
# returns once node B answered "running": MIG and MIGMARK (migrate), WORKER
# (its worker), ROOT and BMARK (node B's tree).
slow_lazy_start()
{
	require_cmd tc
	wl_start_node_a || return
	# WL_CGROUP: a freezer cgroup of the tree's own (as a container has)
	if [[ -n ${WL_CGROUP:-} ]]; then
		mkdir "$WL_CGROUP" && echo "$WL_PID" >"$WL_CGROUP/cgroup.procs" ||
			{ fail "no cgroup $WL_CGROUP"; return; }
	fi
	receiver_start || return
	# the live pages trickle (64 MiB at 16 Mbit/s: half a minute), the documents pass
	tc -n "$NS_A" qdisc add dev veth0 root tbf rate 16mbit burst 64kb latency 1s ||
		{ fail "no tbf qdisc"; return; }
	(
		_close_fds
		exec env "$@" nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --pid "$WL_PID" \
			--to "$RECV_ADDR" -w "$T/nodeA" --lazy ${MIG_ARGS[@]+"${MIG_ARGS[@]}"}
	) </dev/null >"$T/mig.out" 2>&1 &
	MIG=$!
	MIGMARK=$(pid_mark "$MIG")
	ckpt_track_pid "$MIG"
	# node B answered "running" and was acknowledged
	wait_until 60 pid_gone "$RECV_MARK" || { cat "$T/mig.out"; fail "receiver waits on"; return; }
	wait "$RECV_PID" || { cat "$T/recv.err" "$T/mig.out"; fail "receiver failed"; return; }
	ROOT=$(tail -n 1 "$T/recv.out")
	[[ $ROOT -gt 0 ]] || { fail "receiver printed no root pid: $ROOT"; return; }
	BMARK=$(pid_mark "$ROOT")
	ckpt_track_pid "$ROOT"
	! grep -q "every page back" "$T/nodeB/lazy-pages.log" ||
		{ fail "every page already there: nothing to test"; return; }
	WORKER=$(cat /proc/"$MIG"/task/*/children)
	WORKER=${WORKER// /}
	[[ -n $WORKER ]] || { fail "no worker under migrate: $(cat "$T/mig.out")"; return; }
}

# b_killed_a_recovers REGEXP: node B's tree is killed, its lazy-pages.log
# saying why (REGEXP); node A's tree, never killed, runs on once recover
# has undone what the dead worker left, and verifies.
b_killed_a_recovers()
{
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	grep -q "$1" "$T/nodeB/lazy-pages.log" || fail "$(tail "$T/nodeB/lazy-pages.log")"
	run "$CKPT_OCI" recover
	assert_success
	pid_running "$WL_MARK" || { fail "node A's tree is gone"; return; }
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "no PASS from node A"; }
}

@test "migrate --lazy: node A's side killed after node B resumed: node B's tree dies, node A's runs on" {
	slow_lazy_start || return
	# node A's side dies: the worker (the tracer), and with it its page server
	kill -KILL "$WORKER"
	run wait "$MIG"
	assert_failure
	# node B's lazy-pages process gets no more pages: its tree is killed, never fed zeros
	b_killed_a_recovers "killed"
}

@test "migrate --lazy: no live page is served once node A's tree may run again, however late the page server dies" {
	local server smark log
	# the page server gets no death signal: it outlives the worker, the window wide open
	slow_lazy_start CKPT_OCI_FAULT=live-late-death || return
	server=$(cat /proc/"$WORKER"/task/*/children)
	server=${server// /}
	[[ -n $server ]] || { fail "no page server under the worker: $(cat "$T/mig.out")"; return; }
	smark=$(pid_mark "$server")
	ckpt_track_pid "$server"
	# the worker dies: the kernel lets node A's tree go, while node B still asks for pages
	kill -KILL "$WORKER"
	run wait "$MIG"
	assert_failure
	# the page server answers the next request with a refusal and ends
	wait_until 30 pid_gone "$smark" || { fail "the page server serves on"; return; }
	log=$(cat "$T"/nodeA/*/dump.log)
	[[ $log == *"no live page is read or sent from a tree that may run"* ]] ||
		{ fail "no refusal: $log"; return; }
	[[ $log != *"read after migrate's worker died, sent"* ]] ||
		{ fail "a page of the resumed tree was sent: $log"; return; }
	# node B's lazy-pages process was refused the rest: its tree is killed
	b_killed_a_recovers "No such process.*killed"
}

# proc_state PID: its state letter (R, S, T...), empty when gone.
proc_state()
{
	local stat
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
	stat=${stat##*) }
	echo "${stat%% *}"
}

# lazy_pages_find: node B's lazy-pages process (its log open) as LP, LPMARK.
lazy_pages_find()
{
	local p
	for p in /proc/[0-9]*; do
		[[ $(cat "$p/comm" 2>/dev/null) == ckpt-lazy-pages ]] || continue
		[[ $(readlink "$p"/fd/* 2>/dev/null) == *"$T/nodeB/lazy-pages.log"* ]] || continue
		LP=${p#/proc/}
		LPMARK=$(pid_mark "$LP")
		ckpt_track_pid "$LP"
		return 0
	done
	return 1
}

# a_held SECS REGEXP: migrate ends within SECS with one line naming why
# (REGEXP) and how to resume node A's tree, left stopped, no tracer on it.
a_held()
{
	local line
	wait_until "$1" pid_gone "$MIGMARK" || { fail "migrate waits on: $(cat "$T/mig.out")"; return; }
	run wait "$MIG"
	assert_failure
	# one line, nothing else (but what recovery of other runs may say first)
	line=$(grep -v "^ckpt-oci: after a killed run: " "$T/mig.out")
	[[ $(grep -c . <<<"$line") == 1 && $line == "ckpt-oci: migrate: "* ]] ||
		{ fail "not one line: $(cat "$T/mig.out")"; return; }
	[[ $line =~ $2 ]] || { fail "why not said: $line"; return; }
	[[ $line == *"left stopped here"*"ckpt-oci recover --resume $WL_PID"* ]] ||
		{ fail "no way to resume said: $line"; return; }
	a_stopped || { fail "node A's tree: $(proc_state "$WL_PID")"; return; }
	grep -q "^TracerPid:[[:space:]]*0$" /proc/"$WL_PID"/status || fail "still traced"
}

# a_stopped: node A's tree is stopped (SIGSTOP), and frozen if in WL_CGROUP.
a_stopped()
{
	if [[ -n ${WL_CGROUP:-} ]]; then
		[[ $(cat "$WL_CGROUP/freezer.state") == FROZEN ]]
	else
		[[ $(proc_state "$WL_PID") == T ]]
	fi
}

# b_killed_said: node B's lazy-pages.log says its tree was killed for want
# of its pages, and never that every page came back.
b_killed_said()
{
	local log=$T/nodeB/lazy-pages.log
	wait_until 30 grep -q "tree killed after .*: its pages could not all be had" "$log" ||
		{ fail "$(tail "$log")"; return; }
	! grep -q "every page back" "$log" || fail "$(tail "$log")"
}

# a_resumes: node A's tree, left stopped (recover alone leaves it so),
# resumes on `recover --resume` and verifies all its memory.
a_resumes()
{
	run "$CKPT_OCI" recover
	assert_success
	assert_output --partial "tree of $WL_PID left stopped by a lazy migration"
	a_stopped || { fail "recover let it go: $(proc_state "$WL_PID")"; return; }
	run "$CKPT_OCI" recover --resume "$WL_PID"
	assert_success
	! compgen -G "/run/ckpt-oci/held/$WL_PID-*" >/dev/null || fail "the record stays"
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "no PASS from node A"; }
}

@test "migrate --lazy: node B's lazy-pages stopped mid-fetch: migrate gives up in --live-timeout, node A's tree left stopped, resumed" {
	MIG_ARGS=(--live-timeout 2)
	slow_lazy_start || return
	lazy_pages_find || { fail "no lazy-pages process on node B"; return; }
	kill -STOP "$LP"
	a_held 20 "no page in 2.000 s|lost node B" || return
	# let go, node B's lazy-pages process finds its pages gone: its tree is killed
	kill -CONT "$LP"
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	b_killed_said || return
	a_resumes
}

@test "migrate --lazy: node B's lazy-pages process killed mid-fetch: its guard kills node B's tree, never fed zeros" {
	slow_lazy_start || return
	lazy_pages_find || { fail "no lazy-pages process on node B"; return; }
	# its userfaultfds close with it: without the guard, node B's tree would fault zeros
	kill -KILL "$LP"
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	grep -q "lazy-guard: the lazy-pages process died before every page was back: 1 tasks" \
		"$T/nodeB/lazy-pages.log" || { fail "$(tail "$T/nodeB/lazy-pages.log")"; return; }
	! grep -q "every page back" "$T/nodeB/lazy-pages.log" || fail "$(tail "$T/nodeB/lazy-pages.log")"
	a_held 30 "lost node B before it had every page" || return
	a_resumes
}

@test "migrate --lazy: SIGTERM while node B fetches its pages: node B's tree killed, node A's left stopped, resumed" {
	slow_lazy_start || return
	kill -TERM "$MIG"
	a_held 20 "interrupted by SIGTERM while node B fetched its pages" || return
	# the page server went with it: node B's lazy-pages process kills its tree
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	b_killed_said || return
	a_resumes
}

@test "migrate --lazy: the page server's connection cut: node B's tree killed, node A's left stopped, resumed" {
	require_cmd ss
	slow_lazy_start || return
	# both ends of node B's connection to the page server reset (sock_diag destroy)
	nsenter --net="/run/netns/$NS_A" ss -K state established src "$ADDR_A" dst "$ADDR_B" \
		>/dev/null || { fail "ss -K failed"; return; }
	a_held 30 "lost node B before it had every page" || return
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	b_killed_said || return
	a_resumes
}

@test "recover --kill: a tree a lazy migration left stopped is killed, its record gone" {
	slow_lazy_start || return
	kill -TERM "$MIG"
	a_held 20 "interrupted by SIGTERM" || return
	wait_until 30 pid_gone "$BMARK" || { tail "$T/nodeB/lazy-pages.log"; fail "node B's tree runs"; }
	run "$CKPT_OCI" recover --kill "$WL_PID"
	assert_success
	assert_output "tree of $WL_PID killed"
	wait_until 10 pid_gone "$WL_MARK" || { fail "node A's tree runs on"; return; }
	! compgen -G "/run/ckpt-oci/held/$WL_PID-*" >/dev/null || fail "the record stays"
	run "$CKPT_OCI" recover --resume "$WL_PID"
	assert_failure
}

@test "migrate --lazy: SIGTERM in the live phase, the tree in a freezer cgroup of its own: left frozen there too, thawed by recover --resume" {
	WL_CGROUP=/sys/fs/cgroup/freezer/ckpt-mig-$$
	slow_lazy_start || return
	kill -TERM "$MIG"
	a_held 20 "interrupted by SIGTERM while node B fetched its pages" || return
	# node B's lazy-pages process kills its tree; on this one machine that tree
	# is restored into the same cgroup, frozen: it dies once thawed
	b_killed_said || return
	a_resumes || return
	[[ $(cat "$WL_CGROUP/freezer.state") == THAWED ]] || fail "left $(cat "$WL_CGROUP/freezer.state")"
	wait_until 30 pid_gone "$BMARK" || fail "node B's tree runs: $(cat /proc/"$ROOT"/cgroup)"
}

@test "migrate --lazy: a live chunk altered on the way is refused; no tree runs on node B" {
	local logs root
	wl_start_node_a || return
	receiver_start || return
	# node A's page server flips a byte of the first live chunk after its MAC
	run --separate-stderr env CKPT_OCI_FAULT=live-flip nsenter --net="/run/netns/$NS_A" \
		"$CKPT_OCI" migrate --pid "$WL_PID" --to "$RECV_ADDR" -w "$T/nodeA" --lazy
	wait "$RECV_PID" || true
	logs="$output $stderr $(cat "$T/recv.err" "$T"/nodeB/*.log 2>/dev/null)"
	[[ $logs == *"MAC mismatch: altered on the way"* ]] || { fail "not refused: $logs"; return; }
	if ((status != 0)); then
		# refused by node B's restore (its first pages): node A's tree resumes, intact
		pid_running "$WL_MARK" || { fail "node A's tree is gone"; return; }
		wl_go || return
		wait_until 60 out_pass || { tail "$T/out"; fail "no PASS from node A"; }
		return
	fi
	# refused by node B's lazy-pages process, after the answer: its tree is killed
	root=$(tail -n 1 "$T/recv.out")
	ckpt_track_pid "$root"
	wait_until 30 pid_gone "$(pid_mark "$root")" || fail "node B's tree runs on a bad page"
}

# dying_receiver_start [BYTES]: a receiver on node B that takes the
# handshake and BYTES (default 1 MiB) of the stream, then dies.
dying_receiver_start()
{
	local bytes=${1:-1048576}
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_B" python3 -c '
import os, socket, sys
s = socket.socket(); s.bind(("'"$ADDR_B"'", 0)); s.listen(1)
print("listening on %s:%d" % s.getsockname(), flush=True)
c, _ = s.accept()
c.sendall(b"CKPTPS02" + os.urandom(32)); c.recv(32, socket.MSG_WAITALL)
c.sendall(b"\0\0\0\0")
got = 0
while got < '"$bytes"':
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
	pid_running "$WL_MARK"
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
	pid_running "$WL_MARK"
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
	pid_running "$WL_MARK"
	wl_go || return
	wait_until 60 out_pass || { tail "$T/out"; fail "the original tree did not pass"; }
}

# json_summary_ok MIN-PAGES [MIGRATE-ARGS...]: migrate --json's summary
# ($output) adds up: one round per pre-dump and the final one, the first
# copying MIN-PAGES at least (not lazy), bytes per round summing to
# bytes_sent, a downtime within the total time.
json_summary_ok()
{
	local j=$output pre min=$1
	shift
	jq -e . >/dev/null <<<"$j" || { fail "not JSON: $j"; return; }
	pre=$(jq .pre_rounds <<<"$j")
	[[ $(jq '.rounds | length' <<<"$j") == $((pre + 1)) ]] || { fail "rounds: $j"; return; }
	[[ " $* " == *" --pre-copy "* ]] || ((pre == 0)) || { fail "pre_rounds: $j"; return; }
	jq -e '([.rounds[].bytes] | add) == .bytes_sent and .bytes_sent > 0' <<<"$j" >/dev/null ||
		{ fail "bytes per round do not add up: $j"; return; }
	jq -e 'all(.rounds[]; .bytes > 0 and (.pages | type) == "number")' <<<"$j" >/dev/null ||
		{ fail "a round without bytes: $j"; return; }
	# every page of the first round is copied
	jq -e ".rounds[0].pages >= $min" <<<"$j" >/dev/null || [[ " $* " == *" --lazy "* ]] ||
		{ fail "first round's pages: $j"; return; }
	jq -e '.downtime_ms > 0 and .downtime_ms <= .total_ms and .frozen_ms <= .total_ms
		and .root_pid > 0' <<<"$j" >/dev/null || fail "times: $j"
}

# ---- a container: runc on node A, runc with its own state root on node B ----

# ctr_node_a ID: a busybox counter container under node A's runc root ($RUNC_ROOT).
ctr_node_a()
{
	ctr_setup
	RUNC_ROOT_B=$T/runc-b
	CTRS_B=()
	ctr_run_counter "$1" || return
	ctr_wait_count_above "$1" 2
}

# The counter in a root directory.
rootfs_count()
{
	local n
	{ read -r n <"$1/tmp/count"; } 2>/dev/null && [[ -n $n ]] && echo "$n"
}

_rootfs_count_above()
{
	local n
	n=$(rootfs_count "$1") && ((n > $2))
}

@test "migrate CONTAINER: a runc container moves to node B and counts on from where it was" {
	local id=mig$$ idb=mig$$b pid mark n b0 rootfs_b=$T/rootfs-b

	ctr_node_a "$id" || return
	# node B has its own copy of the image; the changes come in the stream
	cp -a "$(ctr_rootfs)" "$rootfs_b"
	[[ ! -e $rootfs_b/tmp/count ]]
	receiver_start --root "$RUNC_ROOT_B" --rootfs "$rootfs_b" --name "$idb" || return
	CTRS_B+=("$idb")
	run --separate-stderr nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate \
		--root "$RUNC_ROOT" "$id" --to "$RECV_ADDR" -w "$T/nodeA" --json
	if [[ $status -ne 0 ]]; then
		cat "$T/recv.err" "$T"/nodeB/*.log "$T"/nodeA/*/dump.log 2>/dev/null | tail -40
		fail "migrate failed: $output $stderr"
		return
	fi
	# busybox sh: a few pages of its own
	json_summary_ok 8 || return
	wait "$RECV_PID" || { cat "$T/recv.err"; fail "receiver failed"; return; }
	pid=$(tail -n 1 "$T/recv.out")
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	# node A's runtime knows it no more; node B's runs it
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]] || fail "still on node A"
	[[ $("$RUNC" --root "$RUNC_ROOT_B" state "$idb" | jq -r .status) == running ]]
	[[ $(jq -r .init_process_pid "$RUNC_ROOT_B/$idb/state.json") == "$pid" ]]
	# where node A's counter stopped, node B's goes on: not from 1
	n=$(ctr_count "$id")
	b0=$(rootfs_count "$rootfs_b") || fail "no counter in node B's root directory"
	((n >= 3 && b0 >= n)) || fail "node B's counter at $b0, node A's stopped at $n"
	wait_until 20 _rootfs_count_above "$rootfs_b" "$((b0 + 2))" || fail "node B does not count"
	# ...and node A's stays where it stopped
	[[ $(ctr_count "$id") == "$n" ]]
	# node A keeps no bundle
	[[ -z $(ls "$T/nodeA") ]] || fail "left on node A: $(ls -R "$T/nodeA")"
	"$RUNC" --root "$RUNC_ROOT_B" delete -f "$idb"
	wait_until 10 pid_gone "$mark"
}

# A counter that forks nothing once started (a lazy restore from a page
# server cannot yet give a task and its child the pages they share): it
# waits on a fifo of its own with read -t. Each count overwrites the last
# in place, one write of the same width (no truncation a stop could fall
# after, leaving the file empty; a rename would need a fork of mv).
CTR_NOFORK_COUNTER='mkfifo /tmp/tick; i=0; while :; do i=$((i+1)); printf "%8d\n" $i 1<>/tmp/count; read -t 0.1 x <>/tmp/tick; done'

@test "migrate CONTAINER --lazy: it counts on node B while its pages come from node A" {
	local id=mig$$ idb=mig$$b pid mark n b0 rootfs_b=$T/rootfs-b

	ctr_setup
	RUNC_ROOT_B=$T/runc-b
	CTRS_B=()
	ctr_create "$id" ".process.args = [\"sh\", \"-c\", $(json_str "$CTR_NOFORK_COUNTER")]" || return
	ctr_start "$id" || return
	ctr_wait_count_above "$id" 2 || return
	[[ -z $(cat /proc/"$(ctr_pid "$id")"/task/*/children) ]] || fail "the counter forks"
	cp -a "$(ctr_rootfs)" "$rootfs_b"
	receiver_start --root "$RUNC_ROOT_B" --rootfs "$rootfs_b" --name "$idb" || return
	CTRS_B+=("$idb")
	run --separate-stderr nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate \
		--root "$RUNC_ROOT" "$id" --to "$RECV_ADDR" -w "$T/nodeA" --lazy --json
	if [[ $status -ne 0 ]]; then
		cat "$T/recv.err" "$T"/nodeB/*.log 2>/dev/null | tail -40
		fail "migrate failed: $output $stderr"
		return
	fi
	json_summary_ok 8 --lazy || return
	wait "$RECV_PID" || { cat "$T/recv.err"; fail "receiver failed"; return; }
	pid=$(tail -n 1 "$T/recv.out")
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	wait_until 30 grep -q "every page back" "$T/nodeB/lazy-pages.log" || fail "pages not all back"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]] || fail "still on node A"
	[[ $("$RUNC" --root "$RUNC_ROOT_B" state "$idb" | jq -r .status) == running ]]
	n=$(ctr_count "$id")
	b0=$(rootfs_count "$rootfs_b") || fail "no counter in node B's root directory"
	((n >= 3 && b0 >= n)) || fail "node B's counter at $b0, node A's stopped at $n"
	wait_until 20 _rootfs_count_above "$rootfs_b" "$((b0 + 2))" || fail "node B does not count"
	"$RUNC" --root "$RUNC_ROOT_B" delete -f "$idb"
	wait_until 10 pid_gone "$mark"
}

@test "migrate CONTAINER --lazy: node B stopped in the live phase: the container left paused on node A, resumed by recover --resume" {
	local id=mig$$ idb=mig$$b apid n line rootfs_b=$T/rootfs-b

	require_cmd tc
	ctr_setup
	RUNC_ROOT_B=$T/runc-b
	CTRS_B=()
	ctr_create "$id" ".process.args = [\"sh\", \"-c\", $(json_str "$CTR_NOFORK_COUNTER")]" || return
	ctr_start "$id" || return
	ctr_wait_count_above "$id" 2 || return
	apid=$(ctr_pid "$id")
	cp -a "$(ctr_rootfs)" "$rootfs_b"
	receiver_start --root "$RUNC_ROOT_B" --rootfs "$rootfs_b" --name "$idb" || return
	CTRS_B+=("$idb")
	# its few live pages trickle (some 40 KiB at 64 kbit/s: seconds), the stream too
	tc -n "$NS_A" qdisc add dev veth0 root tbf rate 64kbit burst 4kb latency 2s ||
		{ fail "no tbf qdisc"; return; }
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --root "$RUNC_ROOT" "$id" \
			--to "$RECV_ADDR" -w "$T/nodeA" --lazy --live-timeout 2
	) </dev/null >"$T/mig.out" 2>&1 &
	MIG=$!
	MIGMARK=$(pid_mark "$MIG")
	ckpt_track_pid "$MIG"
	# node B restored it (the answer, behind the pages on the slow link, comes later)
	wait_until 60 grep -q "restored [0-9]* tasks" "$T/nodeB/restore.log" ||
		{ fail "no restore on node B: $(cat "$T/mig.out" "$T/recv.err")"; return; }
	wait_until 10 lazy_pages_find || { fail "no lazy-pages process on node B"; return; }
	kill -STOP "$LP"
	! grep -q "every page back" "$T/nodeB/lazy-pages.log" ||
		{ fail "every page already there: nothing to test"; return; }
	wait_until 60 pid_gone "$RECV_MARK" || { cat "$T/mig.out"; fail "receiver waits on"; return; }
	wait "$RECV_PID" || { cat "$T/recv.err" "$T/mig.out"; fail "receiver failed"; return; }
	wait_until 20 pid_gone "$MIGMARK" || { fail "migrate waits on: $(cat "$T/mig.out")"; return; }
	run wait "$MIG"
	assert_failure
	line=$(grep -v "^ckpt-oci: after a killed run: " "$T/mig.out")
	[[ $(grep -c . <<<"$line") == 1 && $line == *"left stopped here"*"recover --resume $apid"* ]] ||
		{ fail "not one line: $(cat "$T/mig.out")"; return; }
	# node A: paused to its runtime (frozen), its state kept
	[[ $("$RUNC" --root "$RUNC_ROOT" state "$id" | jq -r .status) == paused ]] ||
		{ fail "node A: $("$RUNC" --root "$RUNC_ROOT" state "$id")"; return; }
	# its network still locked: node B may answer for its addresses
	run nsenter -t "$apid" -n nft list tables
	[[ $status -eq 0 && $output == *ckpt_oci* ]] || { fail "no lock table: $output"; return; }
	n=$(ctr_count "$id")
	# node B's copy known gone: removed there
	"$RUNC" --root "$RUNC_ROOT_B" delete -f "$idb"
	kill -KILL "$LP"
	run "$CKPT_OCI" recover --resume "$apid"
	assert_success
	[[ $("$RUNC" --root "$RUNC_ROOT" state "$id" | jq -r .status) == running ]] || fail "not running"
	run nsenter -t "$apid" -n nft list tables
	[[ $status -eq 0 && $output != *ckpt_oci* ]] || { fail "lock table left: $output"; return; }
	ctr_wait_count_above "$id" "$n" || fail "node A's counter stopped at $n"
}

# Node A's container runs and counts, unfrozen, without a network lock;
# node B holds no container, no bundle.
assert_stayed_on_a()
{
	local id=$1 n pid
	[[ $("$RUNC" --root "$RUNC_ROOT" state "$id" | jq -r .status) == running ]] ||
		{ fail "node A's container is not running"; return; }
	pid=$(ctr_pid "$id")
	! ctr_frozen "$id" || fail "node A's container is frozen"
	run nsenter -t "$pid" -n nft list tables
	[[ $status -eq 0 && $output != *ckpt_oci* ]] || { fail "lock table left: $output"; return; }
	n=$(ctr_count "$id")
	ctr_wait_count_above "$id" "$n" || { fail "node A's counter stopped at $n"; return; }
	[[ -z $("$RUNC" --root "$RUNC_ROOT_B" list -q 2>/dev/null) ]] || fail "a container on node B"
	[[ -z $(ls -d "$T"/nodeB/bundle-* "$T"/nodeB/pre-* 2>/dev/null) ]] ||
		fail "left on node B: $(ls "$T/nodeB")"
	[[ -z $(ls -d "$T"/nodeA/*/bundle "$T"/nodeA/*/pre-* 2>/dev/null) ]] ||
		fail "left on node A: $(ls -R "$T/nodeA")"
}

@test "migrate CONTAINER: a receiver killed mid-stream leaves it running on node A" {
	local id=mig$$ pre

	ctr_node_a "$id" || return
	# during a pre-dump (the container running), then during the final
	# stream (its cgroup frozen): a busybox shell's bundle is some 100 KiB
	for pre in "--pre-copy 2" ""; do
		dying_receiver_start 32768 || return
		# shellcheck disable=SC2086 # $pre: no option, or one with its value
		run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --root "$RUNC_ROOT" "$id" \
			--to "$RECV_ADDR" -w "$T/nodeA" $pre
		assert_failure
		assert_output --regexp "migrate: .*(Broken pipe|Connection reset|went away)"
		assert_stayed_on_a "$id" || return
	done
}

@test "migrate CONTAINER: SIGTERM while node B keeps it waiting rolls back; it runs on node A" {
	local id=mig$$ mig rc=0

	ctr_node_a "$id" || return
	# a receiver that takes the stream and never answers
	(
		_close_fds
		exec nsenter --net="/run/netns/$NS_B" python3 -c '
import os, socket
s = socket.socket(); s.bind(("'"$ADDR_B"'", 0)); s.listen(1)
print("listening on %s:%d" % s.getsockname(), flush=True)
c, _ = s.accept()
c.sendall(b"CKPTPS02" + os.urandom(32)); c.recv(32, socket.MSG_WAITALL)
c.sendall(b"\0\0\0\0")
c.recv(65536)
print("streaming", flush=True)
while c.recv(65536):
    pass'
	) </dev/null >"$T/recv.out" 2>"$T/recv.err" &
	ckpt_track_pid $!
	wait_until 10 grep -q "^listening on " "$T/recv.out" || { fail "receiver did not listen"; return; }
	nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --root "$RUNC_ROOT" "$id" \
		--to "$(awk '/^listening on /{print $3}' "$T/recv.out")" -w "$T/nodeA" \
		</dev/null >"$T/mig.out" 2>&1 &
	mig=$!
	ckpt_track_pid "$mig"
	# the final checkpoint streaming, the container frozen; then the wait for an answer
	wait_until 30 grep -q "^streaming" "$T/recv.out" || { fail "nothing streamed"; return; }
	kill -TERM "$mig"
	wait "$mig" || rc=$?
	((rc == 128 + 15)) || { fail "migrate exited $rc: $(cat "$T/mig.out")"; return; }
	grep -q "rolled back, the tree runs on as before" "$T/mig.out" || fail "$(cat "$T/mig.out")"
	assert_stayed_on_a "$id"
}

@test "migrate CONTAINER: a restore that fails on node B leaves it running on node A" {
	local id=mig$$ idb=mig$$b

	ctr_node_a "$id" || return
	# no such root directory on node B: its restore fails once the stream is in
	receiver_start --root "$RUNC_ROOT_B" --rootfs "$T/no-such-rootfs" --name "$idb" || return
	CTRS_B+=("$idb")
	run nsenter --net="/run/netns/$NS_A" "$CKPT_OCI" migrate --root "$RUNC_ROOT" "$id" \
		--to "$RECV_ADDR" -w "$T/nodeA"
	assert_failure
	assert_output --partial "the receiver could not restore"
	assert_output --partial "no-such-rootfs"
	if wait "$RECV_PID"; then
		fail "the receiver succeeded"
	fi
	assert_stayed_on_a "$id"
	# no cgroup of the name on node B
	[[ -z $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$idb" 2>/dev/null) ]] ||
		fail "cgroups left: $(find /sys/fs/cgroup -maxdepth 4 -type d -name "$idb")"
}

@test "migrate: on a terminal one progress line, rewritten; none when stderr is not one" {
	require_cmd script
	wl_start_node_a || return
	receiver_start || return
	# script gives migrate a terminal; its stderr goes there
	script -qec "nsenter --net=/run/netns/$NS_A $CKPT_OCI migrate --pid $WL_PID \
		--to $RECV_ADDR -w $T/nodeA" /dev/null >"$T/tty.out" </dev/null ||
		{ cat "$T/tty.out" "$T/recv.err"; fail "migrate failed"; return; }
	grep -q $'\rmigrate: round 1, [0-9.]* MiB sent, [0-9.]* MiB/s' "$T/tty.out" ||
		{ cat -A "$T/tty.out" | head; fail "no progress line"; return; }
	grep -q $'\rmigrate: 1 rounds, [0-9.]* MiB sent in' "$T/tty.out" || fail "no last line"
	# one line: every update begins with \r, only the last ends it
	[[ $(tr -cd '\n' <"$T/tty.out" | wc -c) -le 1 ]] || { cat -A "$T/tty.out"; fail "more lines"; }
	wait "$RECV_PID"
	ckpt_track_pid "$(tail -n 1 "$T/recv.out")"
}
