"""Numbers computed in numpy back into a warehouse table, in one transaction.

Through Arrow, column by column: a million customers' predictions go in as a few arrays, not
a million parameter rows; NaN becomes NULL (a prediction that could not be made is absent, not
a number). The table is replaced whole in one transaction, so a reader never sees it half
written and a failure leaves the previous one.
"""

from __future__ import annotations

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
    view = f"_{name}_new_rows"
    conn.register(view, arrow_table(columns))
    try:
        with one_transaction(conn):
            conn.execute(f"CREATE OR REPLACE TABLE main.{name} ({ddl})")
            conn.execute(f"INSERT INTO main.{name} SELECT {select} FROM {view}")
    finally:
        conn.unregister(view)
