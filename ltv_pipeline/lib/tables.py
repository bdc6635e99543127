"""Warehouse table layouts, derived from the format profiles so that a column is declared once.

A file's records are stored once, in `landed_*`: every cell as text exactly as it arrived, and
beside them the values parsing typed (dates, money, statuses, the email key), with `accepted`
saying whether the record became a row. The raw asset `raw_*` is the view of the accepted rows
by canonical column: a text column is its cell, trimmed; any other column is its typed value,
except that typed text equal to its trimmed cell (most email keys) is not stored twice, and the
view takes the cell. Writing the text once rather than twice is most of an import's cost.
"""

from __future__ import annotations

import hashlib

import duckdb

from ltv_pipeline.formats.profiles import ColumnSpec, FormatProfile, load_catalog
from ltv_pipeline.lib.sql_parsing import clean_text_sql
from ltv_pipeline.lib.transaction import one_transaction

SQL_TYPES = {
    "text": "VARCHAR",
    "email": "VARCHAR",
    "money": "DECIMAL(18,2)",
    "date": "DATE",
    "time": "TIME",
    "integer": "INTEGER",
}
KEY_COLUMNS = "account VARCHAR NOT NULL, file_hash VARCHAR NOT NULL, line_number BIGINT NOT NULL"


def sql_type(column: ColumnSpec) -> str:
    return "VARCHAR" if column.vocabulary else SQL_TYPES[column.type]


def landed_table(profile: FormatProfile) -> str:
    """Every cell of every row, as text, before parsing: named after the raw asset."""
    return "landed_" + profile.asset.removeprefix("raw_")


def raw_columns(profile: FormatProfile) -> list[tuple[str, str]]:
    """(name, SQL type) of the typed columns of a raw asset, after the key columns."""
    columns = [(c.name, sql_type(c)) for c in profile.columns]
    if profile.timestamp is not None:
        columns.append((profile.timestamp.name, "TIMESTAMP"))
    return [*columns, ("extra_columns", "JSON")]


def is_plain_text(column: ColumnSpec) -> bool:
    """A column whose raw value is its cell, trimmed (with a text fallback's, when it has one)."""
    return column.type == "text" and not column.vocabulary


def typed_columns(profile: FormatProfile) -> list[tuple[str, str]]:
    """(name, SQL type) of the raw columns stored parsed beside the cells."""
    plain = {c.name for c in profile.columns if is_plain_text(c)}
    return [(n, t) for n, t in raw_columns(profile) if n not in plain and n != "extra_columns"]


def typed_name(name: str) -> str:
    """Where a column's parsed value is stored in the landed table."""
    return f"typed_{name}"


def stored_when_changed(column: ColumnSpec) -> bool:
    """Typed text (the email key, a status spelling) is stored only where parsing changed the
    cleaned cell, and is otherwise the cleaned cell itself: most emails arrive already as their
    key, and a second copy of a million distinct strings is a noticeable part of an import."""
    return sql_type(column) == "VARCHAR" and not is_plain_text(column) and not column.fallback


def _raw_value_sql(profile: FormatProfile, column: ColumnSpec) -> str:
    typed, cell = f'"{typed_name(column.name)}"', clean_text_sql(f'"{column.name}"')
    if stored_when_changed(column):
        # An accepted record's typed value is NULL only where it equals the cleaned cell, or
        # where the cell was blank (any other cell with no value is a rejected record).
        return f"coalesce({typed}, {cell})"
    if not is_plain_text(column):
        return typed
    if column.fallback:
        return f"coalesce({cell}, {_raw_value_sql(profile, profile.column(column.fallback))})"
    return cell


def raw_view_sql(profile: FormatProfile) -> str:
    """The raw asset: the accepted records of the landed table, by canonical column."""
    by_name = {c.name: c for c in profile.columns}
    values = []
    for name, kind in raw_columns(profile):
        if name == "extra_columns":
            values.append("extra_columns")
        elif name in by_name:
            values.append(f'CAST({_raw_value_sql(profile, by_name[name])} AS {kind}) AS "{name}"')
        else:  # the timestamp
            values.append(f'"{typed_name(name)}" AS "{name}"')
    return (
        f"SELECT account, file_hash, line_number, {', '.join(values)} "
        f"FROM {landed_table(profile)} WHERE accepted"
    )


def _create_statements() -> list[str]:
    statements = [
        """CREATE TABLE IF NOT EXISTS rejects (
            account VARCHAR NOT NULL,
            source VARCHAR NOT NULL,
            file_hash VARCHAR NOT NULL,
            file_name VARCHAR,
            line_number BIGINT,
            column_name VARCHAR,
            value VARCHAR,
            reason VARCHAR NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS source_files (
            account VARCHAR NOT NULL,
            file_hash VARCHAR NOT NULL,
            format VARCHAR NOT NULL,
            file_name VARCHAR,
            size_bytes BIGINT,
            encoding VARCHAR,
            rows_read BIGINT,
            rows_accepted BIGINT,
            rows_rejected BIGINT,
            PRIMARY KEY (account, file_hash, format)
        )""",
    ]
    for profile in load_catalog().profiles.values():
        cells = ", ".join(f'"{c.name}" VARCHAR' for c in profile.columns)
        typed = ", ".join(f'"{typed_name(n)}" {kind}' for n, kind in typed_columns(profile))
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {landed_table(profile)} ({KEY_COLUMNS}, {cells}, "
            f"extra_columns JSON, overflow_cells VARCHAR, {typed}, accepted BOOLEAN DEFAULT false)"
        )
    return statements


def _is_base_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(found) and found[0][0] == "BASE TABLE"


def _merge_old_raw_table(conn: duckdb.DuckDBPyConnection, profile: FormatProfile) -> None:
    """A warehouse from before the one-table layout kept typed rows in a table of their own: its
    values move beside their cells, and the table gives way to the view. Nothing is re-parsed."""
    landed = landed_table(profile)
    typed = typed_columns(profile)
    for name, kind in typed:
        conn.execute(f'ALTER TABLE {landed} ADD COLUMN "{typed_name(name)}" {kind}')
    conn.execute(f"ALTER TABLE {landed} ADD COLUMN accepted BOOLEAN DEFAULT false")
    moved = ", ".join(f'"{typed_name(name)}" = r."{name}"' for name, _ in typed)
    conn.execute(
        f"UPDATE {landed} AS l SET {moved}, accepted = true FROM {profile.asset} AS r "
        "WHERE l.account = r.account AND l.file_hash = r.file_hash "
        "AND l.line_number = r.line_number"
    )
    conn.execute(f"DROP TABLE {profile.asset}")


# Webhook deliveries copied from sealed landing segments: one row per distinct body per account,
# stamped with its earliest receipt, so a retry on another day is still the same delivery.
WEBHOOK_TABLES = [
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        account VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        received_at TIMESTAMP NOT NULL,
        content_type VARCHAR,
        body BLOB NOT NULL,
        outcome VARCHAR NOT NULL,
        reason VARCHAR,
        segment VARCHAR,
        PRIMARY KEY (account, content_hash)
    )""",
    """CREATE TABLE IF NOT EXISTS raw_samcart_webhook_events (
        account VARCHAR NOT NULL,
        delivery_hash VARCHAR NOT NULL,
        line_index INTEGER NOT NULL,
        line_count INTEGER NOT NULL,
        received_at TIMESTAMP NOT NULL,
        received_day DATE NOT NULL,
        event_type VARCHAR NOT NULL,
        raw_type VARCHAR NOT NULL,
        order_id VARCHAR,
        product_id VARCHAR,
        product_name VARCHAR,
        subscription_id VARCHAR,
        transaction_id VARCHAR,
        refund_transaction_id VARCHAR,
        amount DECIMAL(18,2),
        order_total DECIMAL(18,2),
        quantity INTEGER,
        customer_email VARCHAR,
        customer_first_name VARCHAR,
        customer_last_name VARCHAR,
        customer_phone VARCHAR,
        affiliate VARCHAR,
        coupon VARCHAR
    )""",
]


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    for statement in _create_statements() + WEBHOOK_TABLES:
        conn.execute(statement)
    for profile in load_catalog().profiles.values():
        if _is_base_table(conn, profile.asset):
            with one_transaction(conn):
                _merge_old_raw_table(conn, profile)
        _ensure_view(conn, profile.asset, raw_view_sql(profile))


def _ensure_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Create the view, or replace it when this code defines it differently from the one stored
    (a warehouse written by an older version): the view's comment is a fingerprint of its SQL."""
    fingerprint = "definition " + hashlib.sha256(sql.encode()).hexdigest()[:16]
    stored = conn.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [name],
    ).fetchall()
    if stored and stored[0][0] == fingerprint:
        return
    with one_transaction(conn):
        conn.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
        conn.execute(f"COMMENT ON VIEW {name} IS '{fingerprint}'")
