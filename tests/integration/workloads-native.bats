#!/usr/bin/env bats
# tests/integration/workloads-native.bats - every workload passes when run
# without any checkpoint (dynamic and static builds): proof that the
# workloads themselves are right, so an engine.bats failure is the engine's.

load helpers

@test "native: fd_locks_shared (dynamic)" {
	wl_native fd_locks_shared
}

@test "native: fd_locks_shared (static)" {
	wl_native fd_locks_shared.static
}

@test "native: fd_lease (dynamic)" {
	wl_native fd_lease
}

@test "native: fd_lease (static)" {
	wl_native fd_lease.static
}

@test "native: fd_attrs (dynamic)" {
	wl_native fd_attrs
}

@test "native: fd_attrs (static)" {
	wl_native fd_attrs.static
}

@test "native: fd_sparse (dynamic)" {
	wl_native fd_sparse
}

@test "native: fd_sparse (static)" {
	wl_native fd_sparse.static
}

@test "native: fd_proc (dynamic)" {
	wl_native fd_proc
}

@test "native: fd_proc (static)" {
	wl_native fd_proc.static
}

@test "native: fd_opath (dynamic)" {
	wl_native fd_opath
}

@test "native: fd_opath (static)" {
	wl_native fd_opath.static
}

@test "native: fd_deleted (dynamic)" {
	wl_native fd_deleted
}

@test "native: fd_deleted (static)" {
	wl_native fd_deleted.static
}

@test "native: fd_pidfd_gone (dynamic)" {
	wl_native fd_pidfd_gone
}

@test "native: fd_pidfd_gone (static)" {
	wl_native fd_pidfd_gone.static
}

@test "native: fd_cwd_deleted (dynamic)" {
	wl_native fd_cwd_deleted
}

@test "native: fd_cwd_deleted (static)" {
	wl_native fd_cwd_deleted.static
}

@test "native: fd_flags (dynamic)" {
	wl_native fd_flags
}

@test "native: fd_flags (static)" {
	wl_native fd_flags.static
}

@test "native: dirty_mem, a buffer rewritten all along (dynamic)" {
	wl_native dirty_mem 8
}

@test "native: dirty_mem, mappings remade and grown too (static)" {
	wl_native dirty_mem.static 8 4 churn
}

@test "native: counter (dynamic)" {
	wl_native counter
}

@test "native: counter (static)" {
	wl_native counter.static
}

@test "native: mem_patterns (dynamic)" {
	wl_native mem_patterns
}

@test "native: mem_patterns (static)" {
	wl_native mem_patterns.static
}

@test "native: shared_anon (dynamic)" {
	wl_native shared_anon
}

@test "native: shared_anon (static)" {
	wl_native shared_anon.static
}

@test "native: file_mappings (dynamic)" {
	wl_native file_mappings "$T"
}

@test "native: file_mappings (static)" {
	wl_native file_mappings.static "$T"
}

@test "native: memfd_fd_map (dynamic)" {
	wl_native memfd_fd_map
}

@test "native: memfd_fd_map (static)" {
	wl_native memfd_fd_map.static
}

@test "native: memfd_map (dynamic)" {
	wl_native memfd_map
}

@test "native: memfd_map (static)" {
	wl_native memfd_map.static
}

@test "native: bigmem (dynamic)" {
	wl_native bigmem
}

@test "native: bigmem (static)" {
	wl_native bigmem.static
}

@test "native: threads64 (dynamic)" {
	wl_native threads64
}

@test "native: threads64 (static)" {
	wl_native threads64.static
}

@test "native: syscall_read (dynamic)" {
	wl_native syscall_read
}

@test "native: syscall_read (static)" {
	wl_native syscall_read.static
}

@test "native: syscall_nanosleep (dynamic)" {
	wl_native syscall_nanosleep
}

@test "native: syscall_nanosleep (static)" {
	wl_native syscall_nanosleep.static
}

@test "native: syscall_futex (dynamic)" {
	wl_native syscall_futex
}

@test "native: syscall_futex (static)" {
	wl_native syscall_futex.static
}

@test "native: syscall_pause (dynamic)" {
	wl_native syscall_pause
}

@test "native: syscall_pause (static)" {
	wl_native syscall_pause.static
}

@test "native: sig_handlers (dynamic)" {
	wl_native sig_handlers
}

@test "native: sig_handlers (static)" {
	wl_native sig_handlers.static
}

@test "native: sig_pending (dynamic)" {
	wl_native sig_pending
}

@test "native: sig_pending (static)" {
	wl_native sig_pending.static
}

@test "native: sigtrap (dynamic)" {
	wl_native sigtrap
}

@test "native: sigtrap (static)" {
	wl_native sigtrap.static
}

@test "native: sigaltstack (dynamic)" {
	wl_native sigaltstack
}

@test "native: sigaltstack (static)" {
	wl_native sigaltstack.static
}

@test "native: creds (dynamic)" {
	require_root
	wl_native creds
}

@test "native: creds (static)" {
	require_root
	wl_native creds.static
}

@test "native: seccomp (dynamic)" {
	wl_native seccomp
}

@test "native: seccomp (static)" {
	wl_native seccomp.static
}

@test "native: rlimits (dynamic)" {
	wl_native rlimits
}

@test "native: rlimits (static)" {
	wl_native rlimits.static
}

@test "native: itimers (dynamic)" {
	wl_native itimers
}

@test "native: itimers (static)" {
	wl_native itimers.static
}

@test "native: posix_timers (dynamic)" {
	wl_native posix_timers
}

@test "native: posix_timers (static)" {
	wl_native posix_timers.static
}

@test "native: tree (dynamic)" {
	wl_native tree
}

@test "native: tree (static)" {
	wl_native tree.static
}

@test "native: zombie (dynamic)" {
	wl_native zombie
}

@test "native: zombie (static)" {
	wl_native zombie.static
}

@test "native: stopped (dynamic)" {
	wl_native stopped
}

@test "native: stopped (static)" {
	wl_native stopped.static
}

@test "native: pdeathsig (dynamic)" {
	wl_native pdeathsig
}

@test "native: pdeathsig (static)" {
	wl_native pdeathsig.static
}

@test "native: loginuid (dynamic)" {
	wl_native loginuid
}

@test "native: loginuid (static)" {
	wl_native loginuid.static
}

@test "native: zombie_pgrp (dynamic)" {
	wl_native zombie_pgrp
}

@test "native: zombie_pgrp (static)" {
	wl_native zombie_pgrp.static
}

@test "native: mlock_future (dynamic)" {
	wl_native mlock_future
}

@test "native: mlock_future (static)" {
	wl_native mlock_future.static
}

@test "native: timens_children (dynamic)" {
	wl_native timens_children
}

@test "native: timens_children (static)" {
	wl_native timens_children.static
}

@test "native: timens_children inside" {
	wl_native timens_children inside
}

@test "native: fd_table_shared (dynamic)" {
	wl_native fd_table_shared
}

@test "native: fd_table_shared (static)" {
	wl_native fd_table_shared.static
}

@test "native: fd_table_shared thread" {
	wl_native fd_table_shared thread
}

@test "native: mm_opts (dynamic)" {
	wl_native mm_opts
}

@test "native: mm_opts (static)" {
	wl_native mm_opts.static
}

@test "native: seccomp_tsync (dynamic)" {
	wl_native seccomp_tsync
}

@test "native: seccomp_tsync (static)" {
	wl_native seccomp_tsync.static
}

@test "native: traced (dynamic)" {
	wl_native traced
}

@test "native: traced (static)" {
	wl_native traced.static
}

@test "native: vdso_unmapped (dynamic)" {
	wl_native vdso_unmapped
}

@test "native: vdso_unmapped (static)" {
	wl_native vdso_unmapped.static
}

@test "native: rseq (dynamic)" {
	wl_native rseq
}

@test "native: rseq (static)" {
	wl_native rseq.static
}

@test "native: misc_state (dynamic)" {
	wl_native misc_state "$T"
}

@test "native: misc_state (static)" {
	wl_native misc_state.static "$T"
}

@test "native: vma_flags (dynamic)" {
	wl_native vma_flags
}

@test "native: vma_flags (static)" {
	wl_native vma_flags.static
}

@test "native: mlock_uid (dynamic)" {
	require_root
	wl_native mlock_uid
}

@test "native: mlock_uid (static)" {
	require_root
	wl_native mlock_uid.static
}

@test "native: map_devzero (dynamic)" {
	wl_native map_devzero
}

@test "native: map_devzero (static)" {
	wl_native map_devzero.static
}

@test "native: map_file_rights (dynamic)" {
	wl_native map_file_rights "$T"
}

@test "native: map_file_rights (static)" {
	wl_native map_file_rights.static "$T"
}

@test "native: memfd_exec (dynamic)" {
	wl_native memfd_exec
}

@test "native: memfd_exec (static)" {
	wl_native memfd_exec.static
}

@test "native: map_deleted (dynamic)" {
	wl_native map_deleted "$T"
}

@test "native: map_deleted (static)" {
	wl_native map_deleted.static "$T"
}

@test "native: aio_ring (dynamic)" {
	wl_native aio_ring "$T"
}

@test "native: aio_ring (static)" {
	wl_native aio_ring.static "$T"
}

# hugetlb_map needs two huge pages, given back by teardown.
teardown()
{
	ckpt_teardown
	if [[ -n ${HUGE_BEFORE:-} ]]; then
		echo "$HUGE_BEFORE" >/proc/sys/vm/nr_hugepages
	fi
}

reserve_huge()
{
	require_root
	HUGE_BEFORE=$(cat /proc/sys/vm/nr_hugepages)
	echo $((HUGE_BEFORE + 2)) >/proc/sys/vm/nr_hugepages
}

@test "native: hugetlb_map (dynamic)" {
	reserve_huge
	wl_native hugetlb_map
}

@test "native: hugetlb_map (static)" {
	reserve_huge
	wl_native hugetlb_map.static
}

@test "native: cow_fork (dynamic)" {
	wl_native cow_fork 256
}

@test "native: cow_fork (static)" {
	wl_native cow_fork.static 256
}

@test "native: cow_fork deep (dynamic)" {
	wl_native cow_fork 16 deep
}

@test "native: inet_prefork (dynamic)" {
	wl_native inet_prefork
}

@test "native: inet_prefork (static)" {
	wl_native inet_prefork.static
}

@test "native: fd_root_deleted (dynamic)" {
	wl_native fd_root_deleted
}

@test "native: fd_root_deleted (static)" {
	wl_native fd_root_deleted.static
}

@test "native: fd_deleted_dir_twice (dynamic)" {
	wl_native fd_deleted_dir_twice
}

@test "native: fd_deleted_dir_twice (static)" {
	wl_native fd_deleted_dir_twice.static
}

@test "native: fd_dev_deleted (dynamic)" {
	wl_native fd_dev_deleted
}

@test "native: fd_dev_deleted (static)" {
	wl_native fd_dev_deleted.static
}

@test "native: fd_inotify_deleted (dynamic)" {
	wl_native fd_inotify_deleted
}

@test "native: fd_inotify_deleted (static)" {
	wl_native fd_inotify_deleted.static
}

@test "native: fd_pty (dynamic)" {
	wl_native fd_pty
}

@test "native: fd_pty (static)" {
	wl_native fd_pty.static
}

@test "native: fd_console (dynamic)" {
	wl_native fd_console
}

@test "native: fd_console (static)" {
	wl_native fd_console.static
}

@test "native: fd_nsfd (dynamic)" {
	wl_native fd_nsfd
}

@test "native: fd_nsfd (static)" {
	wl_native fd_nsfd.static
}

@test "native: fd_epoll_closed (dynamic)" {
	wl_native fd_epoll_closed
}

@test "native: fd_epoll_closed (static)" {
	wl_native fd_epoll_closed.static
}

@test "native: fd_unix_inflight epoll (dynamic)" {
	wl_native fd_unix_inflight epoll
}

@test "native: fd_unix_inflight epoll (static)" {
	wl_native fd_unix_inflight.static epoll
}

@test "native: fd_root_deleted elsewhere (dynamic)" {
	wl_native fd_root_deleted elsewhere
}

@test "native: fd_root_deleted elsewhere (static)" {
	wl_native fd_root_deleted.static elsewhere
}
