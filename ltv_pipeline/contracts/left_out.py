"""Raw partitions left out of the model: each one whose blocking contract check failed, and why.

A failed blocking check must stop what is built on it, yet one bad file must not stop the model
for every other file. So the raw asset writes its verdict to `left_out_partitions` in the same
transaction as the partition's rows (the rows and the verdict on them are never out of step),
the model step reads the raw assets without those partitions' rows (defs/model/admitted_inputs.py),
and the model's metadata, `ltv materialize` and the published snapshot list them. A later
materialization of the partition that passes (a re-parse once the cause is fixed) takes it off
the list, and the next rebuild takes its rows in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

LEFT_OUT_TABLE = "left_out_partitions"


@dataclass(frozen=True)
class LeftOut:
    asset: str
    partition_key: str
    reason: str
    since: dt.datetime  # UTC: when the failing materialization was stored
    # A file partition's rows are the (account, file_hash) ones; None for a webhook day.
    account: str | None = None
    file_hash: str | None = None

    def describe(self) -> str:
        return f"{self.asset} [{self.partition_key}]: {self.reason}"

    def as_json(self) -> dict[str, str]:
        return {
            "asset": self.asset,
            "partition": self.partition_key,
            "reason": self.reason,
            "since": self.since.isoformat(timespec="seconds"),
        }


def contract_breach(failures: pl.DataFrame, arithmetic: str | None) -> str | None:
    """Why a partition fails its contract check (and is left out), or None when it passes.

    `failures` are what the contract still finds among the stored rows; `arithmetic` is the
    asset's own count that does not add up (None when it does)."""
    reasons = []
    if failures.height:
        first = failures.row(0, named=True)
        reasons.append(
            f"{failures.height} contract failure(s) among the stored rows, the first: "
            f"{first['column']} failed {first['check']}"
        )
    if arithmetic:
        reasons.append(arithmetic)
    return "; ".join(reasons) or None


def record_verdict(
    conn: duckdb.DuckDBPyConnection,
    asset: str,
    partition_key: str,
    breach: str | None,
    rows_of: tuple[str, str] | None = None,
) -> None:
    """The partition's place on the list after this materialization: on it with `breach`, or off
    it. Inside the caller's transaction, the one that stores the partition's rows. `rows_of` is
    a file partition's (account, file_hash): its key holds only a short hash."""
    conn.execute(
        f"DELETE FROM {LEFT_OUT_TABLE} WHERE asset = ? AND partition_key = ?",
        [asset, partition_key],
    )
    if breach is not None:
        conn.execute(
            f"INSERT INTO {LEFT_OUT_TABLE} "
            "(asset, partition_key, reason, since, account, file_hash) VALUES (?, ?, ?, ?, ?, ?)",
            [
                asset,
                partition_key,
                breach,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
                *(rows_of or (None, None)),
            ],
        )


def left_out_partitions(conn: duckdb.DuckDBPyConnection) -> list[LeftOut]:
    """Every partition left out now, oldest first; none in a warehouse from before the list."""
    columns = "asset, partition_key, reason, since, account, file_hash"
    try:
        rows = conn.execute(
            f"SELECT {columns} FROM {LEFT_OUT_TABLE} ORDER BY since, asset, partition_key"
        ).fetchall()
    except duckdb.CatalogException:
        return []
    except duckdb.BinderException:
        # Read before migration 3 gave it the rows' columns (a read-only look at an old home).
        columns = columns.replace("account, file_hash", "NULL, NULL")
        rows = conn.execute(
            f"SELECT {columns} FROM {LEFT_OUT_TABLE} ORDER BY since, asset, partition_key"
        ).fetchall()
    return [LeftOut(*row) for row in rows]
