"""What the warehouse holds: asked of DuckDB's own catalog, for the steps whose tables may not
exist yet (a first build, or a home from before the table was added)."""

from __future__ import annotations

import duckdb


def table_exists(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """A table of that name in the main schema."""
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
            [name],
        ).fetchall()[0][0]
    )
