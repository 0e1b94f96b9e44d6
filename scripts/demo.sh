#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: install what is needed, build, and show
# what ckpt-oci can do on this host today.
#
# Today that is the kernel feature probe. Once the dump and restore
# pipelines exist, this is where a demo process tree gets checkpointed and
# restored (start a workload, `ckpt-oci checkpoint --pid`, `ckpt-oci
# inspect`, `ckpt-oci restore`); container checkpoint comes with the
# container work.
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

step "what comes next"
cat <<'MSG'
Checkpointing and restoring a process tree (`ckpt-oci checkpoint --pid`,
`ckpt-oci restore`) is being built now; this demo will run it as soon as
it works. Checkpointing OCI containers by name arrives with the container
work after that. `sudo make check` runs every test that exists today.
MSG
exit "$rc"
