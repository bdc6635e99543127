"""The incremental build: the model's own SQL, run over the rows of the touched customers only,
replaces those customers' rows in each model table.

The touched set is closed over shared ids (touched.py), so every raw row a touched customer's
model rows are made of belongs to a touched customer, and every model row made of such a raw row
does too: the same SQL over those rows alone gives exactly their rows of a full rebuild. For the
length of the build, temporary views named like the raw assets, `subscriptions` and
`transactions` stand in for them (as admitted_inputs.py does for left-out partitions), each
reading only the touched customers' rows, so there is no second copy of the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from ltv_pipeline.defs.model.customers import customers_sql
from ltv_pipeline.defs.model.inputs import raw_assets
from ltv_pipeline.defs.model.touched import (
    TOUCHED_CUSTOMERS,
    of_touched_customers,
    touched_customer_sql,
)
from ltv_pipeline.defs.model.transactions import (
    declined_charges_sql,
    order_lines_sql,
    transactions_sql,
)

# The model tables rebuilt per customer, each with the SQL that builds it; in build order.
PER_CUSTOMER_TABLES = ("transactions", "declined_charges", "customers")
_NARROWED = "narrowed_"  # prefix of the temporary tables of the touched customers' rows
_NEW = "new_"  # prefix of the temporary tables of their rebuilt model rows


@contextmanager
def standing_in(conn: duckdb.DuckDBPyConnection, views: dict[str, str]) -> Iterator[None]:
    """Within: each name reads its SQL (temporary views). A temporary view already standing in
    for the name (a left-out partition's) is put back afterwards."""
    saved = dict(
        conn.execute(
            "SELECT view_name, sql FROM duckdb_views() WHERE temporary AND list_contains(?, "
            "view_name)",
            [list(views)],
        ).fetchall()
    )
    try:
        for name, sql in views.items():
            conn.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")
        yield
    finally:
        for name in views:
            conn.execute(f"DROP VIEW IF EXISTS temp.main.{name}")
            if name in saved:
                conn.execute(saved[name])


def _narrow_raw_inputs(conn: duckdb.DuckDBPyConnection, database: str) -> dict[str, str]:
    """The touched customers' rows of each raw asset (as the model reads it: admitted only), in
    temporary tables; returns the views that stand in for the assets."""
    views = {}
    for asset in raw_assets():
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {_NARROWED}{asset} AS SELECT * EXCLUDE (customer_key) "
            "FROM ("
            + of_touched_customers(
                f"SELECT *, customer_key_of(customer_email) AS customer_key FROM {asset}"
            )
            + ")"
        )
        views[asset] = f"SELECT * FROM temp.main.{_NARROWED}{asset}"
    views["subscriptions"] = of_touched_customers(f'SELECT * FROM "{database}".main.subscriptions')
    return views


def _outside_touched(conn: duckdb.DuckDBPyConnection, table: str) -> int:
    return conn.execute(
        f"SELECT count(*) FROM temp.main.{_NEW}{table} n WHERE NOT {touched_customer_sql('n')}"
    ).fetchall()[0][0]


def rebuild_touched_customers(conn: duckdb.DuckDBPyConnection, rule: str) -> bool:
    """Replace the touched customers' rows of every per-customer model table (`subscriptions`
    is already rebuilt, the customer-key macro installed). Returns False, changing nothing, when
    the rebuilt rows name a customer outside the touched set (the set was not closed: a full
    rebuild is the safe answer)."""
    database = conn.execute("SELECT current_database()").fetchall()[0][0]
    try:
        views = _narrow_raw_inputs(conn, database)
        with standing_in(conn, views):
            conn.execute(f"CREATE OR REPLACE TEMP TABLE merged_order_lines AS {order_lines_sql()}")
            conn.execute(f"CREATE OR REPLACE TEMP TABLE {_NEW}transactions AS {transactions_sql()}")
            conn.execute("DROP TABLE merged_order_lines")
            with standing_in(conn, {"transactions": f"SELECT * FROM temp.main.{_NEW}transactions"}):
                conn.execute(
                    f"CREATE OR REPLACE TEMP TABLE {_NEW}declined_charges AS "
                    f"{declined_charges_sql()}"
                )
                conn.execute(
                    f"CREATE OR REPLACE TEMP TABLE {_NEW}customers AS {customers_sql(rule)}"
                )
        if any(_outside_touched(conn, table) for table in PER_CUSTOMER_TABLES):
            return False
        for table in PER_CUSTOMER_TABLES:
            stored = f'"{database}".main.{table}'
            conn.execute(
                f"DELETE FROM {stored} t USING temp.main.{TOUCHED_CUSTOMERS} tc "
                "WHERE tc.account = t.account "
                "AND tc.customer_key IS NOT DISTINCT FROM t.customer_key"
            )
            conn.execute(f"INSERT INTO {stored} BY NAME SELECT * FROM temp.main.{_NEW}{table}")
        return True
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.main.merged_order_lines")
        for name in [
            *(f"{_NARROWED}{a}" for a in raw_assets()),
            *(f"{_NEW}{t}" for t in PER_CUSTOMER_TABLES),
        ]:
            conn.execute(f"DROP TABLE IF EXISTS temp.main.{name}")


def touched_customers_sql() -> str:
    """The touched customers, for the change log."""
    return f"SELECT account, customer_key FROM temp.main.{TOUCHED_CUSTOMERS}"
