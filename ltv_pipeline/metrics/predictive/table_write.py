"""Numbers computed in numpy back into a warehouse table, in one transaction.

Through Arrow, column by column: a million customers' predictions go in as a few arrays, not
a million parameter rows; NaN becomes NULL (a prediction that could not be made is absent, not
a number). The table is replaced whole in one transaction, so a reader never sees it half
written and a failure leaves the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from ltv_pipeline.lib.transaction import one_transaction


def arrow_table(columns: dict) -> pa.Table:
    return pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})


def write_table(
    conn: duckdb.DuckDBPyConnection, name: str, ddl: str, columns: dict, select: str = "*"
) -> None:
    """CREATE OR REPLACE `name` (`ddl`) from `columns` (name -> list or array, every one as
    long), selected through `select` (column expressions over them, in the ddl's order)."""
    write_tables(conn, [NewTable(name, ddl, columns, select)])


@dataclass(frozen=True)
class NewTable:
    name: str
    ddl: str
    columns: dict
    select: str = "*"


def write_tables(conn: duckdb.DuckDBPyConnection, tables: list[NewTable]) -> None:
    """Several tables replaced in one transaction: tables made together (a fit and the
    summaries it was made on) are never seen, or left by a failure, one new and one old. The
    shape is the ddl's, whatever shape an earlier version left."""
    views = [f"_{table.name}_new_rows" for table in tables]
    for table, view in zip(tables, views, strict=True):
        conn.register(view, arrow_table(table.columns))
    try:
        with one_transaction(conn):
            for table, view in zip(tables, views, strict=True):
                conn.execute(f"CREATE OR REPLACE TABLE main.{table.name} ({table.ddl})")
                conn.execute(f"INSERT INTO main.{table.name} SELECT {table.select} FROM {view}")
    finally:
        for view in views:
            conn.unregister(view)
