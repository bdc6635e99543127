"""Hold a file's stored rows to the pandera contract: rows it refuses become rejects and leave
the raw asset (their records stay landed, no longer accepted)."""

from __future__ import annotations

import duckdb
import polars as pl

from ltv_pipeline.ingest.file_to_load import FileToLoad
from ltv_pipeline.ingest.parse_plan import ParsePlan
from ltv_pipeline.lib import sql_parsing as sp
from ltv_pipeline.warehouse.landed import file_table


def hold_to_contract(
    conn: duckdb.DuckDBPyConnection, file: FileToLoad, plan: ParsePlan, line_sql: str
) -> pl.DataFrame:
    """Validate the stored rows with pandera, inside the caller's transaction; `line_sql` gives a
    landed record's line.

    Returns what the contract still finds among the rows that stay (the asset check's verdict):
    nothing, unless a failure could not be tied to a row, which then fails the check.
    """
    # Imported here, not at the top: pandera loads when a file is held to its contract, not in
    # every process that loads the definitions (the model and marts runs never need it).
    from ltv_pipeline.contracts.raw_files import contract_columns, contract_failures

    profile, catalog = plan.profile, plan.catalog
    # Account and file hash are the same on every row selected here: they are added as constants
    # rather than read back as millions of equal strings.
    read = [name for name in contract_columns(profile) if name not in ("account", "file_hash")]
    checked = ", ".join(sp.ident(name) for name in read)
    stored = (
        conn.sql(f"SELECT {checked} FROM {profile.asset} WHERE {file.where_sql}")
        .pl()
        .with_columns(account=pl.lit(file.account), file_hash=pl.lit(file.file_hash))
    )
    failures = _with_lines(contract_failures(stored, profile, catalog), stored)
    if failures.height == 0:
        return failures
    records = []
    for line, column, value, check in failures.select(
        pl.col("line_number"),
        pl.col("column").cast(pl.Utf8),
        pl.col("failure_case").cast(pl.Utf8),
        pl.col("check").cast(pl.Utf8),
    ).rows():
        shown = plan.shown(column) if column in profile.column_names else column
        records.append((line, shown, value, f"contract check failed: {check}"))
    records.sort(key=lambda record: (record[0] is None, record[0] or 0))
    conn.executemany(
        "INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (file.account, profile.asset, file.file_hash, file.file_name, *record)
            for record in records
        ],
    )
    refused = sorted({line for line, *_ in records if line is not None})
    if not refused:
        return failures
    conn.execute(
        f"UPDATE {file_table(profile, file.account, file.file_hash)} SET accepted = false "
        f"WHERE {line_sql} IN (SELECT unnest(?))",
        [refused],
    )
    remaining = stored.filter(~pl.col("line_number").is_in(refused))
    return _with_lines(contract_failures(remaining, profile, catalog), remaining)


def _with_lines(failures: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    """The file line of each failure case (pandera reports a row index into `frame`), which is
    what a user can look up; NULL for a failure of a whole column."""
    lines = frame.get_column("line_number")
    mapped = [
        lines[i] if i is not None and 0 <= i < len(lines) else None
        for i in failures.get_column("index").to_list()
    ]
    return failures.with_columns(pl.Series("line_number", mapped, dtype=pl.Int64))
