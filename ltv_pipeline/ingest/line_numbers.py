"""Which line of the file each landed record starts on, which is what a reject tells the user.

When every record is one line, a record's line follows from its rowid and nothing is stored;
otherwise the file's table gets a `line_number` per record (warehouse/landed.py).
"""

from __future__ import annotations

import duckdb
import polars as pl

from ltv_core.formats.csv_file import CsvFacts
from ltv_core.formats.csv_records import read_records


def count_records(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    """The records in `table`, with the result fully consumed (DuckDB 2 refuses new work before
    that)."""
    return conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def number_lines(
    conn: duckdb.DuckDBPyConnection, facts: CsvFacts, table: str, max_record_bytes: int
) -> tuple[int, int | None] | None:
    """(records, the first record's line) when every record is one line, so that a record's line
    follows from its rowid; otherwise the table gets each record's `line_number`, read record by
    record, and the first line is None. None when that reading finds a record DuckDB must not be
    trusted with (a quote that closes lines later, a record over the limit), or other records
    than DuckDB's: the file is then landed record by record."""
    records = count_records(conn, table)
    if facts.simple_line_numbers(records):
        return records, facts.header_line + 1
    starts = []
    for record in read_records(facts, max_record_bytes):
        if record.unreadable is not None:
            return None
        starts.append(record.start)
    if len(starts) != records:
        return None
    store_line_numbers(conn, table, starts)
    return records, None


def store_line_numbers(conn: duckdb.DuckDBPyConnection, table: str, starts: list[int]) -> None:
    """Give the k-th record of `table` (by rowid) the line `starts[k]`."""
    lines = pl.DataFrame(
        {"record": range(len(starts)), "line": starts},
        schema={"record": pl.Int64, "line": pl.Int64},
    )
    conn.register("_lines_frame", lines)
    try:
        conn.execute("CREATE OR REPLACE TEMP TABLE _lines AS SELECT * FROM _lines_frame")
    finally:
        conn.unregister("_lines_frame")
    conn.execute(f"ALTER TABLE {table} ADD COLUMN line_number BIGINT")
    conn.execute(
        f"UPDATE {table} AS f SET line_number = l.line FROM _lines AS l WHERE l.record = f.rowid"
    )


def drop_line_numbers(conn: duckdb.DuckDBPyConnection) -> None:
    """Drop the temporary table `store_line_numbers` leaves, once the load is done with it."""
    conn.execute("DROP TABLE IF EXISTS _lines")
