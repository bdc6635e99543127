"""The key check every model table and mart runs: one row per key, and no key left empty.

A NULL key column is no identity at all (two such rows could be the same event), so it fails
the check as a duplicate would.
"""

from collections.abc import Sequence

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity

KEYS_UNIQUE = "keys_unique"


def keys_unique(
    conn: duckdb.DuckDBPyConnection, table: str, key: Sequence[str]
) -> AssetCheckResult:
    columns = ", ".join(key)
    any_null = " OR ".join(f"{column} IS NULL" for column in key)
    complete = f"NOT ({any_null})"  # duplicates among complete keys; empty keys count apart
    duplicates, null_keys = conn.execute(
        f"SELECT count(*) FILTER (WHERE {complete}) "
        f"- count(DISTINCT ({columns})) FILTER (WHERE {complete}), "
        f"count(*) FILTER (WHERE {any_null}) FROM {table}"
    ).fetchall()[0]
    return AssetCheckResult(
        asset_key=table,
        check_name=KEYS_UNIQUE,
        passed=duplicates == 0 and null_keys == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={"key": columns, "duplicates": duplicates, "null_keys": null_keys},
    )
