#!/usr/bin/env bats
# exclusive: fixed container, cgroup or namespace names; runs alone on a machine
# tests/integration/check.bats - `ckpt-oci check`: every probe reports, the
# host used for development has every required feature, --json parses,
# bad options are usage errors, and nothing is left behind.

load helpers
bats_require_minimum_version 1.5.0

PROBES=(capabilities ptrace-seize ptrace-regset-xstate ptrace-sigmask
	ptrace-peeksiginfo ptrace-rseq ptrace-seccomp-filter clone3-set-tid
	ns-last-pid pr-set-mm-map arch-map-vdso pidfd-getfd kcmp process-vm-readv
	userfaultfd-wp-async pagemap-scan soft-dirty tcp-repair sock-diag-unix
	sock-diag-inet cgroup-freezer cgroup-v2-freeze time-namespace namespaces
	io-uring timer-restore-ids madv-guard runtimes)

# Our own cgroups are named ckpt-oci-check-PID under each hierarchy.
leftover_cgroups()
{
	find /sys/fs/cgroup -maxdepth 2 -name 'ckpt-oci-check-*' 2>/dev/null
}

@test "check: exits 0 and prints one line per probe" {
	require_root
	run -0 "$CKPT_OCI" check
	local p
	for p in "${PROBES[@]}"; do
		assert_line --regexp "^(ok|missing) +$p(:|\$)"
	done
	[ "${#lines[@]}" -eq $((${#PROBES[@]} + 1)) ]
	assert_line --index $((${#lines[@]} - 1)) "all required features present"
}

@test "check: optional probes say they are not required" {
	require_root
	run -0 "$CKPT_OCI" check
	# soft-dirty is off on the development hosts; the line must say why that is fine
	if [[ $output == *"missing  soft-dirty"* ]]; then
		assert_line --partial "soft-dirty: CONFIG_MEM_SOFT_DIRTY off"
		assert_line --partial "(not required: the tool uses uffd WP_ASYNC + PAGEMAP_SCAN instead)"
	fi
	refute_line --regexp '^missing .*timed out'
}

@test "check --json: parses, ok is true, every probe present" {
	require_root
	require_cmd jq
	run -0 "$CKPT_OCI" check --json
	echo "$output" | jq -e '.ok == true'
	echo "$output" | jq -e '[.probes[] | select(.required and (.ok | not))] | length == 0'
	echo "$output" | jq -e '.probes | all(has("name") and has("required") and has("ok") and has("detail"))'
	local p
	for p in "${PROBES[@]}"; do
		echo "$output" | jq -e --arg p "$p" 'any(.probes[]; .name == $p)'
	done
}

@test "check: leaves no cgroup and no process behind" {
	require_root
	# a private copy, so its helpers are told apart from any other run's by exe
	cp "$CKPT_OCI" "$T/ckpt-oci"
	run -0 "$T/ckpt-oci" check
	[ -z "$(leftover_cgroups)" ]
	local exe left=()
	for exe in /proc/[0-9]*/exe; do
		[[ $(readlink "$exe" 2>/dev/null) == "$T/ckpt-oci" ]] && left+=("$exe")
	done
	[ "${#left[@]}" -eq 0 ] || fail "left behind: ${left[*]}"
}

@test "check --bogus: usage error, exit 2" {
	run -2 "$CKPT_OCI" check --bogus
	assert_line --index 0 "ckpt-oci: check: unknown option \`--bogus\`"
	assert_output --partial "usage: ckpt-oci check"
}

@test "check --help: usage on stdout, exit 0" {
	run -0 "$CKPT_OCI" check --help
	assert_line --index 0 --partial "usage: ckpt-oci check"
}

@test "check: as an unprivileged user says so and exits 1" {
	require_root
	require_cmd setpriv
	cp "$CKPT_OCI" "$T/ckpt-oci"
	chmod 755 "$T" "$T/ckpt-oci"
	run -1 setpriv --reuid=65534 --regid=65534 --clear-groups "$T/ckpt-oci" check
	assert_line --index 0 --partial "not running as root"
	assert_line --regexp '^missing +clone3-set-tid: needs root$'
	assert_line --regexp '^[0-9]+ required features missing$'
}
