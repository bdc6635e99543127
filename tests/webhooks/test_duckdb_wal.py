"""Measured, not assumed: what DuckDB 2.x does with a WAL left by kill -9.

The hand-off design depends on these facts (see ltv_webhook/segments.py): a segment must be
checkpointed before it is moved, because a file moved without its WAL reads as empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb

from ltv_webhook.segments import Layout, OwnerLock, recover_dead_owners

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


def test_recovery_folds_the_wal_in_before_sealing(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "webhooks")
    layout.ensure()
    owner = OwnerLock(layout, "dead-owner")
    segment = owner.segment_path(1)
    _killed_writer(segment)
    os.close(owner._fd)  # the owner "dies": its flock goes with its descriptor
    sealed = recover_dead_owners(layout)
    assert [p.name for p in sealed] == [segment.name]
    assert not list(layout.sealed.glob("*.wal"))
    assert _count_read_only(sealed[0]) == 50


def test_a_live_owner_is_left_alone(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "webhooks")
    layout.ensure()
    owner = OwnerLock(layout, "live-owner")
    conn = duckdb.connect(str(owner.segment_path(1)))
    conn.execute("CREATE TABLE deliveries (n INTEGER)")
    assert recover_dead_owners(layout) == []
    conn.close()
    owner.release()
