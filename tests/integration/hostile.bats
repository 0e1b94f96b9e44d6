#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/hostile.bats - bundles crafted to write to the host.
# The attacker edits a bundle and recomputes every size and digest and even
# a MAC, with a key of their own (mkbundle --reseal FILE KEY): restore
# refuses it, by the MAC, before anything is made. With the override
# (--insecure-unauthenticated) the path rules refuse what they cover: a
# container's root directory and runtime state root never come from the
# bundle. Each test checks that the host paths aimed at are as they were
# (mode, owner, content) and that no process of the tree is left.
#
# With the override, the credential rule: a task of the bundle opens,
# creates, binds and unlinks what it owns as itself (fsuid, fsgid, groups,
# no filesystem capability it lacks), and outside a container no task may
# claim root. Those tests restore a workload that ran as nobody: an
# unaltered bundle of it comes back; one aimed at a live host socket, at
# host directories (absolute names, `..`), at a host file through a shared
# mapping or an fd open for writing, or at a file to create in a host
# directory is refused, the host directories (mode, owner, times) and
# files as they were, no process left.

load helpers
load container
bats_require_minimum_version 1.5.0

MKBUNDLE=${MKBUNDLE:-$(dirname "$CKPT_OCI")/tests/unit/mkbundle}

setup()
{
	ckpt_setup
	require_root
	[ -x "$MKBUNDLE" ] || skip "mkbundle not built ($MKBUNDLE)"
	head -c 32 /dev/urandom >"$T/evil.key" && chmod 600 "$T/evil.key"
}

teardown()
{
	[[ -n ${RUNC_ROOT:-} ]] && ctr_teardown
	[[ -n ${ETC_SOCK:-} ]] && rm -f "$ETC_SOCK"
	ckpt_teardown
}

# attack FILE JQ-FILTER: rewrite one document of $T/bundle, then make the
# manifest and its MAC true again with the attacker's key.
attack()
{
	jq "$2" "$T/bundle/$1" >"$T/edit.json" || return
	mv "$T/edit.json" "$T/bundle/$1"
	"$MKBUNDLE" --reseal "$T/bundle" "$T/evil.key"
}

# snap PATH...: mode, owner, size and content digest of each, as a line each.
snap()
{
	local p

	for p in "$@"; do
		if [[ -e $p || -L $p ]]; then
			echo "$p $(stat -c '%F %a %U:%G %s %i' "$p") $( [[ -f $p ]] && sha256sum <"$p")"
		else
			echo "$p absent"
		fi
	done
}

# refused_by_mac [ARGS...]: restore $T/bundle is refused in one line naming
# the MAC, and the pids of the checkpointed tree stay free.
refused_by_mac()
{
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore "$@" "$T/bundle"
	assert_output --regexp '^ckpt-oci: restore: bundle `.*`: MAC does not verify: altered after it was written, or written with another key \(key id [0-9a-f]{16}, ours [0-9a-f]{16}\)$'
	no_tree_left
}

# tree_pid PID: PID is taken by a process this test made: a fork of the
# restore (its command line names $T/bundle) or a task of the tree (the
# workload's environment names $T/ready and $T/go), or one that cannot tell
# any more (a zombie, a task whose memory is being replaced). Pids wrap fast
# on a busy machine: a pid of the checkpointed tree freed at the checkpoint
# may be any other program's by now, and that one is not left by us.
tree_pid()
{
	local status cmd env

	status=$(awk '/^(State|Kthread):/ { print $1 $2 }' "/proc/$1/status" 2>/dev/null)
	[[ $status == *State:* && $status != *Kthread:1* ]] || return 1
	[[ $status != *State:Z* ]] || return 0
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")
	env=$(tr '\0' '\n' 2>/dev/null <"/proc/$1/environ")
	[[ $cmd == *"$T/"* || $env == *"$T/"* ]] && return 0
	# nothing to read: being replaced, or exited since
	[[ -z $cmd && -e /proc/$1 ]]
}

# No pid of a process tree, no restore of this bundle still running, no
# container in this test's runc root.
no_tree_left()
{
	local pid

	for pid in $PIDS; do
		! tree_pid "$pid" || fail "pid $pid exists after a refused restore"
	done
	! pgrep -f "restore.* $T/bundle" >/dev/null || fail "a restore is left: $(pgrep -af "$T/bundle")"
	[[ -z ${RUNC_ROOT:-} || -z $("$RUNC" --root "$RUNC_ROOT" list -q 2>/dev/null) ]] ||
		fail "runc knows: $("$RUNC" --root "$RUNC_ROOT" list -q)"
}

# hex of a unix socket name as files.json keeps it (with its final NUL).
sun_hex()
{
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n'
	printf '00'
}

# A live host daemon's socket: a listener bound at $1, pid VICTIM_PID.
victim_socket()
{
	python3 -c 'import socket,sys,os,signal
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
open(sys.argv[1]+".up","w").close(); signal.pause()' "$1" </dev/null >/dev/null 2>&1 &
	VICTIM_PID=$!
	VICTIM_MARK=$(pid_mark "$VICTIM_PID")
	ckpt_track_pid "$VICTIM_PID"
	wait_until 10 test -e "$1.up"
}

process_bundle()
{
	wl_start "$1" || return
	ckpt_checkpoint || return
	PIDS=$(jq '.tasks[].threads[]' "$T/bundle/pstree.json")
}

@test "hostile: the host key is root's, 0600, in a 0700 directory; inspect says what the MAC check found" {
	process_bundle fd_unix_listen
	[[ $(stat -c '%a %U' /etc/ckpt-oci) == "700 root" ]]
	[[ $(stat -c '%a %U %s' /etc/ckpt-oci/bundle.key) == "600 root 32" ]]
	run -0 "$CKPT_OCI" inspect "$T/bundle"
	assert_line --index 0 "mac:       verified (written with this key, not altered since)"
	run -0 "$CKPT_OCI" inspect --key "$T/evil.key" "$T/bundle"
	assert_line --index 0 --partial "mac:       BAD"
	attack pstree.json .
	run -0 "$CKPT_OCI" inspect --json "$T/bundle"
	[[ $(jq -r .mac <<<"$output") == bad ]]
	chmod 644 "$T/evil.key"
	run -1 clean_exec "$CKPT_OCI" restore --key "$T/evil.key" "$T/bundle"
	assert_output --partial "mode 0644: must be ours and 0600"
	rm "$T/bundle/manifest.mac"
	run -0 "$CKPT_OCI" inspect "$T/bundle"
	assert_line --index 0 "mac:       none: not authenticated"
	run -1 clean_exec "$CKPT_OCI" restore "$T/bundle"
	assert_output --regexp 'not authenticated: no manifest.mac'
	[ "${#lines[@]}" -eq 1 ]
	no_tree_left
}

@test "hostile: a unix socket named after a live host socket: refused, the daemon keeps it" {
	local victim=$T/daemon.sock before

	victim_socket "$victim"
	before=$(snap "$victim" "$T")
	process_bundle fd_unix_listen
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$victim")\""
	refused_by_mac
	assert_equal "$(snap "$victim" "$T")" "$before"
	pid_running "$VICTIM_MARK"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$victim"
}

@test "hostile: socket files in host directories (absolute name, ..): refused, nothing made" {
	local abs=/tmp/ckpt-hostile-$$.sock dotdot=$T/a/../../ckpt-hostile-dd-$$.sock before

	before=$(snap /tmp "$abs" "${dotdot%/*}/ckpt-hostile-dd-$$.sock")
	process_bundle fd_unix_listen
	cp -a "$T/bundle" "$T/orig"
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$abs")\""
	refused_by_mac
	rm -rf "$T/bundle" && cp -a "$T/orig" "$T/bundle"
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$dotdot")\""
	refused_by_mac
	assert_equal "$(snap /tmp "$abs" "${dotdot%/*}/ckpt-hostile-dd-$$.sock")" "$before"
}

@test "hostile: a negative size in files.json: refused by the MAC, then by the typed reader" {
	nobody_bundle fd_shared
	attack files.json '.pipes[0].bytes = -1'
	refused_by_mac
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated "$T/bundle"
	assert_line --index 0 --partial "MAC does not verify"
	assert_line --index 1 --regexp '^ckpt-oci: restore: .*files.json: pipes\[0\]\.bytes: -1 is out of range 0\.\.'
	[ "${#lines[@]}" -eq 2 ]
	no_tree_left
}

@test "hostile: a shared file mapping pointed at a host file: refused, the file unchanged" {
	local victim=$T/host-file before

	seq 1 5000 >"$victim"
	chmod 640 "$victim"
	before=$(snap "$victim")
	process_bundle file_mappings
	local task
	task=$(grep -l '"shared": true' "$T"/bundle/task-*.json | head -1)
	[[ -n $task ]] || fail "no shared file mapping in the bundle"
	attack "${task##*/}" "(.vmas[] | select(.shared == true and .kind == \"file\")).path = \"$victim\""
	refused_by_mac
	assert_equal "$(snap "$victim")" "$before"
}

@test "hostile: an fd open for writing pointed at a host file (O_CREAT in a host directory): refused" {
	local victim=$T/host-file made=/tmp/ckpt-hostile-creat-$$ before

	seq 1 100 >"$victim"
	before=$(snap "$victim" "$made" /tmp)
	process_bundle fd_shared
	local task
	task=$(grep -l 'shared.txt' "$T"/bundle/task-*.json | head -1)
	attack "${task##*/}" "(.fds[] | select(.path? and (.path | endswith(\"shared.txt\")))).path = \"$victim\""
	refused_by_mac
	attack "${task##*/}" "(.fds[] | select(.path? == \"$victim\")).path = \"$made\""
	refused_by_mac
	assert_equal "$(snap "$victim" "$made" /tmp)" "$before"
}

# ---- containers: oci.json's host locations ------------------------------

# A runc container checkpointed by name into $T/bundle, its root directory
# copied first (the copy a --rootfs restore needs).
container_bundle()
{
	ctr_setup
	CTRS+=(hb1)
	ctr_run_counter hb1 || return
	checkpoint -o "$T/bundle" hb1
	assert_success || return
	PIDS= # the container's own pid namespace: its pids say nothing here
	cp -a "$T/hb1/rootfs" "$T/fresh"
}

# The host's /tmp, a file in it the tar would make, and the runtime roots.
host_state()
{
	snap /tmp /tmp/ckpt-hostile-tar-$$ /etc /etc/hb1 /etc/hb2 /run/runc/hb1 /run/runc/hb2 \
		"$RUNC_ROOT/hb1" "$RUNC_ROOT/hb2"
}

@test "hostile: oci.json rootfs \"/\" with a tar for /tmp: refused by the MAC, then by the path rules" {
	local before

	container_bundle || return
	# the tar makes /tmp 0755 and drops a file there, if it lands on the host's /
	mkdir -p "$T/evil/tmp" && chmod 755 "$T/evil/tmp" && echo pwned >"$T/evil/tmp/ckpt-hostile-tar-$$"
	tar -C "$T/evil" -cf "$T/bundle/rootfs-diff.tar" ./tmp
	before=$(host_state)
	attack oci.json '.state.config.rootfs = "/"'
	refused_by_mac --root "$RUNC_ROOT"
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
		--root "$RUNC_ROOT" "$T/bundle"
	assert_output "ckpt-oci: restore: an unauthenticated bundle does not choose the container's root directory (it names \`/\`): give --rootfs DIR"
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs / "$T/bundle"
	assert_output "ckpt-oci: restore: root directory \`/\` is the host's /, not a container's"
	# a link to / is the host's / too
	ln -s / "$T/slash"
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/slash" "$T/bundle"
	assert_output --partial "is the host's /, not a container's"
	assert_equal "$(host_state)" "$before"
	no_tree_left
}

@test "hostile: oci.json runtime root \"/etc\": refused by the MAC; with the override it is only a name" {
	local before

	container_bundle || return
	before=$(host_state)
	attack oci.json '.root = "/etc" | .id = "hb2"'
	refused_by_mac
	assert_equal "$(host_state)" "$before"
	no_tree_left
	# unauthenticated, onto a copy of the image, under the root the command line names
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/fresh" --pid-file "$T/r.pid" "$T/bundle"
	assert_success
	CTRS+=(hb2)
	ckpt_track_pid "$(cat "$T/r.pid")"
	[[ -e $RUNC_ROOT/hb2/state.json ]]
	[[ ! -e /etc/hb2 && ! -e /run/runc/hb2 ]]
	# what would run on the host at `runc delete` is dropped
	[[ $(jq -c '.config.hooks' "$RUNC_ROOT/hb2/state.json") == "{}" ]]
}

@test "hostile: mounts.json naming a host directory as the container's root: refused by the MAC, then by the path rules" {
	local before

	container_bundle || return
	before=$(host_state)
	[[ $(jq -r '.mounts[] | select(.mountpoint == "/") | .kind' "$T/bundle/mounts.json") == external ]] ||
		fail "the root mount is not external: $(jq -c .mounts[0] "$T/bundle/mounts.json")"
	attack mounts.json '(.mounts[] | select(.mountpoint == "/")).host_path = "/etc"'
	refused_by_mac --root "$RUNC_ROOT" --rootfs "$T/fresh"
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/fresh" "$T/bundle"
	assert_output "ckpt-oci: restore: an unauthenticated bundle does not choose mount sources: mount \`/\` from \`/etc\`: give --mount-map /etc=DIR"
	assert_equal "$(host_state)" "$before"
	no_tree_left
}

@test "hostile: a device node in rootfs-diff.tar: refused by the MAC, then by the path rules, the root untouched" {
	local before

	container_bundle || return
	mkdir -p "$T/evil/tmp" && echo x >"$T/evil/tmp/a-file" && mknod "$T/evil/tmp/z-disk" b 7 0
	tar -C "$T/evil" -cf "$T/bundle/rootfs-diff.tar" ./tmp
	attack rootfs-diff.json .
	before=$(snap "$T/fresh/tmp" "$T/fresh/tmp/a-file" "$T/fresh/tmp/z-disk")
	refused_by_mac --root "$RUNC_ROOT" --rootfs "$T/fresh"
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/fresh" "$T/bundle"
	assert_line --index 1 --partial "rootfs: \`tmp/z-disk\`: a device node from an unauthenticated bundle"
	assert_equal "$(snap "$T/fresh/tmp" "$T/fresh/tmp/a-file" "$T/fresh/tmp/z-disk")" "$before"
	[[ -z $(ls -d "$T"/.ckpt-oci-rootfs.* 2>/dev/null) ]] || fail "staging directory left"
	no_tree_left
}

@test "hostile: rootfs-diff.tar planting a link out of the root and writing through it: nothing lands outside" {
	local before

	container_bundle || return
	mkdir -p "$T/outside" "$T/evil/tmp" "$T/evil2/x" && echo orig >"$T/outside/keep"
	ln -s "$T/outside" "$T/evil/tmp/link"
	echo pwned >"$T/evil2/x/pwned"
	tar -C "$T/evil" -cf "$T/bundle/rootfs-diff.tar" ./tmp
	tar -C "$T/evil2" -rf "$T/bundle/rootfs-diff.tar" --transform 's,^\./x,./tmp/link,' ./x/pwned
	tar -tvf "$T/bundle/rootfs-diff.tar" | grep -q 'tmp/link/pwned' || fail "the tar lacks tmp/link/pwned"
	attack rootfs-diff.json .
	before=$(snap "$T/outside" "$T/outside/keep" "$T/outside/pwned")
	refused_by_mac --root "$RUNC_ROOT" --rootfs "$T/fresh"
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/fresh" --pid-file "$T/r.pid" "$T/bundle"
	if [[ $status -eq 0 ]]; then
		CTRS+=(hb1)
		ckpt_track_pid "$(cat "$T/r.pid")"
	fi
	assert_equal "$(snap "$T/outside" "$T/outside/keep" "$T/outside/pwned")" "$before"
	[[ -z $(ls -d "$T"/.ckpt-oci-rootfs.* 2>/dev/null) ]] || fail "staging directory left"
}

@test "hostile: rootfs-diff.json deleting paths out of the root: refused by the MAC, then by the path rules" {
	local before bad

	container_bundle || return
	mkdir -p "$T/outside" && echo orig >"$T/outside/keep"
	ln -s "$T/outside" "$T/fresh/escape"
	cp -r "$T/bundle" "$T/good"
	before=$(snap "$T/outside" "$T/outside/keep" /etc/hostname)
	for bad in ../outside/keep ./../../outside/keep /etc/hostname ./tmp/../../outside/keep; do
		rm -rf "$T/bundle" && cp -r "$T/good" "$T/bundle"
		attack rootfs-diff.json ".deleted = [\"$bad\"]"
		refused_by_mac --root "$RUNC_ROOT" --rootfs "$T/fresh"
		run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated \
			--root "$RUNC_ROOT" --rootfs "$T/fresh" "$T/bundle"
		assert_output --partial "rootfs: deleted path \`$bad\`"
		assert_equal "$(snap "$T/outside" "$T/outside/keep" /etc/hostname)" "$before"
		no_tree_left
	done
	# through a link planted in the root: resolved inside it, where nothing is
	rm -rf "$T/bundle" && cp -r "$T/good" "$T/bundle"
	attack rootfs-diff.json '.deleted = ["./escape/keep"]'
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore -d --insecure-unauthenticated \
		--root "$RUNC_ROOT" --rootfs "$T/fresh" --pid-file "$T/r.pid" "$T/bundle"
	if [[ $status -eq 0 ]]; then
		CTRS+=(hb1)
		ckpt_track_pid "$(cat "$T/r.pid")"
	fi
	assert_success
	assert_equal "$(snap "$T/outside" "$T/outside/keep" /etc/hostname)" "$before"
}

# ---- the credential rule, with the override ------------------------------

# snapt PATH...: snap, with the modification and change times.
snapt()
{
	local p

	for p in "$@"; do
		echo "$(snap "$p") $(stat -c '%y %z' "$p" 2>/dev/null)"
	done
}

# wl_start_nobody NAME [ARGS...]: wl_start, the workload as nobody (uid and
# gid 65534, no groups, no capabilities), $T its own; $T/host a root
# directory (0755) with a root file (0644) in it, the host as nobody sees it.
wl_start_nobody()
{
	local name=$1 fd line bin
	shift

	require_cmd setpriv
	bin=$(wl_bin_unprivileged "$name") || return
	mkdir -m 755 "$T/host" && seq 1 1000 >"$T/host/file" && chmod 644 "$T/host/file"
	mkdir "$T/a" && touch "$T/out" && mkfifo "$T/ready" "$T/go" &&
		chown 65534:65534 "$T" "$T/a" "$T/out" "$T/ready" "$T/go" || return
	(
		_close_fds
		cd "$T" || exit 1
		WL_READY=$T/ready WL_GO=$T/go exec setpriv --reuid=65534 --regid=65534 \
			--clear-groups "$bin" "$@"
	) </dev/null >>"$T/out" 2>&1 &
	WL_PID=$!
	WL_MARK=$(pid_mark "$WL_PID")
	ckpt_track_pid "$WL_PID"
	exec {fd}<>"$T/ready"
	line=$(_read_ready "$fd" "$WL_MARK")
	exec {fd}<&-
	[[ ${line:-} == ready ]] || fail "workload $name as nobody did not say ready"
}

# nobody_bundle NAME: a checkpoint of NAME run as nobody; PIDS its tree.
nobody_bundle()
{
	wl_start_nobody "$1" || return
	[[ $(stat -c %u "/proc/$WL_PID") == 65534 ]] || fail "the workload is not nobody's"
	ckpt_checkpoint || return
	PIDS=$(jq '.tasks[].threads[]' "$T/bundle/pstree.json")
}

# refused_unauth REGEX: the restore with the override fails, its last line
# matching REGEX, and leaves no process.
refused_unauth()
{
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated "$T/bundle"
	assert_line --index 0 --partial "MAC does not verify"
	assert_line --index -1 --regexp "$1"
	no_tree_left
}

# pids_gone PID...: none of them in use any more by a process of this
# test (tree_pid: a zombie counts as in use).
pids_gone()
{
	local pid

	for pid in "$@"; do
		! tree_pid "$pid" || return 1
	done
}

@test "hostile override: a restore killed before it seizes its confined tree leaves no task alive" {
	# each task made its files as nobody and back: a change of credentials
	# that clears the parent-death signal, set again after it
	nobody_bundle fd_pipeline
	attack pstree.json .
	run clean_exec env CKPT_OCI_FAULT=kill-self:KILL:1 timeout -k 5 60 \
		"$CKPT_OCI" restore --insecure-unauthenticated "$T/bundle"
	[[ $status -eq 137 ]] || fail "not killed at its first ptrace call: status $status: $output"
	# they die with their parents; init reaps them
	# shellcheck disable=SC2086 # one pid a word
	wait_until 10 pids_gone $PIDS || fail "tasks left: $(ps -o pid=,ppid=,stat= -p "${PIDS//$'\n'/,}")"
}

@test "hostile override: an unaltered bundle of a task run as nobody comes back as nobody" {
	nobody_bundle fd_unix_listen
	attack pstree.json .
	ckpt_restore_bg --insecure-unauthenticated
	wl_go
	wl_finish
}

@test "hostile override: tasks claiming root outside a container: refused before anything is made" {
	local task

	nobody_bundle fd_shared
	task=$(ls "$T"/bundle/task-*.json | head -1)
	attack "${task##*/}" '.threads[0].creds.uids = [0, 0, 0, 0]'
	refused_unauth "thread [0-9]+ claims root \(uid 0\): an unauthenticated bundle restores no task with root's powers outside a container$"
	attack "${task##*/}" '.threads[0].creds.uids = [65534, 65534, 65534, 65534] | .threads[0].creds.cap_eff = 2'
	refused_unauth "claims root \(capabilities\)"
	# a workload that ran as root is refused as it is
	rm -rf "$T/bundle" "$T/ready" "$T/go"
	wl_start fd_shared
	ckpt_checkpoint
	PIDS=$(jq '.tasks[].threads[]' "$T/bundle/pstree.json")
	attack pstree.json .
	refused_unauth "claims root \(uid 0\)"
}

@test "hostile override: a unix socket named after a live host socket: not unlinked, the daemon keeps it" {
	local victim=$T/daemon.sock before

	nobody_bundle fd_unix_listen
	# nobody could unlink it ($T is nobody's): the recorded inode is what stops it
	victim_socket "$victim"
	before=$(snapt "$victim" "$T/host")
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$victim")\""
	refused_unauth "bind unix socket to \`$victim\`: a socket file is there that is not the socket file checkpointed .*: left alone$"
	assert_equal "$(snapt "$victim" "$T/host")" "$before"
	pid_running "$VICTIM_MARK"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$victim"
}

@test "hostile override: socket files in host directories (absolute name, ..): refused as nobody, nothing made" {
	local abs=/etc/ckpt-hostile-$$.sock dotdot=$T/a/../host/dd.sock before

	nobody_bundle fd_unix_listen
	ETC_SOCK=$abs
	before=$(snapt /etc "$abs" "$T/host" "$T/host/dd.sock")
	cp -a "$T/bundle" "$T/orig"
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$abs")\""
	refused_unauth "bind unix socket to \`$abs\`: Permission denied$"
	rm -rf "$T/bundle" && cp -a "$T/orig" "$T/bundle"
	attack files.json "(.unix[] | select(.state == 10)).name = \"$(sun_hex "$dotdot")\""
	refused_unauth "bind unix socket to \`$dotdot\`: Permission denied$"
	assert_equal "$(snapt /etc "$abs" "$T/host" "$T/host/dd.sock")" "$before"
}

@test "hostile override: a shared file mapping pointed at a host file: opened as nobody, refused" {
	local victim=$T/host/file before task

	nobody_bundle file_mappings
	before=$(snapt "$victim" "$T/host")
	task=$(grep -l '"shared": true' "$T"/bundle/task-*.json | head -1)
	[[ -n $task ]] || fail "no shared file mapping in the bundle"
	attack "${task##*/}" "(.vmas[] | select(.shared == true and .kind == \"file\")).path = \"$victim\""
	refused_unauth "open \`$victim\` in the task: Permission denied$"
	assert_equal "$(snapt "$victim" "$T/host")" "$before"
}

@test "hostile override: an fd open for writing pointed at a host file, a file to create in a host directory: refused" {
	local victim=$T/host/file made=$T/host/made before task

	nobody_bundle fd_shared
	before=$(snapt "$victim" "$made" "$T/host")
	task=$(grep -l 'shared.txt' "$T"/bundle/task-*.json | head -1)
	cp -a "$T/bundle" "$T/orig"
	attack "${task##*/}" "(.fds[] | select(.path? and (.path | endswith(\"shared.txt\")))).path = \"$victim\""
	refused_unauth "\`$victim\`.*Permission denied$"
	rm -rf "$T/bundle" && cp -a "$T/orig" "$T/bundle"
	attack "${task##*/}" "(.fds[] | select(.path? and (.path | endswith(\"shared.txt\")))) |= (.path = \"$made\" | .flags = (.flags + 64))"
	refused_unauth "\`$made\`: No such file or directory$"
	assert_equal "$(snapt "$victim" "$made" "$T/host")" "$before"
}

@test "hostile override: a tree with its own mount namespace: every mount source from --mount-map" {
	local data

	data=$(mktemp -d /dev/shm/ckpt-hostile.XXXXXX)
	echo "from the host" >"$data/hello"
	mkdir "$T/root"
	wl_start_ns "--mount" ns_mnt_tree "$T/root" "$data" || { rm -rf "$data"; return 1; }
	ckpt_checkpoint || { rm -rf "$data"; return 1; }
	PIDS= # its own pid namespace: its pids say nothing here
	attack pstree.json .
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore --insecure-unauthenticated "$T/bundle"
	rm -rf "$data"
	assert_line --index 0 --partial "MAC does not verify"
	assert_line --index -1 --regexp "an unauthenticated bundle does not choose mount sources: mount \`[^\`]+\` from \`[^\`]+\`: give --mount-map [^ ]+=DIR$"
	no_tree_left
}
