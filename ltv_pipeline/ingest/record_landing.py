"""The careful way to land a file: read record by record, for the files DuckDB's reader cannot
be given as they are (UTF-16, a NUL byte, a quote that does not pair up, a record over the
limit). Slower, and only for files that need it."""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from ltv_core.formats.csv_file import CsvFacts, CsvFileError, CsvHead
from ltv_core.formats.csv_records import Record, write_clean_copy
from ltv_pipeline.ingest.duckdb_landing import land_csv
from ltv_pipeline.ingest.line_numbers import count_records, store_line_numbers
from ltv_pipeline.ingest.parse_plan import ParsePlan

# A clean copy's records are within the limit in the file's own bytes; rewritten as UTF-8 (and
# re-quoted) they may grow, which must not fail them in DuckDB.
CLEAN_COPY_GROWTH = 4


def land_by_records(
    conn: duckdb.DuckDBPyConnection,
    facts: CsvFacts,
    plan: ParsePlan,
    table: str,
    max_record_bytes: int,
) -> tuple[int, list[Record]]:
    """(records landed, records that could not be): the file read record by record
    (`csv_records`), its loadable records landed in `table` from a clean UTF-8 copy, each at the
    line it starts on in the file, and the others kept to be rejects."""
    with tempfile.TemporaryDirectory(prefix="ltv-records-") as folder:
        copy = write_clean_copy(facts, max_record_bytes, Path(folder) / "records.csv")
        clean = CsvHead(
            path=copy.path,
            size=copy.path.stat().st_size,
            encoding="utf-8",
            header=facts.header,
            header_line=1,
        )
        line_size = CLEAN_COPY_GROWTH * max_record_bytes
        complaint = land_csv(conn, plan, clean, table, line_size)
    if complaint is not None:
        raise CsvFileError(f"the file cannot be read as CSV: {complaint}")
    records = count_records(conn, table)
    if records != len(copy.starts):
        raise CsvFileError(
            f"the file cannot be read as CSV: {len(copy.starts)} records were written for "
            f"DuckDB and it read {records}"
        )
    store_line_numbers(conn, table, copy.starts)
    return records, copy.unreadable
