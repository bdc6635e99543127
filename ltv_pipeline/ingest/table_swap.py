"""Put a landed file in place of its previous table, with its rejects and its counts.

Runs inside the caller's transaction, so that a failure anywhere leaves what was stored as it
was. Only the few records that did not parse are parsed again, to say why; the records that
could not be landed at all are rejects as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from ltv_core.formats.csv_records import Record
from ltv_pipeline.ingest.contract_holding import hold_to_contract
from ltv_pipeline.ingest.file_to_load import FileToLoad
from ltv_pipeline.ingest.landing import Landed
from ltv_pipeline.warehouse.landed import (
    bare_name,
    file_table,
    landed_table,
    landed_view_sql,
    line_number_sql,
)
from ltv_pipeline.warehouse.views import write_view


@dataclass(frozen=True)
class StoredCounts:
    """What a swap stored: the numbers the load reports, and the contract's verdict."""

    rows_read: int
    rows_accepted: int
    rows_rejected: int
    contract_failures: pl.DataFrame

    def arithmetic_problem(self) -> str | None:
        """Why the counts do not add up (every row read is accepted or rejected), or None."""
        if self.rows_accepted + self.rows_rejected == self.rows_read:
            return None
        return (
            f"the rows do not add up: {self.rows_read} read, but {self.rows_accepted} accepted "
            f"+ {self.rows_rejected} rejected"
        )


def swap_in(
    conn: duckdb.DuckDBPyConnection, file: FileToLoad, landed: Landed, loading: str
) -> StoredCounts:
    """The file's previous table gives way to the one just landed in `loading`, the landed view
    lists it, and its rejects, counts and contract verdict are written."""
    plan, facts, first_line = landed.plan, landed.facts, landed.first_line
    profile = plan.profile
    where = file.where_sql
    table = file_table(profile, file.account, file.file_hash)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"ALTER TABLE {loading} RENAME TO {bare_name(table)}")
    conn.execute(f"DELETE FROM rejects WHERE {where} AND source = ?", [profile.asset])
    conn.execute(
        "INSERT OR REPLACE INTO source_files (account, file_hash, format, file_name, size_bytes, "
        "encoding, first_record_line) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            file.account,
            file.file_hash,
            profile.name,
            file.file_name,
            facts.size,
            facts.encoding,
            first_line,
        ],
    )
    write_view(conn, landed_table(profile), landed_view_sql(conn, profile))
    line_sql = line_number_sql(first_line)
    _insert_unreadable(conn, file, profile.asset, landed.unreadable)
    parsed_ok = _scalar(conn, f"SELECT count(*) FROM {table} WHERE accepted")
    rows_read = parsed_ok + len(landed.unreadable)
    if parsed_ok < landed.records:  # some records were blank or did not parse
        problem_sql = plan.parse_sql(plan.not_accepted_records_sql(table, line_sql))
        conn.execute(
            f"""INSERT INTO rejects
                SELECT ?, ?, ?, ?, line_number, r.column, r.value, r.reason
                FROM (SELECT line_number, unnest({plan.reasons_sql()}) AS r FROM ({problem_sql})
                      WHERE has_problem AND NOT is_blank)
                ORDER BY 5, 6""",
            [file.account, profile.asset, file.file_hash, file.file_name],
        )
        # Counted from the records themselves, not from the rejects written above, so
        # that the check's arithmetic (accepted + rejected = read) can catch a record
        # lost between.
        not_blank = f"SELECT count(*) FROM ({problem_sql}) WHERE NOT is_blank"
        rows_read += _scalar(conn, not_blank)
    failures = hold_to_contract(conn, file, plan, line_sql)
    rows_rejected = _scalar(
        conn,
        f"SELECT count(DISTINCT line_number) FROM rejects WHERE {where} AND source = ?",
        [profile.asset],
    )
    rows_accepted = _scalar(conn, f"SELECT count(*) FROM {profile.asset} WHERE {where}")
    conn.execute(
        "UPDATE source_files SET rows_read = ?, rows_accepted = ?, rows_rejected = ? "
        "WHERE account = ? AND file_hash = ? AND format = ?",
        [rows_read, rows_accepted, rows_rejected, file.account, file.file_hash, profile.name],
    )
    return StoredCounts(rows_read, rows_accepted, rows_rejected, failures)


def _insert_unreadable(
    conn: duckdb.DuckDBPyConnection, file: FileToLoad, source: str, records: list[Record]
) -> None:
    """The records that could not be landed, as rejects at the line each starts on."""
    rows = [
        (file.account, source, file.file_hash, file.file_name, r.start, u.column, u.value, u.reason)
        for r in records
        if (u := r.unreadable) is not None
    ]
    if rows:
        conn.executemany("INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    """One value, with the result fully consumed (DuckDB 2 refuses new work before that)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
