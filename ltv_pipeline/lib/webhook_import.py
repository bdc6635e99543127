"""Copying sealed landing segments into the warehouse: the pipeline's half of the hand-off.

Only sealed segments are read (read-only, via ATTACH): the sidecar never writes them again, so
neither process ever waits for the other. Segments left in active/ by a sidecar that died are
sealed here first (see ltv_core.webhook_segments), so `ltv materialize` after a kill -9 sees every
acknowledged delivery even if the sidecar is never started again. A segment moves to imported/
only after the warehouse commit; if the move is lost, importing it again changes nothing,
because rows are keyed on (account, content hash) and keep their earliest receipt. Of a body
landed both as a dead letter and accepted (another content type), the accepted copy is kept.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from ltv_core.webhook_segments import TABLE, Layout, fsync_dir, recover_dead_owners

ALIAS = "landing_segment"
# A body stored as a dead letter and later accepted is replaced by its accepted copy, which
# also gives its receipt time (and so its day): the retry is what the sensor asks a run for.
UPGRADE = "webhook_deliveries.outcome <> 'accepted' AND EXCLUDED.outcome = 'accepted'"
UPGRADED_COLUMNS = ("content_type", "body", "outcome", "reason", "segment")
DIGEST_METADATA = "deliveries_digest"  # the day's day_digest, recorded by each materialization
JOURNAL = "imported.journal"  # one line per imported segment name, append-only (for the sensor)


@dataclass
class ImportSummary:
    segments: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_new: int = 0


def _import_one(conn: duckdb.DuckDBPyConnection, segment: Path) -> tuple[int, int]:
    conn.execute(f"ATTACH {_literal(segment)} AS {ALIAS} (READ_ONLY)")
    try:
        conn.execute("BEGIN")
        before = conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
        read = conn.execute(f"SELECT count(*) FROM {ALIAS}.{TABLE}").fetchone()[0]
        conn.execute(
            f"""INSERT INTO webhook_deliveries
            SELECT account, content_hash, {_first("received_at")}, {_first("content_type")},
                   {_first("body")}, {_first("outcome")}, {_first("reason")}, ?
            FROM {ALIAS}.{TABLE} GROUP BY account, content_hash
            ON CONFLICT (account, content_hash) DO UPDATE SET
                received_at = CASE WHEN {UPGRADE} THEN EXCLUDED.received_at
                    ELSE least(webhook_deliveries.received_at, EXCLUDED.received_at) END,
                {", ".join(f"{c} = {_upgraded(c)}" for c in UPGRADED_COLUMNS)}""",
            [segment.name],
        )
        after = conn.execute("SELECT count(*) FROM webhook_deliveries").fetchone()[0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"DETACH {ALIAS}")
    return read, after - before


def _first(column: str) -> str:
    """The column of the copy kept of a body landed several times: an accepted copy before a
    dead letter (the same bytes sent again with a content type that reads), then the earliest."""
    return f"first({column} ORDER BY outcome <> 'accepted', received_at)"


def _upgraded(column: str) -> str:
    return f"CASE WHEN {UPGRADE} THEN EXCLUDED.{column} ELSE webhook_deliveries.{column} END"


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def import_landed(conn: duckdb.DuckDBPyConnection, webhooks_dir: Path) -> ImportSummary:
    """Seal what dead sidecars left, then import every sealed segment; returns what was done."""
    layout = Layout(webhooks_dir)
    layout.ensure()
    recover_dead_owners(layout)
    summary = ImportSummary()
    for segment in layout.sealed_segments():
        if not segment.exists():
            continue  # another importer moved it meanwhile
        read, new = _import_one(conn, segment)
        summary.segments.append(segment.name)
        summary.rows_read += read
        summary.rows_new += new
        _journal(layout, segment.name)  # before the move: a lost move re-imports and re-journals
        try:
            os.rename(segment, layout.imported / segment.name)
        except FileNotFoundError:
            continue
        fsync_dir(layout.imported)
    return summary


def _journal(layout: Layout, name: str) -> None:
    fd = os.open(layout.root / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{name}\n".encode())  # one small O_APPEND write: never interleaved
        os.fsync(fd)
    finally:
        os.close(fd)


def imported_since(webhooks_dir: Path, offset: int) -> tuple[list[str], int]:
    """Segment names journaled as imported after byte `offset`, and the offset to read from next
    (only whole lines count, so a line being written is read at the next call)."""
    path = Path(webhooks_dir) / JOURNAL
    try:
        with open(path, "rb") as journal:
            journal.seek(offset)
            data = journal.read()
    except FileNotFoundError:
        return [], offset
    complete = data[: data.rfind(b"\n") + 1]
    return complete.decode().split(), offset + len(complete)


def day_window(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The naive-UTC [start, end) of a local calendar day (23 or 25 hours around DST)."""
    zone = ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
    return (
        start.astimezone(dt.UTC).replace(tzinfo=None),
        end.astimezone(dt.UTC).replace(tzinfo=None),
    )


def local_day(received_at: dt.datetime, timezone: str) -> dt.date:
    return received_at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).date()


def received_days(conn: duckdb.DuckDBPyConnection, timezone: str) -> list[dt.date]:
    """Local days that have deliveries. Offsets are multiples of 15 minutes, so a 15-minute
    bucket never straddles a local midnight and its start names its day."""
    buckets = conn.execute(
        "SELECT DISTINCT time_bucket(INTERVAL 15 MINUTES, received_at) FROM webhook_deliveries"
    ).fetchall()
    return sorted({local_day(bucket, timezone) for (bucket,) in buckets})


def day_digests(conn: duckdb.DuckDBPyConnection, timezone: str) -> dict[dt.date, str]:
    """Per local day with deliveries, a digest of them (identity, receipt, outcome). A day whose
    digest differs from the one its last materialization recorded got deliveries since (or an
    upgraded dead letter), so `ltv materialize` rebuilds exactly the days that changed."""
    return _digests(conn, timezone, "", [])


def day_digest(conn: duckdb.DuckDBPyConnection, day: dt.date, timezone: str) -> str:
    """The digest `day_digests` gives for this day ("empty" when it has no deliveries)."""
    start, end = day_window(day, timezone)
    where = "WHERE received_at >= ? AND received_at < ?"
    return _digests(conn, timezone, where, [start, end]).get(day, "empty")


def _digests(conn, timezone: str, where: str, params: list) -> dict[dt.date, str]:
    # Per 15-minute bucket (see received_days), then combined per day: counts add, hashes xor.
    rows = conn.execute(
        "SELECT time_bucket(INTERVAL 15 MINUTES, received_at) AS bucket, count(*), "
        "bit_xor(hash(account, content_hash, received_at, outcome)) "
        f"FROM webhook_deliveries {where} GROUP BY bucket",
        params,
    ).fetchall()
    totals: dict[dt.date, tuple[int, int]] = {}
    for bucket, count, hashed in rows:
        day = local_day(bucket, timezone)
        seen, combined = totals.get(day, (0, 0))
        totals[day] = (seen + count, combined ^ hashed)
    return {day: f"{count}:{hashed:016x}" for day, (count, hashed) in totals.items()}


def segment_days(segment: Path, timezone: str) -> list[dt.date]:
    """Local days in a sealed segment, read without touching the warehouse (for the sensor)."""
    conn = duckdb.connect(str(segment), read_only=True)
    try:
        buckets = conn.execute(
            f"SELECT DISTINCT time_bucket(INTERVAL 15 MINUTES, received_at) FROM {TABLE}"
        ).fetchall()
    finally:
        conn.close()
    return sorted({local_day(bucket, timezone) for (bucket,) in buckets})
