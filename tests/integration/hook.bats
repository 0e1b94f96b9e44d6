#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# hook.bats - `ckpt-oci hook` as an OCI hook of real runc containers
# (busybox rootfs, container.bash): the interval annotations start a
# supervisor that checkpoints the running container into DIR, keeps the
# newest N, and stops with the container (or at poststop); the newest
# bundle restores and the counter goes on. Bad annotations are logged and
# never stop the container.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
	D=$T/ckpts
	# container ids name cgroups (/ID) shared by every runc on the host:
	# keep them apart from other tests running at the same time
	ID=hook$$-$BATS_TEST_NUMBER
}

teardown()
{
	if [[ $RUNC == crun ]]; then
		ctr_crun_teardown
	else
		ctr_teardown
	fi
	ckpt_teardown
}

# hook_json: the hooks section, this build's binary at poststart and poststop.
hook_json()
{
	jq -cn --arg b "$CKPT_OCI" --arg e "${HOOK_ENV:-}" '{
		poststart: [{ path: $b, args: ["ckpt-oci", "hook", "poststart"],
			      env: [$e | select(. != "")] }],
		poststop: [{ path: $b, args: ["ckpt-oci", "hook", "poststop"] }] }'
}

# run_hooked ID ANNOTATIONS-JSON: a counter container with our hooks, started.
run_hooked()
{
	ctr_create "$1" ".process.args = [\"sh\", \"-c\", \"$CTR_COUNTER\"]
		| .annotations = $2 | .hooks = $(hook_json)" && ctr_start "$1" &&
		ctr_wait_count_above "$1" 1
}

# The number of the newest bundle (DIR/latest -> ckpt-NNNNNN), 0 if none.
newest()
{
	local l

	l=$(readlink "$D/latest" 2>/dev/null) || { echo 0; return; }
	echo $((10#${l#ckpt-}))
}

_newest_at_least()
{
	(($(newest) >= $1))
}

wait_bundle()
{
	wait_until 120 _newest_at_least "$1" || {
		cat "$D/supervisor.log" "$D/dump.log" 2>/dev/null
		fail "no bundle ckpt-$(printf %06d "$1") in $D"
	}
}

supervisor_pid()
{
	head -n 1 "$D/supervisor.pid"
}

# The hook run by hand: STAGE (or "" for none) and the state JSON.
hook()
{
	local stage=$1 state=$2

	run clean_exec "$CKPT_OCI" hook $stage <<<"$state"
}

@test "hook: interval bundles while running, keep 2, each inspects; killed, the newest restores" {
	local sp spm n0 seq k v b

	run_hooked "$ID" "{\"org.ckpt-oci.checkpoint-interval\": \"500ms\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\", \"org.ckpt-oci.keep\": \"2\"}"
	wait_until 30 test -s "$D/supervisor.pid"
	sp=$(supervisor_pid)
	spm=$(pid_mark "$sp")
	ckpt_track_pid "$sp"
	grep -q "supervisor\[$sp\]: checkpointing \`$ID\` (runc $RUNC_ROOT" "$D/supervisor.log"
	wait_bundle 1
	[[ $(ctr_status "$ID") == running ]]
	# a bundle begun after n0 was read: it holds a counter of n0 or more
	n0=$(ctr_count "$ID")
	seq=$(newest)
	wait_bundle $((seq + 2))
	wait_bundle 4
	k=$(ctr_count "$ID")
	"$RUNC" --root "$RUNC_ROOT" kill "$ID" KILL
	wait_until 60 pid_gone "$spm"
	grep -q "container init .* exited, stopping" "$D/supervisor.log"
	"$RUNC" --root "$RUNC_ROOT" delete -f "$ID"
	[[ ! -e $D/supervisor.pid ]]
	# only the newest two, complete, no leftovers
	assert_equal "$(ls -d "$D"/ckpt-* | wc -l)" 2
	[[ -z $(ls -d "$D"/*.tmp 2>/dev/null) ]]
	for b in "$D"/ckpt-*; do
		run "$CKPT_OCI" inspect "$b"
		assert_success
	done
	[[ -e $D/ckpt-$(printf %06d "$(newest)") ]]
	# the newest restores and counts on from where it was, not from 1
	rm -f "$T/$ID/rootfs/tmp/count"
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" \
		"$D/latest"
	assert_success
	ckpt_track_pid "$(cat "$T/r.pid")"
	wait_until 30 ctr_count "$ID" >/dev/null
	v=$(ctr_count "$ID")
	echo "count before kill $k, when the bundles began $n0, restored $v"
	((v > n0))
	# restored under runc, it is checkpointed every interval again
	seq=$(newest)
	wait_until 30 test -s "$D/supervisor.pid"
	ckpt_track_pid "$(supervisor_pid)"
	[[ $(supervisor_pid) != "$sp" ]]
	wait_bundle $((seq + 1))
	run "$CKPT_OCI" inspect "$D/latest"
	assert_success
}

@test "hook: poststop stops the supervisor, the container keeps running" {
	local sp spm n state

	run_hooked "$ID" "{\"org.ckpt-oci.checkpoint-interval\": \"1s\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\"}"
	wait_until 30 test -s "$D/supervisor.pid"
	sp=$(supervisor_pid)
	spm=$(pid_mark "$sp")
	ckpt_track_pid "$sp"
	wait_bundle 1
	# as at `runc delete`: no pid, status stopped, which names the stage
	state=$(jq -cn --arg id "$ID" --arg b "$T/$ID" --arg d "$D" '{ociVersion: "1.0.2",
		id: $id, status: "stopped", bundle: $b,
		annotations: {"org.ckpt-oci.checkpoint-interval": "1s",
			      "org.ckpt-oci.checkpoint-dir": $d}}')
	hook "" "$state"
	assert_success
	assert_output ""
	pid_gone "$spm"
	grep -q "supervisor\[$sp\]: Terminated from pid" "$D/supervisor.log"
	grep -q "hook poststop: container \`$ID\` stopped: supervisor $sp stopped" \
		"$D/supervisor.log"
	[[ ! -e $D/supervisor.pid ]]
	[[ $(ctr_status "$ID") == running ]]
	n=$(ctr_count "$ID")
	ctr_wait_count_above "$ID" "$n"
	# a second poststop finds nothing to stop
	hook poststop "$state"
	assert_success
	assert_output ""
}

@test "hook: a checkpoint process told to stop at a ptrace call rolls back, the container runs on" {
	local sp spm n pid

	# its own SIGTERM at the 20th ptrace call: the tree seized and frozen
	HOOK_ENV=CKPT_OCI_FAULT=kill-self:TERM:20
	run_hooked "$ID" "{\"org.ckpt-oci.checkpoint-interval\": \"500ms\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\"}"
	wait_until 30 test -s "$D/supervisor.pid"
	sp=$(supervisor_pid)
	spm=$(pid_mark "$sp")
	ckpt_track_pid "$sp"
	wait_until 60 grep -q "interrupted by SIGTERM" "$D/supervisor.log" ||
		fail "no rolled back checkpoint: $(cat "$D/supervisor.log")"
	! grep -q "killed by signal" "$D/supervisor.log" || fail "$(cat "$D/supervisor.log")"
	# every tick tries again (and is stopped again): the supervisor is
	# stopped first, so no checkpoint is under way while the state is read
	kill -TERM "$sp"
	wait_until 30 pid_gone "$spm"
	# running (runc says paused if its cgroup is frozen), no lock, counting
	[[ $(ctr_status "$ID") == running ]]
	pid=$(ctr_pid "$ID")
	run nsenter -t "$pid" -n nft list tables
	[[ $status -eq 0 && $output != *ckpt_oci* ]] || fail "lock table left: $output"
	n=$(ctr_count "$ID")
	ctr_wait_count_above "$ID" "$n"
	# no bundle, no half bundle
	[[ -z $(ls -d "$D"/ckpt-* 2>/dev/null) ]] || fail "left: $(ls "$D")"
}

@test "hook: a bad interval is logged, the container runs without a supervisor" {
	local n

	run_hooked "$ID" "{\"org.ckpt-oci.checkpoint-interval\": \"ten\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\"}"
	[[ $(ctr_status "$ID") == running ]]
	n=$(ctr_count "$ID")
	ctr_wait_count_above "$ID" "$n"
	run cat "$D/supervisor.log"
	assert_output --regexp "Z hook: container \`$ID\`: no checkpoints: bad org\.ckpt-oci\.checkpoint-interval \`ten\`: want a duration such as 500ms, 10s, 5m or 1h$"
	[[ ! -e $D/supervisor.pid && -z $(ls -d "$D"/ckpt-* 2>/dev/null) ]]
}

@test "hook: runtime root from annotations, one supervisor per DIR, the log rotates" {
	local sp spm anns state

	# a log past 4 MiB moves to supervisor.log.1 after the next checkpoint
	mkdir -p "$D"
	head -c $((4 << 20)) /dev/zero | tr '\0' x >"$D/supervisor.log"
	# the hook's parent is runc; the annotations win over what it says
	anns="{\"org.ckpt-oci.checkpoint-interval\": \"1s\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\", \"org.ckpt-oci.runtime\": \"runc\",
		\"org.ckpt-oci.root\": \"$RUNC_ROOT\"}"
	run_hooked "$ID" "$anns"
	wait_until 30 test -s "$D/supervisor.pid"
	sp=$(supervisor_pid)
	spm=$(pid_mark "$sp")
	ckpt_track_pid "$sp"
	wait_bundle 2
	[[ $(stat -c %s "$D/supervisor.log.1") -gt $((4 << 20)) ]]
	grep -q "supervisor\[$sp\]: checkpoint $D/ckpt-000002 in " "$D/supervisor.log"
	[[ $(stat -c %s "$D/supervisor.log") -lt 4096 ]]
	# a second poststart for this DIR: refused, the first one goes on
	state=$(jq -cn --arg id "$ID" --arg b "$T/$ID" --argjson p "$(ctr_pid "$ID")" \
		--argjson a "$anns" '{id: $id, status: "running", pid: $p, bundle: $b,
		annotations: $a}')
	hook poststart "$state"
	assert_success
	assert_output "ckpt-oci hook: container \`$ID\`: no checkpoints: supervisor: $D is in use by supervisor $sp"
	pid_running "$spm"
	"$RUNC" --root "$RUNC_ROOT" delete -f "$ID"
	wait_until 60 pid_gone "$spm"
}

@test "hook: under crun, the hook finds crun and its root from its parent" {
	local sp spm

	ctr_crun_setup
	run_hooked "$ID" "{\"org.ckpt-oci.checkpoint-interval\": \"500ms\",
		\"org.ckpt-oci.checkpoint-dir\": \"$D\"}"
	wait_until 30 test -s "$D/supervisor.pid"
	sp=$(supervisor_pid)
	spm=$(pid_mark "$sp")
	ckpt_track_pid "$sp"
	grep -q "supervisor\[$sp\]: checkpointing \`$ID\` (crun $RUNC_ROOT, init " \
		"$D/supervisor.log"
	wait_bundle 2
	run "$CKPT_OCI" inspect "$D/latest"
	assert_success
	"$RUNC" --root "$RUNC_ROOT" kill "$ID" KILL
	wait_until 60 pid_gone "$spm"
}

# ---- the hook run by hand: one line on stderr, exit 0 -----------------------

state_with()
{
	jq -cn --arg b "$T" --argjson a "$1" \
		'{ociVersion: "1.0.2", id: "x1", status: "created", pid: 1, bundle: $b,
		  annotations: $a}'
}

@test "hook: bad annotation values are one line each, exit 0, logged in DIR" {
	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "10"}')"
	assert_success
	assert_output "ckpt-oci hook: container \`x1\`: no checkpoints: org.ckpt-oci.checkpoint-interval needs org.ckpt-oci.checkpoint-dir"

	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "10",
		"org.ckpt-oci.checkpoint-dir": "ck"}')"
	assert_success
	assert_output "ckpt-oci hook: container \`x1\`: no checkpoints: bad org.ckpt-oci.checkpoint-interval \`10\`: want a duration such as 500ms, 10s, 5m or 1h"
	# relative to the bundle directory, created, and the error is in its log
	grep -q "hook: container \`x1\`: no checkpoints: bad org.ckpt-oci.checkpoint-interval \`10\`" \
		"$T/ck/supervisor.log"

	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "50ms",
		"org.ckpt-oci.checkpoint-dir": "ck"}')"
	assert_output "ckpt-oci hook: container \`x1\`: no checkpoints: org.ckpt-oci.checkpoint-interval \`50ms\` is too short: at least 100ms"

	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "1s",
		"org.ckpt-oci.checkpoint-dir": "ck", "org.ckpt-oci.keep": "0"}')"
	assert_output "ckpt-oci hook: container \`x1\`: no checkpoints: bad org.ckpt-oci.keep \`0\`: want a number from 1 to 1000"

	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "1s",
		"org.ckpt-oci.checkpoint-dir": "ck", "org.ckpt-oci.runtime": "lxc"}')"
	assert_success
	assert_output --partial "ckpt-oci hook: container \`x1\`: no checkpoints: find the container's runtime state"
	assert_output --partial "unknown runtime \`lxc\` (runc or crun)"
	assert_equal "${#lines[@]}" 1

	hook poststart "$(state_with '{"org.ckpt-oci.checkpoint-interval": "1s",
		"org.ckpt-oci.checkpoint-dir": "/nonexistent/ck"}')"
	assert_output "ckpt-oci hook: container \`x1\`: org.ckpt-oci.checkpoint-dir: mkdir \`/nonexistent/ck\`: No such file or directory"
	[[ -z $(ls -d "$T"/ck/ckpt-* 2>/dev/null) && ! -e $T/ck/supervisor.pid ]]
}

@test "hook: bad state, unknown stage, restore-from: one line, exit 0" {
	hook poststart "not json"
	assert_success
	assert_output --regexp '^ckpt-oci hook: state on stdin: '
	assert_equal "${#lines[@]}" 1

	hook poststart '{"id": "x1"}'
	assert_success
	assert_output --regexp '^ckpt-oci hook: state on stdin: .*bundle'

	hook poststrat "$(state_with '{}')"
	assert_success
	assert_output "ckpt-oci hook: unknown hook stage \`poststrat\`"

	hook startContainer "$(state_with '{"org.ckpt-oci.restore-from": "/b"}')"
	assert_success
	assert_output --regexp "^ckpt-oci hook: container \`x1\`: org.ckpt-oci.restore-from \`/b\` ignored, the container starts fresh: .*use \`ckpt-oci restore /b\`$"

	# createRuntime takes the root's first state, from the bundle's config.json
	hook createRuntime "$(state_with '{}')"
	assert_success
	assert_output "ckpt-oci hook: container \`x1\`: $T/config.json: open $T/config.json: No such file or directory"

	# no annotations of ours: nothing to do, nothing said
	hook poststart "$(state_with '{"other": "1"}')"
	assert_success
	assert_output ""

	run "$CKPT_OCI" hook --bogus
	assert_equal "$status" 2
}

@test "hook: createRuntime keeps the root's first state, poststop removes it" {
	local base

	mkdir -p "$T/rootfs/etc" && echo x >"$T/rootfs/etc/f"
	jq -n '{root: {path: "rootfs"}}' >"$T/config.json"
	base=$(printf '/run/ckpt-oci/rootfs-base/%x-%x' "$(stat -c %d "$T/rootfs")" \
		"$(stat -c %i "$T/rootfs")")
	hook createRuntime "$(state_with '{}')"
	assert_success
	assert_output ""
	[[ -s $base ]]
	[[ $(stat -c '%a %U' "$base") == "600 root" ]]
	hook "" "$(state_with '{}' | jq -c '.status = "stopped" | del(.pid)')"
	assert_success
	[[ ! -e $base ]]
}

@test "hook: make install puts podman's hooks.d entry and the man page under PREFIX" {
	local f=$T/root/usr/share/containers/oci/hooks.d/ckpt-oci.json

	run make -C "$REPO_ROOT" --no-print-directory BUILD="${BUILD:-build}" \
		DESTDIR="$T/root" PREFIX=/usr install
	assert_success
	[[ -f $T/root/usr/share/man/man1/ckpt-oci-hook.1 ]]
	run jq -c '[.version, .hook.path, .hook.args, .stages, .when.annotations]' "$f"
	assert_success
	assert_output '["1.0.0","/usr/bin/ckpt-oci",["ckpt-oci","hook"],["createRuntime","poststart","poststop"],{"^org\\.ckpt-oci\\.checkpoint-interval$":".+"}]'
}
