#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# container-runtime.bats - a container's bundle restored under the runtime
# it came from: the restored container is in `runc list` under its name (or
# --name), and `runc state`, `runc exec`, `runc pause`, `runc kill` and
# `runc delete` work on it as on one runc started; refusals are one line
# and change nothing.

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

# restore ARGS...: under this test's runc root (the bundle never chooses
# one), unless --no-runtime.
restore()
{
	local root=(--root "$RUNC_ROOT")

	[[ " $* " == *" --no-runtime "* ]] && root=()
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d "${root[@]}" "$@"
}

# Every cgroup directory runc records for the container, one a line.
ctr_cgroup_dirs()
{
	jq -r '.cgroup_paths[]' "$RUNC_ROOT/$1/state.json"
}

@test "runtime: restored under runc, listed running, counting, and runc kill/delete end it" {
	local n pid dirs d mark

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	n=$(ctr_count rc1)
	restore "$T/ckpt"
	assert_success
	pid=$(out_pid)
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) == rc1 ]]
	[[ $(ctr_status rc1) == running ]]
	[[ $(ctr_pid rc1) == "$pid" ]]
	ctr_wait_count_above rc1 "$n"
	# the restored processes are in the cgroups runc will remove
	dirs=$(ctr_cgroup_dirs rc1)
	for d in $dirs; do
		grep -qx "$pid" "$d/cgroup.procs"
	done
	"$RUNC" --root "$RUNC_ROOT" kill rc1 KILL
	wait_until 10 pid_gone "$mark"
	run "$RUNC" --root "$RUNC_ROOT" delete rc1
	assert_success
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	for d in $dirs; do
		[[ ! -d $d ]]
	done
}

@test "runtime: runc exec, pause and resume work on the restored container" {
	local n pid

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	restore "$T/ckpt"
	assert_success
	pid=$(out_pid)
	ckpt_track_pid "$pid"
	run "$RUNC" --root "$RUNC_ROOT" exec rc1 hostname
	assert_success
	assert_output rc1
	"$RUNC" --root "$RUNC_ROOT" pause rc1
	[[ $(ctr_status rc1) == paused ]]
	"$RUNC" --root "$RUNC_ROOT" resume rc1
	[[ $(ctr_status rc1) == running ]]
	n=$(ctr_count rc1)
	ctr_wait_count_above rc1 "$n"
}

@test "runtime: --name restores it under a new name; checkpointed again by that name" {
	local n pid mark

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	CTRS+=(rc2)
	restore --name rc2 "$T/ckpt"
	assert_success
	pid=$(out_pid)
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) == rc2 ]]
	[[ $(ctr_status rc2) == running ]]
	n=$(ctr_count rc1)
	ctr_wait_count_above rc1 "$n"
	# the restored container is a container like any other
	checkpoint -o "$T/ckpt2" rc2
	assert_success
	wait_until 10 pid_gone "$mark"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	n=$(ctr_count rc1)
	restore --name rc3 "$T/ckpt2"
	assert_success
	CTRS+=(rc3)
	ckpt_track_pid "$(out_pid)"
	ctr_wait_count_above rc1 "$n"
}

@test "runtime: a name in use is refused in one line, nothing changed" {
	local n

	ctr_run_counter rc1
	checkpoint -R -o "$T/ckpt" rc1
	assert_success
	restore "$T/ckpt"
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_output "ckpt-oci: restore: container \`rc1\` already exists in $RUNC_ROOT"
	[[ $(ctr_status rc1) == running ]]
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) == rc1 ]]
	n=$(ctr_count rc1)
	ctr_wait_count_above rc1 "$n"
}

@test "runtime: --no-runtime restores the processes only; option errors are one line" {
	local n pid dirs d p mark

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	restore --no-runtime --name x "$T/ckpt"
	assert_failure
	assert_output "ckpt-oci restore: --no-runtime with --name, --runtime or --root"
	restore --runtime crun "$T/ckpt"
	assert_failure
	assert_output "ckpt-oci: restore: the bundle holds a runc container, not crun"
	restore --name a/b "$T/ckpt"
	assert_failure
	assert_output "ckpt-oci: restore: bad container name \`a/b\`"
	n=$(ctr_count rc1)
	restore --no-runtime "$T/ckpt"
	assert_success
	pid=$(out_pid)
	mark=$(pid_mark "$pid")
	ckpt_track_pid "$pid"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	ctr_wait_count_above rc1 "$n"
	# its cgroups (the container's limits) are the caller's to remove
	dirs=$(awk -F: '$3 != "/" { print $3 }' "/proc/$pid/cgroup")
	[[ $dirs == *rc1-r* ]]
	kill -KILL "$pid"
	wait_until 10 pid_gone "$mark"
	for d in /sys/fs/cgroup/*/; do
		for p in $dirs; do
			[[ -d $d$p ]] && rmdir "$d$p"
		done
	done
	true
}

@test "runtime: bundle moved, old root gone: restored onto a fresh copy of the image with --rootfs" {
	local n pid fresh=$T/fresh

	ctr_create rc1 ".process.args = [\"sh\", \"-c\", \"echo kept >/root/note; $CTR_COUNTER\"]"
	ctr_start rc1
	ctr_wait_count_above rc1 1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	n=$(ctr_count rc1)
	tar -tf "$T/ckpt/rootfs-diff.tar" | grep -qx './root/note'
	tar -tf "$T/ckpt/rootfs-diff.tar" | grep -qx './tmp/count'
	! tar -tf "$T/ckpt/rootfs-diff.tar" | grep -qx './bin/busybox'
	# elsewhere, without the old root directory
	mv "$T/ckpt" "$T/moved"
	rm -rf "$T/rc1/rootfs"
	restore "$T/moved"
	assert_failure
	assert_output "ckpt-oci: restore: root directory \`$T/rc1/rootfs\` is gone: give --rootfs DIR (a copy of the image)"
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	cp -a "$(ctr_rootfs)" "$fresh"
	[[ ! -e $fresh/root/note ]]
	CTRS+=(rc2)
	restore --rootfs "$fresh" --name rc2 "$T/moved"
	assert_success
	pid=$(out_pid)
	ckpt_track_pid "$pid"
	[[ $(cat "$fresh/root/note") == kept ]]
	[[ $(jq -r .config.rootfs "$RUNC_ROOT/rc2/state.json") == "$fresh" ]]
	wait_until "${WL_TIMEOUT:-120}" _fresh_count_above "$fresh" "$n"
	[[ $(readlink "/proc/$pid/root") == / ]]
	[[ $(stat -c %i "/proc/$pid/root/root/note") == $(stat -c %i "$fresh/root/note") ]]
}

@test "runtime: --compress zstd --encrypt: the rootfs changes sealed too, restored with the key" {
	local n pid fresh=$T/fresh

	head -c 32 /dev/urandom >"$T/ek"
	chmod 600 "$T/ek"
	ctr_create rc1 ".process.args = [\"sh\", \"-c\", \"echo kept-note >/root/note; $CTR_COUNTER\"]"
	ctr_start rc1
	ctr_wait_count_above rc1 1
	checkpoint -o "$T/ckpt" --compress zstd --encrypt "$T/ek" rc1
	assert_success
	n=$(ctr_count rc1)
	# sealed: no longer a tar, nothing of it in clear
	! tar -tf "$T/ckpt/rootfs-diff.tar" >/dev/null 2>&1
	! grep -q kept-note "$T/ckpt/rootfs-diff.tar"
	rm -rf "$T/rc1/rootfs"
	cp -a "$(ctr_rootfs)" "$fresh"
	CTRS+=(rc2)
	restore --rootfs "$fresh" --name rc2 "$T/ckpt"
	assert_failure
	assert_output --partial "give --decrypt KEYFILE"
	[[ ! -e $fresh/root/note ]]
	restore --rootfs "$fresh" --name rc2 --decrypt "$T/ek" "$T/ckpt"
	assert_success
	pid=$(out_pid)
	ckpt_track_pid "$pid"
	[[ $(cat "$fresh/root/note") == kept-note ]]
	wait_until "${WL_TIMEOUT:-120}" _fresh_count_above "$fresh" "$n"
}

_fresh_count_above()
{
	local c

	{ read -r c <"$1/tmp/count"; } 2>/dev/null && [[ -n $c ]] && ((c > $2))
}

@test "runtime: --no-rootfs leaves the changes out; a read-only root has none" {
	ctr_run_counter rc1
	checkpoint -R --no-rootfs -o "$T/ckpt" rc1
	assert_success
	[[ ! -e $T/ckpt/rootfs-diff.tar && ! -e $T/ckpt/rootfs-diff.json ]]
	checkpoint -R -o "$T/ckpt2" rc1
	assert_success
	[[ $(jq -r .entries "$T/ckpt2/rootfs-diff.json") -gt 0 ]]
	ctr_create rc2 '.root.readonly = true | .process.args = ["sleep", "1000"]'
	ctr_start rc2
	checkpoint -R -o "$T/ckpt3" rc2
	assert_success
	[[ ! -e $T/ckpt3/rootfs-diff.tar ]]
	run "$CKPT_OCI" checkpoint --pid 1 --no-rootfs -o "$T/x"
	assert_failure
	assert_output "ckpt-oci: checkpoint: --runtime, --root and --no-rootfs need a CONTAINER"
}

@test "runtime: a restore that fails leaves no state, cgroup or process behind" {
	local d

	mkdir "$T/data"
	ctr_run_counter rc1 ".mounts += [{\"destination\": \"/data\", \"type\": \"bind\",
		\"source\": \"$T/data\", \"options\": [\"rbind\", \"rw\"]}]"
	checkpoint -o "$T/ckpt" rc1
	assert_success
	rmdir "$T/data"
	restore "$T/ckpt"
	assert_failure
	assert_equal "${#lines[@]}" 1
	[[ $output == *"$T/data"* ]]
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/*/; do
		[[ ! -e ${d}rc1 ]] || fail "cgroup ${d}rc1 left behind"
	done
	# the same bundle restores once the source is back
	mkdir "$T/data"
	restore "$T/ckpt"
	assert_success
	ckpt_track_pid "$(out_pid)"
}

# The last line of file $1 is a number above $2.
_last_above()
{
	local n

	n=$(tail -1 "$1" 2>/dev/null)
	[[ $n =~ ^[0-9]+$ ]] && ((n > $2))
}

@test "runtime: stdio pipes of the caller lead to the restore's stdio afterwards" {
	local n pid

	ctr_create rc1 '.process.args = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i; usleep 100000; done"]'
	CTRS+=(rc1)
	"$RUNC" --root "$RUNC_ROOT" run -d --bundle "$T/rc1" rc1 </dev/null 2>&1 3>&- |
		cat >"$T/before.out" 3>&- &
	wait_until 30 _last_above "$T/before.out" 3
	checkpoint -o "$T/ckpt" rc1
	assert_success
	[[ $(jq '.pipes[0].held' "$T/ckpt/files.json") == 2 ]]
	n=$(tail -1 "$T/before.out")
	"$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" "$T/ckpt" 2>&1 3>&- | cat >"$T/after.out" 3>&- &
	wait_until 30 _last_above "$T/after.out" $((n + 2))
	pid=$(cat "$T/r.pid")
	ckpt_track_pid "$pid"
	# the numbers go on where they stopped (around the pid ckpt-oci printed)
	[[ $(grep -vx "$pid" "$T/after.out" | head -1) == $((n + 1)) ]]
	[[ $(tail -1 "$T/before.out") == "$n" ]]
}

@test "runtime: a restore failing once the tree exists (pid file not writable) leaves nothing behind" {
	local d

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	run timeout -k 5 60 "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/no/such/dir/pid" "$T/ckpt"
	assert_failure
	refute [ "$status" -eq 124 ]
	assert_equal "${#lines[@]}" 1
	[[ -z $("$RUNC" --root "$RUNC_ROOT" list -q) ]]
	for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/*/; do
		[[ ! -e ${d}rc1 ]] || fail "cgroup ${d}rc1 left behind"
	done
	restore "$T/ckpt"
	assert_success
	ckpt_track_pid "$(out_pid)"
}

_is_link()
{
	[[ -L $1 ]]
}

@test "runtime: the container's symlinks and file names cannot make checkpoint or restore touch host files" {
	local loop root=$T/rc1/rootfs

	mkdir "$T/victim" "$T/rc1"
	echo "host secret" >"$T/rc1/secret"
	# after the checkpoint (-R) it turns /data into a link out of its root
	loop="echo owned >/data/passwd; echo x >'/x\\\\057..\\\\057secret'; i=0; while :; do
		i=\$((i+1)); echo \$i >/tmp/count; if [ -e /tmp/flip ]; then rm -rf /data;
		ln -s $T/victim /data; rm /tmp/flip; fi; usleep 100000; done"
	ctr_create rc1 ".process.args = [\"sh\", \"-c\", \"$loop\"]"
	mkdir "$root/data" && echo orig >"$root/data/passwd"
	# older than the container: the changes hold data/passwd, not data/
	touch -d '-1 hour' "$root/data"
	ctr_start rc1
	ctr_wait_count_above rc1 1
	checkpoint -R -o "$T/ckpt" rc1
	assert_success
	run tar -tf "$T/ckpt/rootfs-diff.tar"
	assert_success
	assert_line "./data/passwd"
	refute_line "./data/"
	# the odd name is archived as it is, the host file beside the root is not
	refute_line --regexp '(^|/)\.\./'
	refute_line "./secret"
	! tar -xOf "$T/ckpt/rootfs-diff.tar" | grep -q "host secret"
	touch "$root/tmp/flip"
	wait_until 30 _is_link "$root/data"
	"$RUNC" --root "$RUNC_ROOT" delete -f rc1
	# restored onto the old root directory, where /data is now a link out
	restore --name rc2 "$T/ckpt"
	assert_success
	CTRS+=(rc2)
	ckpt_track_pid "$(out_pid)"
	[[ -z $(ls -A "$T/victim") ]] || fail "restore wrote into the link's target: $(ls -A "$T/victim")"
	[[ -d $root/data && ! -L $root/data && $(cat "$root/data/passwd") == owned ]]
	[[ $(cat "$T/rc1/secret") == "host secret" ]]
}

@test "runtime: stdio files of the caller gone or replaced at restore: the restore's stdio instead" {
	local n

	ctr_run_counter rc1
	checkpoint -o "$T/ckpt" rc1
	assert_success
	n=$(ctr_count rc1)
	# the runtime's stdout file of the container: another file at that path now
	rm "$T/rc1.out" && echo other >"$T/rc1.out"
	# (not under `run`: the container's stdout becomes ours, bats would wait for it)
	timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --root "$RUNC_ROOT" --pid-file "$T/r.pid" "$T/ckpt" \
		>"$T/r.out" 2>"$T/r.err"
	ckpt_track_pid "$(cat "$T/r.pid")"
	grep -q "is another file now: connected to our fd 1" "$T/r.err"
	ctr_wait_count_above rc1 "$n"
	[[ $(cat "$T/rc1.out") == other ]]
	[[ $(readlink "/proc/$(cat "$T/r.pid")/fd/1") == "$T/r.out" ]]
}

# The base file of root directory $1 (rootfs-base.c: by its device and inode).
_base_file()
{
	printf '/run/ckpt-oci/rootfs-base/%x-%x' "$(stat -c %d "$1")" "$(stat -c %i "$1")"
}

@test "runtime: with the createRuntime hook, changes are found against the root's first state, deletions included" {
	local root=$T/rc1/rootfs fresh=$T/fresh pid n hooks

	hooks="{createRuntime: [{path: \"$CKPT_OCI\", args: [\"ckpt-oci\", \"hook\", \"createRuntime\"]}],
		poststop: [{path: \"$CKPT_OCI\", args: [\"ckpt-oci\", \"hook\", \"poststop\"]}]}"
	# the first command writes at once: a ctime bound from "created" could miss it
	ctr_create rc1 ".hooks = $hooks | .process.args = [\"sh\", \"-c\",
		\"echo first >/first; rm /etc/group; echo changed >/etc/passwd; mkdir /root/d;
		  echo f >/root/d/f; rm /bin/vi; $CTR_COUNTER\"]"
	ctr_start rc1
	ctr_wait_count_above rc1 1
	[[ -s $(_base_file "$root") ]]
	checkpoint -o "$T/ckpt" rc1
	assert_success
	[[ ! -e $(_base_file "$root") ]] # the container is gone, and so is its base
	[[ $(jq -r .since "$T/ckpt/rootfs-diff.json") == creation* ]]
	[[ $(jq -c '.deleted | sort' "$T/ckpt/rootfs-diff.json") == '["./bin/vi","./etc/group"]' ]]
	tar -tf "$T/ckpt/rootfs-diff.tar" | sort >"$T/list"
	for f in ./first ./etc/passwd ./root/d ./root/d/f ./tmp/count; do
		grep -qxE "$f/?" "$T/list" || fail "$f not in rootfs-diff.tar"
	done
	! grep -qx './bin/busybox' "$T/list" || fail "an unchanged file was taken"
	# onto a fresh copy of the image: what was deleted is deleted again
	cp -a "$(ctr_rootfs)" "$fresh"
	[[ -e $fresh/etc/group && -L $fresh/bin/vi ]]
	CTRS+=(rc2)
	n=$(ctr_count rc1)
	restore --rootfs "$fresh" --name rc2 "$T/ckpt"
	assert_success
	pid=$(out_pid)
	ckpt_track_pid "$pid"
	[[ ! -e $fresh/etc/group && ! -L $fresh/bin/vi ]]
	[[ $(cat "$fresh/first") == first && $(cat "$fresh/etc/passwd") == changed ]]
	[[ $(cat "$fresh/root/d/f") == f && -L $fresh/bin/sh ]]
	wait_until "${WL_TIMEOUT:-120}" _fresh_count_above "$fresh" "$n"
	# the restore took the base the next checkpoint compares with
	[[ -s $(_base_file "$fresh") ]]
	echo later >"$T/later" && cp "$T/later" "$fresh/root/later"
	checkpoint -R -o "$T/ckpt2" rc2
	assert_success
	[[ $(jq -c .deleted "$T/ckpt2/rootfs-diff.json") == '[]' ]]
	tar -tf "$T/ckpt2/rootfs-diff.tar" | grep -qx './root/later'
	! tar -tf "$T/ckpt2/rootfs-diff.tar" | grep -qx './first' || fail "./first was taken again"
}
