#!/usr/bin/env bats
# tests/integration/seal.bats - bundles compressed (--compress zstd) and
# encrypted (--encrypt KEY): the restored workload verifies all its memory;
# compressible memory takes at most a third of its size; the wrong key, no
# key, or one byte altered in a page image or a document is refused with
# one line before anything is restored; inspect cannot read an encrypted
# bundle without its key and says why.

load helpers
bats_require_minimum_version 1.5.0

# textmem: 48 MiB of log-like text and 4 MiB of noise
TEXT_MIB=48
NOISE_MIB=4

mkkey()
{
	head -c 32 /dev/urandom >"$1" && chmod 600 "$1"
}

# seal_roundtrip "CHECKPOINT-ARGS" "RESTORE-ARGS" NAME [ARGS...]
seal_roundtrip()
{
	local ck=$1 rs=$2
	shift 2
	wl_start "$@" || return
	# shellcheck disable=SC2086 # the arguments are words on purpose
	ckpt_checkpoint $ck || return
	# shellcheck disable=SC2086
	ckpt_restore_bg $rs || return
	wl_go || return
	wl_finish
}

# The plain and stored sizes of the one pages image, from the manifest.
pages_sizes()
{
	python3 - "$T/bundle/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
f = [f for f in m["files"] if f["name"].startswith("pages-")][0]
print(f.get("plain_size", f["size"]), f["size"])
EOF
}

# Restore must fail at once with one line containing $1, the workload not back.
refused()
{
	local want=$1 before
	shift
	before=$(pid_mark "$WL_PID")
	run -1 clean_exec timeout 60 "$CKPT_OCI" restore "$@" "$T/bundle"
	assert_output --partial "$want"
	assert_output --regexp '^ckpt-oci: restore: '
	[ "${#lines[@]}" -eq 1 ]
	! pid_taken_since "$before"
}

flip_at()
{
	local f=$1 off=$2 byte
	byte=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "$(printf '\\%03o' $((byte ^ 32)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none
}

@test "seal: --compress zstd roundtrip, memory verified, a third of the size or less" {
	local plain stored
	seal_roundtrip "--compress zstd" "" textmem "$TEXT_MIB" "$NOISE_MIB"
	read -r plain stored < <(pages_sizes)
	echo "pages: $plain bytes plain, $stored stored"
	# the noise does not compress: the text must, to under a third
	((stored - NOISE_MIB * 1048576 < (plain - NOISE_MIB * 1048576) / 3))
	((stored < plain * 2 / 5))
	run -0 "$CKPT_OCI" inspect "$T/bundle"
	assert_output --partial "format:    3.0"
	assert_output --partial "sealed:    zstd,"
}

@test "seal: --compress zstd:3 and pipe data, static workload" {
	seal_roundtrip "--compress zstd:3" "" fd_pipeline.static
	run -0 "$CKPT_OCI" inspect "$T/bundle"
	assert_output --partial "sealed:    zstd,"
	assert_output --regexp 'pipe-[0-9]+\.img \([0-9]+ bytes plain\)'
	assert_output --regexp 'files\.json \([0-9]+ bytes plain\)'
}

@test "seal: --encrypt roundtrip (compressed too), memory verified" {
	mkkey "$T/ek"
	seal_roundtrip "--compress zstd --encrypt $T/ek" "--decrypt $T/ek" \
		textmem "$TEXT_MIB" "$NOISE_MIB"
	# nothing of the text is left in clear in any file
	run grep -rl "worker-" "$T/bundle"
	[ "$status" -eq 1 ]
	run -0 "$CKPT_OCI" inspect --decrypt "$T/ek" "$T/bundle"
	assert_output --partial "sealed:    zstd+xchacha20poly1305 (key id "
	assert_output --partial "task $WL_PID (textmem)"
}

@test "seal: --encrypt alone, documents encrypted too" {
	mkkey "$T/ek"
	seal_roundtrip "--encrypt $T/ek" "--encrypt $T/ek" textmem 8
	run grep -l '"pid"' "$T"/bundle/*.json
	[ "$status" -eq 1 ]
	grep -q '"encrypt": "xchacha20poly1305"' "$T/bundle/manifest.json"
}

@test "seal: the wrong key, or none, is refused before anything is restored" {
	mkkey "$T/ek"
	mkkey "$T/other"
	wl_start textmem 8 || return
	ckpt_checkpoint --encrypt "$T/ek"
	refused "encrypted with another key (key id" --decrypt "$T/other"
	refused "encrypted (xchacha20poly1305, key id"
	refused "give --decrypt KEYFILE"
}

@test "seal: one byte altered in a page image or a document is refused" {
	local size
	mkkey "$T/ek"
	wl_start textmem 8 || return
	ckpt_checkpoint --compress zstd --encrypt "$T/ek"
	cp -a "$T/bundle" "$T/good"
	size=$(stat -c %s "$T/bundle/pages-$WL_PID.img")
	flip_at "$T/bundle/pages-$WL_PID.img" $((size / 2))
	refused "pages-$WL_PID.img: checksum mismatch" --decrypt "$T/ek"
	refused "pages-$WL_PID.img: checksum mismatch" --decrypt "$T/ek" \
		--insecure-unauthenticated
	rm -rf "$T/bundle"
	cp -a "$T/good" "$T/bundle"
	flip_at "$T/bundle/files.json" 60
	refused "files.json: checksum mismatch" --decrypt "$T/ek"
	# and the untouched copy still restores
	rm -rf "$T/bundle"
	mv "$T/good" "$T/bundle"
	ckpt_restore_bg --decrypt "$T/ek" || return
	wl_go || return
	wl_finish
}

@test "seal: inspect cannot read an encrypted bundle without its key, and says why" {
	mkkey "$T/ek"
	wl_start textmem 8 || return
	ckpt_checkpoint --encrypt "$T/ek"
	run -1 "$CKPT_OCI" inspect "$T/bundle"
	assert_output --regexp '^ckpt-oci: inspect: bundle .*: encrypted \(xchacha20poly1305, key id [0-9a-f]{16}\): give --decrypt KEYFILE'
	[ "${#lines[@]}" -eq 1 ]
	run -1 "$CKPT_OCI" inspect --json "$T/bundle"
	assert_output --partial "give --decrypt KEYFILE"
	run -0 "$CKPT_OCI" inspect --json --decrypt "$T/ek" "$T/bundle"
	assert_output --partial '"tasks"'
}

@test "seal: checkpoint refuses a bad --compress or key file" {
	wl_start textmem 1 || return
	run -1 "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle" --compress lz4
	run -1 "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle" --compress zstd:0
	head -c 32 /dev/urandom >"$T/loose"
	chmod 644 "$T/loose"
	run -1 "$CKPT_OCI" checkpoint --pid "$WL_PID" -o "$T/bundle" --encrypt "$T/loose"
	assert_output --partial "must be ours and 0600"
	[ ! -e "$T/bundle" ]
	pid_running "$WL_MARK"
}
