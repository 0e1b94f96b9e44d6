#!/usr/bin/env bats
# exclusive: podman's storage, network and cgroups are the host's; runs alone on a machine
# criu-podman.bats - podman (with runc) checkpoints and restores through
# ckpt-oci installed as `criu` first in PATH (ckpt-oci-criu(1)): go-criu's
# version check, runc's RPC, podman's export and import, --print-stats.
# A busybox counter writes into a volume; restored, it must go on from the
# value it had at the checkpoint.

load helpers
load container

IMAGE=localhost/ckpt-oci-busybox

setup()
{
	ckpt_setup
	require_root
	require_cmd podman runc busybox jq
	mkdir -p "$T/bin" "$T/vol"
	ln -s "$CKPT_OCI" "$T/bin/criu"
	export PATH=$T/bin:$PATH
	NAME=ckpt$$-$BATS_TEST_NUMBER
	NAMES=("$NAME")
	podman_image
}

teardown()
{
	local n

	for n in "${NAMES[@]}"; do
		podman rm -f "$n" >/dev/null 2>&1 || true
	done
	ckpt_teardown
}

# The busybox rootfs (container.bash) as a local image, imported once.
podman_image()
{
	local rootfs

	podman image exists "$IMAGE" && return 0
	rootfs=$(ctr_rootfs) || return 1
	tar -C "$rootfs" --exclude=.done -cf "$T/rootfs.tar" . &&
		podman import "$T/rootfs.tar" "$IMAGE" >/dev/null
}

# podman_counter NAME: a counter in NAME writing $T/vol/count (volume /data).
podman_counter()
{
	# the default ulimits need CAP_SYS_RESOURCE, which root lacks here
	podman --runtime runc run -d --name "$1" \
		--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 -v "$T/vol:/data" "$IMAGE" \
		sh -c 'i=0; while :; do i=$((i+1)); echo $i >/data/c.new; mv /data/c.new /data/count; usleep 100000; done' \
		>/dev/null || return 1
	wait_until 30 _count_above 1
}

count() { cat "$T/vol/count" 2>/dev/null; }
_count_above() { local n; n=$(count) && [[ -n $n ]] && ((n > $1)); }
_count_moved_from() { local n; n=$(count) && [[ -n $n && $n != "$1" ]]; }

# podman_run ARGS...: podman under the test timeout; status and output as `run` sets them.
podman_run()
{
	run timeout -k 5 "$CKPT_TIMEOUT" podman "$@"
}

# assert_continues LO HI: the counter's next value lies in (LO, HI].
assert_continues()
{
	local last n

	last=$(count)
	wait_until 20 _count_moved_from "$last" || fail "the counter did not move from $last"
	n=$(count)
	((n > $1 && n <= $2)) || fail "restored counter at $n, want ($1, $2]"
}

@test "podman: podman info works and criu --version says 4.x with ckpt-oci as criu" {
	podman_run info --format '{{.Host.OCIRuntime.Name}}'
	assert_success
	run criu --version
	assert_success
	assert_line --index 0 --regexp '^Version: 4\.'
}

@test "podman: checkpoint --export, rm, restore --import as a new container: it goes on" {
	local n new=${NAME}-r

	NAMES+=("$new")
	podman_counter "$NAME"
	podman_run container checkpoint --print-stats --export="$T/ckpt.tar.gz" "$NAME"
	assert_success
	# --print-stats: ckpt-oci's figures, present and plausible
	(($(jq '.container_statistics[0].criu_statistics.pages_written' <<<"$output") > 0))
	(($(jq '.container_statistics[0].criu_statistics.frozen_time' <<<"$output") > 0))
	n=$(count)
	podman_run rm "$NAME"
	assert_success

	podman_run container restore --print-stats --import="$T/ckpt.tar.gz" --name "$new"
	assert_success
	(($(jq '.container_statistics[0].criu_statistics.restore_time' <<<"$output") > 0))
	[[ $(podman inspect -f '{{.State.Status}}' "$new") == running ]]
	assert_continues "$n" $((n + 30))
	# podman manages it: exec, stop
	podman_run exec "$new" cat /data/count
	assert_success
	podman_run stop -t 1 "$new"
	assert_success
}

@test "podman: checkpoint --keep, then restore in place" {
	local n

	podman_counter "$NAME"
	podman_run container checkpoint --keep "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == exited ]]
	n=$(count)
	podman_run container restore --keep "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == running ]]
	assert_continues "$n" $((n + 30))
}

@test "podman: --pre-checkpoint, then --with-previous, restore in place" {
	local n dir

	podman_counter "$NAME"
	podman_run container checkpoint --pre-checkpoint "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == running ]]
	dir=$(podman inspect -f '{{.StaticDir}}' "$NAME")
	jq -e '.pre_dump' "$dir/pre-checkpoint/bundle/chain.json"
	wait_until 20 _count_above "$(count)"
	podman_run container checkpoint --with-previous --keep "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == exited ]]
	# the final checkpoint refers to the pre-checkpoint's pages
	jq -e '.parent == "../pre-checkpoint/bundle"' "$dir/checkpoint/bundle/chain.json"
	n=$(count)
	podman_run container restore --keep "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == running ]]
	assert_continues "$n" $((n + 30))
}

@test "podman: checkpoint --leave-running keeps it counting" {
	local n

	podman_counter "$NAME"
	podman_run container checkpoint --leave-running "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == running ]]
	n=$(count)
	wait_until 20 _count_above $((n + 3))
}

# A client on the host: connects, sends "before", says so in $T/connected,
# sends "after" once $T/go exists. Started in the background, pid recorded.
tcp_client()
{
	cat >"$T/client.py" <<'PY'
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 5000))
s.sendall(b"before\n")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
s.sendall(b"after\n")
s.close()
PY
	python3 "$T/client.py" "$1" "$T/connected" "$T/go" </dev/null >"$T/client.log" 2>&1 &
	ckpt_track_pid $!
}

_received() { grep -qx "$1" "$T/vol/recv" 2>/dev/null; }

@test "podman: --tcp-established: a connection from the host goes on after restore" {
	local ip

	# sleep holds nc's stdin open: at EOF nc would half-close the connection
	podman --runtime runc run -d --name "$NAME" \
		--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 -v "$T/vol:/data" "$IMAGE" \
		sh -c 'sleep 100000 | nc -l -p 5000 >/data/recv' >/dev/null
	ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$NAME")
	[[ -n $ip ]]
	wait_until 20 eval "[[ \$(podman exec $NAME netstat -ltn 2>/dev/null) == *:5000* ]]"
	tcp_client "$ip"
	wait_until 20 _received before
	podman_run container checkpoint --tcp-established --keep "$NAME"
	assert_success
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == exited ]]
	podman_run container restore --tcp-established --keep "$NAME"
	assert_success
	touch "$T/go"
	wait_until 20 _received after
}

_ckpt_made() { [[ -f $T/ckd/ckpt-$(printf %06d "$1")/manifest.json ]]; }
_ckpt_pruned() { [[ ! -e $T/ckd/ckpt-$(printf %06d "$1") ]]; }

@test "podman: the hooks.d entry checkpoints a container with checkpoint-interval and stops with it" {
	local spid spm

	# the shipped entry, naming this build's binary
	mkdir -p "$T/hooks.d" "$T/ckd"
	sed "s|\"/usr/local/bin/ckpt-oci\"|\"$CKPT_OCI\"|" "$REPO_ROOT/oci/hooks.d/ckpt-oci.json" \
		>"$T/hooks.d/ckpt-oci.json"
	podman --hooks-dir "$T/hooks.d" --runtime runc run -d --name "$NAME" \
		--ulimit nofile=1024:1024 --ulimit nproc=4096:4096 -v "$T/vol:/data" \
		--annotation org.ckpt-oci.checkpoint-interval=1s \
		--annotation org.ckpt-oci.checkpoint-dir="$T/ckd" \
		--annotation org.ckpt-oci.keep=2 "$IMAGE" \
		sh -c 'i=0; while :; do i=$((i+1)); echo $i >/data/c.new; mv /data/c.new /data/count; usleep 100000; done' \
		>/dev/null
	wait_until 60 _ckpt_made 3
	[[ $(podman inspect -f '{{.State.Status}}' "$NAME") == running ]]
	# keep=2: the oldest goes once the third is committed, just after it
	wait_until 20 _ckpt_pruned 1
	spid=$(head -1 "$T/ckd/supervisor.pid")
	spm=$(pid_mark "$spid")
	pid_running "$spm"
	podman_run --hooks-dir "$T/hooks.d" stop -t 1 "$NAME"
	assert_success
	wait_until 20 pid_gone "$spm"
	grep -q "stopping" "$T/ckd/supervisor.log"
}
