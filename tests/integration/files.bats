#!/usr/bin/env bats
# tests/integration/files.bats - file descriptors across checkpoint/restore:
# every fd kind round-trips (dynamic and static builds), verified from inside
# the workload; unsupported kinds fail the checkpoint and leave it running.

load helpers

@test "files: shared descriptions, flags, offsets (dynamic)" { wl_roundtrip fd_shared; }
@test "files: shared descriptions, flags, offsets (static)" { wl_roundtrip fd_shared.static; }
@test "files: unlinked file and directory (dynamic)" { wl_roundtrip fd_ghost; }
@test "files: unlinked file and directory (static)" { wl_roundtrip fd_ghost.static; }
@test "files: fifo with queued data (dynamic)" { wl_roundtrip fd_fifo; }
@test "files: fifo with queued data (static)" { wl_roundtrip fd_fifo.static; }
