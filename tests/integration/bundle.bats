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
	assert_output --partial "format:    1.0"
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
	sed -i 's|"major": 1|"major": 99|' "$T/b/manifest.json"
	refused "bundle format 99.0 is not supported (this ckpt-oci reads 1.x)"
}

@test "bundle: a missing bundle is refused" {
	run -1 "$CKPT_OCI" inspect "$T/nope"
	assert_output --partial "nope"
	[ "${#lines[@]}" -eq 1 ]
}
