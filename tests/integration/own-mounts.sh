#!/bin/sh
# own-mounts.sh OWN PROG [ARGS...] - run by wl_start_ns (helpers.bash) as
# the first program of a new mount namespace, a private copy of the
# host's: what other tests had mounted at that moment (named network
# namespaces in /run/netns, tmpfs in their own test directories, hugetlb's
# v1 hierarchy) would be the tree's mounts, their sources or mount points
# gone by the restore. They are not the tree's: unmounted in this copy,
# deepest first, but those below OWN (the test's own directory). Then
# PROG is executed in place.
own=$1
shift
awk -v tmp="${TMPDIR:-/tmp}/ckpt-test." -v own="$own/" '
	index($5, "/run/netns/") == 1 || $5 == "/sys/fs/cgroup/hugetlb" ||
	(index($5, tmp) == 1 && index($5 "/", own) != 1) { print $5 }' /proc/self/mountinfo |
	sort -r | while read -r m; do
	umount -l "$m" 2>/dev/null
done
exec "$@"
