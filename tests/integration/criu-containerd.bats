#!/usr/bin/env bats
# exclusive: containerd's shim keeps runc state under /run/containerd and names cgroups; runs alone
# criu-containerd.bats - containerd (1.6, its runc shim) checkpoints and
# restores a task through ckpt-oci as `criu` first in PATH
# (ckpt-oci-criu(1)). A containerd of the test's own (root, state and
# socket in $T) runs a busybox counter writing into a bind mount; `ctr
# container checkpoint --task`, the task killed and the container removed,
# `ctr container restore --live` must bring it back counting from where it was.

load helpers
load container

IMAGE=localhost/ckpt-oci-busybox

setup()
{
	ckpt_setup
	require_root
	require_cmd containerd ctr podman busybox
	mkdir -p "$T/bin" "$T/vol"
	ln -s "$CKPT_OCI" "$T/bin/criu"
	NAME=ckpt$$-$BATS_TEST_NUMBER
	NS=ckpt-oci-test$$
	containerd_start
	CTR=(ctr -a "$T/containerd.sock" -n "$NS")
	containerd_image
}

teardown()
{
	if [[ -n ${CTR+x} ]]; then
		"${CTR[@]}" task kill -s SIGKILL "$NAME" >/dev/null 2>&1 || true
		wait_until 10 eval '! "${CTR[@]}" task ls -q 2>/dev/null | grep -qx "$NAME"' || true
		"${CTR[@]}" task rm -f "$NAME" >/dev/null 2>&1 || true
		"${CTR[@]}" container rm "$NAME" >/dev/null 2>&1 || true
	fi
	if [[ -n ${CONTAINERD_MARK:-} ]]; then
		! pid_running "$CONTAINERD_MARK" || kill "$CONTAINERD_PID" 2>/dev/null || true
		wait_until 10 pid_gone "$CONTAINERD_MARK" || true
	fi
	# containerd makes a cgroup for the namespace in every hierarchy and
	# leaves it; the tasks' own are gone with them
	if [[ -n ${NS:-} ]]; then
		find /sys/fs/cgroup/*/"$NS" -depth -type d -exec rmdir {} + 2>/dev/null || true
	fi
	ckpt_teardown
}

# A containerd of our own; the shims it starts find ckpt-oci as criu in PATH.
containerd_start()
{
	containerd config default |
		sed -e "s|^root = .*|root = \"$T/ctrd/root\"|" \
		    -e "s|^state = .*|state = \"$T/ctrd/state\"|" \
		    -e "/^\[grpc\]/,/^\[/s|^  address = .*|  address = \"$T/containerd.sock\"|" \
		    -e "/^\[ttrpc\]/,/^\[/s|^  address = .*|  address = \"$T/containerd-ttrpc.sock\"|" \
		    -e "/^\[debug\]/,/^\[/s|^  address = .*|  address = \"\"|" \
		    -e "/^\[metrics\]/,/^\[/s|^  address = .*|  address = \"\"|" \
		    >"$T/containerd.toml"
	PATH=$T/bin:$PATH containerd --config "$T/containerd.toml" \
		</dev/null >"$T/containerd.log" 2>&1 &
	CONTAINERD_PID=$!
	CONTAINERD_MARK=$(pid_mark "$CONTAINERD_PID")
	ckpt_track_pid "$CONTAINERD_PID"
	wait_until 30 ctr -a "$T/containerd.sock" version >/dev/null 2>&1 ||
		{ cat "$T/containerd.log"; return 1; }
}

# The busybox rootfs (container.bash) as an image: podman makes the OCI archive.
containerd_image()
{
	local rootfs

	if ! podman image exists "$IMAGE"; then
		rootfs=$(ctr_rootfs) || return 1
		tar -C "$rootfs" --exclude=.done -cf "$T/rootfs.tar" . &&
			podman import "$T/rootfs.tar" "$IMAGE" >/dev/null || return 1
	fi
	podman save --format oci-archive -o "$T/image.tar" "$IMAGE" >/dev/null 2>&1 &&
		"${CTR[@]}" image import --base-name "$IMAGE" "$T/image.tar" >/dev/null
}

count() { cat "$T/vol/count" 2>/dev/null; }
_count_above() { local n; n=$(count) && [[ -n $n ]] && ((n > $1)); }
_count_moved_from() { local n; n=$(count) && [[ -n $n && $n != "$1" ]]; }
_task_gone() { ! "${CTR[@]}" task ls -q 2>/dev/null | grep -qx "$NAME"; }

@test "containerd: ctr container checkpoint --task, then restore --live: the counter goes on" {
	local n0 n last v

	"${CTR[@]}" run -d --mount "type=bind,src=$T/vol,dst=/data,options=rbind:rw" \
		"$IMAGE:latest" "$NAME" \
		sh -c 'i=0; while :; do i=$((i+1)); echo $i >/data/c.new; mv /data/c.new /data/count; usleep 100000; done' \
		</dev/null >/dev/null
	wait_until 30 _count_above 1
	# the task runs on after its checkpoint (no --exit) until it is killed:
	# the checkpoint holds a count from at least n0 up to the one at the kill
	n0=$(count)
	run timeout -k 5 "$CKPT_TIMEOUT" "${CTR[@]}" container checkpoint --task --image --rw \
		"$NAME" "$NAME-ckpt:1"
	assert_success
	"${CTR[@]}" task kill -s SIGKILL "$NAME"
	wait_until 20 eval '[[ $("${CTR[@]}" task ls | awk -v n="$NAME" '"'"'$1 == n { print $3 }'"'"') == STOPPED ]]'
	"${CTR[@]}" task rm "$NAME" >/dev/null
	"${CTR[@]}" container rm "$NAME"
	n=$(count)

	run timeout -k 5 "$CKPT_TIMEOUT" "${CTR[@]}" container restore --live --rw "$NAME" "$NAME-ckpt:1"
	assert_success
	[[ $("${CTR[@]}" task ls | awk -v n="$NAME" '$1 == n { print $3 }') == RUNNING ]]
	# it goes on from where the checkpoint was, it does not start again from 1
	last=$(count)
	wait_until 20 _count_moved_from "$last"
	v=$(count)
	((v > n0 && v <= n + 30)) || fail "restored counter at $v, want ($n0, $((n + 30))]"
	# ckpt-oci served it: its bundle was in the checkpoint, its log says so
	grep -q "ckpt-oci .* serving CRIU request type 2" "$T"/ctrd/root/io.containerd.runtime.v2.task/"$NS"/"$NAME"/restore.log
}
