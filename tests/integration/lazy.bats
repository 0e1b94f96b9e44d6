#!/usr/bin/env bats
# tests/integration/lazy.bats - restore --lazy: the tree resumes before its
# private memory is back; the workload checks every word of it while the
# lazy-pages process is still copying, after forking, dropping, moving and
# unmapping parts of it. A page image altered on disk is never handed to
# the program: the task is killed instead.

load helpers
bats_require_minimum_version 1.5.0

# The lazy-pages process logs its last line once every page is back.
lazy_done()
{
	grep -q "every page back" "$T/lazy-pages.log" 2>/dev/null
}

@test "lazy: lazy_mem, fork, DONTNEED, mremap, munmap while pages come (dynamic)" {
	wl_start lazy_mem || return
	ckpt_checkpoint || return
	[[ -f $T/bundle/pages-$WL_PID.img.sums ]]
	ckpt_restore_bg --lazy || return
	wl_go || return
	wl_finish || return
	wait_until 30 lazy_done
	grep -q "task $WL_PID: [0-9]* pages to come" "$T/lazy-pages.log"
}

@test "lazy: lazy_mem, fork, DONTNEED, mremap, munmap while pages come (static)" {
	wl_start lazy_mem.static || return
	ckpt_checkpoint || return
	ckpt_restore_bg --lazy || return
	wl_go || return
	wl_finish || return
	wait_until 30 lazy_done
}

pass_in_out()
{
	[[ $(tail -n 1 "$T/out" 2>/dev/null) == PASS ]]
}

@test "lazy: restore --lazy -d returns; the lazy-pages process outlives it" {
	wl_start bigmem 256 || return
	ckpt_checkpoint || return
	run clean_exec "$CKPT_OCI" restore --lazy -d "$T/bundle"
	assert_success
	[[ $output == "$WL_PID" ]]
	ckpt_track_pid "$WL_PID"
	WL_GO_MARK=$WL_MARK wl_go || return
	wait_until 60 pass_in_out || { ckpt_show_logs; fail "no PASS from the workload"; }
	wait_until 30 lazy_done
}

@test "lazy: a page image altered on disk kills the task, never feeds it" {
	wl_start bigmem 64 || return
	ckpt_checkpoint || return
	# one byte in the middle of the image: the manifest's digest no longer holds
	printf '\x5a' | dd of="$T/bundle/pages-$WL_PID.img" bs=1 seek=$((32 << 20)) \
		conv=notrunc status=none
	ckpt_restore_bg --lazy || return
	wl_go || return
	local st=0
	wait "$RESTORE_PID" || st=$?
	[[ $st -eq 137 ]] || { ckpt_show_logs; fail "restore status $st, want 137"; }
	grep -q "checksum mismatch" "$T/lazy-pages.log"
	[[ $(tail -n 1 "$T/out") != PASS ]]
	# an eager restore refuses it before anything is made
	run "$CKPT_OCI" restore "$T/bundle"
	assert_failure
	assert_output --partial "checksum mismatch"
}

# page_server_start BUNDLE [ARGS...]: a page server on a free port of
# 127.0.0.1 for BUNDLE; PS_ADDR is where it listens.
page_server_start()
{
	local b=$1
	shift
	(
		_close_fds
		exec "$CKPT_OCI" page-server --listen 127.0.0.1:0 --once "$@" "$b"
	) </dev/null >"$T/ps.out" 2>"$T/ps.err" &
	PS_PID=$!
	ckpt_track_pid "$PS_PID"
	wait_until 10 grep -q "^listening on " "$T/ps.out" || {
		cat "$T/ps.err"
		fail "page server did not listen"
	}
	PS_ADDR=$(awk '{print $3}' "$T/ps.out")
}

# A copy of the bundle without its page images: what a node that was sent
# only the documents holds.
docs_only()
{
	cp -a "$T/bundle" "$T/docs"
	rm "$T"/docs/pages-*.img
}

@test "lazy: pages from a page server, the documents alone here" {
	wl_start lazy_mem || return
	ckpt_checkpoint || return
	docs_only
	page_server_start "$T/bundle" || return
	(
		_close_fds
		exec "$CKPT_OCI" restore --lazy --page-server "$PS_ADDR" "$T/docs"
	) </dev/null >"$T/restore.out" 2>"$T/restore.err" &
	RESTORE_PID=$!
	RESTORE_MARK=$(pid_mark "$RESTORE_PID")
	ckpt_track_pid "$RESTORE_PID"
	wl_go || return
	wl_finish || return
	wait_until 30 lazy_done
	# --once: the server exits when both clients (restore, lazy-pages) are done
	wait "$PS_PID"
}

@test "lazy: a page server refuses a client without its key" {
	wl_start bigmem 16 || return
	ckpt_checkpoint || return
	docs_only
	head -c 32 /dev/urandom >"$T/other.key"
	chmod 600 "$T/other.key"
	# a server holding another key than the one the bundle was written with
	page_server_start "$T/bundle" --key "$T/other.key" --insecure-unauthenticated || return
	run "$CKPT_OCI" restore --lazy --page-server "$PS_ADDR" "$T/docs"
	assert_failure
	assert_output --partial "refused: this bundle's key is not the server's"
	grep -q "client refused" "$T/ps.err"
}

@test "lazy: a page server sends whole chunks of a bundle's image; a part of one is refused" {
	local img
	wl_start bigmem 16 || return
	head -c 32 /dev/urandom >"$T/k.key"
	chmod 600 "$T/k.key"
	ckpt_checkpoint --key "$T/k.key" || return
	img=$(cd "$T/bundle" && ls pages-*.img | head -n 1)
	page_server_start "$T/bundle" --key "$T/k.key" || return
	# a client of its own: a part (a live image's only) of a digest-checked
	# image is refused, the whole chunk sent, each with its status
	run python3 - "${PS_ADDR%:*}" "${PS_ADDR##*:}" "$T/k.key" "$img" <<'PY'
import hashlib, socket, struct, sys
host, port, keyf, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
key = open(keyf, "rb").read()
s = socket.create_connection((host, port))
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise SystemExit("server closed")
        b += c
    return b
hello = recv(8 + 32)
assert hello[:8] == b"CKPTPS02", hello[:8]
s.sendall(hashlib.blake2b(hello, digest_size=32, key=key).digest())
assert struct.unpack("<i", recv(4))[0] == 0
def ask(off, ln):
    s.sendall(name.encode().ljust(64, b"\0") + struct.pack("<QII", 0, off, ln))
    st, n = struct.unpack("<iI", recv(8))
    recv(n)
    return st, n
print("part", *ask(0, 4096))
print("whole", *ask(0, 0))
s.sendall(b"\0" * 64 + struct.pack("<QII", 2**64 - 1, 0, 0))
PY
	assert_success
	assert_line "part 22 0"
	assert_line --regexp "^whole 0 [1-9][0-9]*$"
	wait "$PS_PID"
}

# predump_to OUT [ARGS...]: checkpoint --pre-dump of the workload into OUT.
predump_to()
{
	local out=$1
	shift
	run clean_exec "$CKPT_OCI" checkpoint --pid "$WL_PID" --pre-dump -o "$out" "$@"
	[[ $status -eq 0 ]] || ckpt_show_logs
	assert_success
}

@test "lazy: an incremental checkpoint: each page from the nearest bundle of the chain, on fault" {
	require_root
	wl_start dirty_mem 32 || return
	predump_to "$T/b1" || return
	predump_to "$T/b2" --parent "$T/b1" || return
	ckpt_checkpoint --parent "$T/b2" || return
	ckpt_restore_bg --lazy || return
	wl_go || return
	wl_finish || return
	wait_until 30 lazy_done
	# served from three images; none of the parents' pages written before the tree ran
	grep -q "task $WL_PID: [0-9]* pages to come from 3 bundles" "$T/lazy-pages.log"
	! grep -q "pages from [0-9]* parent bundles" "$T"/restore.log
}

@test "lazy: an incremental checkpoint of a tree whose children share pages since the fork" {
	require_root
	wl_start cow_fork || return
	predump_to "$T/b1" || return
	ckpt_checkpoint --parent "$T/b1" || return
	ckpt_restore_bg --lazy || return
	wl_go || return
	wl_finish || return
	wait_until 30 lazy_done
}

@test "lazy: a parent's page image altered on disk kills the task; a broken chain is refused" {
	require_root
	local size off
	wl_start dirty_mem 32 || return
	predump_to "$T/b1" || return
	ckpt_checkpoint --parent "$T/b1" || return
	(($(jq '[.[][1]] | add // 0' "$T/bundle/parentmap-$WL_PID.json") > 0)) ||
		fail "nothing referenced in the parent"
	# a byte in each chunk of the parent's image inside the buffer (lazy memory,
	# the image's first 8 MiB and last 2 hold the rest): whichever is served is caught
	size=$(stat -c %s "$T/b1/pages-$WL_PID.img")
	for ((off = (8 << 20) + 4096; off < size - (2 << 20); off += 1 << 20)); do
		printf '\x5a' | dd of="$T/b1/pages-$WL_PID.img" bs=1 seek=$off conv=notrunc status=none
	done
	ckpt_restore_bg --lazy || return
	# the background copy may reach an altered chunk before the go is taken
	wl_go || true
	local st=0
	wait "$RESTORE_PID" || st=$?
	[[ $st -eq 137 ]] || { ckpt_show_logs; fail "restore status $st, want 137"; }
	grep -q "checksum mismatch" "$T/lazy-pages.log"
	[[ $(tail -n 1 "$T/out") != PASS ]]
	# a parent gone is refused in one line, lazy or not, before anything is made
	mv "$T/b1" "$T/b1.gone"
	run -1 clean_exec "$CKPT_OCI" restore --lazy "$T/bundle"
	[ "${#lines[@]}" -eq 1 ]
	assert_output --partial "parent \`$T/b1\` of \`$T/bundle\`"
}
