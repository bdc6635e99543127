"""Landing segments: the sidecar's files, and the rules for handing them to the pipeline.

Layout under LTV_HOME/webhooks/:
  active/<owner>.lock          held (flock) by the live sidecar process `owner` for its lifetime
  active/<owner>-<seq>.log     the framed log that process appends to (landing_log.py)
  sealed/<owner>-<seq>.duckdb  a closed DuckDB file (no WAL), never written again
  imported/<...>.duckdb        copied into the warehouse; kept as the raw archive
  recover.lock                 held (flock) by whoever is sealing logs of dead owners

Sealing converts a log into a DuckDB file written under a temporary name in active/, closed
(DuckDB checkpoints on close, so no WAL is left) and renamed into sealed/ (atomic), and only
then deletes the log. A process killed with -9 leaves its log behind and the kernel drops its
lock. Whoever comes next (a new sidecar at start-up, or the pipeline while no sidecar runs) takes
that lock and seals the log. Measured (tests/webhooks/test_duckdb_wal.py): a DuckDB file moved
without its WAL reads as empty, which is why only closed files are ever renamed.
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
import pyarrow as pa

from ltv_core.landing_log import read_records

log = logging.getLogger("ltv_core.webhook_segments")

# The hand-off contract between the receiver and the pipeline: one row per delivery answered.
# Segment files hold them in `deliveries`; the warehouse keeps one per (account, content), with
# the segment it came from, in `webhook_deliveries`.
DELIVERY_COLUMNS: tuple[tuple[str, str, pa.DataType], ...] = (
    ("account", "VARCHAR NOT NULL", pa.string()),
    ("content_hash", "VARCHAR NOT NULL", pa.string()),
    ("received_at", "TIMESTAMP NOT NULL", pa.timestamp("us")),
    ("content_type", "VARCHAR", pa.string()),
    ("body", "BLOB NOT NULL", pa.binary()),
    ("outcome", "VARCHAR NOT NULL", pa.string()),
    ("reason", "VARCHAR", pa.string()),
)


def deliveries_table_sql(name: str, *extra: str) -> str:
    columns = [f"{column} {sql_type}" for column, sql_type, _ in DELIVERY_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {name} ({', '.join([*columns, *extra])})"


TABLE = "deliveries"
CREATE_TABLE = deliveries_table_sql(TABLE)
WAREHOUSE_TABLE = "webhook_deliveries"
CREATE_WAREHOUSE_TABLE = deliveries_table_sql(
    WAREHOUSE_TABLE, "segment VARCHAR", "PRIMARY KEY (account, content_hash)"
)
ARROW_SCHEMA = pa.schema([(column, arrow_type) for column, _, arrow_type in DELIVERY_COLUMNS])
LOG_SUFFIX = ".log"
SEGMENT_SUFFIX = ".duckdb"
SEALING_SUFFIX = ".duckdb.tmp"


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


def owner_of(path: Path) -> str:
    return path.name.split(".", 1)[0].rsplit("-", 1)[0]


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

    def log_path(self, sequence: int) -> Path:
        return self.layout.active / f"{self.owner_id}-{sequence:06d}{LOG_SUFFIX}"

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)


def seal_log(path: Path, layout: Layout) -> Path | None:
    """Turn a closed log into a sealed DuckDB segment; idempotent, so a crash can repeat it."""
    stem = path.name.removesuffix(LOG_SUFFIX)
    target = layout.sealed / f"{stem}{SEGMENT_SUFFIX}"
    if target.exists():
        path.unlink(missing_ok=True)  # sealed before, killed before the log was deleted
        return None
    columns: list[list] = [[] for _ in ARROW_SCHEMA]
    for record in read_records(path):
        for column, value in zip(columns, record, strict=True):
            column.append(value)
    if columns[0]:
        temporary = layout.active / f"{stem}{SEALING_SUFFIX}"
        temporary.unlink(missing_ok=True)
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, ARROW_SCHEMA, strict=True)],
            schema=ARROW_SCHEMA,
        )
        conn = duckdb.connect(str(temporary), config={"threads": 1})
        try:
            conn.execute(CREATE_TABLE)
            conn.from_arrow(table).insert_into(TABLE)
        finally:
            conn.close()  # checkpoints: the sealed file carries no WAL
        os.rename(temporary, target)
        fsync_dir(layout.sealed)
    path.unlink()
    fsync_dir(layout.active)
    return target if columns[0] else None


def _seal_owner_files(owner_id: str, layout: Layout) -> list[Path]:
    sealed = []
    for leftover in layout.active.glob(f"{owner_id}-*{SEALING_SUFFIX}"):
        leftover.unlink()  # a conversion cut short; its log is still there
    for log_file in sorted(layout.active.glob(f"{owner_id}-*{LOG_SUFFIX}")):
        target = seal_log(log_file, layout)
        if target is not None:
            sealed.append(target)
    return sealed


RECOVER_LOCK = "recover.lock"


def recover_dead_owners(layout: Layout) -> list[Path]:
    """Seal every log whose owner process is gone; logs of live owners are untouched. One
    recoverer at a time (the sidecar at start-up, the pipeline's import): otherwise both could
    seal the same orphan and one delete the other's half-written segment."""
    fd = os.open(layout.root / RECOVER_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _recover_dead_owners(layout)
    finally:
        os.close(fd)  # drops the lock


def _recover_dead_owners(layout: Layout) -> list[Path]:
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
                continue  # its owner is alive and seals its own logs
            try:
                if os.fstat(fd).st_ino != os.stat(lock_path).st_ino:
                    continue  # another recoverer finished and removed it meanwhile
            except FileNotFoundError:
                continue
            recovered += _seal_owner_files(lock_path.name.removesuffix(".lock"), layout)
            lock_path.unlink()
        finally:
            os.close(fd)
    # A log whose lock file is gone entirely (removed by hand) has no owner either.
    live = {lock.name.removesuffix(".lock") for lock in layout.owner_locks()}
    for owner_id in sorted({owner_of(p) for p in layout.active.glob(f"*{LOG_SUFFIX}")} - live):
        recovered += _seal_owner_files(owner_id, layout)
    return recovered


def has_unsealed_dead_segments(layout: Layout) -> bool:
    """True when a log waits in active/ with no live owner (only a check; seals nothing)."""
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
    return any(owner_of(p) not in live for p in layout.active.glob(f"*{LOG_SUFFIX}"))
