"""The warehouse schema this code defines: its tables, and the landed and raw views of every
format. Creating it is idempotent; `definitions()` fingerprints it, so that an open can tell
with one query whether anything needs creating or redefining (see schema_version)."""

from __future__ import annotations

import hashlib
from functools import cache

import duckdb

from ltv_core.formats.profiles import load_catalog
from ltv_pipeline.warehouse.landed import (
    LANDED_SCHEMA,
    landed_table,
    landed_view_of,
    landed_view_sql,
    raw_view_sql,
)
from ltv_pipeline.warehouse.views import ensure_view
from ltv_pipeline.warehouse.webhook_tables import WEBHOOK_TABLES

REJECTS_TABLE = """CREATE TABLE IF NOT EXISTS rejects (
    account VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,
    file_name VARCHAR,
    line_number BIGINT,
    column_name VARCHAR,
    value VARCHAR,
    reason VARCHAR NOT NULL
)"""

SOURCE_FILES_TABLE = """CREATE TABLE IF NOT EXISTS source_files (
    account VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,
    format VARCHAR NOT NULL,
    file_name VARCHAR,
    size_bytes BIGINT,
    encoding VARCHAR,
    rows_read BIGINT,
    rows_accepted BIGINT,
    rows_rejected BIGINT,
    first_record_line BIGINT,
    PRIMARY KEY (account, file_hash, format)
)"""

# A raw partition whose blocking contract check failed, with why: the model is built without its
# rows until a later materialization of it passes (ltv_pipeline/contracts/left_out.py).
LEFT_OUT_TABLE = """CREATE TABLE IF NOT EXISTS left_out_partitions (
    asset VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    since TIMESTAMP NOT NULL,
    account VARCHAR,
    file_hash VARCHAR,
    PRIMARY KEY (asset, partition_key)
)"""

# One row: the last numbered migration applied, and the definitions() the schema was made to.
SCHEMA_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL,
    definitions VARCHAR NOT NULL
)"""

TABLES = [
    SCHEMA_VERSION_TABLE,
    REJECTS_TABLE,
    SOURCE_FILES_TABLE,
    LEFT_OUT_TABLE,
    f"CREATE SCHEMA IF NOT EXISTS {LANDED_SCHEMA}",
    *WEBHOOK_TABLES,
]


def create_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The tables that do not exist yet; a table of an older layout is a migration's work."""
    for statement in TABLES:
        conn.execute(statement)


def create_views(conn: duckdb.DuckDBPyConnection) -> None:
    """Each format's landed and raw views, (re)written where the stored one differs. A raw view
    that a warehouse has under a former name of its asset stays there too, kept the same (a new
    warehouse never had one, and gets none)."""
    for profile in load_catalog().profiles.values():
        ensure_view(conn, landed_table(profile), landed_view_sql(conn, profile))
        ensure_view(conn, profile.asset, raw_view_sql(profile))
        for former in _existing_views(conn, profile.former_assets):
            ensure_view(conn, former, raw_view_sql(profile))


def _existing_views(conn: duckdb.DuckDBPyConnection, names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    found = conn.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' "
        "AND database_name = current_database() AND list_contains(?, view_name)",
        [list(names)],
    ).fetchall()
    return sorted(name for (name,) in found)


@cache
def definitions() -> str:
    """A fingerprint of every table and view this code defines. The views follow the format
    profiles, which change without anyone writing a migration; the landed view, which lists the
    files loaded, stands in here by its definition for a sample listing."""
    sample_files = [("account", "file", None), ("account", "other file", 2)]
    parts = list(TABLES)
    for profile in load_catalog().profiles.values():
        parts.append(landed_view_of(profile, sample_files))
        parts.append(f"{profile.asset} {' '.join(profile.former_assets)}: {raw_view_sql(profile)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
