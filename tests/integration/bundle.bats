#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/bundle.bats - `ckpt-oci inspect` on a bundle written by
# the bundle API (tests/unit/mkbundle), and every way a damaged bundle must
# be refused: exit 1 with one line naming the problem.

load helpers
bats_require_minimum_version 1.5.0

MKBUNDLE=${MKBUNDLE:-$(dirname "$CKPT_OCI")/tests/unit/mkbundle}

mkb()
{
	[ -x "$MKBUNDLE" ] || skip "mkbundle not built ($MKBUNDLE)"
	"$MKBUNDLE" "$T/b"
}

# inspect must fail with exit 1 and exactly one line containing $1.
refused()
{
	run -1 "$CKPT_OCI" inspect "$T/b"
	assert_output --partial "$1"
	assert_output --regexp '^ckpt-oci: inspect: '
	[ "${#lines[@]}" -eq 1 ]
}

flip()
{
	# flip one byte in the middle of the file, keep its size
	local f=$T/b/$1 size off byte
	size=$(stat -c %s "$f")
	off=$((size / 2))
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte ^ 32)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

@test "bundle: inspect shows manifest, tree and tasks" {
	mkb
	run -0 "$CKPT_OCI" inspect "$T/b"
	assert_output --partial "format:    2.0"
	assert_output --partial "mac:       verified"
	assert_output --partial "pages-100.img"
	assert_output --partial "process tree (root 100)"
	assert_output --partial "task 101 (sleep)"
	assert_output --regexp "rip 0x0000000000401000"
	assert_output --partial "[stack]"
	assert_output --partial "/dev/null"
}

@test "bundle: inspect --json is one document" {
	mkb
	run -0 "$CKPT_OCI" inspect --json "$T/b"
	assert_output --partial '"manifest"'
	assert_output --partial '"tasks"'
	if command -v jq >/dev/null; then
		echo "$output" | jq -e '.tasks["100"].comm == "sh"'
	fi
}

@test "bundle: inspect --help" {
	run -0 "$CKPT_OCI" inspect --help
	assert_output --partial "usage: ckpt-oci inspect"
}

@test "bundle: a flipped byte in any file is refused" {
	mkb
	local f
	for f in pstree.json task-100.json task-101.json pages-100.img pages-101.img; do
		rm -rf "$T/b" && mkb
		flip "$f"
		refused "$f: checksum mismatch: corrupt bundle"
	done
}

@test "bundle: a truncated file is refused" {
	mkb
	truncate -s 100 "$T/b/pages-101.img"
	refused "pages-101.img: size 100, manifest says 16384: truncated or corrupt"
}

@test "bundle: an extra file is refused" {
	mkb
	echo '{}' >"$T/b/evil.json"
	refused "evil.json: extra file not listed in the manifest"
}

@test "bundle: a missing file is refused" {
	mkb
	rm "$T/b/task-100.json"
	refused "task-100.json: missing from the bundle"
}

@test "bundle: a ../ path in the manifest is refused" {
	mkb
	sed -i 's|"name": "pstree.json"|"name": "../pstree.json"|' "$T/b/manifest.json"
	refused "file \`../pstree.json\`: path escapes the bundle"
}

@test "bundle: format version 99 is refused" {
	mkb
	sed -i 's|"major": 2|"major": 99|' "$T/b/manifest.json"
	refused "bundle format 99.0 is not supported (this ckpt-oci reads 2.x and 3.x)"
}

@test "bundle: a missing bundle is refused" {
	run -1 "$CKPT_OCI" inspect "$T/nope"
	assert_output --partial "nope"
	[ "${#lines[@]}" -eq 1 ]
}

# ---- crafted bundles: restore refuses them before it makes anything --------
# The manifest's sums are checksums, not a MAC: a bundle edited and resealed
# passes them, and the typed readers must refuse what it says.

# A checkpoint of the tree workload (root, A, B, grandchild G) to edit.
tree_bundle()
{
	require_root
	[ -x "$MKBUNDLE" ] || skip "mkbundle not built ($MKBUNDLE)"
	wl_start tree || return
	ckpt_checkpoint || return
	ROOT=$(jq '.root' "$T/bundle/pstree.json")
	PIDS=$(jq '.tasks[].threads[]' "$T/bundle/pstree.json")
}

# edit FILE JQ-FILTER: rewrite one document, then make the manifest true again.
edit()
{
	jq "$2" "$T/bundle/$1" >"$T/edit.json" || return
	mv "$T/edit.json" "$T/bundle/$1"
	"$MKBUNDLE" --reseal "$T/bundle"
}

# restore_refused MSG: one line with MSG, exit 1, and no pid of the tree
# taken by a process born since the restore began (one that held it before
# is not the restore's).
restore_refused()
{
	local pid marks=() m

	for pid in $PIDS; do
		marks+=("$(pid_mark "$pid")")
	done
	run -1 clean_exec timeout -k 5 60 "$CKPT_OCI" restore "$T/bundle"
	assert_output --partial "$1"
	assert_output --regexp '^ckpt-oci: restore: '
	[ "${#lines[@]}" -eq 1 ] || fail "more than one line: $output"
	for m in "${marks[@]}"; do
		! pid_taken_since "$m" || fail "pid ${m%%:*} exists after a refused restore"
	done
}

@test "bundle: restore refuses a thread with the pid of another process" {
	tree_bundle
	edit pstree.json '.tasks[1].threads += [.tasks[0].pid]'
	restore_refused "pstree.json: tasks[1]: id $ROOT is used twice"
}

@test "bundle: restore refuses a thread with tid 1 (taken on the host)" {
	tree_bundle
	local pid
	pid=$(jq '.tasks[1].pid' "$T/bundle/pstree.json")
	edit pstree.json '.tasks[1].threads += [1]'
	edit "task-$pid.json" '.threads += [.threads[0] | .tid = 1]'
	restore_refused "pid 1 is taken"
}

@test "bundle: restore refuses a task list that disagrees with pstree.json" {
	tree_bundle
	local pid
	pid=$(jq '.tasks[1].pid' "$T/bundle/pstree.json")
	edit "task-$pid.json" '.threads[0].tid = 1'
	restore_refused "task-$pid.json: threads[0].tid: 1 is out of range $pid..$pid"
}

@test "bundle: restore refuses a ppid loop" {
	tree_bundle
	edit pstree.json '.tasks[1].ppid = .tasks[-1].pid'
	restore_refused "pstree.json: tasks[1].ppid:"
	assert_output --partial "is not a task before this one in the tree"
}

@test "bundle: restore refuses a root not in the task list" {
	tree_bundle
	edit pstree.json '.root = 4000000'
	restore_refused "pstree.json: root: 4000000 is not the first task ($ROOT)"
}

@test "bundle: restore refuses a duplicated task" {
	tree_bundle
	edit pstree.json '.tasks += [.tasks[1]]'
	restore_refused "is used twice"
}

@test "bundle: restore refuses overlapping VMAs" {
	tree_bundle
	edit "task-$ROOT.json" '.vmas[1].start = .vmas[0].start'
	restore_refused "task-$ROOT.json: vmas[1]:"
	assert_output --partial "overlaps or precedes the VMA before"
}

@test "bundle: restore refuses a VMA outside the user address range" {
	tree_bundle
	edit "task-$ROOT.json" '.vmas[-1].end = "0xffffffffff600000"'
	restore_refused "task-$ROOT.json: vmas["
	assert_output --partial "].end: 0xffffffffff600000 is out of range 0..0x7ffffffff000"
}

@test "bundle: restore refuses a pagemap run beyond the page image" {
	tree_bundle
	edit "pagemap-$ROOT.json" '.[0][2] = 100000'
	restore_refused "pagemap-$ROOT.json: [0]: pages 100000.."
	assert_output --partial "are past the end of the image"
}

@test "bundle: restore refuses a negative shared memory size" {
	tree_bundle
	edit "task-$ROOT.json" '(.vmas[] | select(.kind == "shmem") | .shm_size) = -1'
	restore_refused "].shm_size: -1 is out of range 0..70368744177664"
}
