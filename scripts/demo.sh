#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: install what is needed, build, and show
# what ckpt-oci can do on this host today.
#
# The kernel feature probe, then a busybox container under runc (a counter)
# checkpointed by name, inspected, restored into fresh namespaces under runc
# again, and shown to continue where it stopped.
set -euo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN=$BUILD/ckpt-oci

step()
{
	printf '\n==> %s\n' "$*"
}

step "installing build and test dependencies (scripts/deps.sh)"
scripts/deps.sh

step "building ckpt-oci"
make --no-print-directory BUILD="$BUILD" -j"$(nproc)" "$BIN"

step "$BIN --version"
"$BIN" --version

step "$BIN check: which kernel features this host has"
rc=0
"$BIN" check || rc=$?
if ((rc != 0)); then
	echo "(ckpt-oci check exited with status $rc)"
fi

step "a container to checkpoint: busybox under runc, counting every 100 ms"
work=$(mktemp -d /tmp/ckpt-oci-demo.XXXXXX)
ROOT=$work/runc
ID=ckpt-oci-demo
cleanup()
{
	runc --root "$ROOT" delete -f "$ID" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/ctr/rootfs"/{bin,proc,sys,dev,tmp,etc,root}
cp "$(command -v busybox)" "$work/ctr/rootfs/bin/busybox"
chroot "$work/ctr/rootfs" /bin/busybox --install -s /bin
(cd "$work/ctr" && runc spec)
# The counter prints each number on stdout (a file of the host) and keeps it
# in the container's /tmp/count.
counter='i=0; while :; do i=$((i+1)); echo $i; echo $i >/tmp/count; usleep 100000; done'
jq --arg c "$counter" --arg r "$work/ctr/rootfs" '.process.terminal = false
	| .process.args = ["sh", "-c", $c] | .root.path = $r | .root.readonly = false
	| .hostname = "demo"' "$work/ctr/config.json" >"$work/ctr/config.new"
mv "$work/ctr/config.new" "$work/ctr/config.json"
runc --root "$ROOT" run -d --bundle "$work/ctr" "$ID" </dev/null >"$work/counter.log" 2>&1

# Until the log's last number passes $1 (at most 10 s).
count_past()
{
	local i n

	for ((i = 0; i < 100; i++)); do
		n=$(tail -1 "$work/counter.log" 2>/dev/null)
		[[ $n =~ ^[0-9]+$ ]] && ((n > $1)) && return 0
		sleep 0.1
	done
	return 1
}
count_past 10
runc --root "$ROOT" list
echo "the container has counted to $(tail -1 "$work/counter.log")"

step "$BIN checkpoint --root $ROOT -o $work/bundle $ID"
"$BIN" checkpoint --root "$ROOT" -o "$work/bundle" -w "$work" "$ID"
before=$(tail -1 "$work/counter.log")
echo "checkpointed at $before and stopped; runc knows it no more:"
runc --root "$ROOT" list
echo "bundle: $(du -sh "$work/bundle" | cut -f1), including the rootfs changes ($(jq .entries "$work/bundle/rootfs-diff.json") entries)"

step "$BIN inspect $work/bundle (first lines)"
"$BIN" inspect "$work/bundle" | sed -n '1,/^  vmas/p'

step "$BIN restore -d --root $ROOT $work/bundle (into fresh namespaces, handed back to runc)"
"$BIN" restore -d --root "$ROOT" -w "$work" "$work/bundle"
runc --root "$ROOT" list
count_past $((before + 10))
after=$(tail -1 "$work/counter.log")
echo "the restored container went on from $before to $after:"
sed -n "$((before - 2)),$((before + 3))p" "$work/counter.log" | tr '\n' ' '
echo
runc --root "$ROOT" exec "$ID" sh -c 'echo "inside: hostname $(hostname), /tmp/count $(cat /tmp/count)"'
runc --root "$ROOT" delete -f "$ID"
# Each number once, in order: nothing lost, nothing repeated.
if ((after > before)) && awk 'NR != $1 { exit 1 }' "$work/counter.log"; then
	echo "demo: PASS (no number lost, none repeated)"
else
	echo "demo: FAIL"
	rc=1
fi

step "what comes next"
cat <<'MSG'
`make check` (as root) runs every test: process trees, files, namespaces, network,
containers under runc and crun.
MSG
exit "$rc"
