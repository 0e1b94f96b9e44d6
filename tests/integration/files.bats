#!/usr/bin/env bats
# tests/integration/files.bats - file descriptors across checkpoint/restore:
# every fd kind round-trips (dynamic and static builds), verified from inside
# the workload; unsupported kinds fail the checkpoint and leave it running.

load helpers

@test "files: shared descriptions, flags, offsets (dynamic)" { wl_roundtrip fd_shared; }
@test "files: shared descriptions, flags, offsets (static)" { wl_roundtrip fd_shared.static; }
@test "files: unlinked file and directory (dynamic)" { wl_roundtrip fd_ghost; }
@test "files: unlinked file and directory (static)" { wl_roundtrip fd_ghost.static; }
@test "files: fifo with queued data (dynamic)" { wl_roundtrip fd_fifo; }
@test "files: fifo with queued data (static)" { wl_roundtrip fd_fifo.static; }
@test "files: eventfd counter and semaphore (dynamic)" { wl_roundtrip fd_eventfd; }
@test "files: eventfd counter and semaphore (static)" { wl_roundtrip fd_eventfd.static; }
@test "files: signalfd mask (dynamic)" { wl_roundtrip fd_signalfd; }
@test "files: signalfd mask (static)" { wl_roundtrip fd_signalfd.static; }
@test "files: timerfd fires on time (dynamic)" { wl_roundtrip fd_timerfd; }
@test "files: timerfd fires on time (static)" { wl_roundtrip fd_timerfd.static; }
@test "files: epoll watches (dynamic)" { wl_roundtrip fd_epoll; }
@test "files: epoll watches (static)" { wl_roundtrip fd_epoll.static; }
@test "files: epoll watches that outlive their fds (dynamic)" { wl_roundtrip fd_epoll_closed; }
@test "files: epoll watches that outlive their fds (static)" { wl_roundtrip fd_epoll_closed.static; }
@test "files: inotify watches (dynamic)" { wl_roundtrip fd_inotify; }
@test "files: inotify watches (static)" { wl_roundtrip fd_inotify.static; }
@test "files: memfd content and seals (dynamic)" { wl_roundtrip fd_memfd; }
@test "files: memfd content and seals (static)" { wl_roundtrip fd_memfd.static; }
@test "files: POSIX, OFD and flock locks (dynamic)" { wl_roundtrip fd_locks; }
@test "files: POSIX, OFD and flock locks (static)" { wl_roundtrip fd_locks.static; }
@test "files: pidfd of a child (dynamic)" { wl_roundtrip fd_pidfd; }
@test "files: pidfd of a child (static)" { wl_roundtrip fd_pidfd.static; }
@test "files: unix socketpairs across processes (dynamic)" { wl_roundtrip fd_unix_pair; }
@test "files: unix socketpairs across processes (static)" { wl_roundtrip fd_unix_pair.static; }
@test "files: unix listener, pending connection, bound datagrams (dynamic)" { wl_roundtrip fd_unix_listen; }
@test "files: unix listener, pending connection, bound datagrams (static)" { wl_roundtrip fd_unix_listen.static; }
@test "files: producer | filter | consumer mid-flight (dynamic)" { wl_roundtrip fd_pipeline; }
@test "files: producer | filter | consumer mid-flight (static)" { wl_roundtrip fd_pipeline.static; }
@test "files: tree passes an fd over a unix socket after restore (dynamic)" { wl_roundtrip fd_unix_passfd; }
@test "files: tree passes an fd over a unix socket after restore (static)" { wl_roundtrip fd_unix_passfd.static; }
@test "files: POSIX and OFD locks seen by another process of the tree (dynamic)" { wl_roundtrip fd_locks_shared; }
@test "files: POSIX and OFD locks seen by another process of the tree (static)" { wl_roundtrip fd_locks_shared.static; }
@test "files: read and write leases, broken after restore (dynamic)" { wl_roundtrip fd_lease; }
@test "files: read and write leases, broken after restore (static)" { wl_roundtrip fd_lease.static; }
@test "files: sparse unlinked file and memfd keep their holes; offsets and mtimes kept (dynamic)" { wl_roundtrip fd_sparse; }
@test "files: sparse unlinked file and memfd keep their holes; offsets and mtimes kept (static)" { wl_roundtrip fd_sparse.static; }
@test "files: /proc files held open are made for the restored tree (dynamic)" { wl_roundtrip fd_proc; }
@test "files: /proc files held open are made for the restored tree (static)" { wl_roundtrip fd_proc.static; }
@test "files: O_PATH fds, a symlink opened O_PATH|O_NOFOLLOW (dynamic)" { wl_roundtrip fd_opath; }
@test "files: O_PATH fds, a symlink opened O_PATH|O_NOFOLLOW (static)" { wl_roundtrip fd_opath.static; }
@test "files: a deleted FIFO and a deleted directory held open (dynamic)" { wl_roundtrip fd_deleted; }
@test "files: a deleted FIFO and a deleted directory held open (static)" { wl_roundtrip fd_deleted.static; }
@test "files: a pidfd whose process is gone (dynamic)" { wl_roundtrip fd_pidfd_gone; }
@test "files: a pidfd whose process is gone (static)" { wl_roundtrip fd_pidfd_gone.static; }
@test "files: a cwd that is a deleted directory (dynamic)" { wl_roundtrip fd_cwd_deleted; }
@test "files: a cwd that is a deleted directory (static)" { wl_roundtrip fd_cwd_deleted.static; }
@test "files: status flags, close-on-exec and O_ASYNC owners of every fd (dynamic)" { wl_roundtrip fd_flags; }
@test "files: status flags, close-on-exec and O_ASYNC owners of every fd (static)" { wl_roundtrip fd_flags.static; }
# Each worker holds a connection to the parent with bytes in flight both ways.
@test "files: a TCP listener and a UDP socket shared by 4 forked workers (dynamic)" { wl_roundtrip_tcp inet_prefork; }
@test "files: a TCP listener and a UDP socket shared by 4 forked workers (static)" { wl_roundtrip_tcp inet_prefork.static; }
@test "files: inet socket options, v6only, freebind and reuseport bindings (dynamic)" { wl_roundtrip inet_sockopt; }
@test "files: inet socket options, v6only, freebind and reuseport bindings (static)" { wl_roundtrip inet_sockopt.static; }
@test "files: a root (chroot) that is a deleted directory (dynamic)" { wl_roundtrip fd_root_deleted; }
@test "files: a root (chroot) that is a deleted directory (static)" { wl_roundtrip fd_root_deleted.static; }
@test "files: a root (chroot) that is a deleted directory, the cwd elsewhere (dynamic)" {
	wl_roundtrip fd_root_deleted elsewhere
}
@test "files: a root (chroot) that is a deleted directory, the cwd elsewhere (static)" {
	wl_roundtrip fd_root_deleted.static elsewhere
}
@test "files: a deleted directory held by two descriptions and a dup, an unlinked file in it (dynamic)" { wl_roundtrip fd_deleted_dir_twice; }
@test "files: a deleted directory held by two descriptions and a dup, an unlinked file in it (static)" { wl_roundtrip fd_deleted_dir_twice.static; }
@test "files: a deleted directory and an unlinked file in it on a tmpfs of the tree's own mount namespace" {
	wl_roundtrip_ns "--mount" fd_deleted_dir_twice tmpfs
}
@test "files: fds on namespaces of every kind (dynamic)" { wl_roundtrip fd_nsfd; }
@test "files: fds on namespaces of every kind (static)" { wl_roundtrip fd_nsfd.static; }
@test "files: fds on namespaces of every kind, own namespaces" {
	wl_roundtrip_ns "--net --uts --ipc --mount" fd_nsfd
}
@test "files: memory device nodes the program made, deleted while open or not (dynamic)" { wl_roundtrip fd_dev_deleted; }
@test "files: memory device nodes the program made, deleted while open or not (static)" { wl_roundtrip fd_dev_deleted.static; }
@test "files: an inotify watch on an unlinked file held open (dynamic)" { wl_roundtrip fd_inotify_deleted; }
@test "files: an inotify watch on an unlinked file held open (static)" { wl_roundtrip fd_inotify_deleted.static; }

# ---- outside views -----------------------------------------------------------

@test "files: an inet socket with data it cannot carry fails the checkpoint and leaves the tree running" {
	wl_start fd_inet || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(inet socket\) in pid $WL_PID: UDP-Lite socket with datagrams queued"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_inet after the failed checkpoint"
}

@test "files: a corked UDP socket with data pending fails the checkpoint, tree runs on" {
	wl_start inet_udp_cork || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(inet socket\) in pid $WL_PID: UDP_CORK with data pending"
	[[ ${#lines[@]} -eq 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "inet_udp_cork after the failed checkpoint"
}

@test "files: a netlink socket with an answer unread fails the checkpoint and leaves the tree running" {
	wl_start fd_netlink_queued || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(netlink socket\) in pid $WL_PID: messages queued"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_netlink_queued after the failed checkpoint"
}

# What sockets cannot carry: refused in one line, the socket untouched after.
sock_refused()
{
	wl_start fd_sock_filter_refused "$1" || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \\($2 socket\\) in pid $WL_PID: $3"
	[[ ${#lines[@]} -eq 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_sock_filter_refused $1 after the failed checkpoint"
}
@test "files: a UDP socket with an eBPF filter fails the checkpoint, the filter stays" {
	sock_refused ebpf inet "eBPF socket filter \\(SO_ATTACH_BPF\\)"
}
@test "files: a netlink socket with an eBPF filter fails the checkpoint, the filter stays" {
	sock_refused ebpf_nl netlink "eBPF socket filter \\(SO_ATTACH_BPF\\)"
}
@test "files: a unix socket with a classic BPF filter fails the checkpoint, the filter stays" {
	sock_refused unix unix "socket filter \\(SO_ATTACH_FILTER\\)"
}
@test "files: a netlink socket with a dump in progress fails the checkpoint, the dump goes on" {
	sock_refused nldump netlink "messages queued \\(a dump in progress, not read to its end\\)"
}

@test "files: a packet socket with a PACKET_MMAP ring fails the checkpoint and leaves the tree running" {
	wl_start fd_packet_ring || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(packet socket\) in pid $WL_PID: PACKET_MMAP ring"
	[[ ${#lines[@]} -eq 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_packet_ring after the failed checkpoint"
}

@test "files: a file changed on disk is refused, then restored with --ignore-file-changes" {
	wl_start fd_file_changed || return
	ckpt_checkpoint || return
	echo more >>"$T/changed.txt"
	run clean_exec "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --partial "changed.txt\` changed since the checkpoint"
	ckpt_restore_bg --ignore-file-changes || return
	wl_go || return
	wl_finish
}

# files_tamper JQ-FILTER DOC: a copy of $T/bundle with DOC edited by the
# filter and the manifest's sums recomputed, as a crafted bundle would be;
# the restore must refuse it (before the tree exists, or once it does) and
# leave no process of the tree behind.
files_tamper()
{
	local filter=$1 doc=$2 marks

	rm -rf "$T/evil"
	cp -a "$T/bundle" "$T/evil"
	jq "$filter" "$T/bundle/$doc" >"$T/evil/$doc" || return
	"$(dirname "$CKPT_OCI")/tests/unit/mkbundle" --reseal "$T/evil" || return
	marks=$(files_tree_marks)
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore "$T/evil"
	assert_failure || return
	files_tree_gone "$marks"
}

# The pid_mark of each pid of the bundle's tree, now.
files_tree_marks()
{
	local p

	for p in $(jq '.tasks[].pid' "$T/bundle/pstree.json"); do
		pid_mark "$p"
	done
}

# files_tree_gone MARKS: no pid of the bundle's tree is taken by a process
# born since MARKS (files_tree_marks before the restore), alive or a zombie
# waiting for a late reaper: the failed restore left nothing. A program that
# held such a pid before is not the restore's (the checkpoint freed them).
files_tree_gone()
{
	local m p

	for m in $1; do
		p=${m%%:*}
		! pid_taken_since "$m" ||
			fail "pid $p of the tree is left: $(grep -E '^(State|PPid):' "/proc/$p/status" | tr -s '\t\n' '  ')"
	done
}

@test "files: sizes, counts, fd numbers, offsets and flags out of range are refused by name" {
	require_cmd jq
	wl_start fd_pipeline || return
	ckpt_checkpoint || return
	local task
	task=$(cd "$T/bundle" && ls task-*.json | head -1)
	files_tamper '.pipes[0].size = -1' files.json
	assert_output --regexp 'files\.json: pipes\[0\]\.size: -1 is out of range 0\.\.[0-9]+'
	files_tamper '.pipes[0].bytes = 1e15 | .pipes[0].bytes |= floor' files.json
	assert_output --regexp 'files\.json: pipes\[0\]\.bytes: [0-9]+ is out of range'
	files_tamper '.fds[0].fd = 4000000000' "$task"
	assert_output --regexp "$task: fds\\[0\\]\\.fd: 4000000000 is out of range"
	files_tamper '.fds[0].pos = -5' "$task"
	assert_output --regexp "$task: fds\\[0\\]\\.pos: -5 is out of range"
	files_tamper '.fds[0].flags = 1073741824' "$task"
	assert_output --regexp "$task: fds\\[0\\]\\.flags: 1073741824 is out of range"
	files_tamper '.fds[0].kind = "nosuch"' "$task"
	assert_output --partial "$task: fds[0].kind: unknown kind \`nosuch\`"
	files_tamper '.fds[1].fd = .fds[0].fd' "$task"
	assert_output --regexp "$task: fds: fd [0-9]+ saved twice"
	files_tamper 'del(.fds[0].flags)' "$task"
	assert_output --partial "$task: fds[0].flags: missing"
	# valid documents that fail once the tree exists (a child cannot enter
	# its cwd): the failed child and its siblings are gone with the restore
	task=task-$(jq '.tasks[1].pid' "$T/bundle/pstree.json").json
	files_tamper '.cwd = "/nonexistent-dir"' "$task"
	assert_output --regexp 'task [0-9]+: chdir `/nonexistent-dir`: No such file or directory'
	# their pids are free at once: the bundle itself restores and passes
	ckpt_restore_bg
	wl_go
	wl_finish
}

@test "files: a namespace kind or a removed device a bundle makes up is refused by name" {
	require_cmd jq
	local task
	wl_start fd_nsfd || return
	ckpt_checkpoint || return
	task=$(cd "$T/bundle" && ls task-*.json | head -1)
	files_tamper '(.fds[] | select(.kind == "nsfd" and .fd == 3) | .ns) = "../fd/0"' "$task"
	assert_output --regexp "$task: fds\\[[0-9]+\\]\\.ns: unknown namespace kind .\\.\\./fd/0."
	ckpt_teardown
	ckpt_setup
	wl_start fd_dev_deleted || return
	ckpt_checkpoint || return
	task=$(cd "$T/bundle" && ls task-*.json | head -1)
	files_tamper '(.fds[] | select(.kind == "chr" and .major == 1 and .minor == 3) | .major) = 8' "$task"
	assert_output --partial "device 8:3 is not a memory device"
}

@test "files: an O_ASYNC owner that is a second thread fails the checkpoint, tree runs on" {
	wl_start fd_flags thread || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(O_ASYNC owner is a thread other than its process's first, tid [0-9]+\) in pid $WL_PID"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_flags thread after the failed checkpoint"
}

@test "files: an fd on a namespace no task is in fails the checkpoint, tree runs on" {
	wl_start fd_nsfd gone || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(uts namespace [0-9]+ that pid $WL_PID is not in: its content is not saved\) in pid $WL_PID"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_nsfd gone after the failed checkpoint"
}

@test "files: an epoll watching a closed fd whose number another file took fails the checkpoint, tree runs on" {
	wl_start fd_epoll_closed taken || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(epoll watching a closed fd [0-9]+ whose number another file took\) in pid $WL_PID"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_epoll_closed taken after the failed checkpoint"
}

@test "files: an inotify watch on an unlinked file no fd holds (only mapped) fails the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(inotify watch on unlinked inode [0-9]+ that no fd of the tree holds: restored, it would end at once\) in pid [0-9]+" \
		fd_inotify_deleted mapped
}

@test "files: a lease being broken fails the checkpoint, tree runs on" {
	wl_start fd_lease breaking || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(lease being broken\) in pid $WL_PID"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_lease breaking after the failed checkpoint"
}

# files_stat_above PATH: mode, owner and times of the directories PATH is in,
# up to $T (times of those above may move with other work on the machine:
# their mode and owner only).
files_stat_above()
{
	local p
	p=$(dirname "$1")
	while [[ $p != / ]]; do
		if [[ $p == "$T" || $p == "$T"/* ]]; then
			stat -c '%n %a %u %g %x %y' "$p"
		else
			stat -c '%n %a %u %g' "$p"
		fi
		p=$(dirname "$p")
	done
}

# files_attrs NAME [PATH [ARGS]]: NAME's round trip; the directories above PATH
# ($T/attrs/sock: every path of fd_attrs the restore makes, opens or binds)
# are as they were before the restore.
files_attrs()
{
	local before after path=${2:-$T/attrs/sock}
	wl_start "$1" "${@:3}" || return
	ckpt_checkpoint || return
	# the harness's and ckpt-oci's own files (its log beside the bundle)
	# exist already: they add no entry
	: >"$T/restore.out"
	: >"$T/restore.err"
	: >"$T/restore.log"
	before=$(files_stat_above "$path")
	ckpt_restore_bg || return
	wl_go || return
	wl_finish || return
	after=$(files_stat_above "$path")
	[[ $before == "$after" ]] || fail "directories changed by the restore:
before:
$before
after:
$after"
}

@test "files: files restore makes are the originals (owner, mode, times), directories above unchanged (dynamic)" {
	files_attrs fd_attrs
}

@test "files: files restore makes are the originals (owner, mode, times), directories above unchanged (static)" {
	files_attrs fd_attrs.static
}

@test "files: a deleted directory and an unlinked file in it made again leave the directories above as they were" {
	files_attrs fd_deleted_dir_twice "$T/twice-dir"
}

@test "files: deleted device nodes made again leave the directories above as they were" {
	files_attrs fd_dev_deleted "$T/my-null"
}

@test "files: an unlinked file above --ghost-limit fails the checkpoint clearly" {
	wl_start fd_ghost || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle" --ghost-limit 4K
	assert_failure
	assert_output --partial "more than the ghost limit of 4096"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_ghost after the failed checkpoint"
}

@test "files: inspect lists each fd with its kind and key state" {
	wl_start fd_epoll || return
	ckpt_checkpoint || return
	run clean_exec "$CKPT_OCI" inspect "$T/bundle"
	assert_success
	assert_output --regexp "epoll +rw,cloexec desc [0-9]+ 3 watches"
	assert_output --regexp "eventfd +rw,nonblock desc [0-9]+ count 0"
	assert_output --regexp "pipe +r desc [0-9]+ pipe [0-9]+ read end"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "files: inspect lists namespace fds with their kind" {
	wl_start fd_nsfd || return
	ckpt_checkpoint || return
	run clean_exec "$CKPT_OCI" inspect "$T/bundle"
	assert_success
	assert_output --regexp "nsfd +r +net namespace"
	assert_output --regexp "nsfd +r,cloexec +mnt namespace"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# Start NAME [ARGS], expect the checkpoint to fail with one line matching
# REGEXP ($1), no bundle, the tree untraced and still passing after the go.
_refused()
{
	local regexp=$1
	shift
	wl_start "$@" || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "$regexp"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	grep -q '^TracerPid:[[:space:]]*0$' "/proc/$WL_PID/status" || fail "still traced"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "$1 after the failed checkpoint"
}

@test "files: bytes in a not yet accepted unix connection fail the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(unix socket with unaccepted connection holding queued data\) in pid [0-9]+" \
		fd_unix_refused pending-data
}

@test "files: a not yet accepted unix connection of a closed client fails the checkpoint" {
	_refused "unsupported fd [0-9]+ \(unix socket with unaccepted connection from a closed client\) in pid [0-9]+" \
		fd_unix_refused pending-closed
}

@test "files: a unix stream socket with SO_PASSCRED holding queued bytes fails the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(unix stream socket with SO_PASSCRED holding queued bytes whose writers' credentials restore cannot carry\) in pid [0-9]+" \
		fd_unix_refused passcred
}

@test "files: a bound unix datagram socket connected to a peer that closed fails the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(bound unix datagram socket connected to a peer that has closed\) in pid [0-9]+" \
		fd_unix_refused dgram-dead-peer
}
@test "files: BPF maps held as fds fail the checkpoint in one line, tree runs on (dynamic)" {
	_refused "unsupported fd [0-9]+ \(anon_inode:bpf-map\) in pid [0-9]+" fd_bpf_map
}

@test "files: BPF maps held as fds fail the checkpoint in one line, tree runs on (static)" {
	_refused "unsupported fd [0-9]+ \(anon_inode:bpf-map\) in pid [0-9]+" fd_bpf_map.static
}

@test "files: unread inotify events fail the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(inotify with [0-9]+ bytes of unread events\) in pid [0-9]+" \
		fd_inotify_queued
}

@test "files: a pending unix connection from outside the tree fails the checkpoint" {
	local line fd
	wl_start fd_unix_refused listen || return
	mkfifo "$T/client" || return
	# a client outside the tree: connects, says so, holds the connection
	(clean_exec /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected", flush=True)
time.sleep(3600)' "$T/refused.sock" </dev/null >"$T/client" 2>&1) &
	ckpt_track_pid $!
	exec {fd}<"$T/client"
	read -t 30 -u "$fd" line
	exec {fd}<&-
	[[ $line == connected ]] || fail "client: $line"
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported unix socket [0-9]+: pending connection from socket [0-9]+ outside the tree"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_unix_refused listen after the failed checkpoint"
}

@test "files: a unix socket connected to a server outside the tree fails the checkpoint" {
	local line fd
	mkfifo "$T/server" || return
	# a server outside the tree: listens, echoes one message back, holds on
	(clean_exec /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept(); c.sendall(c.recv(16)); time.sleep(3600)' "$T/ext.sock" </dev/null >"$T/server" 2>&1) &
	ckpt_track_pid $!
	exec {fd}<"$T/server"
	read -t 30 -u "$fd" line
	exec {fd}<&-
	[[ $line == listening ]] || fail "server: $line"
	wl_start fd_unix_kinds external || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported unix socket [0-9]+: connected to socket [0-9]+ outside the tree"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_unix_kinds external after the failed checkpoint"
}

# a datagram server outside the tree at $T/extd.sock answering "pong"
_ext_dgram_server()
{
	local line fd
	mkfifo "$T/server" || return
	(clean_exec /usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    m, a = s.recvfrom(16)
    s.sendto(b"pong", a)' "$T/extd.sock" </dev/null >"$T/server" 2>&1) &
	ckpt_track_pid $!
	exec {fd}<"$T/server"
	read -t 30 -u "$fd" line
	exec {fd}<&-
	[[ $line == listening ]] || fail "server: $line"
}

@test "files: a datagram unix socket connected outside the tree is refused without --ext-unix-sk" {
	_ext_dgram_server || return
	_refused "unsupported unix socket [0-9]+: connected to socket [0-9]+ outside the tree \(--ext-unix-sk reconnects by name\)" \
		fd_unix_kinds ext-dgram
}

@test "files: --ext-unix-sk connects a datagram unix socket to its server outside again (dynamic)" {
	_ext_dgram_server || return
	wl_start fd_unix_kinds ext-dgram || return
	ckpt_checkpoint --ext-unix-sk || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

@test "files: --ext-unix-sk connects a datagram unix socket to its server outside again (static)" {
	_ext_dgram_server || return
	wl_start fd_unix_kinds.static ext-dgram || return
	ckpt_checkpoint --ext-unix-sk || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}

# ---- POSIX message queue descriptors -----------------------------------------

# Remove the queue fd_mqueue made as pid $1 in the host's IPC namespace.
_mq_unlink()
{
	/usr/bin/python3 -c 'import ctypes, sys
sys.exit(ctypes.CDLL(None, use_errno=True).mq_unlink(sys.argv[1].encode()) != 0)' \
		"/ckpt-wl-fdmq-$1"
}

@test "files: mqueue fds with queued messages, own IPC namespace (dynamic)" {
	wl_roundtrip_ns "--ipc" fd_mqueue
}
@test "files: mqueue fds with queued messages, own IPC namespace (static)" {
	wl_roundtrip_ns "--ipc" fd_mqueue.static
}

@test "files: mqueue fds in the host's IPC namespace reopen the queue by name" {
	wl_roundtrip fd_mqueue
}

@test "files: a host mqueue gone before restore is a clear error" {
	wl_start fd_mqueue || return
	ckpt_checkpoint || return
	run _mq_unlink "$WL_PID"
	assert_success || return
	run clean_exec "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --partial "POSIX message queue \`/ckpt-wl-fdmq-$WL_PID\` is gone from the host's IPC namespace"
}

@test "files: an mqueue with an mq_notify registration fails the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(POSIX message queue \`/ckpt-wl-fdmq-[0-9]+\` with an mq_notify\(\) registration of pid [0-9]+\) in pid [0-9]+" \
		fd_mqueue notify
}

# ---- inotify and fanotify ----------------------------------------------------

@test "files: unread inotify events: one line of error, the tree runs on with its event" {
	wl_start fd_inotify_queued || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	((${#lines[@]} == 1)) || fail "not one line: $output"
	assert_output --regexp "^ckpt-oci: checkpoint $WL_PID: task $WL_PID: unsupported fd [0-9]+ \(inotify with [0-9]+ bytes of unread events\) in pid $WL_PID\$"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_inotify_queued after the failed checkpoint"
}

@test "files: fanotify groups with inode marks and ignore masks (dynamic)" { wl_roundtrip fd_fanotify; }
@test "files: fanotify groups with inode marks and ignore masks (static)" { wl_roundtrip fd_fanotify.static; }
@test "files: fanotify mount and filesystem marks on a private tmpfs" {
	wl_roundtrip_ns "--mount" fd_fanotify mount
}
@test "files: unread fanotify events fail the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(fanotify with [0-9]+ bytes of unread events, refused rather than made again: their pids and event fds would be ckpt-oci's\) in pid [0-9]+" \
		fd_fanotify queued
}
@test "files: a fanotify group of a permission class fails the checkpoint, tree runs on" {
	_refused "unsupported fd [0-9]+ \(fanotify with permission events\) in pid [0-9]+" \
		fd_fanotify perm
}

# ---- unix sockets: fds in flight, relative names -----------------------------

@test "files: fds in flight in unix queues (dynamic)" { wl_roundtrip fd_unix_inflight; }
@test "files: fds in flight in unix queues (static)" { wl_roundtrip fd_unix_inflight.static; }
@test "files: fds in flight, --leave-running twice, then restored" {
	wl_start fd_unix_inflight || return
	ckpt_checkpoint --leave-running || return
	rm -rf "$T/bundle"
	ckpt_checkpoint --leave-running || return
	rm -rf "$T/bundle"
	ckpt_checkpoint || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
@test "files: an epoll in flight, its watches on the socket and eventfd the tree holds" {
	wl_roundtrip fd_unix_inflight epoll
}
@test "files: an epoll in flight, its watches on the socket and eventfd the tree holds (static)" {
	wl_roundtrip fd_unix_inflight.static epoll
}
@test "files: an epoll in flight watching a file only in flight after it fails the checkpoint, tree runs on" {
	_refused "fds in flight in unix socket [0-9]+: unsupported epoll in flight watching fd [0-9]+ \(inode [0-9]+\), neither a unix socket nor a description saved before it \(a file in flight after it, a socket of another kind\)" \
		fd_unix_inflight epoll-late
}
@test "files: the pre-restore fd_unix_refused inflight mode round-trips" {
	wl_roundtrip fd_unix_refused inflight
}
@test "files: unix sockets bound to relative paths, cwd changed since (dynamic)" {
	wl_roundtrip fd_unix_relative
}
@test "files: unix sockets bound to relative paths, cwd changed since (static)" {
	wl_roundtrip fd_unix_relative.static
}
@test "files: unconnected unix sockets, bound and unbound, of each type (dynamic)" { wl_roundtrip fd_unix_kinds unconnected; }
@test "files: unconnected unix sockets, bound and unbound, of each type (static)" { wl_roundtrip fd_unix_kinds.static unconnected; }
@test "files: seqpacket pairs and connections keep their queued records (dynamic)" { wl_roundtrip fd_unix_kinds seqpacket; }
@test "files: seqpacket pairs and connections keep their queued records (static)" { wl_roundtrip fd_unix_kinds.static seqpacket; }
@test "files: queued data on unix sockets whose peer is closed, then EOF (dynamic)" { wl_roundtrip fd_unix_kinds orphan; }
@test "files: queued data on unix sockets whose peer is closed, then EOF (static)" { wl_roundtrip fd_unix_kinds.static orphan; }
@test "files: unix sockets bound to a deleted path and to one a FIFO took (dynamic)" { wl_roundtrip fd_unix_kinds gone; }
@test "files: unix sockets bound to a deleted path and to one a FIFO took (static)" { wl_roundtrip fd_unix_kinds.static gone; }
@test "files: connected unix sockets keep their own and their peer's names (dynamic)" { wl_roundtrip fd_unix_names; }
@test "files: connected unix sockets keep their own and their peer's names (static)" { wl_roundtrip fd_unix_names.static; }
@test "files: queued unix datagrams keep their senders' names (dynamic)" { wl_roundtrip fd_unix_dgram_from; }
@test "files: queued unix datagrams keep their senders' names (static)" { wl_roundtrip fd_unix_dgram_from.static; }
@test "files: queued unix datagrams keep the credentials SO_PASSCRED shows (dynamic)" { wl_roundtrip fd_unix_dgram_from passcred; }
@test "files: queued unix datagrams keep the credentials SO_PASSCRED shows (static)" { wl_roundtrip fd_unix_dgram_from.static passcred; }
@test "files: queued unix datagrams with credentials in a tree with its own pid namespace fail the checkpoint, tree runs on" {
	wl_start_ns "" fd_unix_dgram_from passcred || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(unix datagram socket with SO_PASSCRED holding messages whose senders' credentials cannot be restored: the tree has its own pid or user namespace\) in pid $WL_PID"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_NS_PARENT" "fd_unix_dgram_from passcred after the failed checkpoint"
}
@test "files: datagram sockets whose closed peer's abstract name was bound again since round-trip, sends refused (dynamic)" {
	wl_roundtrip fd_unix_dgram_from retaken
}
@test "files: datagram sockets whose closed peer's abstract name was bound again since round-trip, sends refused (static)" {
	wl_roundtrip fd_unix_dgram_from.static retaken
}
@test "files: a failed sock_diag receive fails the checkpoint, never reads as a name not held" {
	wl_start fd_unix_dgram_from || return
	run clean_exec env CKPT_OCI_FAULT=unix-diag-recv "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "sock_diag dump of unix sockets: receive: No buffer space available"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_unix_dgram_from after the failed checkpoint"
}
@test "files: a queued unix datagram from a closed socket bound to a relative path fails the checkpoint" {
	_refused "unsupported unix socket [0-9]+: a datagram queued from a relative name no socket of the tree holds" \
		fd_unix_dgram_from relative
}
@test "files: a unix client whose closed server end had a relative name fails the checkpoint" {
	_refused "unsupported unix socket [0-9]+: its closed peer was bound to a relative path" \
		fd_unix_names relative
}
# dgram_sender NAME TO [hold]: a socket outside the tree bound to NAME (@ for
# an abstract one) sends "out" to TO, then holds on (hold) or closes; its
# pid in SENDER_PID once it sent.
dgram_sender()
{
	local line fd
	rm -f "$T/sender"
	mkfifo "$T/sender" || return
	(clean_exec /usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1].encode().replace(b"@", b"\0", 1))
if sys.argv[2]: s.sendto(b"out", sys.argv[2])
print("sent", flush=True)
if sys.argv[3]: time.sleep(3600)' \
		"$1" "$2" "${3:-}" </dev/null >"$T/sender" 2>&1) &
	SENDER_PID=$!
	ckpt_track_pid "$SENDER_PID"
	exec {fd}<"$T/sender"
	read -t 30 -u "$fd" line
	exec {fd}<&-
	[[ $line == sent ]] || fail "sender: $line"
}

# outside_sender MODE NAME REGEXP: a queued datagram from NAME (PID: the
# tree's), held by a socket outside the tree, fails the checkpoint in one
# line; the tree runs on.
outside_sender()
{
	wl_start fd_unix_dgram_from "$1" || return
	dgram_sender "${2/PID/$WL_PID}" "$T/out.sock" hold || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "$3"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
	WL_GO_MARK=$WL_MARK wl_go || return
	_wl_wait_pass "$WL_PID" "fd_unix_dgram_from $1 after the failed checkpoint"
}
@test "files: a queued unix datagram from an abstract name held outside the tree fails the checkpoint" {
	outside_sender outside "@ckpt-from-PID-outside" \
		"unsupported unix socket [0-9]+: a datagram queued from an abstract name a socket outside the tree holds"
}
@test "files: a queued unix datagram from a path held outside the tree fails the checkpoint" {
	outside_sender outside-path "$T/ext.sock" \
		"unsupported unix socket [0-9]+: a datagram queued from a path a socket outside the tree holds \(restore would move its file aside\)"
}
@test "files: restore never moves aside the file of a unix name a live socket outside holds" {
	local ino
	wl_start fd_unix_dgram_from outside-path || return
	dgram_sender "$T/ext.sock" "$T/out.sock" || return
	ckpt_checkpoint || return
	# since, a socket outside took the sender's path
	rm -f "$T/ext.sock"
	dgram_sender "$T/ext.sock" "" hold || return
	ino=$(stat -c %i "$T/ext.sock") || return
	run clean_exec timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --regexp "unix name .$T/ext.sock. is held by a live socket: its file is not moved aside to bind there for an instant"
	[[ $(grep -c . <<<"$output") == 1 ]] || fail "more than one line: $output"
	[[ $(stat -c %i "$T/ext.sock") == "$ino" ]] || fail "ext.sock is not the holder's file"
	! compgen -G "$T/ext.sock.ckpt-aside-*" >/dev/null || fail "a file was left aside"
	# the holder gone (its file left), the restore goes through
	kill "$SENDER_PID" || return
	wait "$SENDER_PID" 2>/dev/null || true
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
@test "files: a relative unix name whose file was renamed fails the checkpoint clearly" {
	wl_start fd_unix_relative || return
	mv "$T/rel/l.sock" "$T/rel/renamed.sock" || return
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle"
	assert_failure
	assert_output --regexp "unsupported fd [0-9]+ \(unix socket bound to relative path \`l.sock\`, its file is now \`$T/rel/renamed.sock\`\) in pid $WL_PID"
	[[ ! -e $T/bundle ]] || fail "a bundle was left behind"
	pid_running "$WL_MARK" || fail "the tree did not survive"
}

# fdinfo of the workload's periodic timerfd (fd 3) once its first expiry
# passed unread: it_value (0, 0), ticks 1.
_timerfd_fired()
{
	grep -qx 'ticks: 1' "/proc/$WL_PID/fdinfo/3" &&
		grep -qx 'it_value: (0, 0)' "/proc/$WL_PID/fdinfo/3"
}
@test "files: a periodic timerfd expired and unread at checkpoint keeps its interval" {
	wl_start fd_timerfd || return
	# its 3 s first expiry passes, unread (the workload waits for its go)
	wait_until 10 _timerfd_fired || fail "the timerfd never fired: $(cat "/proc/$WL_PID/fdinfo/3")" || return
	ckpt_checkpoint || return
	ckpt_restore_bg || return
	wl_go || return
	wl_finish
}
