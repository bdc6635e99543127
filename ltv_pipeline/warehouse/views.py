"""Views that carry a fingerprint of their SQL, so that a view is rewritten only when the code
defines it differently from the one stored."""

from __future__ import annotations

import hashlib

import duckdb

from ltv_pipeline.lib.transaction import one_transaction


def fingerprint(sql: str) -> str:
    return "definition " + hashlib.sha256(sql.encode()).hexdigest()[:16]


def ensure_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """Create the view, or replace it when this code defines it differently from the one stored
    (a warehouse written by an older version): the view's comment is a fingerprint of its SQL."""
    stored = conn.execute(
        "SELECT comment FROM duckdb_views() WHERE view_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [name],
    ).fetchall()
    if stored and stored[0][0] == fingerprint(sql):
        return
    with one_transaction(conn):
        write_view(conn, name, sql)


def write_view(conn: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    """(Re)define a view with its fingerprint, inside the caller's transaction if there is one."""
    conn.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
    conn.execute(f"COMMENT ON VIEW {name} IS '{fingerprint(sql)}'")
