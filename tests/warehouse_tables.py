"""Two warehouses compared table by table: what a refresh writes (the model and every mart) must
be the same rows, duplicates included (`EXCEPT ALL` both ways), whichever way it was reached."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ltv_pipeline.defs.marts.build import MARTS

MODEL_TABLES = ("subscriptions", "transactions", "declined_charges", "customers")
# Every table a refresh (the model step, then the marts step) writes. A derived table added to
# the marts module must be named here too (or in MARTS), or the proofs do not look at it.
REFRESHED_TABLES = (*MODEL_TABLES, *MARTS)
SHOWN_ROWS = 5


def _tables(conn: duckdb.DuckDBPyConnection, database: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'",
        [database],
    ).fetchall()
    return {name for (name,) in rows}


def _columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in conn.execute(f"DESCRIBE {table}").fetchall()]


def _only_in(conn: duckdb.DuckDBPyConnection, one: str, other: str) -> tuple[int, list[tuple]]:
    rows = f"FROM {one} EXCEPT ALL FROM {other}"
    count = conn.execute(f"SELECT count(*) FROM ({rows})").fetchall()[0][0]
    shown = conn.execute(f"{rows} ORDER BY ALL LIMIT {SHOWN_ROWS}").fetchall() if count else []
    return count, shown


def table_differences(
    left: Path,
    right: Path,
    tables: tuple[str, ...] = REFRESHED_TABLES,
    names: tuple[str, str] = ("left", "right"),
) -> list[str]:
    """How the two closed warehouse files differ in `tables` (and in which tables their main
    schemas hold at all), one readable paragraph per difference; empty when they agree."""
    a, b = names
    conn = duckdb.connect()
    try:
        conn.execute(f"ATTACH '{left}' AS left_side (READ_ONLY)")
        conn.execute(f"ATTACH '{right}' AS right_side (READ_ONLY)")
        left_tables, right_tables = _tables(conn, "left_side"), _tables(conn, "right_side")
        found = []
        for side, extra in ((a, left_tables - right_tables), (b, right_tables - left_tables)):
            if extra:
                found.append(f"tables only in the {side} warehouse: {sorted(extra)}")
        for table in tables:
            if table not in left_tables or table not in right_tables:
                found.append(f"{table}: missing from the {a if table in right_tables else b}")
                continue
            one, other = f"left_side.main.{table}", f"right_side.main.{table}"
            if _columns(conn, one) != _columns(conn, other):
                found.append(
                    f"{table}: columns differ\n  {a}: {_columns(conn, one)}\n"
                    f"  {b}: {_columns(conn, other)}"
                )
                continue
            (left_count, left_rows), (right_count, right_rows) = (
                _only_in(conn, one, other),
                _only_in(conn, other, one),
            )
            if left_count or right_count:
                columns = ", ".join(name for name, _ in _columns(conn, one))
                lines = [
                    f"{table} ({columns}): {left_count} row(s) only in the {a}, "
                    f"{right_count} only in the {b}"
                ]
                lines += [f"  {a}: {row}" for row in left_rows]
                lines += [f"  {b}: {row}" for row in right_rows]
                found.append("\n".join(lines))
        return found
    finally:
        conn.close()


def assert_same_tables(
    left: Path,
    right: Path,
    tables: tuple[str, ...] = REFRESHED_TABLES,
    names: tuple[str, str] = ("left", "right"),
) -> None:
    differences = table_differences(left, right, tables, names)
    assert not differences, "\n".join(differences)
