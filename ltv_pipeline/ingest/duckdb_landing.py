"""One pass of DuckDB's CSV reader over a file, straight into the file's landed table."""

from __future__ import annotations

import duckdb

from ltv_core.formats.csv_file import CsvHead
from ltv_pipeline.ingest.parse_plan import OVERFLOW_COLUMNS, ParsePlan
from ltv_pipeline.lib import sql_parsing as sp


def csv_source(head: CsvHead, parallel: bool, max_line_size: int) -> str:
    """read_csv over the file with a fixed dialect (no sniffing: small messy files defeat it).

    A few spare columns catch rows with more cells than the header, so that they can be
    rejected rather than silently truncated.
    """
    width = len(head.header) + OVERFLOW_COLUMNS
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width))
    return (
        f"read_csv({sp.quote(str(head.path))}, header = true, auto_detect = false, "
        f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
        f"null_padding = true, strict_mode = false, skip = {head.header_line - 1}, "
        f"encoding = {sp.quote(head.encoding)}, max_line_size = {max_line_size}, "
        f"parallel = {str(parallel).lower()})"
    )


def land_csv(
    conn: duckdb.DuckDBPyConnection, plan: ParsePlan, head: CsvHead, table: str, max_line_size: int
) -> str | None:
    """One pass over the file: every record's cells as text and, beside them, what parsing made
    of them, written in the file's order to `table` (so its rowid is the record's position).
    Returns None when it landed, else the reader's complaint (the file is then read record by
    record instead).

    Order is what DuckDB keeps by default; it is asked for here all the same, because a
    connection of the same database may have turned it off for its rebuilds."""
    conn.execute("SET SESSION preserve_insertion_order = true")
    parallel = True
    while True:
        landing = plan.landing_sql(csv_source(head, parallel, max_line_size))
        try:
            conn.execute(f"CREATE OR REPLACE TABLE {table} AS {landing}")
            return None
        except duckdb.Error as exc:
            if parallel and "parallel=false" in str(exc):
                parallel = False  # quoted newlines with ragged rows need the sequential reader
                continue
            if "CSV" not in str(exc):
                raise  # not the reader's: a full disk, memory, an interrupt
            return str(exc).strip().splitlines()[0]
