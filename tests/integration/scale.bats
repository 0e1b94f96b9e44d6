#!/usr/bin/env bats
# tests/integration/scale.bats - what a large tree costs ckpt-oci itself.
# Its own memory must not grow with the tree's documents: a checkpoint
# frees each task-PID.json once written, a restore frees each task's
# documents once read into the structs the tree is made from (the
# restorer every task is forked from). Measured with the peak RSS that
# dump.log and restore.log end with (getrusage), at two sizes of
# wide_tree: the growth per process is what is bounded, not the total.

load helpers

setup()
{
	ckpt_setup
	require_root
}

# "... peak RSS N KiB" of a log, in KiB.
peak_rss()
{
	sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$1" | tail -n 1
}

# Every pid of $T/pids gone (zombies included): the restore wants them back.
pids_gone()
{
	local p

	while read -r p; do
		[[ ! -e /proc/$p ]] || return 1
	done <"$T/pids"
}

# wide_tree of n processes checkpointed and restored; its peaks into
# $T/ck-n and $T/rs-n. The files of the run before are cleared first.
wide_roundtrip()
{
	local n=$1

	rm -rf "$T/bundle" "$T/ready" "$T/go" "$T/out" "$T/dump.log" "$T/restore.log"
	wl_start wide_tree "$n" || return
	cat /proc/"$WL_PID"/task/*/children | tr ' ' '\n' | grep . >"$T/pids"
	(($(wc -l <"$T/pids") == n - 1)) || fail "$(wc -l <"$T/pids") children, want $((n - 1))"
	ckpt_checkpoint || return
	wait_until 30 pids_gone || fail "the tree's pids were not free after the checkpoint"
	ckpt_restore_bg || return
	wl_go || return
	wl_finish || return
	peak_rss "$T/dump.log" >"$T/ck-$n"
	peak_rss "$T/restore.log" >"$T/rs-$n"
	[[ -s $T/ck-$n && -s $T/rs-$n ]] || fail "no peak RSS in dump.log or restore.log"
}

@test "scale: peak RSS of checkpoint and restore grows by a few KiB a process, not by its documents" {
	local ck rs

	wide_roundtrip 8
	wide_roundtrip 300
	# per process of the 292 more; with every task's documents held it
	# was ~67 KiB at checkpoint and ~92 KiB at restore
	ck=$((($(cat "$T/ck-300") - $(cat "$T/ck-8")) / 292))
	rs=$((($(cat "$T/rs-300") - $(cat "$T/rs-8")) / 292))
	echo "checkpoint $(cat "$T/ck-8") -> $(cat "$T/ck-300") KiB ($ck a process)," \
		"restore $(cat "$T/rs-8") -> $(cat "$T/rs-300") KiB ($rs a process)"
	((ck < 24)) || fail "checkpoint: $ck KiB more a process"
	((rs < 48)) || fail "restore: $rs KiB more a process"
}
