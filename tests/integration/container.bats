#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# container.bats - `ckpt-oci checkpoint CONTAINER` on containers run by
# real runc with a busybox rootfs: the container is found by name in the
# runtime's state, checkpointed with its config.json, and stopped and
# deleted (or left running); each refusal is one line and leaves the
# container as it was. Then the bundle is restored outside the runtime.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
}

teardown()
{
	ctr_teardown
	ckpt_teardown
}

# The container still runs and counts, and no bundle was left behind.
assert_untouched()
{
	local n

	[[ $(ctr_status "$1") == running ]]
	n=$(ctr_count "$1")
	ctr_wait_count_above "$1" "$n"
	[[ ! -e $T/ckpt && ! -e $T/ckpt.tmp ]]
}

# runc knows the container no more.
assert_gone()
{
	run "$RUNC" --root "$RUNC_ROOT" state "$1"
	assert_failure
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) != *"$1"* ]]
}

assert_one_line_error()
{
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_output "$1"
}

@test "container: checkpoint by name stops it and removes it from runc" {
	local pids p

	ctr_run_counter c1
	pids=$(ctr_marks c1)
	checkpoint -o "$T/ckpt" c1
	assert_success
	cmp <(jq -S . "$T/c1/config.json") <(jq -S . "$T/ckpt/config.json")
	[[ -f $T/ckpt/pstree.json && -f $T/ckpt/manifest.json ]]
	assert_gone c1
	for p in $pids; do
		wait_until 10 pid_gone "$p"
	done
}

@test "container: --leave-running keeps it running and counting" {
	local n

	ctr_run_counter c1
	checkpoint --leave-running -o "$T/ckpt" c1
	assert_success
	[[ -f $T/ckpt/config.json ]]
	[[ $(ctr_status c1) == running ]]
	n=$(ctr_count c1)
	ctr_wait_count_above c1 "$n"
}

@test "container: the bundle is ./CONTAINER-checkpoint by default" {
	ctr_run_counter c1
	cd "$T"
	checkpoint -R c1
	assert_success
	[[ -f $T/c1-checkpoint/config.json ]]
}

@test "container: unknown container is one line, nothing changed" {
	ctr_run_counter c1
	checkpoint -o "$T/ckpt" nope
	assert_one_line_error "ckpt-oci: checkpoint nope: no container \`nope\` in $RUNC_ROOT"
	assert_untouched c1
}

@test "container: a created (not started) container is refused" {
	ctr_create c2 '.process.args = ["sh", "-c", "exit 0"]'
	CTRS+=(c2)
	"$RUNC" --root "$RUNC_ROOT" create --bundle "$T/c2" c2 >"$T/c2.out" 2>&1 </dev/null
	checkpoint -o "$T/ckpt" c2
	assert_one_line_error "ckpt-oci: checkpoint c2: container \`c2\` is not running (created)"
	[[ $(ctr_status c2) == created && ! -e $T/ckpt ]]
}

@test "container: a stopped container is refused" {
	ctr_create c2 '.process.args = ["true"]'
	ctr_start c2
	wait_until 20 eval '[[ $(ctr_status c2) == stopped ]]'
	checkpoint -o "$T/ckpt" c2
	assert_one_line_error "ckpt-oci: checkpoint c2: container \`c2\` is not running (stopped)"
	[[ $(ctr_status c2) == stopped && ! -e $T/ckpt ]]
}

@test "container: a second checkpoint at the same time is busy" {
	ctr_run_counter c1
	# hold the lock a running checkpoint of c1 holds
	mkdir -p /run/ckpt-oci
	run flock -n "/run/ckpt-oci/runc:${RUNC_ROOT//\//%}:c1.lock" timeout -k 5 "$CKPT_TIMEOUT" \
		"$CKPT_OCI" checkpoint --root "$RUNC_ROOT" -o "$T/ckpt" c1
	assert_one_line_error "ckpt-oci: checkpoint c1: container \`c1\` is busy: another checkpoint of it is running"
	assert_untouched c1
}

@test "container: a checkpoint that fails leaves the container running" {
	ctr_run_counter c1
	mkdir "$T/ckpt"
	checkpoint -o "$T/ckpt" c1
	assert_failure
	assert_equal "${#lines[@]}" 1
	rmdir "$T/ckpt"
	assert_untouched c1
}

@test "container: a paused container stays paused with --leave-running" {
	local n

	ctr_run_counter c1
	"$RUNC" --root "$RUNC_ROOT" pause c1
	n=$(ctr_count c1)
	checkpoint -R -o "$T/ckpt" c1
	assert_success
	[[ $(ctr_status c1) == paused ]]
	[[ $(cat "$(jq -r .cgroup_paths.freezer "$RUNC_ROOT/c1/state.json")/freezer.state") == FROZEN ]]
	assert_equal "$(ctr_count c1)" "$n"
	"$RUNC" --root "$RUNC_ROOT" resume c1
	ctr_wait_count_above c1 "$n"
}

@test "container: a paused container is checkpointed and removed" {
	ctr_run_counter c1
	"$RUNC" --root "$RUNC_ROOT" pause c1
	checkpoint -o "$T/ckpt" c1
	assert_success
	assert_gone c1
}

@test "container: the bundle restores outside runc and the counter continues" {
	local n pid

	ctr_run_counter c1
	checkpoint -o "$T/ckpt" c1
	assert_success
	n=$(ctr_count c1)
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" \
		"$T/ckpt"
	assert_success
	pid=$(cat "$T/r.pid")
	ckpt_track_pid "$pid"
	ctr_wait_count_above c1 "$n"
	[[ $(cat "/proc/$pid/root/tmp/count") -gt $n ]]
}

@test "container: --pre-dump leaves it running, --parent checkpoints it, the counter continues" {
	local n pid

	ctr_run_counter c1
	checkpoint --pre-dump -o "$T/b1" c1
	assert_success
	[[ $(ctr_status c1) == running ]]
	n=$(ctr_count c1)
	ctr_wait_count_above c1 "$n"
	checkpoint --parent "$T/b1" -o "$T/ckpt" c1
	assert_success
	assert_gone c1
	jq -e '.parent == "b1"' "$T/ckpt/chain.json"
	n=$(ctr_count c1)
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" \
		"$T/ckpt"
	assert_success
	pid=$(cat "$T/r.pid")
	ckpt_track_pid "$pid"
	ctr_wait_count_above c1 "$n"
}

# What the container at PID sees, printed from inside it (nsenter, the
# container's own busybox): its mount table modulo ids (mount ids dropped;
# peer groups and anonymous device numbers renumbered in order of
# appearance, so binds of one filesystem still show as such; the "-rN"
# ckpt-oci adds to the name of a cgroup restored outside the runtime),
# then what runc's masked and read-only paths do.
ctr_view()
{
	local pid=$1

	nsenter -t "$pid" -m -p -r -w /bin/cat /proc/self/mountinfo |
		awk '{
			$1 = "-"; $2 = "-"
			if ($3 ~ /^0:/) {
				if (!($3 in dev))
					dev[$3] = ++ndev
				$3 = "0:" dev[$3]
			}
			for (i = 7; $i != "-"; i++) {
				if (split($i, kv, ":") != 2)
					continue
				if (!(kv[2] in peer))
					peer[kv[2]] = ++npeer
				$i = kv[1] ":" peer[kv[2]]
			}
			if ($(i + 1) ~ /^cgroup/) sub(/-r[0-9]+$/, "", $4)
			print
		}'
	nsenter -t "$pid" -m -p -r -w /bin/sh -c '
		echo "keys: $(wc -c </proc/keys)"
		touch /proc/acpi/x 2>/dev/null || echo "acpi: read-only"
		echo 1 >/proc/sys/kernel/ns_last_pid 2>/dev/null || echo "sys: read-only"
		ls /sys/fs/cgroup | tr "\n" " "; echo
		test -e /sys/fs/cgroup/pids/cgroup.procs && echo "pids: own cgroup"
		touch /sys/fs/cgroup/pids/x 2>/dev/null || echo "cgroup: read-only"'
}

# The counter of a container with a read-only root, in its /dev/shm: read
# from inside, through the pid of its init.
_shm_count()
{
	nsenter -t "$1" -m -r -w /bin/cat /dev/shm/count 2>/dev/null
}

_shm_count_above()
{
	local n

	n=$(_shm_count "$1") && [[ -n $n ]] && ((n > $2))
}

@test "container: runc's full default config (masked paths, cgroup mount) roundtrip" {
	local n m pid

	# all of `runc spec` but the program (and terminal): the root read-only
	CTR_FULL_SPEC=1 ctr_create c1 ".root.readonly = true |
		.process.args = [\"sh\", \"-c\", \"${CTR_COUNTER//\/tmp\//\/dev\/shm\/}\"]"
	ctr_start c1
	pid=$(ctr_pid c1)
	wait_until 120 _shm_count_above "$pid" 1
	ctr_view "$pid" >"$T/view.before"
	n=$(_shm_count "$pid")
	checkpoint -o "$T/ckpt" c1
	assert_success
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" \
		"$T/ckpt"
	assert_success
	pid=$(cat "$T/r.pid")
	ckpt_track_pid "$pid"
	# it goes on from where it was: nothing lost, and counting
	m=$(_shm_count "$pid")
	((m >= n))
	wait_until 120 _shm_count_above "$pid" "$m"
	ctr_view "$pid" >"$T/view.after"
	run diff "$T/view.before" "$T/view.after"
	assert_success
	# the restored tree's cgroup is shown, not the deleted one
	nsenter -t "$pid" -m -r -w /bin/cat /sys/fs/cgroup/pids/cgroup.procs | grep -qx "$pid"
}

@test "container: a paused container stays paused when its checkpoint fails late" {
	local n

	# a bind of a host file deleted meanwhile: the mnt dump fails after the freeze
	echo x >"$T/gone"
	ctr_run_counter c1 ".mounts += [{\"destination\": \"/gone\", \"type\": \"bind\",
		\"source\": \"$T/gone\", \"options\": [\"bind\", \"ro\"]}]"
	"$RUNC" --root "$RUNC_ROOT" pause c1
	n=$(ctr_count c1)
	rm "$T/gone"
	checkpoint -R -o "$T/ckpt" c1
	assert_failure
	assert_equal "${#lines[@]}" 1
	[[ $(ctr_status c1) == paused && ! -e $T/ckpt && ! -e $T/ckpt.tmp ]]
	[[ $(cat "$(jq -r .cgroup_paths.freezer "$RUNC_ROOT/c1/state.json")/freezer.state") == FROZEN ]]
	assert_equal "$(ctr_count c1)" "$n"
	"$RUNC" --root "$RUNC_ROOT" resume c1
	ctr_wait_count_above c1 "$n"
}
