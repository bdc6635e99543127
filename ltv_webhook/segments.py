"""Landing segments: the sidecar's own DuckDB files, and the rules for handing them over.

Layout under LTV_HOME/webhooks/:
  active/<owner>.lock            held (flock) by the live sidecar process `owner` for its lifetime
  active/<owner>-<seq>.duckdb    the segment that process is appending to
  sealed/<owner>-<seq>.duckdb    closed (checkpointed, no WAL) and never written again
  imported/<owner>-<seq>.duckdb  copied into the warehouse; kept as the raw archive

A segment is sealed by closing it (DuckDB checkpoints on close, so the WAL is folded in) and then
renaming it into sealed/, which is atomic. A process killed with -9 leaves its active segment
and a WAL behind, and its lock is released by the kernel. Whoever starts next (a new sidecar, or
the pipeline while no sidecar runs) takes that lock, opens the segment read-write so DuckDB
replays the WAL, checkpoints, closes and seals it. Measured (tests/webhooks/test_duckdb_wal.py):
renaming a killed segment without its WAL and opening it read-only shows an empty table, so a
segment must never be moved while it has a WAL. A new process never reuses an old segment.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

log = logging.getLogger("ltv_webhook.segments")

TABLE = "deliveries"
CREATE_TABLE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    account VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    content_type VARCHAR,
    body BLOB NOT NULL,
    outcome VARCHAR NOT NULL,
    reason VARCHAR
)"""
SEGMENT_SUFFIX = ".duckdb"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def active(self) -> Path:
        return self.root / "active"

    @property
    def sealed(self) -> Path:
        return self.root / "sealed"

    @property
    def imported(self) -> Path:
        return self.root / "imported"

    @property
    def damaged(self) -> Path:
        return self.root / "damaged"

    def ensure(self) -> None:
        for folder in (self.active, self.sealed, self.imported):
            folder.mkdir(parents=True, exist_ok=True)

    def sealed_segments(self) -> list[Path]:
        if not self.sealed.exists():
            return []
        return sorted(self.sealed.glob(f"*{SEGMENT_SUFFIX}"))

    def owner_locks(self) -> list[Path]:
        if not self.active.exists():
            return []
        return sorted(self.active.glob("*.lock"))


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` survive a power cut, not just a process kill."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_owner_id() -> str:
    """Sortable by start time, unique across restarts and hosts sharing a folder."""
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{secrets.token_hex(3)}"


class OwnerLock:
    """An flock held for the life of the sidecar process; the kernel drops it on kill -9."""

    def __init__(self, layout: Layout, owner_id: str) -> None:
        self.layout = layout
        self.owner_id = owner_id
        self.path = layout.active / f"{owner_id}.lock"
        # Lock under a hidden name, then rename: a visible .lock is always already held, so a
        # recoverer can never mistake a process that is just starting for a dead one.
        hidden = layout.active / f".{owner_id}.lock.new"
        self._fd = os.open(hidden, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, self.path)

    def segment_path(self, sequence: int) -> Path:
        return self.layout.active / f"{self.owner_id}-{sequence:06d}{SEGMENT_SUFFIX}"

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)


def open_segment(path: Path) -> duckdb.DuckDBPyConnection:
    # One thread: a landing commit is a few rows, and DuckDB's worker pool only adds CPU to it.
    conn = duckdb.connect(str(path), config={"threads": 1})
    conn.execute(CREATE_TABLE)
    return conn


def seal(path: Path, layout: Layout) -> Path | None:
    """Move a closed, WAL-free segment into sealed/; an empty one is simply removed."""
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{path.name} still has a WAL; it must be checkpointed before sealing")
    target = layout.sealed / path.name
    os.rename(path, target)
    fsync_dir(layout.sealed)
    fsync_dir(path.parent)
    return target


def _fold_and_count(path: Path) -> int:
    """Open read-write so DuckDB replays any WAL, checkpoint it in, close; rows found."""
    conn = duckdb.connect(str(path))
    try:
        conn.execute(CREATE_TABLE)
        rows = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return rows


def recover_segment(path: Path, layout: Layout) -> Path | None:
    if path.stat().st_size == 0:
        # Created but never written: no commit, so nothing was ever acknowledged from it.
        path.unlink()
        return None
    try:
        rows = _fold_and_count(path)
    except duckdb.Error as exc:
        if "not a valid DuckDB database file" not in str(exc):
            raise  # e.g. a full disk: the rows are fine, try again later; never move them aside
        layout.damaged.mkdir(parents=True, exist_ok=True)
        for part in (path, path.with_name(path.name + ".wal")):
            if part.exists():
                os.rename(part, layout.damaged / part.name)
        log.error("landing segment %s cannot be opened (%s); moved to damaged/", path.name, exc)
        return None
    if rows == 0:
        path.unlink()
        return None
    return seal(path, layout)


def recover_dead_owners(layout: Layout) -> list[Path]:
    """Seal every segment whose owner process is gone; segments of live owners are untouched."""
    recovered: list[Path] = []
    for lock_path in layout.owner_locks():
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its owner is alive and will seal its own segments
            try:
                if os.fstat(fd).st_ino != os.stat(lock_path).st_ino:
                    continue  # another recoverer finished and removed it meanwhile
            except FileNotFoundError:
                continue
            owner_id = lock_path.name.removesuffix(".lock")
            for segment in sorted(layout.active.glob(f"{owner_id}-*{SEGMENT_SUFFIX}")):
                sealed = recover_segment(segment, layout)
                if sealed is not None:
                    recovered.append(sealed)
            lock_path.unlink()
        finally:
            os.close(fd)
    # A segment whose lock file is gone entirely (removed by hand) has no owner either.
    live_owners = {lock.name.removesuffix(".lock") for lock in layout.owner_locks()}
    for segment in sorted(layout.active.glob(f"*{SEGMENT_SUFFIX}")):
        if segment.name.rsplit("-", 1)[0] not in live_owners:
            sealed = recover_segment(segment, layout)
            if sealed is not None:
                recovered.append(sealed)
    return recovered


def has_unsealed_dead_segments(layout: Layout) -> bool:
    """True when a segment waits in active/ with no live owner (only a check; seals nothing)."""
    live: set[str] = set()
    for lock_path in layout.owner_locks():
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            live.add(lock_path.name.removesuffix(".lock"))
            continue
        finally:
            os.close(fd)  # closing drops a lock we may just have taken
    return any(
        segment.name.rsplit("-", 1)[0] not in live
        for segment in layout.active.glob(f"*{SEGMENT_SUFFIX}")
    )
