"""Numbered migrations: each brings a warehouse of an older layout one step forward, and runs
once per warehouse (schema_version records the last one applied).

Each acts only on the old layout it finds, one format at a time, each format in a transaction
of its own: one interrupted part-way finishes on the next open, and running one on a warehouse
that never had the old layout (a new one) does nothing. Nothing is re-parsed."""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from ltv_core.formats.profiles import FormatProfile, load_catalog
from ltv_pipeline.lib.sql_parsing import quote
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.warehouse.landed import (
    landed_table,
    raw_view_sql,
    store_file_records,
    typed_columns,
    typed_name,
)
from ltv_pipeline.warehouse.views import write_view


def _is_base_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()
    return bool(found) and found[0][0] == "BASE TABLE"


def merge_typed_rows_beside_cells(conn: duckdb.DuckDBPyConnection) -> None:
    """1: before the one-table layout, typed rows had a table of their own (the raw asset, under
    the name it had then)."""
    for profile in load_catalog().profiles.values():
        for name in (*profile.former_assets, profile.asset):
            if _is_base_table(conn, name):
                with one_transaction(conn):
                    _merge_old_raw_table(conn, profile, name)


def split_landed_records_per_file(conn: duckdb.DuckDBPyConnection) -> None:
    """2: before the files' own tables, one landed table held every file's records, and
    source_files had no first_record_line (NULL there means the table stores its lines)."""
    conn.execute("ALTER TABLE source_files ADD COLUMN IF NOT EXISTS first_record_line BIGINT")
    for profile in load_catalog().profiles.values():
        if _is_base_table(conn, landed_table(profile)):
            with one_transaction(conn):
                _split_old_landed_table(conn, profile)


def name_left_out_files_rows(conn: duckdb.DuckDBPyConnection) -> None:
    """3: before file partition keys carried file names (and only a short hash), the model found
    a left-out file's rows by parsing its `<account>_<sha256>` key; now the verdict names them.
    The old keys stay (Dagster's history is keyed by them): their rows are read out of them."""
    with one_transaction(conn):
        conn.execute("ALTER TABLE left_out_partitions ADD COLUMN IF NOT EXISTS account VARCHAR")
        conn.execute("ALTER TABLE left_out_partitions ADD COLUMN IF NOT EXISTS file_hash VARCHAR")
        conn.execute(
            "UPDATE left_out_partitions SET "
            f"account = regexp_extract(partition_key, {quote(_OLD_FILE_KEY)}, 1), "
            f"file_hash = regexp_extract(partition_key, {quote(_OLD_FILE_KEY)}, 2) "
            f"WHERE file_hash IS NULL AND regexp_matches(partition_key, {quote(_OLD_FILE_KEY)})"
        )


_OLD_FILE_KEY = "^([a-z0-9][a-z0-9_-]{0,63})_([0-9a-f]{64})$"


def rename_raw_assets(conn: duckdb.DuckDBPyConnection) -> None:
    """4: two raw assets took shorter names (formats.toml's `former_assets`). The rows that name
    an asset follow: a rejected row's source, and a left-out file (the model keeps its rows out
    by the asset's name). The former views stay, for queries written against them; create_views
    keeps them current. Dagster's records are carried over by defs/raw_files/renamed_assets.py."""
    with one_transaction(conn):
        for profile in load_catalog().profiles.values():
            for former in profile.former_assets:
                conn.execute(
                    "UPDATE rejects SET source = ? WHERE source = ?", [profile.asset, former]
                )
                conn.execute(
                    "UPDATE left_out_partitions SET asset = ? WHERE asset = ?",
                    [profile.asset, former],
                )


# In the order they apply; a new one is appended with the next number, never renumbered.
MIGRATIONS: list[tuple[int, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    (1, merge_typed_rows_beside_cells),
    (2, split_landed_records_per_file),
    (3, name_left_out_files_rows),
    (4, rename_raw_assets),
]
CURRENT_VERSION = MIGRATIONS[-1][0]


def _merge_old_raw_table(
    conn: duckdb.DuckDBPyConnection, profile: FormatProfile, old_table: str
) -> None:
    """The typed rows' values move beside their cells, and the table gives way to the view."""
    landed = landed_table(profile)
    typed = typed_columns(profile)
    for name, kind in typed:
        conn.execute(f'ALTER TABLE {landed} ADD COLUMN "{typed_name(name)}" {kind}')
    conn.execute(f"ALTER TABLE {landed} ADD COLUMN accepted BOOLEAN DEFAULT false")
    moved = ", ".join(f'"{typed_name(name)}" = r."{name}"' for name, _ in typed)
    conn.execute(
        f"UPDATE {landed} AS l SET {moved}, accepted = true FROM {old_table} AS r "
        "WHERE l.account = r.account AND l.file_hash = r.file_hash "
        "AND l.line_number = r.line_number"
    )
    conn.execute(f"DROP TABLE {old_table}")
    if old_table in profile.former_assets:  # kept for queries written against it, as later ones
        write_view(conn, old_table, raw_view_sql(profile))


def _split_old_landed_table(conn: duckdb.DuckDBPyConnection, profile: FormatProfile) -> None:
    """Each file's records move to a table of their own, lines and all. A file listed with no
    records (a header-only export) gets an empty table.

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
