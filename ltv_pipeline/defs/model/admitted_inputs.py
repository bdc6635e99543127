"""The raw assets as the model step reads them: without the partitions left out of the model.

A raw partition whose blocking contract check failed stays stored (its check and rows can be
looked at), but its rows must not reach the model (contracts/left_out.py). For the length of the
model step, a temporary view of the same name stands in for each raw asset with partitions left
out, so the model's SQL, which names the raw assets, reads only the admitted rows; the raw assets
themselves are untouched, and with nothing left out nothing stands in.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from ltv_pipeline.contracts.left_out import LeftOut, left_out_partitions
from ltv_pipeline.defs.webhooks.partitions import WEBHOOK_EVENTS_ASSET
from ltv_pipeline.lib.sql_parsing import quote


def _left_out_rows_sql(asset: str, partitions: list[LeftOut]) -> str:
    """The condition true of a row of `asset` in one of these partitions."""
    if asset == WEBHOOK_EVENTS_ASSET:
        days = ", ".join(f"DATE {quote(p.partition_key)}" for p in partitions)
        return f"received_day IN ({days})"
    unnamed = [p.describe() for p in partitions if p.account is None or p.file_hash is None]
    if unnamed:
        raise ValueError(f"a left-out file partition does not name its rows: {unnamed[0]}")
    files = ", ".join(f"({quote(p.account or '')}, {quote(p.file_hash or '')})" for p in partitions)
    return f"(account, file_hash) IN (VALUES {files})"


@contextmanager
def admitted_raw_inputs(conn: duckdb.DuckDBPyConnection) -> Iterator[list[LeftOut]]:
    """Within: each raw asset name reads its admitted rows only. Yields what is left out."""
    left_out = left_out_partitions(conn)
    by_asset: dict[str, list[LeftOut]] = {}
    for partition in left_out:
        by_asset.setdefault(partition.asset, []).append(partition)
    database = conn.execute("SELECT current_database()").fetchall()[0][0]
    try:
        for asset, partitions in by_asset.items():
            # Named with its database: the temporary view must read the stored asset, not itself.
            conn.execute(
                f"CREATE OR REPLACE TEMP VIEW {asset} AS SELECT * FROM "
                f'"{database}".main.{asset} WHERE NOT ({_left_out_rows_sql(asset, partitions)})'
            )
        yield left_out
    finally:
        for asset in by_asset:
            conn.execute(f"DROP VIEW IF EXISTS temp.main.{asset}")
