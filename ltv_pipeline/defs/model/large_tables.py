"""Settings for rebuilding tables of millions of rows on a small machine.

Every model and mart table is rebuilt whole and read back through its keys, never by row
order, so this connection need not keep insertion order: that lets DuckDB stream CREATE TABLE
AS without buffering, which keeps peak memory down (bench/bench_ltv_marts.py measures it). It
is a session setting, because an import on another connection relies on order (a landed
file's rowid is its record's position). The memory cap, which DuckDB keeps for the whole
database, makes it spill the big joins and aggregates to disk rather than grow past it, so a
rebuild fits next to the Dagster daemon and UI on a small machine.
"""

import duckdb

REBUILD_MEMORY_LIMIT = "3GB"


def for_large_rebuilds(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    conn.execute("SET SESSION preserve_insertion_order = false")
    conn.execute(f"SET memory_limit = '{REBUILD_MEMORY_LIMIT}'")
    return conn
