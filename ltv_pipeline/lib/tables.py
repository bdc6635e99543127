"""Warehouse table layouts, derived from the format profiles so that a column is declared once."""

from __future__ import annotations

import duckdb

from ltv_pipeline.formats.profiles import ColumnSpec, FormatProfile, load_catalog

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
        landed = ", ".join(f'"{c.name}" VARCHAR' for c in profile.columns)
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {landed_table(profile)} "
            f"({KEY_COLUMNS}, {landed}, extra_columns JSON, overflow_cells VARCHAR)"
        )
        typed = ", ".join(f'"{name}" {kind}' for name, kind in raw_columns(profile))
        statements.append(f"CREATE TABLE IF NOT EXISTS {profile.asset} ({KEY_COLUMNS}, {typed})")
    return statements


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
