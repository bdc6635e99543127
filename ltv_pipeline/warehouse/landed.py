"""The landed-table encoding, both ways: how a file's records are stored, and how the landed
and raw views read them back.

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

import duckdb

from ltv_core.formats.profiles import ColumnSpec, FormatProfile
from ltv_pipeline.lib.sql_parsing import clean_text_sql, ident, quote
from ltv_pipeline.warehouse.views import write_view

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
    over the files' tables."""
    return "landed_" + profile.stored_as


def file_table(
    profile: FormatProfile, account: str, file_hash: str, *, loading: bool = False
) -> str:
    """One file's landed records; `loading` names the copy a load writes before it swaps it in."""
    return f"{LANDED_SCHEMA}.{ident(_file_table_name(profile, account, file_hash, loading))}"


def _file_table_name(profile: FormatProfile, account: str, file_hash: str, loading: bool) -> str:
    return f"{profile.stored_as}/{account}/{file_hash}{LOADING if loading else ''}"


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


# A file listed in source_files: (account, file_hash, first_record_line).
ListedFile = tuple[str, str, int | None]


def landed_view_sql(conn: duckdb.DuckDBPyConnection, profile: FormatProfile) -> str:
    """The landed view over the file tables of this format that exist now."""
    files = conn.execute(
        "SELECT account, file_hash, first_record_line FROM source_files WHERE format = ? "
        "ORDER BY account, file_hash",
        [profile.name],
    ).fetchall()
    # Only files whose table exists: a listed file without one (which no load leaves) must not
    # make the whole format unreadable.
    existing = set(_landed_table_names(conn))
    return landed_view_of(
        profile,
        [
            (account, file_hash, first_line)
            for account, file_hash, first_line in files
            if _file_table_name(profile, account, file_hash, loading=False) in existing
        ],
    )


def landed_view_of(profile: FormatProfile, files: list[ListedFile]) -> str:
    """Every listed file's landed table as one relation, by name: a column a file does not have
    is NULL, and with no file at all the view still has every column, typed."""
    columns = landed_columns(profile)
    empty = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns)
    members = [f"SELECT {empty} WHERE false"]
    for account, file_hash, first_line in files:
        keys = f"{quote(account)} AS account, {quote(file_hash)} AS file_hash"
        if first_line is not None:  # else the table's own column comes with *
            keys += f", {line_number_sql(first_line)} AS line_number"
        members.append(f"SELECT {keys}, * FROM {file_table(profile, account, file_hash)}")
    return " UNION ALL BY NAME ".join(members)


def _landed_table_names(conn: duckdb.DuckDBPyConnection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ?",
        [LANDED_SCHEMA],
    ).fetchall()
    return [name for (name,) in rows]


def drop_abandoned_loads(conn: duckdb.DuckDBPyConnection) -> None:
    """A load killed between landing a file and swapping it in leaves its `.loading` table. This
    runs as the warehouse is opened for writing, which one process does at a time, before the
    opener loads anything; finding none is one catalog query."""
    abandoned = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND suffix(table_name, ?)",
        [LANDED_SCHEMA, LOADING],
    ).fetchall()
    for (name,) in abandoned:
        conn.execute(f"DROP TABLE {LANDED_SCHEMA}.{ident(name)}")
