"""Warehouse table layouts, derived from the format profiles so that a column is declared once.

A file's records are stored once, in a table of that file's own in the `landed` schema: every
cell as text exactly as it arrived, and beside them the values parsing typed (dates, money,
statuses, the email key), with `accepted` saying whether the record became a row. A file's table
has only the columns the file has, and is replaced whole when the file is parsed again (a Dagster
partition is a table). `landed_*` is the view of all files of one format, by canonical column.

A file's table is written once, in the file's order, and never has rows deleted, so a record's
rowid is its position in the file: when every record is one line, its line number is derived
from the rowid rather than stored (`source_files.first_record_line`); otherwise (quoted line
breaks, blank lines) the table stores `line_number`.

The raw asset `raw_*` is the view of the accepted rows by canonical column: a text column is its
cell, trimmed; any other column is its typed value, except that typed text equal to its trimmed
cell (most email keys) is not stored twice, and the view takes the cell. Writing the text once
rather than twice is most of an import's cost.
"""

from __future__ import annotations

import hashlib

import duckdb

from ltv_core.formats.profiles import ColumnSpec, FormatProfile, load_catalog
from ltv_pipeline.lib.sql_parsing import clean_text_sql, ident, quote
from ltv_pipeline.lib.transaction import one_transaction

SQL_TYPES = {
    "text": "VARCHAR",
    "email": "VARCHAR",
    "money": "DECIMAL(18,2)",
    "date": "DATE",
    "time": "TIME",
    "integer": "INTEGER",
}


def sql_type(column: ColumnSpec) -> str:
    return "VARCHAR" if column.vocabulary else SQL_TYPES[column.type]


LANDED_SCHEMA = "landed"
LOADING = ".loading"


def landed_table(profile: FormatProfile) -> str:
    """Every record of every file of a format, its cells as text and its parsed values: the view
    over the files' tables, named after the raw asset."""
    return "landed_" + profile.asset.removeprefix("raw_")


def file_table(
    profile: FormatProfile, account: str, file_hash: str, *, loading: bool = False
) -> str:
    """One file's landed records; `loading` names the copy a load writes before it swaps it in."""
    return f"{LANDED_SCHEMA}.{ident(_file_table_name(profile, account, file_hash, loading))}"


def _file_table_name(profile: FormatProfile, account: str, file_hash: str, loading: bool) -> str:
    return f"{profile.asset.removeprefix('raw_')}/{account}/{file_hash}{LOADING if loading else ''}"


def bare_name(table: str) -> str:
    """A table's name without its schema, as ALTER TABLE ... RENAME TO wants it."""
    return table.split(".", 1)[1]


def line_number_sql(first_record_line: int | None) -> str:
    """A file table's line numbers: derived from the rowid when every record is one line
    (`source_files.first_record_line`), else the column the table stores."""
    if first_record_line is None:
        return "line_number"
    return f"rowid + {int(first_record_line)}"


def landed_columns(profile: FormatProfile) -> list[tuple[str, str]]:
    """(name, SQL type) of every column of the landed view, keys first."""
    keys = [("account", "VARCHAR"), ("file_hash", "VARCHAR"), ("line_number", "BIGINT")]
    cells = [(c.name, "VARCHAR") for c in profile.columns]
    spare = [("extra_columns", "JSON"), ("overflow_cells", "VARCHAR")]
    typed = [(typed_name(name), kind) for name, kind in typed_columns(profile)]
    return [*keys, *cells, *spare, *typed, ("accepted", "BOOLEAN")]


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
    """The raw asset: the accepted records of the landed view, by canonical column."""
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
            first_record_line BIGINT,
            PRIMARY KEY (account, file_hash, format)
        )""",
        # Warehouses from before the files' own tables: NULL means the table stores its lines.
        "ALTER TABLE source_files ADD COLUMN IF NOT EXISTS first_record_line BIGINT",
        f"CREATE SCHEMA IF NOT EXISTS {LANDED_SCHEMA}",
    ]
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


def _split_old_landed_table(conn: duckdb.DuckDBPyConnection, profile: FormatProfile) -> None:
    """A warehouse from before the files' own tables kept every file's records in one table:
    each file's records move to a table of their own, lines and all. Nothing is re-parsed. A
    file listed with no records (a header-only export) gets an empty table.

    It reads the old table once per file: the first open after upgrading a warehouse of many
    large files takes a while, once."""
    landed = landed_table(profile)
    files = conn.execute(
        f"SELECT DISTINCT account, file_hash FROM {landed} UNION "
        "SELECT account, file_hash FROM source_files WHERE format = ? ORDER BY ALL",
        [profile.name],
    ).fetchall()
    for account, file_hash in files:
        store_file_records(
            conn,
            profile,
            account,
            file_hash,
            f"SELECT * EXCLUDE (account, file_hash) FROM {landed} "
            f"WHERE account = {quote(account)} AND file_hash = {quote(file_hash)} "
            "ORDER BY line_number",
            refresh_view=False,
        )
    conn.execute(f"DROP TABLE {landed}")


def store_file_records(
    conn: duckdb.DuckDBPyConnection,
    profile: FormatProfile,
    account: str,
    file_hash: str,
    records_sql: str,
    *,
    refresh_view: bool = True,
) -> None:
    """Make `records_sql` (records with their `line_number`, by landed column name, without the
    account and file hash) one file's landed table, listed in the landed view. For records that
    did not come from parsing a file now: a warehouse of an older layout, generated data, a
    test's hand-made rows. Its statements are atomic only inside the caller's transaction."""
    table = file_table(profile, account, file_hash)
    conn.execute(f"CREATE OR REPLACE TABLE {table} AS {records_sql}")
    conn.execute(
        "INSERT INTO source_files (account, file_hash, format) VALUES (?, ?, ?) "
        "ON CONFLICT DO UPDATE SET first_record_line = NULL",
        [account, file_hash, profile.name],
    )
    if refresh_view:
        write_view(conn, landed_table(profile), landed_view_sql(conn, profile))


def landed_view_sql(conn: duckdb.DuckDBPyConnection, profile: FormatProfile) -> str:
    """Every file's landed table of this format as one relation, by name: a column a file does
    not have is NULL, and with no file at all the view still has every column, typed."""
    columns = landed_columns(profile)
    empty = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns)
    members = [f"SELECT {empty} WHERE false"]
    files = conn.execute(
        "SELECT account, file_hash, first_record_line FROM source_files WHERE format = ? "
        "ORDER BY account, file_hash",
        [profile.name],
    ).fetchall()
    # Only files whose table exists: a listed file without one (which no load leaves) must not
    # make the whole format unreadable.
    existing = set(_landed_table_names(conn))
    for account, file_hash, first_line in files:
        if _file_table_name(profile, account, file_hash, loading=False) not in existing:
            continue
        keys = f"{quote(account)} AS account, {quote(file_hash)} AS file_hash"
        if first_line is not None:  # else the table's own column comes with *
            keys += f", {line_number_sql(first_line)} AS line_number"
        members.append(f"SELECT {keys}, * FROM {file_table(profile, account, file_hash)}")
    return " UNION ALL BY NAME ".join(members)


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
    _drop_abandoned_loads(conn)
    for profile in load_catalog().profiles.values():
        if _is_base_table(conn, profile.asset):
            with one_transaction(conn):
                _merge_old_raw_table(conn, profile)
        if _is_base_table(conn, landed_table(profile)):
            with one_transaction(conn):
                _split_old_landed_table(conn, profile)
        _ensure_view(conn, landed_table(profile), landed_view_sql(conn, profile))
        _ensure_view(conn, profile.asset, raw_view_sql(profile))


def _drop_abandoned_loads(conn: duckdb.DuckDBPyConnection) -> None:
    """A load killed between landing a file and swapping it in leaves its `.loading` table. This
    runs as the warehouse is opened for writing, which one process does at a time, before the
    opener loads anything."""
    for name in _landed_table_names(conn):
        if name.endswith(LOADING):
            conn.execute(f"DROP TABLE {LANDED_SCHEMA}.{ident(name)}")


def _landed_table_names(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ?",
        [LANDED_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def _fingerprint(sql: str) -> str:
    return "definition " + hashlib.sha256(sql.encode()).hexdigest()[:16]


def _ensure_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Create the view, or replace it when this code defines it differently from the one stored
    (a warehouse written by an older version): the view's comment is a fingerprint of its SQL."""
    stored = conn.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [name],
    ).fetchall()
    if stored and stored[0][0] == _fingerprint(sql):
        return
    with one_transaction(conn):
        write_view(conn, name, sql)


def write_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """(Re)define a view with its fingerprint, inside the caller's transaction if there is one."""
    conn.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    conn.execute(f"COMMENT ON VIEW {name} IS '{_fingerprint(sql)}'")
