# tests/integration/container.bash - OCI containers under real runc for
# the bats tests, with a busybox root filesystem built by the tests.
#
# Use:   load helpers; load container
#
#     ctr_setup                  # in setup(): runc state root $RUNC_ROOT in $T
#     ctr_create ID [JQ-FILTER]  # OCI bundle $T/ID: own copy of the rootfs,
#                                # config.json from `runc spec`, edited by jq
#     ctr_run_counter ID [JQ]    # a container counting into /tmp/count, started
#                                # and seen counting
#     ctr_count ID               # the counter, read from the host
#     ctr_wait_count_above ID N  # until the counter passes N
#     ctr_teardown               # in teardown(): `runc delete -f` every container
#
# The busybox rootfs is built once per test run (BATS_RUN_TMPDIR) and
# copied per container, so a restored counter writes to its own file.
#
# ctr_create leaves two parts of runc's default config out, to keep most
# tests small: the masked and read-only paths (runc binds /dev/null over
# files in /proc) and the cgroup mounts at /sys/fs/cgroup. CTR_FULL_SPEC=1
# keeps them (container.bats runs the full default config too).

RUNC=${RUNC:-runc}

# The busybox rootfs, built once: applets as links to /bin/busybox inside.
ctr_rootfs()
{
	local dir=$BATS_RUN_TMPDIR/busybox-rootfs

	(
		flock 9
		[[ -e $dir/.done ]] && exit 0
		rm -rf "$dir" && mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc,root} &&
			cp "$(command -v busybox)" "$dir/bin/busybox" &&
			chroot "$dir" /bin/busybox --install -s /bin &&
			echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd" &&
			echo 'root:x:0:' >"$dir/etc/group" &&
			touch "$dir/.done"
	) 9>"$BATS_RUN_TMPDIR/busybox-rootfs.lock" || return 1
	echo "$dir"
}

ctr_setup()
{
	require_root
	require_cmd "$RUNC" busybox jq
	[[ $(file -b "$(command -v busybox)") == *static* ]] || skip "needs a static busybox"
	RUNC_ROOT=$T/runc
	CTRS=()
}

ctr_teardown()
{
	local id

	for id in "${CTRS[@]}"; do
		"$RUNC" --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1 || true
	done
}

# ctr_create ID [JQ-FILTER]: an OCI bundle in $T/ID, not started.
ctr_create()
{
	local id=$1 filter=${2:-.} dir=$T/$1 rootfs
	local base='.process.terminal = false | .root.readonly = false'

	rootfs=$(ctr_rootfs) || return 1
	mkdir -p "$dir" && cp -a "$rootfs" "$dir/rootfs" || return 1
	(cd "$dir" && "$RUNC" spec) || return 1
	base+=" | .root.path = \"$dir/rootfs\" | .hostname = \"$id\""
	[[ ${CTR_FULL_SPEC:-} == 1 ]] ||
		base+=' | .linux.maskedPaths = [] | .linux.readonlyPaths = []
			| .mounts |= map(select(.destination != "/sys/fs/cgroup"))'
	jq "$base | $filter" "$dir/config.json" >"$dir/config.json.new" &&
		mv "$dir/config.json.new" "$dir/config.json"
}

# checkpoint ARGS...: `ckpt-oci checkpoint` of a container of this runtime
# and root, under bats' `run` (the runtime named when it is crun).
checkpoint()
{
	local rt=()

	[[ ${RUNC##*/} == crun ]] && rt=(--runtime crun)
	run timeout -k 5 "$CKPT_TIMEOUT" "$CKPT_OCI" checkpoint "${rt[@]}" --root "$RUNC_ROOT" "$@"
}

# ctr_start ID: `runc run -d`, stdio to files (terminal is false).
ctr_start()
{
	local id=$1

	CTRS+=("$id")
	"$RUNC" --root "$RUNC_ROOT" run -d --bundle "$T/$id" "$id" \
		>"$T/$id.out" 2>&1 </dev/null || { cat "$T/$id.out"; return 1; }
}

ctr_count()
{
	local n

	{ read -r n <"$T/$1/rootfs/tmp/count"; } 2>/dev/null || return 1
	[[ -n $n ]] && echo "$n"
}

_ctr_count_above()
{
	local n

	n=$(ctr_count "$1") && ((n > $2))
}

ctr_wait_count_above()
{
	wait_until "${WL_TIMEOUT:-120}" _ctr_count_above "$1" "$2"
}

# A counter: increments /tmp/count ten times a second.
CTR_COUNTER='i=0; while :; do i=$((i+1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; usleep 100000; done'

ctr_run_counter()
{
	local id=$1 filter=${2:-.}

	ctr_create "$id" ".process.args = [\"sh\", \"-c\", \"$CTR_COUNTER\"] | $filter" &&
		ctr_start "$id" && ctr_wait_count_above "$id" 1
}

# The runtime's view: "running", "paused", ... or nothing when unknown.
ctr_status()
{
	"$RUNC" --root "$RUNC_ROOT" state "$1" 2>/dev/null | jq -r .status
}

ctr_pid()
{
	jq -r .init_process_pid "$RUNC_ROOT/$1/state.json"
}

# A shell string as a JSON string (for jq filters).
json_str()
{
	jq -n --arg s "$1" '$s'
}

# Whether the container's cgroup is frozen (v1 freezer or v2 cgroup.freeze):
# what a checkpoint that failed must not leave. A task's own state says
# nothing: a frozen one may show S, a running one D for a moment.
ctr_frozen()
{
	local dir

	dir=$(jq -r '.cgroup_paths.freezer' "$RUNC_ROOT/$1/state.json")
	if [[ -e $dir/freezer.state ]]; then
		[[ $(cat "$dir/freezer.state") != THAWED ]]
	else
		[[ $(cat "$dir/cgroup.freeze") == 1 ]]
	fi
}

# Every pid of the container (its cgroup's procs), one a line.
ctr_pids()
{
	cat "$(jq -r '.cgroup_paths.freezer' "$RUNC_ROOT/$1/state.json")/cgroup.procs"
}

# The pid_mark of every process of the container, one a line.
ctr_marks()
{
	local p

	for p in $(ctr_pids "$1"); do
		pid_mark "$p"
	done
}

# ---- crun ------------------------------------------------------------------

# crun 1.8.1 refuses to start a container while the cgroup v2 root lists a
# controller next to v1 hierarchies ("cgroups in hybrid mode not
# supported"). Where the one listed is hugetlb (these machines), mounting
# its v1 hierarchy takes it off the v2 root; ctr_crun_teardown unmounts it.
CTR_HUGETLB_MOUNTED=

ctr_crun_setup()
{
	local v2=/sys/fs/cgroup/unified/cgroup.controllers ctl

	require_cmd crun
	RUNC=crun
	RUNC_ROOT=$T/crun
	[[ -r $v2 ]] || return 0
	ctl=$(cat "$v2")
	[[ -z $ctl ]] && return 0
	[[ $ctl == hugetlb ]] || skip "crun: the cgroup v2 root lists \`$ctl\` (hybrid mode)"
	mountpoint -q /sys/fs/cgroup/hugetlb && skip "crun: hybrid mode, hugetlb busy"
	mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null
	mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || skip "crun: hybrid mode"
	CTR_HUGETLB_MOUNTED=1
}

_hugetlb_on_v2()
{
	[[ $(cat /sys/fs/cgroup/unified/cgroup.controllers) == *hugetlb* ]]
}

# Unmounted while a container's cgroup is still dying (its processes not
# yet reaped), the v1 hierarchy lingers and keeps hugetlb off the v2 root;
# mounted and unmounted again once that cgroup is gone, it is released.
ctr_crun_teardown()
{
	local i

	ctr_teardown
	[[ -n $CTR_HUGETLB_MOUNTED ]] || return 0
	CTR_HUGETLB_MOUNTED=
	umount /sys/fs/cgroup/hugetlb
	for ((i = 0; i < 10; i++)); do
		wait_until 1 _hugetlb_on_v2 && return 0
		mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb &&
			umount /sys/fs/cgroup/hugetlb
	done
	echo "hugetlb did not return to the cgroup v2 root" >&2
	return 1
}
