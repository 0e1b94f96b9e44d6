#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# criu-compat.bats - ckpt-oci as `criu` under real runc (ckpt-oci-criu(1)):
# `runc --criu PATH checkpoint` and `runc restore -d` speak CRIU's RPC
# protocol to it. A busybox counter (container.bash) must go on from the
# value it had at the checkpoint; runc must know the restored container.

load helpers
load container

setup()
{
	ckpt_setup
	ctr_setup
	require_cmd python3
	# runc selects the binary by path; its name must be `criu`
	mkdir -p "$T/bin"
	ln -s "$CKPT_OCI" "$T/bin/criu"
	CRIU=$T/bin/criu
	# container ids name cgroups (/ID) shared by every runc on the host
	ID=criu$$-$BATS_TEST_NUMBER
}

teardown()
{
	ctr_teardown
	ckpt_teardown
}

# runc_criu ARGS...: runc of this root with ckpt-oci as its criu; status and
# output as `run` sets them, but stdio are files: a restored tree must not
# keep bats' pipes open.
runc_criu()
{
	status=0
	timeout -k 5 "$CKPT_TIMEOUT" "$RUNC" --root "$RUNC_ROOT" --criu "$CRIU" "$@" \
		</dev/null >"$T/runc.out" 2>&1 || status=$?
	output=$(cat "$T/runc.out")
}

# runc no longer lists the container.
assert_gone()
{
	[[ $("$RUNC" --root "$RUNC_ROOT" list -q) != *"$1"* ]] || fail "runc still lists $1"
}

_count_moved_from() { local n; n=$(ctr_count "$1") && [[ $n != "$2" ]]; }

# assert_continues ID LO HI: the restored counter's next value lies in (LO, HI]:
# it went on from where it was, it did not start again from 1.
assert_continues()
{
	local id=$1 lo=$2 hi=$3 last n

	last=$(ctr_count "$id")
	wait_until 20 _count_moved_from "$id" "$last" || fail "the counter did not move from $last"
	n=$(ctr_count "$id")
	((n > lo && n <= hi)) || fail "restored counter at $n, want ($lo, $hi]"
}

# The init's pid as runc has it, and a process in the container's cgroup.
assert_runc_knows()
{
	local id=$1 pid

	[[ $(ctr_status "$id") == running ]] || fail "runc says $(ctr_status "$id")"
	pid=$(ctr_pid "$id")
	pid_running "$(pid_mark "$pid")" || fail "runc's init pid $pid is gone"
	grep -qx "$pid" <(ctr_pids "$id") || fail "pid $pid is not in the container's cgroup"
}

# checkpoint_counter ID IMG [ARGS...]: a counter container, checkpointed
# through ckpt-oci into IMG (`runc checkpoint ARGS`); N its value then.
checkpoint_counter()
{
	local id=$1 img=$2

	shift 2
	ctr_run_counter "$id" || fail "the counter did not start"
	runc_criu checkpoint "$@" --image-path "$img" "$id"
	assert_success
	N=$(ctr_count "$id")
}

# restore_counter ID IMG [LO]: `runc restore -d` of IMG; runc knows the
# container and its counter goes on from where it was (after LO, default N).
restore_counter()
{
	local id=$1 img=$2 lo=${3:-$N}

	runc_criu restore -d --image-path "$img" --bundle "$T/$id" "$id"
	assert_success
	assert_runc_knows "$id"
	assert_continues "$id" "$lo" $((N + 30))
}

# stats_field FILE FIELD: field FIELD of the dump (1) or restore (2) entry.
stats_field()
{
	python3 - "$1" "$2" <<'EOF'
import struct, sys

def fields(b):
    out, i = {}, 0
    while i < len(b):
        key, i = varint(b, i)
        if key & 7 == 0:
            out[key >> 3], i = varint(b, i)
        elif key & 7 == 2:
            n, i = varint(b, i)
            out[key >> 3], i = b[i:i + n], i + n
        else:
            sys.exit("wire type %d" % (key & 7))
    return out

def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7f) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i

data = open(sys.argv[1], "rb").read()
svc, magic, size = struct.unpack("<III", data[:12])
assert (svc, magic) == (0x55105940, 0x57093306), "bad magic"
assert size == len(data) - 12, "bad size"
top = fields(data[12:])
entry = fields(top[1 if "stats-dump" in sys.argv[1] else 2])
print(entry.get(int(sys.argv[2]), 0))
EOF
}

@test "criu: --version, -V and check answer as CRIU does; other commands are refused" {
	run "$CRIU" --version
	assert_success
	assert_line --index 0 --regexp '^Version: [0-9]+\.[0-9]+$'
	run "$CKPT_OCI" criu -V
	assert_success
	assert_line --index 0 --regexp '^Version: [0-9]+\.[0-9]+$'
	run "$CRIU" check
	assert_success
	assert_line "Looks good."
	run "$CRIU" dump -t 1
	assert_failure
	assert_output --partial "\`dump\` is not served"
}

@test "criu: runc checkpoint, then runc restore -d: the counter goes on" {
	local pids p

	ctr_run_counter "$ID"
	pids=$(ctr_marks "$ID")
	runc_criu checkpoint --image-path "$T/img" "$ID"
	assert_success
	assert_gone "$ID"
	for p in $pids; do
		wait_until 10 pid_gone "$p"
	done
	N=$(ctr_count "$ID")
	# the images directory: the bundle, runc's descriptors.json, the stats
	[[ -f $T/img/bundle/manifest.json && -f $T/img/descriptors.json ]]
	run "$CKPT_OCI" inspect "$T/img/bundle"
	assert_success
	(($(stats_field "$T/img/stats-dump" 7) > 0)) # pages written
	(($(stats_field "$T/img/stats-dump" 2) > 0)) # frozen time
	grep -q "notify: post-dump" "$T/img/dump.log"

	restore_counter "$ID" "$T/img"
	(($(stats_field "$T/img/stats-restore" 4) > 0)) # restore time
	grep -q "notify: post-restore (pid $(ctr_pid "$ID"))" "$T/img/restore.log"
	# runc manages it as its own: exec, kill and delete
	run "$RUNC" --root "$RUNC_ROOT" exec "$ID" cat /tmp/count
	assert_success
	run "$RUNC" --root "$RUNC_ROOT" delete -f "$ID"
	assert_success
	assert_gone "$ID"
}

@test "criu: runc checkpoint --leave-running keeps it counting; the images restore later" {
	local lo

	ctr_run_counter "$ID"
	lo=$(ctr_count "$ID")
	runc_criu checkpoint --leave-running --image-path "$T/img" "$ID"
	assert_success
	N=$(ctr_count "$ID")
	assert_runc_knows "$ID"
	ctr_wait_count_above "$ID" "$N"
	run "$RUNC" --root "$RUNC_ROOT" delete -f "$ID"
	assert_success

	restore_counter "$ID" "$T/img" "$lo"
}

@test "criu: a dump told to stop at a ptrace call rolls back, the container runs on" {
	local n pid

	ctr_run_counter "$ID"
	# the service's own SIGTERM at its 20th ptrace call, as a Ctrl-C on runc
	# reaches it: the tree seized and frozen
	CKPT_OCI_FAULT=kill-self:TERM:20 runc_criu checkpoint --leave-running \
		--image-path "$T/img" --work-path "$T/work" "$ID"
	assert_failure
	grep -rqs "interrupted by SIGTERM" "$T/work" "$T/img" "$T/runc.out" ||
		fail "not rolled back: $output"
	[[ $(ctr_status "$ID") == running ]] || fail "runc says $(ctr_status "$ID")"
	pid=$(ctr_pid "$ID")
	run nsenter -t "$pid" -n nft list tables
	[[ $status -eq 0 && $output != *ckpt_oci* ]] || fail "lock table left: $output"
	n=$(ctr_count "$ID")
	ctr_wait_count_above "$ID" "$n"
	# runc's own descriptors.json stays; no bundle, whole or half
	! compgen -G "$T/img/bundle*" >/dev/null || fail "left: $(ls "$T/img")"
}

@test "criu: the images directory moved elsewhere restores" {
	checkpoint_counter "$ID" "$T/img-a"
	mkdir "$T/elsewhere"
	mv "$T/img-a" "$T/elsewhere/img-b"
	restore_counter "$ID" "$T/elsewhere/img-b"
}

@test "criu: a second checkpoint into the same directory replaces the bundle" {
	checkpoint_counter "$ID" "$T/img" --leave-running
	ctr_wait_count_above "$ID" $((N + 5))
	runc_criu checkpoint --image-path "$T/img" "$ID"
	assert_success
	N=$(ctr_count "$ID")
	[[ ! -e $T/img/bundle.new ]]
	restore_counter "$ID" "$T/img"
}

# A counter that ends with status 7 once the host creates its /tmp/stop.
CTR_STOPPABLE='i=$(cat /tmp/count 2>/dev/null || echo 0); while [ ! -e /tmp/stop ]; do i=$((i+1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; usleep 100000; done; exit 7'

# restore_foreground ID IMG [RUNC-ARGS...]: `runc restore` without -d in the
# background; the restored init is runc's own child, the counter goes on
# from N, and runc returns the container's exit status once it ends.
restore_foreground()
{
	local id=$1 img=$2 tpid rpid

	shift 2
	rm -f "$T/$id/rootfs/tmp/stop"
	timeout -k 5 "$CKPT_TIMEOUT" "$RUNC" --root "$RUNC_ROOT" --criu "$CRIU" restore "$@" \
		--image-path "$img" --bundle "$T/$id" "$id" </dev/null >"$T/fg.out" 2>&1 &
	tpid=$!
	wait_until 30 eval '[[ $(ctr_status "$id") == running ]]' ||
		fail "runc never ran the restored container: $(cat "$T/fg.out")"
	rpid=$(cat /proc/"$tpid"/task/*/children)
	[[ $(ps -o ppid= -p "$(ctr_pid "$id")") -eq $rpid ]] ||
		fail "the init's parent is $(ps -o ppid= -p "$(ctr_pid "$id")"), not runc ($rpid)"
	assert_continues "$id" "$N" $((N + 30))
	touch "$T/$id/rootfs/tmp/stop"
	status=0
	wait "$tpid" || status=$?
	((status == 7)) || fail "runc restore returned $status, not the container's 7: $(cat "$T/fg.out")"
	assert_gone "$id"
}

@test "criu: runc restore in the foreground returns the container's exit status" {
	ctr_create "$ID" ".process.args = [\"sh\", \"-c\", \"$CTR_STOPPABLE\"]"
	ctr_start "$ID"
	ctr_wait_count_above "$ID" 1
	runc_criu checkpoint --image-path "$T/img" "$ID"
	assert_success
	N=$(ctr_count "$ID")
	# runc a subreaper (its default), and not: the init is its child either way
	restore_foreground "$ID" "$T/img"
	restore_foreground "$ID" "$T/img" --no-subreaper
}

@test "criu: runc checkpoint --pre-dump, then --parent-path: the final one refers to it" {
	ctr_run_counter "$ID"
	runc_criu checkpoint --pre-dump --image-path "$T/pre" "$ID"
	assert_success
	assert_runc_knows "$ID"
	jq -e '.pre_dump' "$T/pre/bundle/chain.json"
	ctr_wait_count_above "$ID" "$(ctr_count "$ID")"
	runc_criu checkpoint --parent-path ../pre --image-path "$T/img" "$ID"
	assert_success
	assert_gone "$ID"
	N=$(ctr_count "$ID")
	# the link is relative: the two directories move together
	jq -e '.parent == "../pre/bundle"' "$T/img/bundle/chain.json"
	(($(jq '[.[][1]] | add // 0' "$T"/img/bundle/parentmap-*.json | sort -n | tail -1) > 0))
	restore_counter "$ID" "$T/img"
}

@test "criu: a restore without a bundle fails with ckpt-oci's reason in the log" {
	ctr_create "$ID"
	mkdir "$T/img"
	echo '["/dev/null","/dev/null","/dev/null"]' >"$T/img/descriptors.json"
	CTRS+=("$ID")
	runc_criu restore -d --image-path "$T/img" --bundle "$T/$ID" "$ID"
	assert_failure
	assert_output --partial "errno 2"
	grep -q "Error (ckpt-oci): no ckpt-oci bundle in $T/img" "$T/img/restore.log"
	[[ -z $(ctr_status "$ID") ]]
}

# swrk_call HEXREQ...: start `ckpt-oci criu swrk FD` on a socket pair, send each
# request (hex bytes of a criu_req), print each response as one line of
# "field=value" pairs (varints as numbers, nested messages as {...},
# strings quoted), the service's stderr in $T/swrk.err. A tiny protobuf
# reader: no generated code in the test.
swrk_call()
{
	python3 - "$CKPT_OCI" "$@" <<'EOF'
import os, socket, subprocess, sys

def varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7f) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i

def show(b):
    out, i = [], 0
    while i < len(b):
        key, i = varint(b, i)
        if key & 7 == 0:
            v, i = varint(b, i)
            out.append("%d=%d" % (key >> 3, v))
        elif key & 7 == 2:
            n, i = varint(b, i)
            raw = b[i:i + n]
            i += n
            try:
                text = raw.decode()
                printable = text.isprintable()
            except UnicodeDecodeError:
                printable = False
            if printable and key >> 3 in (6, 9):
                out.append('%d="%s"' % (key >> 3, text))
            else:
                out.append("%d={%s}" % (key >> 3, show(raw)))
        else:
            raise SystemExit("wire type %d" % (key & 7))
    return " ".join(out)

ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1], "criu", "swrk", str(theirs.fileno())],
                     pass_fds=[theirs.fileno()],
                     stderr=open(os.environ["T"] + "/swrk.err", "w"))
theirs.close()
for req in sys.argv[2:]:
    ours.send(bytes.fromhex(req))
    print(show(ours.recv(65536)))
ours.close()
sys.exit(p.wait())
EOF
}

@test "criu: swrk answers VERSION, FEATURE_CHECK (memory tracking only) and refuses PAGE_SERVER" {
	# VERSION: type 10; keep_open (4) so the next request is served too
	# FEATURE_CHECK: type 9, features {mem_track: true}, keep_open
	# PAGE_SERVER: type 5, opts {images_dir_fd: 0}
	run swrk_call 080a2001 080920012a020801 080512020800
	assert_failure 1 # the service's exit status after a refused request
	# type 10, success, version {major 4, minor 0, name "ckpt-oci ..."}
	assert_line --index 0 --regexp '^1=10 2=1 10=\{1=4 2=0 6="ckpt-oci [0-9.]+"\}$'
	# type 9, success, features {mem_track 1, lazy_pages 0, pidfd_store 0}
	assert_line --index 1 '1=9 2=1 8={1=1 2=0 3=0}'
	# type 5, failure, cr_errno EOPNOTSUPP (95), cr_errmsg names it
	assert_line --index 2 --regexp '^1=5 2=0 7=95 9="PAGE_SERVER is not supported'
	grep -q "PAGE_SERVER is not supported" "$T/swrk.err"
}

# A key of 32 bytes, the caller's and 0600, as ckpt-oci wants one.
make_key()
{
	head -c 32 /dev/urandom >"$1" && chmod 600 "$1"
}

@test "criu: the key is the config file's (org.criu.config) or CKPT_OCI_KEY's" {
	make_key "$T/key"
	make_key "$T/other"
	printf '# CRIU options and ours\ntcp-established\n--ckpt-oci-key "%s"\n' "$T/key" \
		>"$T/criu.conf"
	ctr_run_counter "$ID" ".annotations[\"org.criu.config\"] = \"$T/criu.conf\""
	runc_criu checkpoint --image-path "$T/img" "$ID"
	assert_success
	N=$(ctr_count "$ID")
	grep -q "key: $T/key ($T/criu.conf)" "$T/img/dump.log"
	grep -q "config $T/criu.conf:2: \`tcp-established\` is CRIU's, ignored" "$T/img/dump.log"
	run "$CKPT_OCI" inspect --key "$T/key" "$T/img/bundle"
	assert_success
	assert_line --partial "mac:       verified"
	run "$CKPT_OCI" inspect "$T/img/bundle"
	assert_line --partial "mac:       BAD"

	# the environment's wins: the bundle's MAC does not verify with that one
	CKPT_OCI_KEY=$T/other runc_criu restore -d --image-path "$T/img" --bundle "$T/$ID" "$ID"
	assert_failure
	grep -q "Error (ckpt-oci): .*MAC" "$T/img/restore.log"
	run "$RUNC" --root "$RUNC_ROOT" delete -f "$ID"
	CKPT_OCI_KEY=$T/key restore_counter "$ID" "$T/img"
}
