"""Measured, not assumed: what DuckDB 2.x does with a WAL left by kill -9, and how the
landing log is recovered after one.

The hand-off design depends on these facts (see ltv_webhook/segments.py): a DuckDB file moved
without its WAL reads as empty, so the sidecar renames only closed (checkpointed) files, and its
active file is a framed log whose torn tail is detected.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from ltv_core.landing_log import encode
from ltv_core.webhook_segments import Layout, OwnerLock, recover_dead_owners, seal_log

WRITER = textwrap.dedent(
    """
    import os, sys, duckdb
    conn = duckdb.connect(sys.argv[1])
    conn.execute("CREATE TABLE deliveries (n INTEGER)")
    conn.execute("CHECKPOINT")
    for n in range(50):
        conn.execute("INSERT INTO deliveries VALUES (?)", [n])  # each one committed
    os.kill(os.getpid(), 9)
    """
)


def _killed_writer(path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", WRITER, str(path)], check=False)
    assert result.returncode == -9
    assert path.with_name(path.name + ".wal").exists()


def _count_read_only(path: Path) -> int:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
    finally:
        conn.close()


def test_moving_a_killed_segment_without_its_wal_loses_the_commits(tmp_path: Path) -> None:
    segment = tmp_path / "a.duckdb"
    _killed_writer(segment)
    moved = tmp_path / "moved.duckdb"
    segment.rename(moved)
    assert _count_read_only(moved) == 0  # silently empty: the commits live in the WAL


def test_read_only_open_replays_a_wal_beside_the_file_but_leaves_it(tmp_path: Path) -> None:
    segment = tmp_path / "a.duckdb"
    _killed_writer(segment)
    assert _count_read_only(segment) == 50
    assert segment.with_name("a.duckdb.wal").exists()  # nothing was folded in


KILLED_LOGGER = textwrap.dedent(
    """
    import datetime as dt, os, sys
    from ltv_core.landing_log import encode
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    now = dt.datetime(2026, 1, 1)
    for n in range(50):
        os.write(fd, encode("default", f"{n:064x}", now, None, b"{}", "accepted", None))
        os.fdatasync(fd)  # acknowledged from here on
    os.write(fd, encode("default", "f" * 64, now, None, b"{}", "accepted", None)[:20])  # torn
    os.kill(os.getpid(), 9)
    """
)


def test_recovery_seals_a_killed_log_up_to_its_torn_tail(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "webhooks")
    layout.ensure()
    owner = OwnerLock(layout, "dead-owner")
    log_file = owner.log_path(1)
    done = subprocess.run([sys.executable, "-c", KILLED_LOGGER, str(log_file)], check=False)
    assert done.returncode == -9
    os.close(owner._fd)  # the owner "dies": its flock goes with its descriptor
    sealed = recover_dead_owners(layout)
    assert [p.name for p in sealed] == ["dead-owner-000001.duckdb"]
    assert not list(layout.active.glob("*.log")) and not list(layout.sealed.glob("*.wal"))
    assert _count_read_only(sealed[0]) == 50
    assert recover_dead_owners(layout) == []  # nothing left to do, nothing sealed twice


def test_sealing_again_after_a_crash_adds_nothing(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "webhooks")
    layout.ensure()
    log_file = layout.active / "gone-000001.log"
    log_file.write_bytes(
        encode("default", "a" * 64, dt.datetime(2026, 1, 1), None, b"{}", "accepted", None)
    )
    copy = log_file.read_bytes()
    assert seal_log(log_file, layout) is not None
    log_file.write_bytes(copy)  # as if killed after the rename, before deleting the log
    assert seal_log(log_file, layout) is None
    assert not log_file.exists() and len(layout.sealed_segments()) == 1


def test_a_live_owner_is_left_alone(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "webhooks")
    layout.ensure()
    owner = OwnerLock(layout, "live-owner")
    owner.log_path(1).write_bytes(b"")
    assert recover_dead_owners(layout) == []
    assert owner.log_path(1).exists()
    owner.release()
