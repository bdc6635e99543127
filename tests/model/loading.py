"""Put sample data into a real warehouse through the raw assets' own code (no Dagster runs),
then build the model and the marts: fast enough for property tests with many examples."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb

from ltv_core.archive import archive_file, partition_key_of
from ltv_core.formats.csv_file import inspect_file
from ltv_core.formats.detect import detect_format
from ltv_core.formats.profiles import load_catalog
from ltv_core.settings import Settings
from ltv_pipeline.contracts.left_out import record_verdict
from ltv_pipeline.defs.marts.build import build_marts
from ltv_pipeline.defs.model.build import build_model
from ltv_pipeline.defs.raw_files.assets import load_and_check
from ltv_pipeline.defs.webhooks.event_types import event_type_spellings
from ltv_pipeline.defs.webhooks.parsing import EVENT_COLUMNS, build_documents, parse_lines
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.lib.transaction import one_transaction

LINES = "test_webhook_lines"


def load_csv(conn: duckdb.DuckDBPyConnection, settings: Settings, path: Path, account="default"):
    """What `ltv import` + the raw asset do for one file, in this process."""
    catalog = load_catalog()
    inspected = inspect_file(path)
    sha = inspected.sha256
    profile = detect_format(catalog, inspected.header).profile
    archive_file(
        settings.archive_dir,
        path,
        sha,
        account=account,
        format_name=profile.name,
        file_name=path.name,
    )
    key = partition_key_of(settings.archive_dir, sha, account)
    load, check = load_and_check(conn, settings, catalog, profile, account, sha, path.name, key)
    assert check.passed, check.metadata
    return load


def load_webhooks(
    conn: duckdb.DuckDBPyConnection,
    bodies: list[tuple[bytes, dt.datetime]],
    account: str = "default",
) -> None:
    """Land bodies as the sidecar hand-off does (one row per distinct body, earliest receipt),
    then, as the webhook asset's run for each day that got a delivery does, parse that day's
    deliveries again and replace exactly that day's rows (other days are left as they were, so
    an incremental model sees what a real run changes, no more)."""
    for body, received_at in bodies:
        conn.execute(
            "INSERT INTO webhook_deliveries VALUES (?, ?, ?, 'application/json', ?, 'accepted', "
            "NULL, 'test') ON CONFLICT (account, content_hash) DO UPDATE "
            "SET received_at = least(webhook_deliveries.received_at, EXCLUDED.received_at)",
            [account, hashlib.sha256(body).hexdigest(), received_at, body],
        )
    deliveries = conn.execute(
        "SELECT account, content_hash, received_at, content_type, body, outcome, reason "
        "FROM webhook_deliveries ORDER BY account, content_hash"
    ).fetchall()
    spellings = event_type_spellings(load_catalog())
    columns = ", ".join(EVENT_COLUMNS)
    for day in sorted({received_at.date() for _, received_at in bodies}):
        documents, rejects = build_documents([d for d in deliveries if d[2].date() == day], day)
        assert not rejects
        parse_lines(conn, documents, day, LINES, spellings)
        with one_transaction(conn):
            conn.execute(f"DELETE FROM {WEBHOOK_EVENTS_ASSET} WHERE received_day = ?", [day])
            conn.execute(
                f"INSERT INTO {WEBHOOK_EVENTS_ASSET} ({columns}) SELECT {columns} FROM {LINES} "
                "WHERE reject_reason IS NULL"
            )
            record_verdict(conn, WEBHOOK_EVENTS_ASSET, day.isoformat(), None)


def rebuild(conn: duckdb.DuckDBPyConnection, rule: str = "email") -> None:
    """The model (with the customer key rule `rule`) and the marts."""
    build_model(conn, rule)
    build_marts(conn)
