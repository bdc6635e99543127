"""Land, parse, check and store one archived export file: the body of every raw file asset.

In one pass over the file, every record lands in the file's own landed table: its cells as text
exactly as they arrived, and beside them the typed values SQL built from the format profile
parses out of those same cells, with whether the record is accepted (the raw asset is the view
of the accepted ones; warehouse/landed.py). One transaction then puts that table in place of the
file's previous one, and the pandera contract validates the rows as stored; any it refuses move
to `rejects`. Each reject says which line, which column, what value and what was expected.
Running it twice gives the same tables, which is what makes a backfill from the UI safe.

The steps live by idea: `parse_plan` (the SQL), `landing` (the file into its loading table,
with `duckdb_landing`, `record_landing` and `line_numbers`), `table_swap` (the swap, rejects
and counts) and `contract_holding` (the pandera contract).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ltv_core.formats.profiles import FormatCatalog, FormatProfile
from ltv_core.settings import DEFAULT_MAX_RECORD_BYTES
from ltv_pipeline.contracts.left_out import contract_breach, record_verdict
from ltv_pipeline.ingest.file_to_load import FileToLoad
from ltv_pipeline.ingest.landing import land_file
from ltv_pipeline.ingest.line_numbers import drop_line_numbers
from ltv_pipeline.ingest.table_swap import swap_in
from ltv_pipeline.lib.transaction import one_transaction
from ltv_pipeline.warehouse.landed import file_table

MAX_REASONS_REPORTED = 5


@dataclass
class FileLoad:
    """What happened to one file; the numbers the results JSON and the metadata report."""

    account: str
    file_hash: str
    format: str
    file_name: str
    encoding: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    first_reasons: list[str] = field(default_factory=list)
    # What the pandera contract still finds among the stored rows: empty when they hold.
    contract_failures: pl.DataFrame = field(default_factory=pl.DataFrame)
    # Why the contract check fails, which leaves the file out of the model; None when it passes.
    breach: str | None = None


def load_file(
    conn: duckdb.DuckDBPyConnection,
    *,
    catalog: FormatCatalog,
    profile: FormatProfile,
    account: str,
    file_hash: str,
    path: Path,
    file_name: str,
    partition_key: str,
    date_order: str,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
) -> FileLoad:
    """Replace everything stored for (account, file_hash) in this format with a fresh parse.

    The file is parsed into a table of its own first, beside what is stored; one transaction
    then swaps it in, writes the rejects, holds the rows to the contract and records the verdict
    (a file that fails is left out of the model: contracts/left_out.py). Whatever fails, the
    stored records stay as they were and the half-made table goes. A record over
    `max_record_bytes` is a reject, as is one with a NUL or a quote that does not close.
    """
    file = FileToLoad(
        catalog=catalog,
        profile=profile,
        account=account,
        file_hash=file_hash,
        path=path,
        file_name=file_name,
        date_order=date_order,
        max_record_bytes=max_record_bytes,
    )
    loading = file_table(profile, account, file_hash, loading=True)
    try:
        landed = land_file(conn, file, loading)
        with one_transaction(conn):
            stored = swap_in(conn, file, landed, loading)
            breach = contract_breach(stored.contract_failures, stored.arithmetic_problem())
            record_verdict(conn, profile.asset, partition_key, breach, rows_of=(account, file_hash))
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {loading}")
        drop_line_numbers(conn)
    first = conn.execute(
        f"SELECT line_number, column_name, value, reason FROM rejects "
        f"WHERE {file.where_sql} AND source = ? ORDER BY line_number LIMIT ?",
        [profile.asset, MAX_REASONS_REPORTED],
    ).fetchall()
    return FileLoad(
        account=account,
        file_hash=file_hash,
        format=profile.name,
        file_name=file_name,
        encoding=landed.facts.encoding,
        rows_read=stored.rows_read,
        rows_accepted=stored.rows_accepted,
        rows_rejected=stored.rows_rejected,
        first_reasons=[describe_reject(*row) for row in first],
        contract_failures=stored.contract_failures,
        breach=breach,
    )


def describe_reject(line: int | None, column: str | None, value: str | None, reason: str) -> str:
    """One reject as a sentence: where, what, and what was expected."""
    where = f"line {line}" if line is not None else "file"
    what = f", column {column}" if column else ""
    shown = f": value {value!r}" if value is not None else ""
    return f"{where}{what}{shown}: {reason}"
